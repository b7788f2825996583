"""A sender killed (SIGKILL) at random moments, again and again, loses no digest and resends at
most the one message it had in flight, with that message's own Message-ID.

1,000 subscribers each have one composed digest in the outbox. The sender runs as a real
process (``python -m paperboy.digest.send_main``) against a real SMTP server in this process
(the aiosmtpd sink) and is killed at least 20 times, each time a random while after it began
delivering, then restarted; the last run finishes the outbox. Every address must have its
digest, every message that arrived twice must be a resend of its row's message (same
Message-ID, same address), and there may be no more such duplicates than kills.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from paperboy.store import SQLStore
from smtp_sink import SmtpSink
from test_delivery import now

pytestmark = pytest.mark.slow

SEED = 20261127
SUBSCRIBERS = 1000
KILLS = 20
DELAY = (0.05, 0.5)  # seconds from a run's first delivery to its kill


def fill_outbox(store: SQLStore) -> dict[str, str]:
    """One composed digest per subscriber; returns {address: its digest's Message-ID}."""
    period_end = now()
    expected: dict[str, str] = {}
    for i in range(SUBSCRIBERS):
        email = f"reader{i:04d}@example.com"
        subscription, _ = store.subscriptions.create(email, confirmed=True)
        message_id = f"<digest-{subscription.id}-daily-2026-11-27@paperboy.test>"
        outbox_id = store.subscriptions.enqueue_digest(
            subscription.id,
            "daily:2026-11-27",
            period_end,
            message_id=message_id,
            to_addr=email,
            subject="Trending papers, Friday 27 November",
            body_text=f"Hello {email}\n\n" + "1. A trending paper\n" * 40,
            body_html="<ol>" + "<li>A trending paper</li>" * 40 + "</ol>",
            headers={
                "List-Unsubscribe": f"<https://paperboy.test/unsubscribe/{subscription.id}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
            paper_ids=[],
        )
        assert outbox_id is not None
        expected[email] = message_id
    return expected


def start_sender(database_url: str, sink: SmtpSink) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PAPERBOY_SMTP_HOST": sink.host,
        "PAPERBOY_SMTP_PORT": str(sink.port),
        "PAPERBOY_SMTP_TIMEOUT": "10",
        "PAPERBOY_MAIL_FROM": "Paperboy <digest@paperboy.test>",
        "PAPERBOY_MAIL_RATE_PER_MINUTE": str(10**9),  # no pacing: the test is about crashes
    }
    command = [sys.executable, "-m", "paperboy.digest.send_main", "--database-url", database_url]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def kill_while_sending(
    process: subprocess.Popen[bytes], sink: SmtpSink, delay: float, budget: int
) -> bool:
    """Wait for the sender's first delivery, then ``delay`` s more (or until it delivered
    ``budget`` messages, so that many kills fit in the outbox), and SIGKILL it. False when it
    finished on its own first."""
    before = len(sink.messages)
    deadline = time.monotonic() + 60
    while len(sink.messages) == before and process.poll() is None:
        assert time.monotonic() < deadline, "the sender delivered nothing for 60 s"
        time.sleep(0.002)
    until = time.monotonic() + delay
    while time.monotonic() < until and len(sink.messages) - before < budget:
        if process.poll() is not None:
            break
        time.sleep(0.002)
    if process.poll() is not None:
        process.communicate()
        return False
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    return True


def test_killed_sender_loses_nothing_and_resends_at_most_one_per_kill(
    store: SQLStore, database_url: str, smtp_sink: SmtpSink
) -> None:
    started = time.monotonic()
    expected = fill_outbox(store)
    filled = time.monotonic() - started
    rng = random.Random(SEED)
    kills = runs = 0
    while kills < KILLS:
        remaining = SUBSCRIBERS - len(smtp_sink.messages)
        budget = max(1, remaining // (KILLS - kills + 2))
        runs += 1
        process = start_sender(database_url, smtp_sink)
        if not kill_while_sending(process, smtp_sink, rng.uniform(*DELAY), budget):
            break
        kills += 1
    runs += 1
    final = start_sender(database_url, smtp_sink)
    out, err = final.communicate(timeout=120)
    assert final.returncode == 0, err.decode()
    summary = json.loads(out)
    seconds = time.monotonic() - started

    received = Counter(m["Message-ID"] for m in smtp_sink.messages)
    for message, envelope in zip(smtp_sink.messages, smtp_sink.envelopes, strict=True):
        # Whatever arrived, however often, is its row's own message to its row's address.
        [address] = envelope.rcpt_tos
        assert message["Message-ID"] == expected[address], (address, message["Message-ID"])
        assert message["To"] == address
    lost = sum(1 for message_id in expected.values() if received[message_id] == 0)
    duplicates = sum(n - 1 for n in received.values() if n > 1)
    print(
        f"\nsender kill test: {SUBSCRIBERS} digests, {kills} kills in {runs} runs, "
        f"{duplicates} duplicates, {lost} lost, {len(smtp_sink.messages)} messages received, "
        f"{seconds:.1f} s ({filled:.1f} s filling the outbox); last run: {summary}"
    )
    assert kills >= KILLS, f"the sender finished after {kills} kills"
    assert lost == 0
    assert duplicates <= kills
    assert set(received) == set(expected.values())
    assert store.subscriptions.outbox_counts() == {"sent": SUBSCRIBERS}
