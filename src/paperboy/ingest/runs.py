"""Bookkeeping of ingest runs: who owns a run, and runs whose process died."""

from __future__ import annotations

import os
import socket

from paperboy.store.base import Store


def owner() -> tuple[str, int]:
    """(host, pid) of this process, recorded with each run it starts."""
    return socket.gethostname(), os.getpid()


def _alive(pid: int) -> bool:
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
        if run.host != host or run.pid is None or _alive(run.pid):
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
