"""HEAD answers as GET without the body, for pages, feeds, the API and static files."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from paperboy.models import FeedEntry, Paper, Record
from paperboy.store import SQLStore


@pytest.fixture
def paper(store: SQLStore) -> str:
    from datetime import date

    item = Paper("2412.00001", "A paper to look at", "Its abstract.", ("Ada",), ("cs.LG",))
    store.upsert([Record(item, FeedEntry(item.id, date(2024, 12, 4), "daily", upvotes=3))])
    return item.id


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/papers?date=2024-12-04",
        "/papers/2412.00001",
        "/api/daily_papers",
        "/feeds/daily.rss",
        "/static/style.css",
        "/api/docs",
    ],
)
def test_head_is_get_without_the_body(client: TestClient, paper: str, path: str) -> None:
    got = client.get(path)
    head = client.head(path)
    assert got.status_code == 200 and head.status_code == 200, path
    assert head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"]
    assert head.headers["content-length"] == str(len(got.content))
    assert head.headers["x-content-type-options"] == "nosniff"  # the security headers too


def test_head_of_a_missing_page_is_its_404(client: TestClient) -> None:
    head = client.head("/papers/2412.99999")
    assert head.status_code == 404 and head.content == b""


def test_head_on_a_route_without_get_is_still_405(client: TestClient) -> None:
    assert client.get("/logout").status_code == 405  # logging out takes a POST
    head = client.head("/logout")
    assert head.status_code == 405 and head.content == b"" and "POST" in head.headers["allow"]
