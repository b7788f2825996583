"""``paperboy digest preview|compose|send|list`` and the outbox lines of ``paperboy status``,
run in-process with Typer's CliRunner against a real store (and a real SMTP sink for send).

The commands use the real clock, so the test subscriber is weekly with the weekly day set to
today: a digest is due whatever day the suite runs.
"""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import cast

import pytest
from typer.testing import CliRunner, Result

from paperboy import cli
from paperboy.cli import app
from paperboy.digest.periods import WEEKDAYS
from paperboy.models import FeedEntry, Paper, Record
from paperboy.store import SQLStore
from smtp_sink import SmtpSink

BASE = "https://papers.example.org"
TITLES = {"2611.00001": "Sparse <attention> & friends", "2611.00002": "Tiny parsers"}


@pytest.fixture(autouse=True)
def wide_consoles(monkeypatch: pytest.MonkeyPatch) -> None:
    """Wide output, so rich does not wrap or truncate table cells (see test_cli.py)."""
    for console in (cli.err, cli.out):
        monkeypatch.setattr(console, "_width", 240)


@pytest.fixture
def subscriber(store: SQLStore) -> int:
    today = datetime.now(UTC).date()
    store.upsert(
        [
            Record(
                Paper(pid, title, "An abstract.", ("Ada Lovelace",), ("cs.CL",)),
                FeedEntry(pid, today, upvotes=10 - n),
            )
            for n, (pid, title) in enumerate(TITLES.items())
        ]
    )
    sub, _ = store.subscriptions.create("reader@example.org", frequency="weekly", confirmed=True)
    return sub.id


def invoke(database_url: str, *args: str | Path, **env: str) -> Result:
    runner = CliRunner(
        env={
            "COLUMNS": "240",
            "NO_COLOR": "1",
            "PAPERBOY_SEMANTIC_SEARCH": "0",
            "PAPERBOY_BASE_URL": BASE,
            "PAPERBOY_DIGEST_WEEKLY_DAY": WEEKDAYS[datetime.now(UTC).weekday()],
            **env,
        }
    )
    return runner.invoke(app, [*(str(a) for a in args), "--database-url", database_url])


def test_preview_to_the_terminal_writes_nothing(
    database_url: str, store: SQLStore, subscriber: int
) -> None:
    result = invoke(database_url, "digest", "preview", "Reader@Example.org")
    assert result.exit_code == 0, result.output
    assert "Subject: Paperboy: 2 trending papers for the week of" in result.output
    for pid, title in TITLES.items():
        assert title in result.output and f"{BASE}/papers/{pid}" in result.output
    assert f"{BASE}/unsubscribe?token=" in result.output
    assert store.subscriptions.outbox_counts() == {}
    html = invoke(database_url, "digest", "preview", "reader@example.org", "--html")
    assert html.exit_code == 0 and "Sparse &lt;attention&gt; &amp; friends" in html.output
    missing = invoke(database_url, "digest", "preview", "nobody@example.org")
    assert missing.exit_code == 1 and "no subscription for 'nobody@example.org'" in missing.output


def test_preview_to_files(
    database_url: str, store: SQLStore, subscriber: int, tmp_path: Path
) -> None:
    eml = tmp_path / "digest.eml"
    result = invoke(database_url, "digest", "preview", "reader@example.org", "--out", eml)
    assert result.exit_code == 0, result.output
    message = cast(
        EmailMessage, email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    )
    assert message.get_content_type() == "multipart/alternative"
    assert message["To"] == "reader@example.org"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Message-ID"].startswith(f"<digest.{subscriber}.weekly.")
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    for pid, title in TITLES.items():
        assert title in text.get_content() and f"{BASE}/papers/{pid}" in text.get_content()
        assert f'href="{BASE}/papers/{pid}"' in html.get_content()
    page = tmp_path / "digest.html"
    result = invoke(database_url, "digest", "preview", "reader@example.org", "--html", "-o", page)
    assert result.exit_code == 0, result.output
    assert page.read_text().startswith("<!DOCTYPE html>") and 'style="' in page.read_text()
    assert store.subscriptions.outbox_counts() == {}


def test_compose_then_status_shows_the_outbox(
    database_url: str, store: SQLStore, subscriber: int
) -> None:
    result = invoke(database_url, "digest", "compose")
    assert result.exit_code == 0, result.output
    assert "1 due, 1 digests queued" in result.output
    again = invoke(database_url, "digest", "compose")
    assert again.exit_code == 0 and "0 due, 0 digests queued" in again.output
    assert store.subscriptions.outbox_counts() == {"pending": 1}
    status = invoke(database_url, "status")
    assert status.exit_code == 0, status.output
    lines = status.output.splitlines()
    outbox = next(n for n, line in enumerate(lines) if line.strip() == "Outbox")
    assert [c.strip() for c in lines[outbox + 2].split("┃")[1:-1]] == [
        "Pending",
        "Sending",
        "Sent",
        "Failed",
        "Skipped",
    ]
    assert [c.strip() for c in lines[outbox + 4].split("│")[1:-1]] == ["1", "0", "0", "0", "0"]
    subs = next(n for n, line in enumerate(lines) if line.strip() == "Subscriptions")
    assert [c.strip() for c in lines[subs + 4].split("│")[1:-1]] == ["1", "0", "0", "0"]
    listing = invoke(database_url, "digest", "list", "--email", "reader@example.org")
    assert listing.exit_code == 0 and "pending" in listing.output


def test_send_composes_and_delivers(
    database_url: str, store: SQLStore, subscriber: int, smtp_sink: SmtpSink
) -> None:
    smtp = {
        "PAPERBOY_SMTP_HOST": smtp_sink.host,
        "PAPERBOY_SMTP_PORT": str(smtp_sink.port),
        "PAPERBOY_MAIL_RATE_PER_MINUTE": "100000",
    }
    invoke(database_url, "digest", "compose", **smtp)
    dry = invoke(database_url, "digest", "send", "--dry-run", **smtp)
    assert dry.exit_code == 0, dry.output
    assert "reader@example.org" in dry.output and "1 digests would be sent" in dry.output
    assert smtp_sink.messages == []
    result = invoke(database_url, "digest", "send", **smtp)
    assert result.exit_code == 0, result.output
    assert "Sent 1," in result.output
    (message,) = smtp_sink.wait_for(1)
    (row,) = store.subscriptions.messages_of(subscriber)
    assert row.status == "sent" and message["Message-ID"] == row.message_id
    assert message["List-Unsubscribe"].startswith(f"<{BASE}/unsubscribe?token=")
    status = invoke(database_url, "status")
    lines = status.output.splitlines()
    outbox = next(n for n, line in enumerate(lines) if line.strip() == "Outbox")
    assert [c.strip() for c in lines[outbox + 4].split("│")[1:-1]] == ["0", "0", "1", "0", "0"]
