"""``send_pending`` when SMTP goes wrong: temporary failures retry with a doubling backoff,
permanent ones are recorded and pause the address after a few in a row, a server that is down
loses nothing. Faults come from the real aiosmtpd sink (``fail_next``, ``drop_next``)."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from paperboy.digest.sender import SendReport, retry_delay, send_pending
from paperboy.store import SQLStore
from smtp_sink import SmtpSink
from test_delivery import add_digest, mail_settings, now, row, set_row

Fault = Callable[[SmtpSink], None]

TEMPORARY: dict[str, Fault] = {
    "421 at DATA": lambda sink: sink.fail_next("421 4.3.2 service shutting down"),
    "451 at DATA": lambda sink: sink.fail_next("451 4.3.0 local error, try again"),
    "450 at RCPT": lambda sink: sink.fail_next("450 4.2.1 mailbox busy", stage="rcpt"),
    "dropped connection": lambda sink: sink.drop_next(),
}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def assert_due_after(due: datetime, before: datetime, after: datetime, seconds: float) -> None:
    """``due`` is ``seconds`` after a moment between ``before`` and ``after``."""
    delay = timedelta(seconds=seconds)
    assert before + delay <= due <= after + delay, (due - before, delay)


def test_retry_delay_doubles_up_to_six_hours() -> None:
    assert [retry_delay(60, n).total_seconds() for n in range(1, 6)] == [60, 120, 240, 480, 960]
    assert retry_delay(60, 20) == timedelta(hours=6)
    assert retry_delay(60, 10_000) == timedelta(hours=6)
    assert retry_delay(0, 7) == timedelta(0)


@pytest.mark.parametrize("fault", list(TEMPORARY.values()), ids=list(TEMPORARY))
def test_temporary_failure_retries_later_and_loses_nothing(
    store: SQLStore, database_url: str, smtp_sink: SmtpSink, fault: Fault
) -> None:
    flaky = add_digest(store, "flaky@example.com")
    other = add_digest(store, "other@example.com")
    slow = mail_settings(database_url, smtp_sink, mail_retry_seconds=60)

    fault(smtp_sink)  # the first transaction (the oldest row) gets it
    before = now()
    report = send_pending(store, slow)
    after = now()
    assert report == SendReport(sent=1, retried=1)
    [got] = smtp_sink.wait_for(1)
    assert got["Message-ID"] == other.message_id
    first = row(store, flaky.id)
    assert (first.status, first.attempts) == ("pending", 1)
    assert first.last_error
    assert_due_after(first.next_attempt_at, before, after, 60)

    assert send_pending(store, slow) == SendReport()  # not due yet: nothing is tried

    set_row(store, flaky.id, next_attempt_at=now() - timedelta(seconds=1))
    fault(smtp_sink)
    before = now()
    assert send_pending(store, slow) == SendReport(retried=1)
    after = now()
    second = row(store, flaky.id)
    assert (second.status, second.attempts) == ("pending", 2)
    assert_due_after(second.next_attempt_at, before, after, 120)  # doubled

    # With no delay the retry is due at once, but a pass tries each message once: the next
    # pass delivers it, with the Message-ID it was composed with.
    quick = mail_settings(database_url, smtp_sink, mail_retry_seconds=0)
    set_row(store, flaky.id, next_attempt_at=now() - timedelta(seconds=1))
    fault(smtp_sink)
    assert send_pending(store, quick) == SendReport(retried=1)
    assert send_pending(store, quick) == SendReport(sent=1)
    received = smtp_sink.wait_for(2)
    assert [m["Message-ID"] for m in received] == [other.message_id, flaky.message_id]
    done = row(store, flaky.id)
    assert (done.status, done.attempts) == ("sent", 4)
    subscription = store.subscriptions.get(flaky.subscription_id)
    assert subscription is not None and subscription.failures == 0  # temporary: not counted


@pytest.mark.parametrize("stage", ["data", "rcpt"])
def test_permanent_failure_is_recorded_and_counted(
    store: SQLStore,
    database_url: str,
    smtp_sink: SmtpSink,
    stage: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bad = add_digest(store, "nobody@example.com")
    good = add_digest(store, "reader@example.com")
    smtp_sink.fail_next("550 5.1.1 no such user here", stage=stage)  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger="paperboy.digest.sender"):
        report = send_pending(store, mail_settings(database_url, smtp_sink))
    assert report == SendReport(sent=1, failed=1)
    [got] = smtp_sink.wait_for(1)
    assert got["Message-ID"] == good.message_id
    failed = row(store, bad.id)
    assert (failed.status, failed.attempts) == ("failed", 1)
    assert failed.last_error is not None and "550 5.1.1 no such user here" in failed.last_error
    subscription = store.subscriptions.get(bad.subscription_id)
    assert subscription is not None
    assert (subscription.failures, subscription.status) == (1, "active")
    assert any("550 5.1.1 no such user here" in r.getMessage() for r in caplog.records)


def test_consecutive_permanent_failures_pause_the_address(
    store: SQLStore, database_url: str, smtp_sink: SmtpSink
) -> None:
    settings = mail_settings(database_url, smtp_sink, mail_pause_after=3)
    email = "bouncing@example.com"
    for day in (24, 25):  # one digest a day, each refused
        message = add_digest(store, email, period=f"daily:2026-11-{day}")
        smtp_sink.fail_next("550 5.2.1 mailbox disabled")
        assert send_pending(store, settings) == SendReport(failed=1)
        assert row(store, message.id).status == "failed"
    third = add_digest(store, email, period="daily:2026-11-26")
    queued = add_digest(store, email, period="daily:2026-11-27")  # waiting behind the third
    smtp_sink.fail_next("550 5.2.1 mailbox disabled")
    assert send_pending(store, settings) == SendReport(failed=1, paused=1)

    subscription = store.subscriptions.get(third.subscription_id)
    assert subscription is not None
    assert (subscription.status, subscription.failures) == ("paused", 3)
    assert subscription.paused_at is not None
    assert subscription.pause_reason == "550 5.2.1 mailbox disabled"
    assert row(store, third.id).status == "failed"
    dropped = row(store, queued.id)
    assert (dropped.status, dropped.attempts) == ("failed", 0)
    assert dropped.last_error == "not sent: the address is paused (550 5.2.1 mailbox disabled)"

    later = add_digest(store, email, period="daily:2026-11-30")  # composed anyway: not sent
    reader = add_digest(store, "reader@example.com")
    assert send_pending(store, settings) == SendReport(sent=1, dropped=1)
    [got] = smtp_sink.wait_for(1)
    assert got["Message-ID"] == reader.message_id
    assert row(store, later.id).status == "failed"
    assert smtp_sink.pending_faults == 0


def test_a_success_resets_the_failure_count(
    store: SQLStore, database_url: str, smtp_sink: SmtpSink
) -> None:
    settings = mail_settings(database_url, smtp_sink, mail_pause_after=3)
    email = "sometimes@example.com"
    for day in (23, 24):
        add_digest(store, email, period=f"daily:2026-11-{day}")
        smtp_sink.fail_next("552 5.2.2 mailbox full")
        assert send_pending(store, settings) == SendReport(failed=1)
    message = add_digest(store, email, period="daily:2026-11-25")
    assert send_pending(store, settings) == SendReport(sent=1)
    subscription = store.subscriptions.get(message.subscription_id)
    assert subscription is not None and subscription.failures == 0
    for day in (26, 27):  # two more in a row: still under three
        add_digest(store, email, period=f"daily:2026-11-{day}")
        smtp_sink.fail_next("552 5.2.2 mailbox full")
        assert send_pending(store, settings) == SendReport(failed=1)
    subscription = store.subscriptions.get(message.subscription_id)
    assert subscription is not None
    assert (subscription.status, subscription.failures) == ("active", 2)


def test_out_of_attempts_is_failed(store: SQLStore, database_url: str, smtp_sink: SmtpSink) -> None:
    message = add_digest(store, "reader@example.com")
    settings = mail_settings(database_url, smtp_sink, mail_max_attempts=2, mail_retry_seconds=0)
    smtp_sink.fail_next("451 4.3.0 try again", times=2)
    assert send_pending(store, settings) == SendReport(retried=1)
    assert send_pending(store, settings) == SendReport(failed=1)
    failed = row(store, message.id)
    assert (failed.status, failed.attempts) == ("failed", 2)
    assert failed.last_error is not None
    assert failed.last_error.startswith("gave up after 2 attempts")
    assert "451 4.3.0 try again" in failed.last_error
    subscription = store.subscriptions.get(message.subscription_id)
    assert subscription is not None and subscription.failures == 0
    assert send_pending(store, settings) == SendReport()
    assert smtp_sink.messages == []


def test_server_down_keeps_every_row_pending(
    store: SQLStore, database_url: str, smtp_sink: SmtpSink
) -> None:
    rows = [add_digest(store, f"r{i}@example.com") for i in range(3)]
    down = mail_settings(database_url, smtp_port=closed_port(), mail_retry_seconds=60)
    for _ in range(3):
        report = send_pending(store, down)
        assert (report.sent, report.retried, report.failed) == (0, 0, 0)
        assert report.error is not None and "cannot connect" in report.error
    for message in rows:
        kept = row(store, message.id)
        assert (kept.status, kept.attempts) == ("pending", 0)  # no try counted: not its fault
        assert kept.next_attempt_at == message.next_attempt_at
    assert row(store, rows[0].id).last_error == report.error

    # The server is back: everything goes out, once.
    assert send_pending(store, mail_settings(database_url, smtp_sink)) == SendReport(sent=3)
    received = smtp_sink.wait_for(3)
    assert sorted(m["Message-ID"] for m in received) == sorted(r.message_id for r in rows)


def test_server_refusing_our_login_keeps_rows_pending(store: SQLStore, database_url: str) -> None:
    """A 5xx about us, not the recipient (bad SMTP password): no address is blamed."""
    message = add_digest(store, "reader@example.com")
    with SmtpSink(credentials={"paperboy": "right"}) as sink:
        wrong = mail_settings(database_url, sink, smtp_username="paperboy", smtp_password="wrong")
        report = send_pending(store, wrong)
        assert (report.sent, report.failed, report.paused) == (0, 0, 0)
        assert report.error is not None and "535" in report.error
        kept = row(store, message.id)
        assert (kept.status, kept.attempts) == ("pending", 0)
        subscription = store.subscriptions.get(message.subscription_id)
        assert subscription is not None and subscription.failures == 0

        right = mail_settings(database_url, sink, smtp_username="paperboy", smtp_password="right")
        assert send_pending(store, right) == SendReport(sent=1)
        assert sink.logins == ["paperboy"]


def test_runner_reports_a_server_that_is_down(
    store: SQLStore,
    database_url: str,
    smtp_sink: SmtpSink,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``python -m paperboy.digest.send_main``: JSON summary, exit status 1 while the server is
    down (nothing lost), 0 once everything went out."""
    from paperboy.digest import send_main

    message = add_digest(store, "reader@example.com")
    monkeypatch.setenv("PAPERBOY_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("PAPERBOY_SMTP_PORT", str(closed_port()))
    monkeypatch.setenv("PAPERBOY_MAIL_RATE_PER_MINUTE", str(10**9))
    assert send_main.main(["--database-url", database_url]) == 1
    summary = json.loads(capsys.readouterr().out)
    assert (summary["sent"], summary["retried"]) == (0, 0)
    assert "cannot connect" in summary["error"]
    assert row(store, message.id).status == "pending"

    monkeypatch.setenv("PAPERBOY_SMTP_PORT", str(smtp_sink.port))
    assert send_main.main(["--database-url", database_url, "--dry-run"]) == 0
    assert json.loads(capsys.readouterr().out)["skipped_dry_run"] == 1
    assert send_main.main(["--database-url", database_url]) == 0
    assert json.loads(capsys.readouterr().out)["sent"] == 1
    [got] = smtp_sink.wait_for(1)
    assert got["Message-ID"] == message.message_id


def test_a_stored_non_ascii_address_is_refused_cleanly_and_the_pass_goes_on(
    store: SQLStore, database_url: str, smtp_sink: SmtpSink
) -> None:
    """An address with a non-ASCII local part, stored before such addresses were refused, never
    crashes nor stops the sender: its digest is failed with the reason, the subscription is
    paused at once (it can never be mailed), and the digests after it still go out."""
    lookalike = "\u0430lice@example.org"  # a Cyrillic "а"
    settings = mail_settings(database_url, smtp_sink, mail_pause_after=3)
    bad = add_digest(store, lookalike)
    queued = add_digest(store, lookalike, period="daily:2026-11-30")
    good = add_digest(store, "reader@example.com")
    assert send_pending(store, settings) == SendReport(sent=1, failed=1, paused=1)
    [got] = smtp_sink.wait_for(1)
    assert got["Message-ID"] == good.message_id
    assert smtp_sink.envelopes[0].rcpt_tos == ("reader@example.com",)
    failed = row(store, bad.id)
    assert failed.status == "failed" and failed.last_error is not None
    assert "553" in failed.last_error and "non-ASCII" in failed.last_error
    assert row(store, queued.id).status == "failed"
    subscription = store.subscriptions.get(bad.subscription_id)
    assert subscription is not None and subscription.status == "paused"
    assert subscription.pause_reason is not None and "non-ASCII" in subscription.pause_reason
    assert send_pending(store, settings) == SendReport()  # nothing left, nothing retried


def test_a_stored_internationalised_domain_is_mailed_in_its_ascii_form(
    store: SQLStore, database_url: str, smtp_sink: SmtpSink
) -> None:
    message = add_digest(store, "zoe@bücher.example")
    assert send_pending(store, mail_settings(database_url, smtp_sink)) == SendReport(sent=1)
    [got] = smtp_sink.wait_for(1)
    assert got["To"] == "zoe@xn--bcher-kva.example"
    assert smtp_sink.envelopes[0].rcpt_tos == ("zoe@xn--bcher-kva.example",)
    assert row(store, message.id).status == "sent"
