"""100 users upvote the same paper at once through a real uvicorn server, each double-posting;
then half of them take their vote back at once. The counter never disagrees with the rows."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import date, timedelta

import httpx
import pytest

from community import make_user
from conftest import LiveServer, sql_rows
from paperboy.models import FeedEntry, Paper, Record
from paperboy.store import SQLStore
from paperboy.web.auth import SESSION_COOKIE, csrf_for

PAPER = "2405.07777"
VOTERS = 100


@pytest.fixture
def voters(store: SQLStore, live_server: LiveServer) -> Iterator[list[httpx.Client]]:
    """Two clients per user (one per concurrent request), each with the user's session cookie
    and its CSRF header, as a browser tab would send them."""
    store.upsert([Record(Paper(PAPER, "Popular"), FeedEntry(PAPER, date(2024, 5, 6)))])
    secret = store.accounts.secret("signing-key")
    clients: list[httpx.Client] = []
    for n in range(VOTERS):
        user = make_user(store, f"voter{n:03d}")
        token = store.accounts.create_session(user.id, timedelta(days=1))
        for _ in range(2):
            clients.append(
                httpx.Client(
                    base_url=live_server.url,
                    cookies={SESSION_COOKIE: token},
                    headers={"X-CSRF-Token": csrf_for(secret, token)},
                    timeout=120,
                )
            )
    yield clients
    for client in clients:
        client.close()


def all_at_once(clients: list[httpx.Client], choice: str) -> list[int]:
    """Every client posts ``vote=choice`` at the same moment; returns the statuses."""
    barrier = threading.Barrier(len(clients))
    statuses: list[int] = []
    lock = threading.Lock()

    def post(client: httpx.Client) -> None:
        barrier.wait()
        answer = client.post(f"/papers/{PAPER}/vote", data={"vote": choice})
        with lock:
            statuses.append(answer.status_code)

    threads = [threading.Thread(target=post, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    return statuses


def counts(store: SQLStore, database_url: str) -> tuple[int, int, int, int]:
    """(count shown, rows in votes, paper_activity.votes, votes cast minus taken back)."""
    counter = sql_rows(database_url, f"SELECT votes FROM paper_activity WHERE paper_id = '{PAPER}'")
    actions = [e.action for e in store.activity.audit_entries(target=("paper", PAPER), limit=1000)]
    return (
        store.vote_counts([PAPER])[PAPER][0],
        store.activity.count_votes(PAPER),
        counter[0][0],
        actions.count("vote") - actions.count("unvote"),
    )


def shown_on_page(client: httpx.Client) -> int:
    html = client.get(f"/papers/{PAPER}").text
    match = re.search(r'<span class="vote-count">(\d+)</span>', html)
    assert match is not None
    return int(match[1])


@pytest.mark.slow
def test_concurrent_votes_count_exactly(
    voters: list[httpx.Client], store: SQLStore, database_url: str
) -> None:
    statuses = all_at_once(voters, "up")
    assert statuses == [303] * (2 * VOTERS)
    assert counts(store, database_url) == (VOTERS, VOTERS, VOTERS, VOTERS)
    assert shown_on_page(voters[0]) == VOTERS

    leaving = voters[:VOTERS]  # the first 50 users, both of their clients
    statuses = all_at_once(leaving, "none")
    assert statuses == [303] * VOTERS
    half = VOTERS // 2
    assert counts(store, database_url) == (half, half, half, half)
    assert shown_on_page(voters[-1]) == half
