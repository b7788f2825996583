"""An import killed at random moments leaves a consistent store, and importing again completes
it: the end state equals an uninterrupted import, and the log marks the killed run."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from paperboy.ingest import demo_data_path
from paperboy.store import open_store

pytestmark = pytest.mark.slow

TRIALS = 8
BATCH = 400


def snapshot(db: Path) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """Every paper and feed entry, without bookkeeping timestamps."""
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        papers = conn.execute(
            "SELECT id, version, title, abstract, authors, categories, published, github_repo,"
            " project_page FROM papers ORDER BY id"
        ).fetchall()
        entries = conn.execute(
            "SELECT paper_id, feed_date, source, upvotes, num_comments FROM feed_entries"
            " ORDER BY paper_id, feed_date"
        ).fetchall()
    return papers, entries


def run_import(db: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "paperboy", "import", str(demo_data_path()),
        "--batch-size", str(BATCH), "--database-url", f"sqlite:///{db}",
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[float, tuple[list, list]]:  # type: ignore[type-arg]
    """An uninterrupted import in a subprocess: how long it takes, and what it stores."""
    db = tmp_path_factory.mktemp("reference") / "reference.db"
    open_store(f"sqlite:///{db}").close()
    start = time.monotonic()
    assert run_import(db).wait(timeout=120) == 0
    return time.monotonic() - start, snapshot(db)


def test_killed_import_is_consistent_and_resumes(
    tmp_path: Path,
    reference: tuple[float, tuple[list, list]],  # type: ignore[type-arg]
) -> None:
    duration, expected = reference
    rng = random.Random(20261129)
    killed = interrupted = 0
    for trial in range(TRIALS):
        db = tmp_path / f"kill-{trial}.db"
        open_store(f"sqlite:///{db}").close()  # schema in place before the clock starts
        process = run_import(db)
        time.sleep(rng.uniform(0.05, 0.95) * duration)  # anywhere in the run
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

        store = open_store(f"sqlite:///{db}")
        statuses = [run.status for run in store.ingest_runs()]
        store.close()
        assert statuses[0] == "ok"
        assert "running" not in statuses, "a killed run must not stay 'running'"
        if process.returncode == -signal.SIGKILL and len(statuses) > 1:
            # killed mid-run, or after logging its end while printing the summary
            assert statuses[1] in ("interrupted", "ok")
            interrupted += statuses[1] == "interrupted"
    assert killed >= TRIALS // 2 and interrupted >= 1, "the kills should mostly land mid-import"
