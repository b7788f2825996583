"""The per-process response cache: anonymous pages lag the store by at most
``response_cache_seconds``; signed-in users always see the store as it is."""

from __future__ import annotations

import time
from datetime import date

import pytest
from fastapi.testclient import TestClient

from community import log_in, make_user
from paperboy.models import FeedEntry, Paper, Record
from paperboy.settings import Settings
from paperboy.store import SQLStore
from paperboy.web.app import create_app
from test_votes import vote_count_in

DAY = date(2025, 3, 3)
PAPER = "2503.00001"


def app_with(store: SQLStore, database_url: str, seconds: float) -> TestClient:
    paper = Paper(PAPER, "A paper", "An abstract.", ("Ada",), ("cs.LG",))
    store.upsert([Record(paper, FeedEntry(PAPER, DAY, "daily", upvotes=2))])
    settings = Settings(database_url=database_url, response_cache_seconds=seconds)
    return TestClient(create_app(settings, store=store, today=lambda: DAY))


def vote(store: SQLStore, voter: TestClient) -> None:
    headers = log_in(voter, store, make_user(store, "voter"))
    answer = voter.post(
        f"/papers/{PAPER}/vote", data={"vote": "up"}, headers=headers, follow_redirects=False
    )
    assert answer.status_code == 303


@pytest.mark.parametrize("path", ["/", f"/papers?date={DAY}"])
def test_anonymous_pages_may_lag_within_the_bound_signed_in_never(
    store: SQLStore, database_url: str, path: str
) -> None:
    with app_with(store, database_url, 60) as anonymous, TestClient(anonymous.app) as voter:
        assert vote_count_in(anonymous.get(path).text, PAPER) == 2  # rendered and cached
        vote(store, voter)
        assert vote_count_in(voter.get(path).text, PAPER) == 3  # a cookie: never cached
        assert vote_count_in(anonymous.get(path).text, PAPER) == 2  # within the 60 s bound


def test_anonymous_pages_catch_up_after_the_bound(store: SQLStore, database_url: str) -> None:
    with app_with(store, database_url, 0.2) as anonymous, TestClient(anonymous.app) as voter:
        assert vote_count_in(anonymous.get("/").text, PAPER) == 2
        vote(store, voter)
        deadline = time.monotonic() + 10
        while vote_count_in(anonymous.get("/").text, PAPER) != 3:
            assert time.monotonic() < deadline, "the cached page never caught up"
            time.sleep(0.05)


def test_zero_means_always_exact(store: SQLStore, database_url: str) -> None:
    with app_with(store, database_url, 0) as anonymous, TestClient(anonymous.app) as voter:
        assert vote_count_in(anonymous.get("/").text, PAPER) == 2
        vote(store, voter)
        assert vote_count_in(anonymous.get("/").text, PAPER) == 3


@pytest.mark.parametrize(
    ("path", "cached"),
    [
        ("/", True),
        ("/papers", True),
        ("/papers/2401.00001", True),
        ("/papers/trending", True),
        ("/search", True),
        ("/feeds/daily.atom", True),
        ("/collections/3", True),
        ("/api/daily_papers", True),
        ("/api/papers/search", True),
        ("/static/style.css", True),
        ("/login", False),
        ("/subscribe", False),
        ("/subscribe/confirm", False),
        ("/unsubscribe", False),
        ("/subscription", False),
        ("/settings", False),
        ("/admin", False),
        ("/api/whoami", False),
    ],
)
def test_only_pages_that_depend_on_the_store_are_cached(path: str, cached: bool) -> None:
    from paperboy.web.cache import ResponseCache

    cache = ResponseCache(None, revision=lambda: 0, today=lambda: DAY)  # type: ignore[arg-type]
    scope = {"type": "http", "method": "GET", "path": path, "headers": []}
    assert cache._cacheable(scope) is cached
    with_cookie = {**scope, "headers": [(b"cookie", b"pb_session=x")]}
    assert cache._cacheable(with_cookie) is False
