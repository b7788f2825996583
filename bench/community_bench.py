"""Community write paths (upvotes) through the real server, on SQLite or PostgreSQL.

    .venv/bin/python bench/community_bench.py [--postgres] [--seconds 10] [--clients 16]
        [--users 100] [--papers 500] [--workers 1]

Builds a fresh store with ``--papers`` synthetic papers on one feed day and ``--users`` verified
users, each with a session, then starts ``paperboy serve`` as its own process on a free loopback
port (vote rate limit lifted, a known signing key so the CSRF header can be computed) and drives
it from ``--clients`` threads, each with its own keep-alive httpx client (closed loop: the next
request goes out as soon as the last one returns). Workloads, ``--seconds`` each:

- ``baseline_static``: GET /static/style.css through the same server, the in-run floor; every
  ``ratio_p50_to_baseline`` divides a p50 by this one (the machine is noisy: read ratios);
- ``votes``: POST /papers/{id}/vote, ``vote=up`` or ``vote=none`` at random, random paper and
  random user (session cookie + ``X-CSRF-Token``), 303 expected;
- ``feed_logged_in``: GET /papers?date=<day> with a session cookie (never cached);
- ``feed_anonymous``: the same page without cookies, nothing else going on (served from the
  per-process response cache after the first request), with half the clients;
- ``feed_anonymous_during_votes``: half the clients vote while the other half read the page
  anonymously. Every vote bumps the store revision, which empties the response cache: the read
  figures (compare with ``feed_anonymous``) show what votes cost anonymous readers; the vote
  figures of that phase are the ``vote_*`` fields.

Then, with the server stopped, the consistency check: for every paper the ``paper_activity.votes``
counter must equal the number of rows in ``votes``. The last line is the summary; the exit status
is non-zero when the store is inconsistent or any request failed.

``--postgres`` uses a throwaway cluster from ``scripts/pgcluster.py`` (or the cluster of
``PAPERBOY_TEST_DATABASE_URL`` when that is set) and a fresh database in it, dropped at the end.
Progress goes to stderr, one JSON line per workload to stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import text

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "scripts"))

from _common import ROOT, emit, summary_ms  # noqa: E402
from paperboy.community.accounts import hash_password  # noqa: E402
from paperboy.models import FeedEntry, Paper, Record  # noqa: E402
from paperboy.store import open_store  # noqa: E402
from paperboy.web.auth import SESSION_COOKIE, csrf_for  # noqa: E402

DAY = date(2025, 3, 3)
_T0 = time.perf_counter()


def log(message: str) -> None:
    print(f"[community {time.perf_counter() - _T0:6.1f}s] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the store ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    token: str
    csrf: str


def paper_ids(count: int) -> list[str]:
    return [f"2503.{n:05d}" for n in range(1, count + 1)]


def fill(url: str, papers: int, users: int, secret: str) -> list[Session]:
    """``papers`` papers on DAY, ``users`` verified users with a session each."""
    store = open_store(url)
    try:
        rng = random.Random(7)
        published = datetime(DAY.year, DAY.month, DAY.day) - timedelta(days=1)
        records = [
            Record(
                Paper(
                    id=pid,
                    title=f"Benchmark paper {n}: community votes under load",
                    abstract=" ".join(
                        rng.choice(("graph", "vote", "model", "data")) for _ in range(60)
                    ),
                    authors=(f"Author {n}", "B. Enchmark"),
                    categories=("cs.LG",),
                    version=1,
                    published=published,
                    updated=published,
                ),
                FeedEntry(pid, DAY, source="daily", upvotes=rng.randint(0, 20)),
            )
            for n, pid in enumerate(paper_ids(papers))
        ]
        for start in range(0, len(records), 1000):
            store.upsert(records[start : start + 1000])
        password = hash_password("benchmark-password")  # once: argon2 is slow on purpose
        sessions = []
        for n in range(users):
            user = store.accounts.create_user(
                f"bench{n}@example.org", f"bench{n}", password, verified=True
            )
            token = store.accounts.create_session(user.id, timedelta(days=1))
            sessions.append(Session(token, csrf_for(secret, token)))
        return sessions
    finally:
        store.close()


def consistency(url: str) -> tuple[bool, int, int]:
    """(counters equal row counts for every paper, papers checked, vote rows)."""
    store = open_store(url)
    try:
        with store.engine.connect() as conn:
            ids = list(conn.execute(text("SELECT id FROM papers")).scalars())
            counters = dict(conn.execute(text("SELECT paper_id, votes FROM paper_activity")).all())
            rows = dict(
                conn.execute(text("SELECT paper_id, count(*) FROM votes GROUP BY paper_id")).all()
            )
        bad = [pid for pid in ids if int(counters.get(pid) or 0) != int(rows.get(pid) or 0)]
        for pid in bad[:10]:
            log(f"inconsistent {pid}: counter {counters.get(pid)} != rows {rows.get(pid, 0)}")
        return not bad, len(ids), sum(int(v) for v in rows.values())
    finally:
        store.close()


# -- the server ---------------------------------------------------------------------------------


@contextlib.contextmanager
def serving(url: str, secret: str, workers: int, logfile: Path) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "PAPERBOY_DATABASE_URL": url,
        "PAPERBOY_SECRET_KEY": secret,
        "PAPERBOY_RATE_VOTE": "100000000/minute",
        "PAPERBOY_SEARCH_PRELOAD": "false",
    }
    with logfile.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "paperboy", "serve", "--port", str(port)]
            + ["--workers", str(workers)],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"server did not start:\n{logfile.read_text(errors='replace')[-3000:]}")
            try:
                if httpx.get(f"{base}/static/style.css", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


# -- the load -----------------------------------------------------------------------------------

# One request: (client, rng) -> True when the answer was the expected one.
Action = Callable[[httpx.Client, random.Random], bool]


@dataclass
class Tally:
    samples: list[float] = field(default_factory=list)
    errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def figures(self, seconds: float) -> dict[str, float | int]:
        s = summary_ms(self.samples) if self.samples else {"n": 0, "p50_ms": 0.0, "p95_ms": 0.0}
        return {
            "requests": len(self.samples),
            "per_second": round(len(self.samples) / seconds, 1),
            "p50_ms": s["p50_ms"],
            "p95_ms": s["p95_ms"],
            "errors": self.errors,
        }


def drive(base: str, groups: list[tuple[int, Action, Tally]], seconds: float) -> None:
    """Run every group's ``n`` threads together for ``seconds`` (closed loop, own client each)."""
    total = sum(n for n, _, _ in groups)
    deadline = [0.0]

    def start_clock() -> None:  # once every client is connected, before any starts
        deadline[0] = time.perf_counter() + seconds

    ready = threading.Barrier(total + 1, action=start_clock)

    def worker(seed: int, action: Action, tally: Tally) -> None:
        rng = random.Random(seed)
        samples: list[float] = []
        errors = 0
        with httpx.Client(base_url=base, timeout=30, follow_redirects=False) as client:
            ready.wait()
            while time.perf_counter() < deadline[0]:
                start = time.perf_counter()
                try:
                    ok = action(client, rng)
                except httpx.HTTPError:
                    ok = False
                samples.append(time.perf_counter() - start)
                errors += not ok
                client.cookies.clear()  # never send back what the server set
        with tally.lock:
            tally.samples.extend(samples)
            tally.errors += errors

    threads = [
        threading.Thread(target=worker, args=(len(groups) * 1000 + i * 31 + g, action, tally))
        for g, (n, action, tally) in enumerate(groups)
        for i in range(n)
    ]
    for thread in threads:
        thread.start()
    ready.wait()
    for thread in threads:
        thread.join()


def actions(sessions: list[Session], ids: list[str], feed: str) -> dict[str, Action]:
    def static(client: httpx.Client, rng: random.Random) -> bool:
        return client.get("/static/style.css").status_code == 200

    def vote(client: httpx.Client, rng: random.Random) -> bool:
        session, pid = rng.choice(sessions), rng.choice(ids)
        response = client.post(
            f"/papers/{pid}/vote",
            data={"vote": rng.choice(("up", "none"))},
            headers={"Cookie": f"{SESSION_COOKIE}={session.token}", "X-CSRF-Token": session.csrf},
        )
        # a 303 to the login form would be a failure too: the vote must land on the paper
        return response.status_code == 303 and response.headers.get("location") == f"/papers/{pid}"

    def feed_logged_in(client: httpx.Client, rng: random.Random) -> bool:
        session = rng.choice(sessions)
        response = client.get(feed, headers={"Cookie": f"{SESSION_COOKIE}={session.token}"})
        return response.status_code == 200 and b'action="/logout"' in response.content

    def feed_anonymous(client: httpx.Client, rng: random.Random) -> bool:
        return client.get(feed).status_code == 200

    return {
        "static": static,
        "vote": vote,
        "feed_logged_in": feed_logged_in,
        "feed_anonymous": feed_anonymous,
    }


def run(args: argparse.Namespace, backend: str, url: str, tmp: Path) -> bool:
    secret = secrets.token_urlsafe(32)
    log(f"{backend}: {args.papers} papers, {args.users} users with sessions")
    sessions = fill(url, args.papers, args.users, secret)
    ids = paper_ids(args.papers)
    feed = f"/papers?date={DAY.isoformat()}"
    act = actions(sessions, ids, feed)
    clients, half = args.clients, max(1, args.clients // 2)
    results: dict[str, dict[str, float | int]] = {}
    extra: dict[str, dict[str, float | int]] = {}
    with serving(url, secret, args.workers, tmp / "server.log") as base:
        plan: list[tuple[str, list[tuple[int, str]]]] = [
            ("baseline_static", [(clients, "static")]),
            ("votes", [(clients, "vote")]),
            ("feed_logged_in", [(clients, "feed_logged_in")]),
            ("feed_anonymous", [(half, "feed_anonymous")]),
            ("feed_anonymous_during_votes", [(half, "feed_anonymous"), (half, "vote")]),
        ]
        for name, parts in plan:
            if parts[0][1] == "feed_anonymous":  # steady state: the page is cached once
                httpx.get(base + feed, timeout=30)
            tallies = [Tally() for _ in parts]
            log(f"{backend}: {name} ({args.seconds:g} s)")
            drive(
                base,
                [(n, act[kind], tally) for (n, kind), tally in zip(parts, tallies, strict=True)],
                args.seconds,
            )
            results[name] = {"clients": parts[0][0], **tallies[0].figures(args.seconds)}
            if len(tallies) > 1:
                votes = {"clients": parts[1][0], **tallies[1].figures(args.seconds)}
                extra[name] = {f"vote_{k}": v for k, v in votes.items()}
    floor = float(results["baseline_static"]["p50_ms"]) or float("nan")
    errors = 0
    for name, figures in results.items():
        more = extra.get(name, {})
        errors += int(figures["errors"]) + int(more.get("vote_errors", 0))
        emit(
            bench="community",
            backend=backend,
            workload=name,
            **figures,
            ratio_p50_to_baseline=round(float(figures["p50_ms"]) / floor, 2),
            **more,
        )
    log(f"{backend}: consistency check")
    consistent, checked, vote_rows = consistency(url)
    emit(
        bench="community",
        backend=backend,
        workload="summary",
        papers=args.papers,
        users=args.users,
        clients=clients,
        workers=args.workers,
        seconds=args.seconds,
        consistent=consistent,
        papers_checked=checked,
        vote_rows=vote_rows,
        errors=errors,
        votes_p50_vs_baseline=round(float(results["votes"]["p50_ms"]) / floor, 2),
        anon_read_p50_during_votes_vs_quiet=round(
            float(results["feed_anonymous_during_votes"]["p50_ms"])
            / (float(results["feed_anonymous"]["p50_ms"]) or float("nan")),
            2,
        ),
    )
    return consistent and errors == 0


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh database in PAPERBOY_TEST_DATABASE_URL's cluster or a throwaway one."""
    import psycopg

    with contextlib.ExitStack() as stack:
        admin_url = os.environ.get("PAPERBOY_TEST_DATABASE_URL", "")
        if admin_url:
            log("postgresql: using the cluster of PAPERBOY_TEST_DATABASE_URL")
        else:
            from pgcluster import running_cluster  # type: ignore[import-not-found]

            log("postgresql: starting a throwaway cluster")
            admin_url = stack.enter_context(running_cluster())
        database = f"paperboy_community_{os.getpid()}"
        dsn = admin_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{database}"')
        try:
            yield admin_url.rsplit("/", 1)[0] + "/" + database
        finally:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--postgres", action="store_true", help="PostgreSQL (a throwaway cluster) not SQLite"
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="per workload (default 10)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (default 16)")
    parser.add_argument("--users", type=int, default=100, help="voting users (default 100)")
    parser.add_argument("--papers", type=int, default=500, help="papers on the day (default 500)")
    parser.add_argument("--workers", type=int, default=1, help="server processes (default 1)")
    args = parser.parse_args()
    if args.clients < 2 or args.users < 1 or args.papers < 1:
        parser.error("needs --clients >= 2, --users >= 1, --papers >= 1")
    with tempfile.TemporaryDirectory(prefix="paperboy-community-") as tmp:
        if args.postgres:
            with postgres_database() as url:
                ok = run(args, "postgresql", url, Path(tmp))
        else:
            ok = run(args, "sqlite", f"sqlite:///{tmp}/bench.db", Path(tmp))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
