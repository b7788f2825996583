"""Bookkeeping of ingest runs: who owns a run, and runs whose process died."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from paperboy.models import IngestRun
from paperboy.store.base import Store


def owner() -> tuple[str, int]:
    """(host, pid) of this process, recorded with each run it starts."""
    return socket.gethostname(), os.getpid()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def reap_interrupted(store: Store) -> int:
    """Mark 'running' runs of this host whose process is gone as 'interrupted'.

    A run killed mid-way (SIGKILL, power cut) cannot log its own end. Its committed batches are
    whole and importing again completes the job, so the log only needs to tell the truth.
    Returns how many runs were marked.
    """
    host, _ = owner()
    marked = 0
    for run in store.ingest_runs(limit=1000, status="running"):
        if run.host != host or run.pid is None or alive(run.pid):
            continue
        store.finish_ingest(
            run.id,
            "interrupted",
            inserted=run.inserted,
            updated=run.updated,
            skipped=run.skipped,
            errors=run.errors,
            message=f"process {run.pid} ended before finishing (killed or crashed); "
            "run it again: importing is idempotent",
        )
        marked += 1
    return marked


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """When a source last worked and last failed, from the ingest log."""

    source: str
    last_success: IngestRun | None
    last_failure: IngestRun | None

    @property
    def failing(self) -> bool:
        if self.last_failure is None:
            return False
        return self.last_success is None or self.last_failure.id > self.last_success.id


def source_health(store: Store, *, scan: int = 5000) -> list[SourceHealth]:
    """One line per source seen in the last ``scan`` runs, sources in alphabetical order."""
    success: dict[str, IngestRun] = {}
    failure: dict[str, IngestRun] = {}
    for run in store.ingest_runs(limit=scan):  # newest first
        if run.status in ("ok", "partial"):
            success.setdefault(run.source, run)
        elif run.status in ("failed", "interrupted"):
            failure.setdefault(run.source, run)
    sources = sorted(set(success) | set(failure))
    return [SourceHealth(s, success.get(s), failure.get(s)) for s in sources]


Tally = Callable[[], tuple[int, int, int, int]]
"""Read when a run ends: (inserted, updated, skipped, errors)."""


@dataclass(slots=True)
class RunOutcome:
    """What a run sets before it ends; ``status`` stays 'failed' unless the run says otherwise."""

    status: str = "failed"
    message: str | None = None


@contextmanager
def logged_run(store: Store, source: str, detail: str, tally: Tally) -> Iterator[RunOutcome]:
    """One ingest run in the log: 'running' from the start, its outcome however the block ends.

    Runs left 'running' by dead processes are marked 'interrupted' first. An exception leaves
    the status 'failed' with the exception's text as message, and is raised again.
    """
    reap_interrupted(store)
    host, pid = owner()
    run_id = store.start_ingest(source, detail, host=host, pid=pid)
    outcome = RunOutcome()
    try:
        yield outcome
    except Exception as exc:
        outcome.status = "failed"
        outcome.message = str(exc)[:1000] or type(exc).__name__
        raise
    finally:
        inserted, updated, skipped, errors = tally()
        store.finish_ingest(
            run_id,
            outcome.status,
            inserted=inserted,
            updated=updated,
            skipped=skipped,
            errors=errors,
            message=outcome.message,
        )
