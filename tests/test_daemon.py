"""The daemon process harvests on its schedule, and `paperboy status` reports each source."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy.exc
from typer.testing import CliRunner

from arxiv_replay import ArxivReplay
from conftest import sql_rows
from paperboy.cli import app
from test_harvest import real_page, split_pages

pytestmark = pytest.mark.slow


@pytest.fixture
def replay() -> Iterator[ArxivReplay]:
    first, pages = split_pages(real_page(), 200)
    with ArxivReplay() as server:
        server.oai_first, server.oai_pages = first, pages
        yield server


def runs(db: str) -> list[tuple[str, str]]:
    """The (source, status) of every logged run; none before the daemon has made the schema."""
    parsed = sqlalchemy.make_url(db)
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").exists():
        return []  # not created yet: leave that to the daemon
    try:
        return [
            (a, b) for a, b in sql_rows(db, "SELECT source, status FROM ingest_log ORDER BY id")
        ]
    except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.ProgrammingError):
        return []  # the daemon is still creating the schema


def test_daemon_runs_the_harvest_and_status_reports_it(
    replay: ArxivReplay, database_url: str, tmp_path: Path
) -> None:
    db = database_url
    env = {
        **os.environ,
        "PAPERBOY_DATABASE_URL": db,
        "PAPERBOY_ARXIV_OAI_URL": f"{replay.url}/oai",
        "PAPERBOY_ARXIV_RSS_URL": f"{replay.url}/rss",
        "PAPERBOY_ARXIV_MIN_INTERVAL": "0",
        "PAPERBOY_HARVEST_SETS": "cs",
        "PAPERBOY_HARVEST_SCHEDULE": "0 3 1 1 *",  # yearly: only --now runs in the test
    }
    # Its log goes to a file: a pipe nobody reads fills up and blocks the daemon's writes.
    log = tmp_path / "daemon.log"
    # The test process may ignore SIGINT (an inherited "ignore" survives exec): the daemon
    # must stop on it all the same.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with log.open("wb") as out:
            daemon = subprocess.Popen(
                [sys.executable, "-m", "paperboy", "daemon", "--now"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
    finally:
        signal.signal(signal.SIGINT, previous)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            done = runs(db)
            if ("oai:cs", "ok") in done and any(source == "rss" for source, _ in done):
                break
            assert daemon.poll() is None, log.read_text()
            time.sleep(0.2)
        else:
            pytest.fail("the daemon did not finish its first harvest in time")
        assert daemon.poll() is None, "the daemon keeps running for the next scheduled run"
    finally:
        daemon.send_signal(signal.SIGINT)  # it finishes the job in hand (the index update)
        try:
            daemon.wait(timeout=90)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
            pytest.fail("the daemon did not stop after SIGINT:\n" + log.read_text()[-3000:])
    assert sql_rows(db, "SELECT count(*) FROM papers") == [(387,)]
    # the harvest is followed by the day's announcements (no feed recorded for 'cs' here)
    assert [status for source, status in runs(db) if source == "rss"] == ["failed"]

    result = CliRunner().invoke(app, ["status", "--database-url", db])
    assert result.exit_code == 0, result.output
    assert "Sources" in result.output and "oai:cs" in result.output


def test_status_names_a_failing_source_and_a_stopped_harvest(
    replay: ArxivReplay, database_url: str
) -> None:
    from paperboy.ingest.harvest import harvest
    from paperboy.ingest.http import ArxivHttp
    from paperboy.ingest.oai import OaiParseError
    from paperboy.settings import Settings
    from paperboy.store import open_store

    settings = Settings(
        database_url=database_url,
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
