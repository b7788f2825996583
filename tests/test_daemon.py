"""The daemon process harvests on its schedule, and `paperboy status` reports each source."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from arxiv_replay import ArxivReplay
from paperboy.cli import app
from test_harvest import real_page, split_pages

pytestmark = pytest.mark.slow


@pytest.fixture
def replay() -> Iterator[ArxivReplay]:
    first, pages = split_pages(real_page(), 200)
    with ArxivReplay() as server:
        server.oai_first, server.oai_pages = first, pages
        yield server


def runs(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as conn:
        try:
            return conn.execute("SELECT source, status FROM ingest_log ORDER BY id").fetchall()
        except sqlite3.OperationalError:  # the daemon is still creating the schema
            return []


def test_daemon_runs_the_harvest_and_status_reports_it(replay: ArxivReplay, tmp_path: Path) -> None:
    db = tmp_path / "paperboy.db"
    env = {
        **os.environ,
        "PAPERBOY_DATABASE_URL": f"sqlite:///{db}",
        "PAPERBOY_ARXIV_OAI_URL": f"{replay.url}/oai",
        "PAPERBOY_ARXIV_RSS_URL": f"{replay.url}/rss",
        "PAPERBOY_ARXIV_MIN_INTERVAL": "0",
        "PAPERBOY_HARVEST_SETS": "cs",
        "PAPERBOY_HARVEST_SCHEDULE": "0 3 1 1 *",  # yearly: only --now runs in the test
    }
    daemon = subprocess.Popen(
        [sys.executable, "-m", "paperboy", "daemon", "--now"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            done = runs(db) if db.exists() else []
            if ("oai:cs", "ok") in done and any(source == "rss" for source, _ in done):
                break
            assert daemon.poll() is None, daemon.stdout.read().decode()  # type: ignore[union-attr]
            time.sleep(0.2)
        else:
            pytest.fail("the daemon did not finish its first harvest in time")
        assert daemon.poll() is None, "the daemon keeps running for the next scheduled run"
    finally:
        daemon.send_signal(signal.SIGINT)  # it finishes the job in hand (the index update)
        daemon.wait(timeout=60)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM papers").fetchone() == (387,)
    # the harvest is followed by the day's announcements (no feed recorded for 'cs' here)
    assert [status for source, status in runs(db) if source == "rss"] == ["failed"]

    result = CliRunner().invoke(app, ["status", "--database-url", f"sqlite:///{db}"])
    assert result.exit_code == 0, result.output
    assert "Sources" in result.output and "oai:cs" in result.output


def test_status_names_a_failing_source_and_a_stopped_harvest(
    replay: ArxivReplay, tmp_path: Path
) -> None:
    from paperboy.ingest.harvest import harvest
    from paperboy.ingest.http import ArxivHttp
    from paperboy.ingest.oai import OaiParseError
    from paperboy.settings import Settings
    from paperboy.store import open_store

    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'p.db'}",
        arxiv_oai_url=f"{replay.url}/oai",
        arxiv_min_interval=0,
        arxiv_backoff=0,
        arxiv_retries=1,
    )
    store = open_store(settings.database_url)
    replay.oai_pages["t1"] = b"<OAI-PMH"  # the second page never arrives whole
    with ArxivHttp(settings, store) as http, pytest.raises(OaiParseError):
        harvest(store, http, set_spec="cs", from_date="2016-10-20")
    store.close()
    result = CliRunner().invoke(app, ["status", "--database-url", settings.database_url])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())  # undo the console's line wrapping
    assert "failed" in text
    assert "`paperboy harvest --set cs` resumes it" in text
