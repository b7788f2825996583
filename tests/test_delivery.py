"""The outbox's delivering side: claiming, marking and recovering rows, and ``send_pending``
against a real SMTP server (the aiosmtpd sink), on the backend under test."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from paperboy.digest.models import OutboxMessage
from paperboy.digest.sender import (
    PACE_KEY,
    SendReport,
    claimer_id,
    claimer_is_dead,
    pacing_interval_ms,
    send_pending,
)
from paperboy.settings import Settings
from paperboy.store import SQLStore, open_store
from paperboy.store.delivery import DeliveryStore
from paperboy.store.schema import outbox, store_state
from smtp_sink import SmtpSink

SENDER = "Paperboy <digest@paperboy.test>"
PERIOD = "daily:2026-11-27"


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def mail_settings(database_url: str, sink: SmtpSink | None = None, **changes: Any) -> Settings:
    """Settings that send to ``sink`` quickly: no pacing unless a test asks for it."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "smtp_host": "127.0.0.1",
        "smtp_timeout": 5.0,
        "mail_from": SENDER,
        "mail_rate_per_minute": 10**9,
    }
    if sink is not None:
        values["smtp_host"], values["smtp_port"] = sink.host, sink.port
    values.update(changes)
    return Settings(**values)


def message_id_for(subscription_id: int, period: str) -> str:
    return f"<digest-{subscription_id}-{period.replace(':', '-')}@paperboy.test>"


def add_digest(
    store: SQLStore,
    email: str,
    *,
    period: str = PERIOD,
    html: bool = True,
    headers: dict[str, str] | None = None,
) -> OutboxMessage:
    """An active subscription for ``email`` (made if missing) with a composed digest for
    ``period`` in the outbox; returns the stored row."""
    subscription, _ = store.subscriptions.create(email, confirmed=True)
    outbox_id = store.subscriptions.enqueue_digest(
        subscription.id,
        period,
        now(),
        message_id=message_id_for(subscription.id, period),
        to_addr=email,
        subject=f"Trending papers for {period}",
        body_text=f"Hello {email},\n\n1. A paper for {period}\n",
        body_html=f"<p>Hello {email}</p><ol><li>A paper for {period}</li></ol>" if html else None,
        headers=headers
        if headers is not None
        else {
            "List-Unsubscribe": f"<https://paperboy.test/unsubscribe/{subscription.id}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        paper_ids=[],
    )
    assert outbox_id is not None
    message = store.subscriptions.message(outbox_id)
    assert message is not None
    return message


def set_row(store: SQLStore, outbox_id: int, **values: Any) -> None:
    with store.engine.begin() as conn:
        conn.execute(update(outbox).where(outbox.c.id == outbox_id).values(**values))


def row(store: SQLStore, outbox_id: int) -> OutboxMessage:
    message = store.subscriptions.message(outbox_id)
    assert message is not None
    return message


def claimed_at(store: SQLStore, outbox_id: int) -> datetime | None:
    with store.engine.connect() as conn:
        return conn.execute(
            select(outbox.c.claimed_at).where(outbox.c.id == outbox_id)
        ).scalar_one()


def outbox_snapshot(store: SQLStore) -> list[tuple[Any, ...]]:
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(outbox).order_by(outbox.c.id))]


def pace(store: SQLStore) -> int | None:
    with store.engine.connect() as conn:
        return conn.execute(
            select(store_state.c.value).where(store_state.c.key == f"pace:{PACE_KEY}")
        ).scalar_one_or_none()


def dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# -- claiming and marking ----------------------------------------------------------------------


def test_claim_takes_the_oldest_due_row_once(store: SQLStore) -> None:
    delivery = DeliveryStore(store.engine)
    first = add_digest(store, "a@example.com")
    second = add_digest(store, "b@example.com")
    later = add_digest(store, "c@example.com")
    set_row(store, later.id, next_attempt_at=now() + timedelta(hours=1))
    set_row(store, first.id, next_attempt_at=now() - timedelta(minutes=5))

    got = delivery.claim("host-a:1")
    assert got is not None and got.id == first.id
    assert (got.status, got.claimed_by, got.attempts) == ("sending", "host-a:1", 1)
    assert claimed_at(store, first.id) is not None
    got = delivery.claim("host-a:1")
    assert got is not None and got.id == second.id
    assert delivery.claim("host-a:1") is None  # the third is not due yet
    got = delivery.claim("host-a:1", due=now() + timedelta(hours=2))
    assert got is not None and got.id == later.id
    assert delivery.claim("host-a:1", due=now() + timedelta(hours=2)) is None


def test_claim_skips_paused_and_unsubscribed_subscriptions(store: SQLStore) -> None:
    delivery = DeliveryStore(store.engine)
    paused = add_digest(store, "paused@example.com")
    store.subscriptions.update(paused.subscription_id, status="paused")
    unsubscribed = add_digest(store, "gone@example.com")
    set_row(store, unsubscribed.id, status="pending")
    store.subscriptions.update(unsubscribed.subscription_id, status="unsubscribed")
    active = add_digest(store, "reader@example.com")

    got = delivery.claim("h:1")
    assert got is not None and got.id == active.id
    assert delivery.claim("h:1") is None
    assert delivery.due() == []
    assert delivery.drop_unsendable() == 1  # the paused one; unsubscribe drops its own rows
    dropped = row(store, paused.id)
    assert dropped.status == "failed"
    assert dropped.last_error is not None and "paused" in dropped.last_error


def test_marking_outcomes(store: SQLStore) -> None:
    delivery = DeliveryStore(store.engine)
    rows = [add_digest(store, f"r{i}@example.com") for i in range(4)]
    claimed = [delivery.claim("h:1") for _ in rows]
    assert [c.id for c in claimed if c is not None] == [r.id for r in rows]

    delivery.mark_sent(rows[0].id)
    sent = row(store, rows[0].id)
    assert sent.status == "sent" and sent.sent_at is not None

    retry_at = now() + timedelta(minutes=10)
    assert delivery.mark_retry(rows[1].id, "451 try later", retry_at)
    retried = row(store, rows[1].id)
    assert (retried.status, retried.attempts, retried.last_error) == ("pending", 1, "451 try later")
    assert retried.next_attempt_at == retry_at

    assert delivery.mark_failed(rows[2].id, "550 no such user")
    failed = row(store, rows[2].id)
    assert (failed.status, failed.last_error) == ("failed", "550 no such user")

    assert delivery.release(rows[3].id, "server unusable")
    released = row(store, rows[3].id)
    assert (released.status, released.attempts) == ("pending", 0)

    # Only a row still in 'sending' takes a retry or a failure: finished rows stay finished.
    assert not delivery.mark_retry(rows[0].id, "late", retry_at)
    assert not delivery.mark_failed(rows[0].id, "late")
    assert row(store, rows[0].id).status == "sent"


def test_failure_count_pauses_and_success_resets_it(store: SQLStore) -> None:
    delivery = DeliveryStore(store.engine)
    first = add_digest(store, "bouncy@example.com", period="daily:2026-11-26")
    other = add_digest(store, "bouncy@example.com", period="daily:2026-11-27")
    sub = first.subscription_id
    assert delivery.count_failure(sub, "550 no such user", 2) == (1, False)
    delivery.reset_failures(sub)
    subscription = store.subscriptions.get(sub)
    assert subscription is not None and subscription.failures == 0
    assert delivery.count_failure(sub, "550 no such user", 2) == (1, False)
    assert delivery.count_failure(sub, "550 5.1.1 no such user", 2) == (2, True)
    subscription = store.subscriptions.get(sub)
    assert subscription is not None
    assert (subscription.status, subscription.pause_reason) == ("paused", "550 5.1.1 no such user")
    assert subscription.paused_at is not None
    for message in (first, other):  # its unsent digests are dropped with the reason
        dropped = row(store, message.id)
        assert dropped.status == "failed"
        assert dropped.last_error == "not sent: the address is paused (550 5.1.1 no such user)"
    # Already paused: counting goes on, nothing is paused again.
    assert delivery.count_failure(sub, "550", 2) == (3, False)


def test_recover_returns_rows_of_dead_or_expired_claims(store: SQLStore) -> None:
    delivery = DeliveryStore(store.engine)
    host = claimer_id().rpartition(":")[0]
    dead = f"{host}:{dead_pid()}"
    rows = [add_digest(store, f"r{i}@example.com") for i in range(4)]
    for message, claimer in zip(
        rows, [dead, claimer_id(), "elsewhere:42", "elsewhere:43"], strict=True
    ):
        got = delivery.claim(claimer)
        assert got is not None and got.id == message.id
    set_row(store, rows[3].id, claimed_at=now() - timedelta(seconds=301))
    assert claimer_is_dead(dead)
    assert not claimer_is_dead(claimer_id())
    assert not claimer_is_dead("elsewhere:42")  # another host: only its lease can end

    assert delivery.recover(claimer_is_dead, 300) == 2
    statuses = [row(store, r.id).status for r in rows]
    assert statuses == ["pending", "sending", "sending", "pending"]
    recovered = row(store, rows[0].id)
    assert recovered.attempts == 1  # the try that may have gone out still counts
    assert recovered.message_id == rows[0].message_id
    assert delivery.recover(claimer_is_dead, 300) == 0


def test_concurrent_claims_never_take_the_same_row(store: SQLStore, database_url: str) -> None:
    """Four senders, each with its own engine, claim until nothing is left."""
    total = 120
    for i in range(total):
        add_digest(store, f"r{i}@example.com")
    stores = [open_store(database_url) for _ in range(4)]
    taken: list[list[int]] = [[] for _ in stores]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(stores))

    def work(index: int) -> None:
        try:
            delivery = DeliveryStore(stores[index].engine)
            barrier.wait()
            while (message := delivery.claim(f"h:{index}")) is not None:
                taken[index].append(message.id)
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for s in stores:
        s.close()
    assert not errors, errors
    every = [outbox_id for ids in taken for outbox_id in ids]
    assert len(every) == total
    assert len(set(every)) == total, "a row was claimed twice"
    assert sum(1 for ids in taken if ids) >= 2, "one sender took everything: no concurrency"
    assert store.subscriptions.outbox_counts() == {"sending": total}


# -- sending -----------------------------------------------------------------------------------


def test_send_pending_sends_each_row_once_as_stored(
    store: SQLStore, database_url: str, smtp_sink: SmtpSink
) -> None:
    plain_headers = {"List-Unsubscribe": "<mailto:unsubscribe@paperboy.test?subject=3>"}
    rows = [
        add_digest(store, "ada@example.com"),
        add_digest(store, "grace@example.com"),
        add_digest(store, "plain@example.com", html=False, headers=plain_headers),
    ]
    seen: list[tuple[int, str]] = []
    report = send_pending(
        store,
        mail_settings(database_url, smtp_sink),
        progress=lambda message, outcome: seen.append((message.id, outcome)),
    )
    assert report == SendReport(sent=3)
    assert seen == [(r.id, "sent") for r in rows]
    received = smtp_sink.wait_for(3)
    assert len(received) == 3
    by_id = {m["Message-ID"]: m for m in received}
    assert set(by_id) == {r.message_id for r in rows}
    for stored in rows:
        got = by_id[stored.message_id]
        assert got["From"] == SENDER
        assert got["To"] == stored.to_addr
        assert got["Subject"] == stored.subject
        assert got["Date"]
        for name, value in stored.headers.items():
            assert got[name] == value
        if stored.body_html is None:
            assert got.get_content_type() == "text/plain"
            assert got.get_content() == stored.body_text
        else:
            text_part, html_part = got.iter_parts()
            assert text_part.get_content() == stored.body_text
            assert html_part.get_content().strip() == stored.body_html
        after = row(store, stored.id)
        assert (after.status, after.attempts) == ("sent", 1)
        assert after.sent_at is not None
    assert [e.rcpt_tos for e in smtp_sink.envelopes] == [(r.to_addr,) for r in rows]

    assert send_pending(store, mail_settings(database_url, smtp_sink)) == SendReport()
    assert len(smtp_sink.messages) == 3  # nothing sent twice


def test_send_pending_respects_the_limit_and_stop(
    store: SQLStore, database_url: str, smtp_sink: SmtpSink
) -> None:
    rows = [add_digest(store, f"r{i}@example.com") for i in range(3)]
    settings = mail_settings(database_url, smtp_sink)
    assert send_pending(store, settings, limit=1).sent == 1
    stop = threading.Event()
    stop.set()
    assert send_pending(store, settings, stop=stop) == SendReport()
    assert [row(store, r.id).status for r in rows] == ["sent", "pending", "pending"]
    assert send_pending(store, settings).sent == 2


def test_dry_run_sends_and_changes_nothing(
    store: SQLStore, database_url: str, smtp_sink: SmtpSink
) -> None:
    rows = [add_digest(store, f"r{i}@example.com") for i in range(3)]
    # A row of a dead sender: a real pass would recover it, a dry run leaves it.
    host = claimer_id().rpartition(":")[0]
    assert DeliveryStore(store.engine).claim(f"{host}:{dead_pid()}") is not None
    before = outbox_snapshot(store)
    seen: list[tuple[int, str]] = []
    report = send_pending(
        store,
        mail_settings(database_url, smtp_sink, mail_rate_per_minute=60),
        dry_run=True,
        progress=lambda message, outcome: seen.append((message.id, outcome)),
    )
    assert report == SendReport(skipped_dry_run=2)
    assert seen == [(r.id, "would send") for r in rows[1:]]
    assert outbox_snapshot(store) == before
    assert pace(store) is None
    time.sleep(0.1)
    assert smtp_sink.messages == []


def test_paused_subscription_is_not_sent(
    store: SQLStore, database_url: str, smtp_sink: SmtpSink
) -> None:
    paused = add_digest(store, "paused@example.com")
    store.subscriptions.update(
        paused.subscription_id, status="paused", pause_reason="550 5.1.1 mailbox unavailable"
    )
    active = add_digest(store, "reader@example.com")
    report = send_pending(store, mail_settings(database_url, smtp_sink))
    assert report == SendReport(sent=1, dropped=1)
    [got] = smtp_sink.wait_for(1)
    assert got["To"] == "reader@example.com"
    assert row(store, active.id).status == "sent"
    dropped = row(store, paused.id)
    assert dropped.status == "failed" and dropped.attempts == 0
    assert dropped.last_error == "not sent: the address is paused (550 5.1.1 mailbox unavailable)"


def test_pacing_interval_is_exact() -> None:
    assert pacing_interval_ms(60) == 1000
    assert pacing_interval_ms(1) == 60_000
    assert pacing_interval_ms(7) == 8572  # rounded up: never more than 7 a minute
    assert pacing_interval_ms(60_000) == 1
    assert pacing_interval_ms(60_001) == 0  # more than one a millisecond: no pacing at all
    assert pacing_interval_ms(10**9) == 0
    with pytest.raises(ValueError):
        pacing_interval_ms(0)


def test_rate_setting_reserves_slots_its_interval_apart(
    store: SQLStore, database_url: str, smtp_sink: SmtpSink
) -> None:
    """At 7 a minute each send takes the slot 8572 ms after the last one. The last slot is
    set so that the next one is due 0.6 s from now: the sender waits for it, then takes it."""
    message = add_digest(store, "reader@example.com")
    last = int(time.time() * 1000) + 600 - 8572
    with store.engine.begin() as conn:
        conn.execute(store_state.insert().values(key=f"pace:{PACE_KEY}", value=last))
    report = send_pending(store, mail_settings(database_url, smtp_sink, mail_rate_per_minute=7))
    assert report.sent == 1
    assert pace(store) == last + 8572
    assert row(store, message.id).status == "sent"


def test_huge_rate_does_not_pace(store: SQLStore, database_url: str, smtp_sink: SmtpSink) -> None:
    add_digest(store, "reader@example.com")
    assert send_pending(store, mail_settings(database_url, smtp_sink)).sent == 1
    assert pace(store) is None  # no slot reserved: nothing to wait for
    add_digest(store, "other@example.com")
    settings = mail_settings(database_url, smtp_sink, mail_rate_per_minute=60_000)
    before = int(time.time() * 1000)
    assert send_pending(store, settings).sent == 1
    slot = pace(store)
    assert slot is not None and before <= slot <= int(time.time() * 1000)


def test_send_outbox_stops_at_its_budget_and_loses_nothing(
    store: SQLStore, database_url: str, smtp_sink: SmtpSink
) -> None:
    """The scheduled sender works in slices: a slice that ends early leaves the rest pending,
    and the next slice sends it; every digest goes out exactly once."""
    from paperboy.digest.jobs import send_outbox

    messages = [add_digest(store, f"reader{i}@example.org") for i in range(6)]
    settings = mail_settings(database_url, smtp_sink)
    first = send_outbox(settings, store, budget=0.0)  # the budget is over before it starts
    assert first is not None and first.sent <= 1
    assert store.subscriptions.outbox_counts().get("pending", 0) == 6 - first.sent
    second = send_outbox(settings, store)
    assert second is not None and first.sent + second.sent == 6
    received = [m["Message-ID"] for m in smtp_sink.wait_for(6)]
    assert sorted(received) == sorted(m.message_id for m in messages)
    assert store.subscriptions.outbox_counts() == {"sent": 6}
