"""A harvest killed (SIGKILL) at random moments leaves a consistent store whose checkpoint names
exactly the first page not stored; harvesting again completes it, and the end state equals an
uninterrupted harvest."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from arxiv_replay import ArxivReplay
from conftest import assert_consistent, sql_rows
from paperboy.store import open_store
from test_harvest import TOTAL, real_page, split_pages

pytestmark = pytest.mark.slow

TRIALS = 24
PER_PAGE = 60  # 387 records: 7 pages
PARALLEL = 4


def snapshot(db: str) -> list[tuple[Any, ...]]:
    """Every paper, without bookkeeping timestamps (checked consistent first)."""
    assert_consistent(db)
    return sql_rows(
        db,
        "SELECT id, version, title, abstract, authors, categories, primary_category,"
        " published, updated, comments, journal_ref, doi, license, withdrawn"
        " FROM papers ORDER BY id",
    )


def checkpoint(db: str) -> tuple[Any, ...] | None:
    rows = sql_rows(
        db, "SELECT resumption_token, pages_done, records_done, last_datestamp FROM harvest_state"
    )
    assert len(rows) <= 1, rows
    return rows[0] if rows else None


@pytest.fixture(scope="module")
def replay() -> Iterator[ArxivReplay]:
    with ArxivReplay() as server:
        server.oai_first, server.oai_pages = split_pages(real_page(), PER_PAGE)
        yield server


def start_harvest(replay: ArxivReplay, db: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PAPERBOY_DATABASE_URL": db,
        "PAPERBOY_ARXIV_OAI_URL": f"{replay.url}/oai",
        "PAPERBOY_ARXIV_MIN_INTERVAL": "0.05",
        "PAPERBOY_ARXIV_BACKOFF": "0.01",
        "PAPERBOY_ARXIV_RETRIES": "2",
    }
    command = [sys.executable, "-m", "paperboy", "harvest", "--set", "cs"]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def reference(
    replay: ArxivReplay, module_database_url: Callable[[str], str]
) -> tuple[float, float, list[tuple[Any, ...]]]:
    """An uninterrupted harvest: when its first and last requests came, what it stored.

    The window between them is where the harvest works (after it, the command only updates the
    search index), so that is where the kills are spread."""
    db = module_database_url("reference")
    open_store(db).close()
    replay.seen.clear()
    start = time.monotonic()
    assert start_harvest(replay, db).wait(timeout=60) == 0
    first_request = replay.seen[0].at - start
    duration = replay.seen[-1].at - start + 0.05
    papers = snapshot(db)
    assert len(papers) == TOTAL
    assert checkpoint(db) == (None, 7, TOTAL, "2016-10-21")
    return first_request, duration, papers


def trial(
    pages: tuple[bytes, dict[str, bytes]],
    db: str,
    delay: float,
    expected: list[tuple[Any, ...]],
) -> tuple[bool, bool]:
    """Kill a harvest ``delay`` s after its first request, check the store, finish it.

    Returns (killed, killed mid-harvest). The finishing run also marks the killed run
    'interrupted' (its process is gone). Each trial has its own server, so the delay counts
    from this harvest's own first request however slowly the interpreter started.
    """
    with ArxivReplay() as replay:
        replay.oai_first, replay.oai_pages = pages
        process = start_harvest(replay, db)
        deadline = time.monotonic() + 30
        while not replay.seen and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(delay)
        killed = process.poll() is None
        if killed:
            process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        result = _check_and_finish(replay, db, expected)
    return killed, result


def _check_and_finish(replay: ArxivReplay, db: str, expected: list[tuple[Any, ...]]) -> bool:
    papers = snapshot(db)  # consistent right after the kill
    state = checkpoint(db)
    mid = state is not None and state[0] is not None
    if mid:  # the checkpoint names exactly the first page not stored
        token, pages_done, records_done, _ = state  # type: ignore[misc]
        assert token == f"t{pages_done}" and records_done == pages_done * PER_PAGE
        assert len(papers) == records_done
    else:
        assert len(papers) in (0, TOTAL)

    finisher = start_harvest(replay, db)
    assert finisher.wait(timeout=60) == 0
    assert snapshot(db) == expected
    assert checkpoint(db)[0::3] == (None, "2016-10-21")  # type: ignore[index]

    statuses = [r[0] for r in sql_rows(db, "SELECT status FROM ingest_log ORDER BY id DESC")]
    assert statuses[0] == "ok"
    assert "running" not in statuses, "a killed run must not stay 'running'"
    return mid


def test_killed_harvest_is_consistent_and_resumes(
    new_database_url: Callable[[str], str],
    reference: tuple[float, float, list[tuple[Any, ...]]],
) -> None:
    first_request, duration, expected = reference
    rng = random.Random(20261129)
    delays = [rng.uniform(0, duration - first_request) for _ in range(TRIALS)]
    pages = split_pages(real_page(), PER_PAGE)
    dbs = [new_database_url(f"kill{n}") for n in range(TRIALS)]
    for db in dbs:  # schema in place before the clock starts (alembic is not thread-safe)
        open_store(db).close()
    with ThreadPoolExecutor(PARALLEL) as pool:
        futures = [
            pool.submit(trial, pages, db, delay, expected)
            for db, delay in zip(dbs, delays, strict=True)
        ]
        results = [future.result() for future in futures]
    killed = sum(k for k, _ in results)
    mid = sum(m for _, m in results)
    assert killed >= TRIALS // 2 and mid >= TRIALS // 4, (killed, mid, first_request, duration)
