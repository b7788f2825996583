"""Email digests: composing every subscriber's digest, then sending them all over SMTP.

    .venv/bin/python bench/digest_bench.py [--subscribers 10000] [--papers 3000]
        [--for-you 0.05] [--alerts 0.05] [--database-url URL]

Builds a fresh SQLite store (or uses an empty database at ``--database-url``) with ``--papers``
synthetic papers spread over the 5 weekdays before the run's clock, each with a feed entry and
imported upvotes (heavy-tailed), clustered 384-d unit embeddings (20 topics), and
``--subscribers`` active daily subscriptions with varied category prefixes (none, one archive,
one or two categories) and minimum upvotes (0, 1, 5, 20). A ``--for-you`` share of them is
linked to a user who upvoted 8 papers (so the "for you" section ranks candidates against real
embeddings), an ``--alerts`` share has a saved keyword alert (20 distinct queries).

Cases, in one process, one JSON line each on stdout:

- ``compose``: ``compose_due`` at a fixed Friday 09:00 UTC: every subscriber due (digests/s);
- ``send``: the outbox sent with ``send_pending`` (passes until none is left) to an aiosmtpd
  sink in this process that accepts and counts (no parsing), ``mail_rate_per_minute`` lifted
  (digests/s, each with its claim, its SMTP connection and its "sent" mark);
- ``baseline_smtplib``: the same number of sends of ONE pre-built message of the same size with
  bare ``smtplib`` (a connection per message, as ``paperboy.mail.send`` does) to the same sink,
  the floor of SMTP on this machine (messages/s); ``send_vs_baseline`` is the ratio of rates;
- ``memory``: the outbox emptied and every digest composed again under ``tracemalloc`` (its
  peak: Python allocations of composing), and the process's peak RSS (``ru_maxrss``).

Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import random
import resource
import smtplib
import socket
import sys
import tempfile
import time
import tracemalloc
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from aiosmtpd.controller import Controller
from sqlalchemy import insert, text, update

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import emit  # noqa: E402
from paperboy.digest.compose import compose_due  # noqa: E402
from paperboy.digest.sender import send_pending  # noqa: E402
from paperboy.embed.jobs import encode_vector  # noqa: E402
from paperboy.embed.model import MODEL_NAME  # noqa: E402
from paperboy.mail import SmtpConfig, compose  # noqa: E402
from paperboy.models import FeedEntry, Paper, Record  # noqa: E402
from paperboy.services import build  # noqa: E402
from paperboy.settings import Settings  # noqa: E402
from paperboy.store import SQLStore, open_store  # noqa: E402
from paperboy.store.schema import alerts, outbox, sent_papers, subscriptions  # noqa: E402

NOW = datetime(2026, 11, 27, 9, 0)  # a Friday: daily digests are due
DAYS = [date(2026, 11, 23) + timedelta(days=n) for n in range(5)]  # Mon .. Fri
CATEGORIES = ["cs.CL", "cs.LG", "cs.CV", "cs.AI", "stat.ML", "math.OC", "q-bio.NC", "eess.AS"]
PREFIXES: list[list[str]] = [[], [], ["cs"], ["cs.CL"], ["cs.LG", "stat.ML"], ["math"], ["q-bio"]]
WORDS = (
    "attention graph bias language vision diffusion retrieval agents reasoning speech robust "
    "sparse kernel causal transformer protein policy privacy fairness compression"
).split()
TOPICS = 20
DIM = 384


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class CountingHandler:
    """Accepts every message and counts it; parses nothing (the sink shares our CPU)."""

    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        return "250 2.0.0 OK"


def build_store(store: SQLStore, args: argparse.Namespace, rng: random.Random) -> None:
    nprng = np.random.default_rng(7)
    centres = nprng.standard_normal((TOPICS, DIM))
    records, vectors = [], {}
    for n in range(args.papers):
        pid = f"2611.{n:05d}"
        topic = n % TOPICS
        words = " ".join(rng.sample(WORDS, 4))
        paper = Paper(
            pid,
            f"On {words} (topic {topic})",
            f"We study {words}. " * 12,
            tuple(f"Author {rng.randrange(5000)}" for _ in range(rng.randint(1, 6))),
            (rng.choice(CATEGORIES),),
            published=datetime(2026, 11, 20),
        )
        upvotes = int(min(500, rng.paretovariate(1.2))) - 1
        records.append(Record(paper, FeedEntry(pid, rng.choice(DAYS), upvotes=max(0, upvotes))))
        v = centres[topic] + 0.6 * nprng.standard_normal(DIM)
        vectors[pid] = v / np.linalg.norm(v)
    store.upsert(records, bulk=True)
    seqs = store.change_seqs(list(vectors))
    rows = [(pid, seqs[pid], f"h{pid}", encode_vector(v)) for pid, v in vectors.items()]
    for start in range(0, len(rows), 2000):
        store.save_embeddings(MODEL_NAME, rows[start : start + 2000])
    log(f"{args.papers} papers with feed entries and embeddings")

    n_users = int(args.subscribers * args.for_you)
    user_ids = []
    for n in range(n_users):
        user = store.accounts.create_user(f"u{n}@bench.test", f"user{n}", "x", verified=True)
        user_ids.append(user.id)
        for pid in rng.sample(range(args.papers), 8):
            store.activity.set_vote(user.id, f"2611.{pid:05d}", True)
    log(f"{n_users} users with 8 upvotes each")

    now = datetime(2026, 11, 1)
    subs = []
    for n in range(args.subscribers):
        subs.append(
            {
                "email": f"reader{n}@bench.test",
                "user_id": user_ids[n] if n < n_users else None,
                "status": "active",
                "frequency": "daily",
                "categories": rng.choice(PREFIXES),
                "min_upvotes": rng.choice([0, 0, 1, 5, 20]),
                "include_trending": True,
                "created_at": now,
                "confirmed_at": now,
                "failures": 0,
            }
        )
    with store.engine.begin() as conn:
        conn.execute(insert(subscriptions), subs)
        ids = [r[0] for r in conn.execute(text("SELECT id FROM subscriptions ORDER BY id"))]
        with_alert = rng.sample(ids, int(len(ids) * args.alerts))
        queries = [f"{a} {b}" for a, b in zip(WORDS, reversed(WORDS), strict=True)]
        conn.execute(
            insert(alerts),
            [
                {"subscription_id": s, "query": q, "mode": "keyword", "created_at": now}
                for s, q in zip(with_alert, queries * len(with_alert), strict=False)
            ],
        )
    log(f"{args.subscribers} subscriptions ({len(with_alert)} with an alert)")


def reset_outbox(store: SQLStore) -> None:
    with store.engine.begin() as conn:
        conn.execute(sent_papers.delete())
        conn.execute(outbox.delete())
        conn.execute(update(subscriptions).values(last_digest_at=None))


def send_all(store: SQLStore, settings: Settings) -> dict[str, int]:
    totals = {"sent": 0, "retried": 0, "failed": 0}
    while True:
        report = send_pending(store, settings)
        for key in totals:
            totals[key] += getattr(report, key)
        if report.error:
            sys.exit(f"sending stopped: {report.error}")
        if report.attempted == 0:
            return totals


def baseline(host: str, port: int, message: Any, count: int) -> float:
    config = SmtpConfig(host=host, port=port)
    start = time.perf_counter()
    for _ in range(count):
        with smtplib.SMTP(host, port, timeout=30) as client:
            client.send_message(message, from_addr=config.envelope_sender)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--papers", type=int, default=3000)
    parser.add_argument("--for-you", type=float, default=0.05, help="share linked to users")
    parser.add_argument("--alerts", type=float, default=0.05, help="share with an alert")
    parser.add_argument("--database-url", help="an EMPTY database (default: a temp SQLite file)")
    args = parser.parse_args()
    rng = random.Random(42)

    handler = CountingHandler()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        settings = Settings(
            database_url=url,
            index_dir=Path(tmp) / "index",
            semantic_search=False,
            base_url="https://papers.example.org",
            smtp_host="127.0.0.1",
            smtp_port=port,
            mail_rate_per_minute=1_000_000_000,
        )
        store = open_store(url)
        try:
            t = time.perf_counter()
            build_store(store, args, rng)
            log(f"store built in {time.perf_counter() - t:.1f} s")
            common = {"bench": "digest", "backend": store.backend, "papers": args.papers}

            t = time.perf_counter()
            report = compose_due(build(settings, store), now=NOW)
            compose_s = time.perf_counter() - t
            rss_after_compose = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            emit(
                **common,
                case="compose",
                subscribers=report.due,
                queued=report.queued,
                skipped=report.skipped,
                errors=report.errors,
                seconds=round(compose_s, 2),
                digests_per_s=round(report.due / compose_s, 1),
            )
            log(f"composed {report.due} digests in {compose_s:.1f} s")

            queued = report.queued
            t = time.perf_counter()
            totals = send_all(store, settings)
            send_s = time.perf_counter() - t
            assert handler.count == totals["sent"] == queued, (handler.count, totals, queued)
            send_rate = totals["sent"] / send_s
            emit(
                **common,
                case="send",
                **totals,
                seconds=round(send_s, 2),
                digests_per_s=round(send_rate, 1),
            )
            log(f"sent {totals['sent']} digests in {send_s:.1f} s")

            with store.engine.connect() as conn:
                sent_id = conn.execute(
                    text("SELECT id FROM outbox WHERE status = 'sent' ORDER BY id LIMIT 1")
                ).scalar_one()
            row = store.subscriptions.message(sent_id)
            assert row is not None
            sample = compose(
                sender=settings.mail_from,
                to=row.to_addr,
                subject=row.subject,
                text=row.body_text,
                html=row.body_html,
                headers=row.headers,
                message_id=row.message_id,
            )
            before = handler.count
            base_s = baseline("127.0.0.1", port, sample, queued)
            assert handler.count - before == queued
            base_rate = queued / base_s
            emit(
                **common,
                case="baseline_smtplib",
                messages=queued,
                message_bytes=len(sample.as_bytes()),
                seconds=round(base_s, 2),
                messages_per_s=round(base_rate, 1),
            )

            reset_outbox(store)
            tracemalloc.start()
            again = compose_due(build(settings, store), now=NOW)
            _current, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            assert again.due == report.due
            emit(
                **common,
                case="memory",
                subscribers=again.due,
                compose_tracemalloc_peak_mb=round(peak / 2**20, 1),
                ru_maxrss_after_compose_mb=round(rss_after_compose / 1024, 1),
                ru_maxrss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            )
            emit(
                **common,
                case="summary",
                subscribers=args.subscribers,
                compose_digests_per_s=round(report.due / compose_s, 1),
                send_digests_per_s=round(send_rate, 1),
                baseline_messages_per_s=round(base_rate, 1),
                send_vs_baseline=round(send_rate / base_rate, 3),
                compose_vs_baseline=round((report.due / compose_s) / base_rate, 2),
            )
        finally:
            store.close()
            controller.stop()


if __name__ == "__main__":
    main()
