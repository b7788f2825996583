"""The JSON API against a real SQLite store holding real papers from the demo file."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

import demo
from conftest import shared_path
from demo import demo_record
from paperboy.hfapi import hf_datetime
from paperboy.models import FeedEntry, Paper, Record, clean_abstract, clean_title
from paperboy.store import SQLStore

FIRST_DAY, LAST_DAY = "2026-07-29", "2026-08-04"  # W31: Jul 29-31, W32: Aug 3-4
SUBMITTER = "paperboy-tester"


def window_rows() -> list[dict[str, Any]]:
    return demo.rows_between(FIRST_DAY, LAST_DAY)


def parse_published(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")


def submitter_of(index: int) -> str | None:
    return SUBMITTER if index % 7 == 0 else None


def to_record(row: dict[str, Any], submitted_by: str | None = None) -> Record:
    return demo_record(row, submitted_by=submitted_by)


@pytest.fixture
def loaded(store: SQLStore) -> list[dict[str, Any]]:
    rows = window_rows()
    store.upsert([to_record(row, submitter_of(i)) for i, row in enumerate(rows)])
    return rows


def rows_between(rows: list[dict[str, Any]], first: str, last: str) -> list[dict[str, Any]]:
    return [r for r in rows if first <= r["daily_date"] <= last]


def by_upvotes(rows: list[dict[str, Any]]) -> list[str]:
    """The store's 'upvotes' order: upvotes, then feed day, then id, all descending."""
    ranked = sorted(rows, key=lambda r: (r["upvotes"], r["daily_date"], r["id"]), reverse=True)
    return [r["id"] for r in ranked]


def by_published(rows: list[dict[str, Any]]) -> list[str]:
    """The store's 'published' order: feed day, then paper publication, then id, descending."""
    ranked = sorted(rows, key=lambda r: (r["daily_date"], r["published_at"], r["id"]), reverse=True)
    return [r["id"] for r in ranked]


def ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["paper"]["id"] for item in response.json()]


# -- shapes -----------------------------------------------------------------------------------

# Keys of Hugging Face's items that Paperboy cannot know (no organisations, AI summaries or
# uploaded media) or only knows sometimes (the submitter).
_UNKNOWABLE_TOP = {"organization", "mediaUrls", "mediaUrl", "submittedBy"}
_UNKNOWABLE_PAPER = {
    "organization",
    "ai_summary",
    "ai_keywords",
    "ai_summary_model",
    "githubRepoAddedBy",
    "mediaUrls",
    "submittedOnDailyBy",
}


def test_item_has_the_keys_of_a_real_hugging_face_item(
    client: TestClient, loaded: list[dict[str, Any]]
) -> None:
    sample = json.loads(
        shared_path("data/hf-daily-papers/raw_api_samples/2026-08-21.json").read_text("utf-8")
    )
    real = sample[0]
    ours = client.get("/api/daily_papers", params={"date": "2026-07-30"}).json()[0]

    assert set(real) - _UNKNOWABLE_TOP <= set(ours)
    assert set(real["paper"]) - _UNKNOWABLE_PAPER <= set(ours["paper"])
    assert set(real["paper"]["authors"][0]) <= set(ours["paper"]["authors"][0])
    for key in set(real) & set(ours):
        if real[key] is not None and ours[key] is not None:
            assert type(ours[key]) is type(real[key]), key
    for key in ("upvotes", "discussionId", "publishedAt", "submittedOnDailyAt", "title"):
        assert type(ours["paper"][key]) is type(real["paper"][key]), key


def test_item_values_come_from_the_store(client: TestClient, loaded: list[dict[str, Any]]) -> None:
    row = next(r for r in loaded if r["github_repo"] and r["project_page"])
    items = client.get("/api/daily_papers", params={"date": row["daily_date"]}).json()
    item = next(i for i in items if i["paper"]["id"] == row["id"])
    paper = item["paper"]

    assert paper["title"] == item["title"] == clean_title(row["title"])
    assert paper["summary"] == item["summary"] == clean_abstract(row["abstract"])
    assert [a["name"] for a in paper["authors"]] == row["authors"]
    assert all(a["hidden"] is False for a in paper["authors"])
    assert len({a["_id"] for a in paper["authors"]}) == len(row["authors"])
    assert paper["publishedAt"] == row["published_at"]
    assert (
        item["publishedAt"] == paper["submittedOnDailyAt"] == f"{row['daily_date']}T00:00:00.000Z"
    )
    assert paper["upvotes"] == row["upvotes"]
    assert item["numComments"] == row["num_comments"]
    assert paper["githubRepo"] == row["github_repo"]
    assert paper["githubStars"] == row["github_stars"]
    assert paper["projectPage"] == row["project_page"]
    assert item["isAuthorParticipating"] is False
    assert item.get("thumbnail") is None
    assert len(paper["discussionId"]) == 24


def test_synthesized_ids_are_stable(client: TestClient, loaded: list[dict[str, Any]]) -> None:
    first = client.get("/api/daily_papers", params={"date": "2026-07-31"}).json()
    again = client.get("/api/daily_papers", params={"date": "2026-07-31"}).json()
    assert first == again
    detail = client.get(f"/api/papers/{first[0]['paper']['id']}").json()
    assert detail["discussionId"] == first[0]["paper"]["discussionId"]
    assert detail["authors"] == first[0]["paper"]["authors"]


def test_submitter_is_a_user_object_or_absent(
    client: TestClient, loaded: list[dict[str, Any]]
) -> None:
    items = client.get("/api/daily_papers", params={"month": "2026-07", "limit": 100}).json()
    submitted = [i for i in items if "submittedBy" in i]
    assert submitted and len(submitted) < len(items)
    for item in submitted:
        user = item["submittedBy"]
        assert user["name"] == user["user"] == SUBMITTER
        assert item["paper"]["submittedOnDailyBy"] == user
    for item in items:
        if "submittedBy" not in item:
            assert "submittedOnDailyBy" not in item["paper"]


def test_dates_use_hugging_face_format() -> None:
    assert hf_datetime(datetime(2024, 5, 24, 17, 34, 15, 123456)) == "2024-05-24T17:34:15.123Z"
    assert hf_datetime(date(2024, 5, 27)) == "2024-05-27T00:00:00.000Z"
    assert hf_datetime(None) is None


def test_markup_in_titles_stays_plain_json(client: TestClient, store: SQLStore) -> None:
    title = '<script>alert("x")</script> & <b>bold</b> \u2028 "quoted"'
    paper = Paper(id="2401.00001", title=title, abstract="<img src=x onerror=alert(1)>")
    entry = FeedEntry("2401.00001", date(2024, 1, 2), upvotes=3, num_comments=0)
    store.upsert([Record(paper=paper, feed=entry)])

    response = client.get("/api/daily_papers")
    assert response.headers["content-type"].startswith("application/json")
    assert "&lt;" not in response.text and "&amp;" not in response.text
    item = response.json()[0]
    assert item["title"] == item["paper"]["title"] == title
    assert item["summary"] == "<img src=x onerror=alert(1)>"
    detail = client.get("/api/papers/2401.00001")
    assert "&lt;" not in detail.text
    assert detail.json()["title"] == title


# -- period selection -------------------------------------------------------------------------


def test_no_period_means_the_latest_day(client: TestClient, loaded: list[dict[str, Any]]) -> None:
    got = ids(client.get("/api/daily_papers"))
    assert got == by_upvotes(rows_between(loaded, LAST_DAY, LAST_DAY))


def test_empty_store_gives_an_empty_list(client: TestClient) -> None:
    response = client.get("/api/daily_papers")
    assert response.status_code == 200
    assert response.json() == []


@pytest.mark.parametrize("day", ["2026-07-29", "2026-07-31", "2026-08-03"])
def test_date_selects_one_day(client: TestClient, loaded: list[dict[str, Any]], day: str) -> None:
    got = ids(client.get("/api/daily_papers", params={"date": day, "limit": 100}))
    assert got == by_upvotes(rows_between(loaded, day, day))


def test_a_day_without_papers_is_empty(client: TestClient, loaded: list[dict[str, Any]]) -> None:
    assert ids(client.get("/api/daily_papers", params={"date": "2026-08-01"})) == []


@pytest.mark.parametrize(
    ("week", "first", "last"),
    [("2026-W31", "2026-07-27", "2026-08-02"), ("2026-W32", "2026-08-03", "2026-08-09")],
)
def test_week_selects_an_iso_week(
    client: TestClient, loaded: list[dict[str, Any]], week: str, first: str, last: str
) -> None:
    got = ids(client.get("/api/daily_papers", params={"week": week, "limit": 100}))
    assert got == by_upvotes(rows_between(loaded, first, last))


@pytest.mark.parametrize(
    ("month", "first", "last"),
    [("2026-07", "2026-07-01", "2026-07-31"), ("2026-08", "2026-08-01", "2026-08-31")],
)
def test_month_selects_a_calendar_month(
    client: TestClient, loaded: list[dict[str, Any]], month: str, first: str, last: str
) -> None:
    got = ids(client.get("/api/daily_papers", params={"month": month, "limit": 100}))
    expected = by_upvotes(rows_between(loaded, first, last))
    assert got == expected and expected


# -- paging and sorting -----------------------------------------------------------------------


def test_paging_walks_the_whole_period(client: TestClient, loaded: list[dict[str, Any]]) -> None:
    expected = by_upvotes(rows_between(loaded, "2026-07-01", "2026-07-31"))
    assert len(expected) == 70
    pages = [
        ids(client.get("/api/daily_papers", params={"month": "2026-07", "limit": 30, "p": p}))
        for p in range(4)
    ]
    assert [len(page) for page in pages] == [30, 30, 10, 0]
    assert pages[0] + pages[1] + pages[2] == expected


def test_default_limit_is_50(client: TestClient, loaded: list[dict[str, Any]]) -> None:
    got = ids(client.get("/api/daily_papers", params={"month": "2026-07"}))
    assert got == by_upvotes(rows_between(loaded, "2026-07-01", "2026-07-31"))[:50]


def test_limit_100_is_allowed(client: TestClient, loaded: list[dict[str, Any]]) -> None:
    got = ids(client.get("/api/daily_papers", params={"week": "2026-W31", "limit": 100}))
    assert len(got) == 70


def by_trending(rows: list[dict[str, Any]], end: datetime) -> list[str]:
    """paperboy.rank.trending's order at ``end``: upvotes / (hours since the feed day + 2)^1.8,
    then upvotes, newer feed day, id."""

    def key(r: dict[str, Any]) -> tuple[float, int, int, str]:
        day = date.fromisoformat(r["daily_date"])
        hours = (end - datetime.combine(day, datetime.min.time())).total_seconds() / 3600
        return (-r["upvotes"] / (hours + 2) ** 1.8, -r["upvotes"], -day.toordinal(), r["id"])

    return [r["id"] for r in sorted(rows, key=key)]


def test_sort_trending_is_by_trending_score(
    client: TestClient, loaded: list[dict[str, Any]]
) -> None:
    # measured at the end of the week (Aug 3, 00:00 UTC): newer papers need fewer upvotes
    response = client.get("/api/daily_papers", params={"week": "2026-W31", "sort": "trending"})
    week = rows_between(loaded, "2026-07-27", "2026-08-02")
    assert ids(response) == by_trending(week, datetime(2026, 8, 3))[:50]
    assert ids(response) != by_upvotes(week)[:50]


def test_sort_published_at_is_newest_first(
    client: TestClient, loaded: list[dict[str, Any]]
) -> None:
    params = {"week": "2026-W31", "sort": "publishedAt", "limit": 100}
    response = client.get("/api/daily_papers", params=params)
    assert ids(response) == by_published(rows_between(loaded, "2026-07-27", "2026-08-02"))
    days = [item["publishedAt"] for item in response.json()]
    assert days == sorted(days, reverse=True)


def test_submitter_filters_and_pages(client: TestClient, loaded: list[dict[str, Any]]) -> None:
    july = rows_between(loaded, "2026-07-01", "2026-07-31")
    mine = [r for i, r in enumerate(loaded) if submitter_of(i) and r in july]
    expected = by_upvotes(mine)
    params: dict[str, Any] = {"month": "2026-07", "submitter": SUBMITTER}
    assert ids(client.get("/api/daily_papers", params=params)) == expected
    params |= {"limit": 3, "p": 1}
    assert ids(client.get("/api/daily_papers", params=params)) == expected[3:6]
    params = {"month": "2026-07", "submitter": "nobody"}
    assert ids(client.get("/api/daily_papers", params=params)) == []


# -- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"date": "2026-13-01"}, "date"),
        ({"date": "yesterday"}, "date"),
        ({"date": "2026-02-30"}, "date"),
        ({"week": "2026-W54"}, "week"),
        ({"week": "2026-31"}, "week"),
        ({"month": "2026-13"}, "month"),
        ({"month": "July"}, "month"),
        ({"date": "2026-07-29", "week": "2026-W31"}, "week"),
        ({"week": "2026-W31", "month": "2026-07"}, "month"),
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": 1000}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"p": -1}, "p"),
        ({"sort": "bogus"}, "sort"),
        ({"sort": "upvotes"}, "sort"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(
    client: TestClient, loaded: list[dict[str, Any]], params: dict[str, Any], parameter: str
) -> None:
    response = client.get("/api/daily_papers", params=params)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["parameter"] == parameter
    assert isinstance(body["error"], str) and body["error"]


# -- one paper --------------------------------------------------------------------------------


def test_paper_is_the_flat_hugging_face_object(
    client: TestClient, loaded: list[dict[str, Any]]
) -> None:
    row = next(r for r in loaded if r["github_repo"] and r["project_page"] and r["num_comments"])
    response = client.get(f"/api/papers/{row['id']}")
    assert response.status_code == 200
    paper = response.json()
    assert {
        "id",
        "authors",
        "publishedAt",
        "submittedOnDailyAt",
        "title",
        "summary",
        "upvotes",
        "discussionId",
        "projectPage",
        "githubRepo",
        "githubStars",
        "numComments",
    } <= set(paper)
    assert "paper" not in paper
    assert paper["id"] == row["id"]
    assert paper["title"] == clean_title(row["title"])
    assert paper["summary"] == clean_abstract(row["abstract"])
    assert [a["name"] for a in paper["authors"]] == row["authors"]
    assert paper["publishedAt"] == row["published_at"]
    assert paper["submittedOnDailyAt"] == f"{row['daily_date']}T00:00:00.000Z"
    assert paper["upvotes"] == row["upvotes"]
    assert paper["numComments"] == row["num_comments"]
    assert paper["githubRepo"] == row["github_repo"]
    assert paper["githubStars"] == row["github_stars"]
    assert paper["projectPage"] == row["project_page"]


def test_paper_accepts_a_versioned_id(client: TestClient, loaded: list[dict[str, Any]]) -> None:
    row = loaded[0]
    response = client.get(f"/api/papers/{row['id']}v3")
    assert response.status_code == 200
    assert response.json()["id"] == row["id"]


def test_paper_accepts_an_old_style_id(client: TestClient, store: SQLStore) -> None:
    paper = Paper(id="hep-th/9901001", title="Old", authors=("A. Author",))
    store.upsert([Record(paper=paper)])
    for path in ("hep-th/9901001", "hep-th/9901001v2"):
        response = client.get(f"/api/papers/{path}")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["id"] == "hep-th/9901001"
        assert body["upvotes"] == 0 and body["numComments"] == 0
        assert body["publishedAt"] is None
        assert "submittedOnDailyAt" not in body


def test_paper_upvotes_are_the_latest_snapshot(client: TestClient, store: SQLStore) -> None:
    paper = Paper(id="2401.00002", title="Twice")
    store.upsert(
        [
            Record(paper, FeedEntry(paper.id, date(2024, 1, 2), submitted_by="alice", upvotes=5)),
            Record(paper, FeedEntry(paper.id, date(2024, 1, 9), upvotes=9, num_comments=2)),
            Record(paper, FeedEntry(paper.id, date(2024, 1, 12), source="arxiv", upvotes=0)),
        ]
    )
    body = client.get("/api/papers/2401.00002").json()
    assert body["upvotes"] == 9
    assert body["numComments"] == 2
    assert body["submittedOnDailyAt"] == "2024-01-02T00:00:00.000Z"
    assert body["submittedOnDailyBy"]["user"] == "alice"


def test_unknown_paper_is_404_json(client: TestClient, loaded: list[dict[str, Any]]) -> None:
    for path in ("2401.99999", "2401.99999v2", "math/0309136"):
        response = client.get(f"/api/papers/{path}")
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/json")
        assert "error" in response.json()


@pytest.mark.parametrize("bad", ["abc", "2401.1", "1301.12345x", "foo/9901001", "2413.12345"])
def test_malformed_id_is_400_naming_arxiv_id(client: TestClient, bad: str) -> None:
    response = client.get(f"/api/papers/{bad}")
    assert response.status_code == 400
    assert response.json()["parameter"] == "arxiv_id"


# -- OpenAPI ----------------------------------------------------------------------------------


def test_openapi_lists_both_routes_with_documented_parameters(client: TestClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    daily = schema["paths"]["/api/daily_papers"]["get"]
    params = {p["name"]: p for p in daily["parameters"]}
    assert set(params) == {"date", "week", "month", "p", "limit", "sort", "submitter", "cat"}
    assert all(p.get("description") for p in params.values())
    assert all(p["in"] == "query" for p in params.values())
    paper = schema["paths"]["/api/papers/{arxiv_id}"]["get"]
    assert [p["name"] for p in paper["parameters"]] == ["arxiv_id"]
    assert paper["parameters"][0].get("description")


def test_openapi_documents_400_not_422(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            assert "422" not in operation["responses"], path
            if operation.get("parameters") or operation.get("requestBody"):
                assert "400" in operation["responses"], path
    assert client.get("/api/daily_papers", params={"limit": "many"}).status_code == 400
