"""`paperboy serve --workers N`: several web processes on one port sharing the database."""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.demo import demo_record, rows_between
from tests.served import Server, serve

from paperboy.embed.jobs import load_embeddings
from paperboy.ingest.files import demo_embeddings_path
from paperboy.store import open_store

TOKEN = "workers-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
DAY = "2025-03-03"


def _populate(url: str, days: tuple[str, str], *, vectors: bool) -> dict[str, dict[str, Any]]:
    store = open_store(url)
    try:
        rows = rows_between(*days)
        store.upsert([demo_record(row) for row in rows])
        if vectors:
            load_embeddings(store, demo_embeddings_path())
        return {row["id"]: row for row in rows}
    finally:
        store.close()


def _serve(url: str, workers: int, tmp_path: Path) -> Iterator[Server]:
    env = {"PAPERBOY_INGEST_TOKEN": TOKEN, "PAPERBOY_SEARCH_PRELOAD": "1"}
    return serve(url, workers, tmp_path, env)


@pytest.fixture
def two_workers(database_url: str, tmp_path: Path) -> Iterator[Server]:
    _populate(database_url, (DAY, DAY), vectors=False)
    yield from _serve(database_url, 2, tmp_path)


def _new_paper(paper_id: str, day: str) -> dict[str, object]:
    return {
        "id": paper_id,
        "title": f"Pushed paper {paper_id}",
        "abstract": "A paper written during the test, to be found by every worker.",
        "authors": ["Test Author"],
        "daily_date": day,
        "upvotes": 1,
    }


@pytest.mark.slow
def test_a_write_through_one_worker_is_seen_by_every_worker(two_workers: Server) -> None:
    assert len(two_workers.worker_pids()) == 2
    with httpx.Client(base_url=two_workers.url, timeout=30) as client:
        # Each worker renders (and caches) the day's list before the write ...
        for _ in range(20):
            before = client.get("/api/daily_papers", params={"date": DAY, "limit": 100})
            assert before.status_code == 200
        assert "2611.09999" not in before.text
        pushed = client.post(
            "/api/papers/import", json=[_new_paper("2611.09999", DAY)], headers=AUTH
        )
        assert pushed.status_code == 200 and pushed.json()["inserted"] == 1
        # ... and every later request, whichever worker answers it, sees the new paper.
        for _ in range(20):
            after = client.get("/api/daily_papers", params={"date": DAY, "limit": 100})
            assert "2611.09999" in {item["paper"]["id"] for item in after.json()}
            page = client.get("/papers/2611.09999")
            assert page.status_code == 200 and "Pushed paper 2611.09999" in page.text


# -- load: 4 workers, 200 clients mixing reads and writes -------------------------------------


@dataclass
class Tally:
    requests: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)  # ids the server acknowledged storing
    updated: list[str] = field(default_factory=list)


async def _client(
    number: int,
    base: str,
    rows: dict[str, dict[str, Any]],
    stop: float,
    tally: Tally,
    words: list[str],
) -> None:
    rng = random.Random(number)
    ids = sorted(rows)
    serial = 0
    limits = httpx.Limits(max_connections=1)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        while time.monotonic() < stop:
            roll = rng.random()
            try:
                if roll < 0.15:  # a new paper
                    serial += 1
                    paper_id = f"26{11 + number // 100:02d}.{(number % 100) * 1000 + serial:05d}"
                    answer = await client.post(
                        "/api/papers/import", json=[_new_paper(paper_id, DAY)], headers=AUTH
                    )
                    kind = "write"
                    if answer.status_code == 200 and answer.json()["inserted"] == 1:
                        tally.written.append(paper_id)
                    elif answer.status_code == 200:
                        tally.errors.append(f"write of {paper_id} not inserted: {answer.text}")
                elif roll < 0.25:  # an update of an existing paper's upvotes
                    paper_id = rng.choice(ids)
                    item = {**rows[paper_id], "upvotes": 1000 + number}
                    answer = await client.post("/api/papers/import", json=[item], headers=AUTH)
                    kind = "update"
                    if answer.status_code == 200:
                        tally.updated.append(paper_id)
                elif roll < 0.45:
                    answer = await client.get("/api/daily_papers", params={"date": DAY})
                    kind = "feed_api"
                elif roll < 0.6:
                    answer = await client.get("/")
                    kind = "home"
                elif roll < 0.8:
                    answer = await client.get(f"/papers/{rng.choice(ids)}")
                    kind = "paper"
                else:
                    query = " ".join(rng.sample(words, 2))
                    answer = await client.get("/api/papers/search", params={"q": query})
                    kind = "search"
            except httpx.HTTPError as exc:
                tally.errors.append(f"{type(exc).__name__}: {exc}")
                continue
            tally.requests[kind] += 1
            if answer.status_code != 200:
                tally.errors.append(f"{kind} -> {answer.status_code}: {answer.text[:200]}")


async def _warm(base: str, words: list[str]) -> None:
    """Wait until every worker has its model loaded (searches answer quickly in parallel)."""
    deadline = time.monotonic() + 180
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        while time.monotonic() < deadline:
            started = time.monotonic()
            answers = await asyncio.gather(
                *(client.get("/api/papers/search", params={"q": w}) for w in words)
            )
            assert all(a.status_code == 200 for a in answers)
            if time.monotonic() - started < 2.0:
                return


@pytest.mark.slow
@pytest.mark.postgres_only
def test_four_workers_two_hundred_clients_no_errors_no_lost_writes(
    database_url: str, tmp_path: Path
) -> None:
    seconds = float(os.environ.get("PAPERBOY_LOAD_SECONDS", "60"))
    rows = _populate(database_url, ("2025-03-03", "2025-03-14"), vectors=True)
    words = ["bias", "language", "vision", "reasoning", "diffusion", "agents", "robot", "video"]
    tally = Tally()
    for server in _serve(database_url, 4, tmp_path):

        async def main(base: str = server.url) -> None:
            await _warm(base, words)
            stop = time.monotonic() + seconds
            await asyncio.gather(*(_client(n, base, rows, stop, tally, words) for n in range(200)))

        asyncio.run(main())
        # What the supervisor and the workers said, without the access log's lines.
        said = [line for line in server.output().splitlines() if '" HTTP/1.1" ' not in line]
        log = "\n".join(said)
    total = sum(tally.requests.values())
    print(f"\nload: {total} requests in {seconds:.0f} s, {dict(tally.requests)}")
    assert not tally.errors, (
        f"{len(tally.errors)} errors, first: {tally.errors[:5]}\nserver log:\n{log[-6000:]}"
    )
    assert tally.requests["write"] > 0 and tally.requests["search"] > 0
    store = open_store(database_url)
    try:
        stored = store.get_papers(tally.written)
        assert len(stored) == len(tally.written) == len(set(tally.written))  # none lost
        for paper_id in set(tally.updated):
            upvotes = [e.upvotes or 0 for e in store.feed_entries_for(paper_id)]
            assert max(upvotes) >= 1000  # an acknowledged update is there
    finally:
        store.close()
