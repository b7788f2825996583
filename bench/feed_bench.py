"""Daily page and /api/daily_papers latency with 20 concurrent clients against the real server.

    .venv/bin/python bench/feed_bench.py [--clients 20] [--seconds 10]

Loads the whole 74,728-paper arXiv listings file plus the Daily Papers demo set into a fresh
SQLite store, starts ``paperboy serve`` as its own process, and drives it from 20 concurrent
keep-alive clients (closed loop: each sends its next request as soon as the last one returns),
spreading requests over every day that has papers. Baseline in the same run and under the same
load: a small static file served by the same process, the server's floor. The cached cases
are measured in steady state (every page requested once first, as on a server that has been up
a while); the ``_uncached`` cases make every request miss the response cache (worst case: every
page rendered from the store).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, emit, shared_file, summary_ms  # noqa: E402
from paperboy.ingest import demo_data_path, import_files  # noqa: E402
from paperboy.store import open_store  # noqa: E402


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str) -> int:
    """One keep-alive HTTP/1.1 GET on a raw connection; returns the status code."""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = next(
        int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")
    )
    await reader.readexactly(length)
    return status


async def drive(
    port: int, paths: list[str], clients: int, seconds: float
) -> tuple[list[float], int]:
    """Closed loop: ``clients`` connections, each sending its next request when one returns.

    The client is a few lines of asyncio on raw sockets, so it costs far less CPU than the
    server it measures (both share this machine's cores).
    """
    samples: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def client(rng: random.Random) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < deadline:
                path = rng.choice(paths)
                start = time.perf_counter()
                status = await _get(reader, writer, path)
                samples.append(time.perf_counter() - start)
                errors += status != 200
        finally:
            writer.close()

    await asyncio.gather(*(client(random.Random(i)) for i in range(clients)))
    return samples, errors


async def warm(port: int, paths: list[str], clients: int) -> None:
    """Request every path once, ``clients`` at a time."""
    queue = list(paths)

    async def client() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while queue:
                await _get(reader, writer, queue.pop())
        finally:
            writer.close()

    await asyncio.gather(*(client() for _ in range(clients)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    listings = shared_file("data/arxiv-daily-listings/arxiv_daily_listings.jsonl.gz")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        store = open_store(url)
        import_files(store, [listings, demo_data_path()])
        days = [row.period for row in store.feed_counts("day")]
        papers, entries = store.count_papers(), store.count_feed_entries()
        store.close()
        port = free_port()
        env = {**os.environ, "PAPERBOY_DATABASE_URL": url}
        server = subprocess.Popen(
            [sys.executable, "-m", "paperboy", "serve", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    if httpx.get(f"{base}/static/style.css", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            else:
                sys.exit("server did not start")
            cases = {
                "baseline_static": ["/static/style.css"],
                "daily_page": [f"/papers?date={d}" for d in days],
                "api_daily_papers": [f"/api/daily_papers?date={d}" for d in days],
                # a unique extra parameter per request defeats the response cache: the cost of
                # rendering from the store every time
                "daily_page_uncached": [
                    f"/papers?date={d}&nocache={i}" for i, d in enumerate(days * 40)
                ],
                "api_daily_papers_uncached": [
                    f"/api/daily_papers?date={d}&nocache={i}" for i, d in enumerate(days * 40)
                ],
            }
            results = {}
            for name, paths in cases.items():
                if "uncached" not in name:  # steady state: every page requested once before
                    asyncio.run(warm(port, paths, args.clients))
                samples, errors = asyncio.run(drive(port, paths, args.clients, args.seconds))
                results[name] = summary_ms(samples) | {
                    "errors": errors,
                    "req_per_s": round(len(samples) / args.seconds, 1),
                }
            floor = results["baseline_static"]["p95_ms"]
            for name, figures in results.items():
                emit(
                    bench="feed",
                    case=name,
                    clients=args.clients,
                    papers=papers,
                    feed_entries=entries,
                    days=len(days),
                    **figures,
                    p95_vs_baseline=round(figures["p95_ms"] / floor, 2),
                )
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
