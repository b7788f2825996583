"""POST /api/papers/import: scripts push papers through the importer's shapes and upsert path."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from tests.demo import rows_between

from paperboy.settings import Settings
from paperboy.store import SQLStore
from paperboy.web.app import create_app

TOKEN = "s3cret-ingest-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def pusher(settings: Settings, store: SQLStore) -> Iterator[TestClient]:
    app = create_app(settings.model_copy(update={"ingest_token": SecretStr(TOKEN)}), store=store)
    with TestClient(app) as client:
        yield client


def test_push_stores_papers_and_their_feed_entries(pusher: TestClient, store: SQLStore) -> None:
    rows = rows_between("2025-03-03", "2025-03-03")[:5]
    answer = pusher.post("/api/papers/import", json=rows, headers=AUTH)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "inserted": 5,
        "updated": 0,
        "unchanged": 0,
        "feed_added": 5,
        "rejected": [],
    }
    for row in rows:
        paper = store.get_paper(row["id"])
        assert paper is not None and paper.title == row["title"].strip()
    # The pushed papers are on the day's page of every reader straight away.
    listed = pusher.get("/api/daily_papers", params={"date": "2025-03-03", "limit": 100}).json()
    assert {row["id"] for row in rows} <= {item["paper"]["id"] for item in listed}

    again = pusher.post("/api/papers/import", json=rows, headers=AUTH).json()
    assert again["inserted"] == 0 and again["unchanged"] == 5  # idempotent


def test_bad_items_are_named_and_the_good_ones_kept(pusher: TestClient, store: SQLStore) -> None:
    good = rows_between("2025-03-04", "2025-03-04")[:2]
    items = [
        good[0],
        {"id": "not-an-id", "title": "x", "daily_date": "2025-03-04"},
        "text",
        good[1],
    ]
    answer = pusher.post("/api/papers/import", json=items, headers=AUTH)
    assert answer.status_code == 200
    body = answer.json()
    assert body["inserted"] == 2
    assert [r["index"] for r in body["rejected"]] == [1, 2]
    assert all(r["error"] for r in body["rejected"])
    assert store.get_paper(good[1]["id"]) is not None


def test_one_object_and_a_feed_day_for_items_without_one(
    pusher: TestClient, store: SQLStore
) -> None:
    item = {"paper": {"id": "2611.00042", "title": "A pushed paper", "summary": "On pushing."}}
    answer = pusher.post(
        "/api/papers/import", json=item, params={"date": "2026-11-27"}, headers=AUTH
    )
    assert answer.status_code == 200 and answer.json()["inserted"] == 1
    assert [e.feed_date.isoformat() for e in store.feed_entries_for("2611.00042")] == ["2026-11-27"]
    without_day = {"paper": {"id": "2611.00043", "title": "Undated", "summary": "No day."}}
    refused = pusher.post("/api/papers/import", json=[without_day], headers=AUTH).json()
    assert refused["inserted"] == 0 and "feed date" in refused["rejected"][0]["error"]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}, {"Authorization": "Basic x"}],
)
def test_pushing_needs_the_token(
    pusher: TestClient, store: SQLStore, headers: dict[str, str]
) -> None:
    rows = rows_between("2025-03-03", "2025-03-03")[:1]
    answer = pusher.post("/api/papers/import", json=rows, headers=headers)
    assert answer.status_code == 403
    assert "Bearer" in answer.json()["error"]
    assert store.count_papers() == 0


def test_pushing_is_off_without_a_configured_token(client: TestClient, store: SQLStore) -> None:
    rows = rows_between("2025-03-03", "2025-03-03")[:1]
    answer = client.post("/api/papers/import", json=rows, headers=AUTH)
    assert answer.status_code == 403
    assert "PAPERBOY_INGEST_TOKEN" in answer.json()["error"]
    assert store.count_papers() == 0


def test_malformed_and_oversized_bodies_are_refused(pusher: TestClient, store: SQLStore) -> None:
    broken = pusher.post(
        "/api/papers/import",
        content=b'[{"id": "2503.00001", "title": ',
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert broken.status_code == 400 and broken.json()["parameter"] == "body"
    many = [{"id": f"2611.{n:05d}", "title": "t", "summary": "s"} for n in range(1001)]
    assert pusher.post("/api/papers/import", json=many, headers=AUTH).status_code == 400
    bad_day = pusher.post("/api/papers/import", json=[], params={"date": "yesterday"}, headers=AUTH)
    assert bad_day.status_code == 400
    assert store.count_papers() == 0
