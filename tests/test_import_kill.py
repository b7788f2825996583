"""An import killed at random moments leaves a consistent store, and importing again completes
it: the end state equals an uninterrupted import, and the log marks the killed run."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest

from conftest import BACKEND, assert_consistent, sql_rows
from paperboy.ingest import demo_data_path
from paperboy.store import open_store

pytestmark = pytest.mark.slow

TRIALS = 8 if BACKEND == "sqlite" else 4  # a PostgreSQL import of the demo is slower
BATCH = 400


Rows = list[tuple[Any, ...]]


def snapshot(url: str) -> tuple[Rows, Rows]:
    """Every paper and feed entry, without bookkeeping timestamps (checked consistent first)."""
    assert_consistent(url)
    papers = sql_rows(
        url,
        "SELECT id, version, title, abstract, authors, categories, published, github_repo,"
        " project_page FROM papers ORDER BY id",
    )
    entries = sql_rows(
        url,
        "SELECT paper_id, feed_date, source, upvotes, num_comments FROM feed_entries"
        " ORDER BY paper_id, feed_date",
    )
    return papers, entries


def run_import(url: str) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "paperboy", "import", str(demo_data_path()),
        "--batch-size", str(BATCH), "--database-url", url,
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def reference(module_database_url: Callable[[str], str]) -> tuple[float, tuple[Rows, Rows]]:
    """An uninterrupted import in a subprocess: how long it takes, and what it stores."""
    url = module_database_url("reference")
    open_store(url).close()
    start = time.monotonic()
    assert run_import(url).wait(timeout=120) == 0
    return time.monotonic() - start, snapshot(url)


def _first_batch_stored(url: str, process: subprocess.Popen[bytes], limit: float) -> float:
    """Wait until the import has committed something (or ended); returns the seconds waited."""
    start = time.monotonic()
    while process.poll() is None and time.monotonic() - start < limit:
        if sql_rows(url, "SELECT count(*) FROM papers")[0][0] > 0:
            break
        time.sleep(0.02)
    return time.monotonic() - start


@pytest.mark.timeout(900)
def test_killed_import_is_consistent_and_resumes(
    new_database_url: Callable[[str], str],
    reference: tuple[float, tuple[Rows, Rows]],
) -> None:
    duration, expected = reference
    rng = random.Random(20261129)
    killed = interrupted = 0
    for trial in range(TRIALS):
        db = new_database_url(f"kill{trial}")
        open_store(db).close()  # schema in place before the clock starts
        process = run_import(db)
        # Anywhere in the run once it has begun writing (start-up time varies with the load).
        waited = _first_batch_stored(db, process, duration)
        time.sleep(rng.uniform(0.0, 0.8) * max(0.0, duration - waited))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            killed += 1
        process.wait(timeout=60)

        papers, entries = snapshot(db)  # consistent right after the kill
        assert len(papers) % BATCH == 0 or len(papers) == len(expected[0])
        with_entry = {row[0] for row in entries}
        assert all(paper[0] in with_entry for paper in papers), "a paper without its feed entry"

        finisher = run_import(db)
        assert finisher.wait(timeout=120) == 0
        assert snapshot(db) == expected

        store = open_store(db)
        statuses = [run.status for run in store.ingest_runs()]
        store.close()
        assert statuses[0] == "ok"
        assert "running" not in statuses, "a killed run must not stay 'running'"
        if process.returncode == -signal.SIGKILL and len(statuses) > 1:
            # killed mid-run, or after logging its end while printing the summary
            assert statuses[1] in ("interrupted", "ok")
            interrupted += statuses[1] == "interrupted"
    assert killed >= TRIALS // 2 and interrupted >= 1, "the kills should mostly land mid-import"
