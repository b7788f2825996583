"""The trending view: page, API, paper breakdowns and ``sort=trending``, on a hand-made store whose
expected order is computed here from the formula itself."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date, datetime, time, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from community import make_user
from paperboy.models import FeedEntry, Paper, Record
from paperboy.rank.service import TrendingService, reference_time
from paperboy.settings import Settings
from paperboy.store import SQLStore
from paperboy.web.app import create_app

LATEST = date(2024, 5, 10)
AS_OF = datetime(2024, 5, 11)  # the end of the latest day with papers
GRAVITY = 1.8

# paper id -> feed entries (day, source, imported upvotes)
ENTRIES: dict[str, list[tuple[date, str, int]]] = {
    "2405.00001": [(date(2024, 5, 10), "daily", 10)],  # A: fresh
    "2405.00002": [(date(2024, 5, 8), "daily", 40)],  # B
    "2405.00003": [(date(2024, 5, 4), "daily", 100)],  # C: at the week's first day
    "2405.00004": [(date(2024, 5, 3), "daily", 500)],  # D: a day before the week
    "2405.00005": [(date(2024, 5, 10), "daily", 0)],  # E: no points
    "2405.00006": [(date(2024, 5, 9), "daily", 0)],  # F: only local votes (2)
    "2405.00007": [(date(2024, 5, 10), "daily", 50)],  # G: hidden
    "2404.00008": [(date(2024, 4, 1), "daily", 5), (date(2024, 5, 9), "daily", 80)],  # H: old
    "2405.00009": [(date(2024, 5, 6), "arxiv", 0), (date(2024, 5, 7), "daily", 30)],  # I
}
LOCAL = {"2405.00006": 2, "2405.00002": 1}
HIDDEN = "2405.00007"


def entered(paper_id: str) -> date:
    return min(day for day, _, _ in ENTRIES[paper_id])


def points(paper_id: str) -> int:
    return max(up for _, _, up in ENTRIES[paper_id]) + LOCAL.get(paper_id, 0)


def age_hours(day: date, now: datetime = AS_OF) -> float:
    return max(0.0, (now - datetime.combine(day, time())) / timedelta(hours=1))


def score(paper_id: str, now: datetime = AS_OF, gravity: float = GRAVITY) -> float:
    return points(paper_id) / (age_hours(entered(paper_id), now) + 2) ** gravity


def expected(first_day: date, now: datetime = AS_OF, gravity: float = GRAVITY) -> list[str]:
    """Papers with points that entered the feed on or after ``first_day``, best score first
    (a paper entered after ``now`` has age 0)."""
    chosen = [p for p in ENTRIES if p != HIDDEN and first_day <= entered(p) and points(p) > 0]
    return sorted(chosen, key=lambda p: -score(p, now, gravity))


@pytest.fixture
def loaded(store: SQLStore) -> SQLStore:
    records = []
    for paper_id, entries in ENTRIES.items():
        paper = Paper(paper_id, f"Paper {paper_id}", "Abstract.", ("Ada",), ("cs.LG",))
        for day, source, upvotes in entries:
            records.append(Record(paper, FeedEntry(paper_id, day, source=source, upvotes=upvotes)))
    store.upsert(records)
    voters = [make_user(store, f"voter{n}") for n in range(max(LOCAL.values()))]
    for paper_id, count in LOCAL.items():
        for user in voters[:count]:
            store.activity.set_vote(user.id, paper_id, True)
    admin = make_user(store, "admin", admin=True)
    store.activity.set_paper_hidden(admin.id, HIDDEN, True, "spam")
    return store


@pytest.fixture
def web(make_app: Callable[..., FastAPI], loaded: SQLStore) -> Iterator[TestClient]:
    with TestClient(make_app(today=LATEST)) as client:
        yield client


def card_ids(html: str) -> list[str]:
    return re.findall(r'data-paper-id="([^"]+)"', html)


def test_the_formula_order_by_hand() -> None:
    """The hand-computed expectations really differ from plain upvote order."""
    week = expected(date(2024, 5, 4))
    assert week[:2] == ["2405.00001", "2405.00002"]
    assert "2405.00003" in week and "2405.00004" not in week  # 100 points, but 7 days old
    assert sorted(week, key=points, reverse=True) != week


def test_week_page_is_ranked_by_the_formula(web: TestClient) -> None:
    answer = web.get("/papers/trending")
    assert answer.status_code == 200
    html = answer.text
    order = expected(date(2024, 5, 4))
    assert card_ids(html) == order
    ranks = re.findall(r'<span class="rank">(\d+)\.</span>', html)
    assert ranks == [str(n) for n in range(1, len(order) + 1)]
    assert "as of" in html and "2024-05-11 00:00 UTC" in html
    for paper_id in order:
        shown = f"{score(paper_id):.3f}" if score(paper_id) >= 0.01 else f"{score(paper_id):.2g}"
        assert f'href="/papers/{paper_id}#trending"' in html
        assert re.search(
            rf'href="/papers/{re.escape(paper_id)}#trending"[^>]*>score {re.escape(shown)} — why',
            html,
        ), paper_id


def test_windows(web: TestClient) -> None:
    day = web.get("/papers/trending", params={"window": "day"}).text
    assert card_ids(day) == expected(date(2024, 5, 10)) == ["2405.00001"]
    month = web.get("/papers/trending", params={"window": "month"}).text
    assert card_ids(month) == expected(date(2024, 4, 11))
    assert "2405.00004" in card_ids(month)
    assert "2404.00008" not in card_ids(month)  # entered on Apr 1, its first feed day
    assert "2405.00005" not in card_ids(month)  # no points
    assert web.get("/papers/trending", params={"window": "year"}).status_code == 400


def test_hidden_papers_never_appear(web: TestClient) -> None:
    for window in ("day", "week", "month"):
        assert HIDDEN not in web.get(f"/papers/trending?window={window}").text
        api = web.get("/api/papers/trending", params={"window": window}).json()
        assert HIDDEN not in [item["paper"]["id"] for item in api]
    feed = web.get("/api/daily_papers", params={"month": "2024-05", "sort": "trending"}).json()
    assert HIDDEN not in [item["paper"]["id"] for item in feed]


def test_api_trending_items_carry_their_numbers(web: TestClient) -> None:
    answer = web.get("/api/papers/trending", params={"window": "week"})
    assert answer.status_code == 200
    order = expected(date(2024, 5, 4))
    assert answer.headers["X-Total-Count"] == str(len(order))
    assert answer.headers["X-Trending-As-Of"] == "2024-05-11T00:00:00.000Z"
    items = answer.json()
    assert [item["paper"]["id"] for item in items] == order
    for position, item in enumerate(items, start=1):
        paper_id = item["paper"]["id"]
        trend = item["trending"]
        imported = points(paper_id) - LOCAL.get(paper_id, 0)
        age = age_hours(entered(paper_id))
        assert trend["score"] == pytest.approx(score(paper_id), rel=1e-12)
        assert (trend["points"], trend["importedUpvotes"], trend["localVotes"]) == (
            points(paper_id),
            imported,
            LOCAL.get(paper_id, 0),
        )
        assert trend["ageHours"] == pytest.approx(age) and trend["gravity"] == GRAVITY
        assert trend["rank"] == position
        assert trend["formula"] == (
            f"({imported} + {LOCAL.get(paper_id, 0)}) / ({age:g} + 2)^1.8 = {score(paper_id):.4f}"
        )
        assert item["paper"]["upvotes"] == points(paper_id)
    paged = web.get("/api/papers/trending", params={"window": "week", "limit": 2, "p": 1}).json()
    assert [item["paper"]["id"] for item in paged] == order[2:4]
    assert [item["trending"]["rank"] for item in paged] == [3, 4]
    assert web.get("/api/papers/trending", params={"window": "year"}).status_code == 400


def test_breakdown_on_the_paper_page(web: TestClient) -> None:
    paper_id = "2405.00002"  # 40 imported + 1 local, entered May 8: 72 hours
    html = web.get(f"/papers/{paper_id}").text
    section = html[html.index('id="trending"') :]
    section = section[: section.index("</section>")]
    assert "<strong>41</strong> = 40 upvotes imported from the source + 1 vote on this site" in (
        section
    )
    assert "2024-05-08 00:00 UTC" in section and "72</span> hours" in section
    assert f"(40 + 1) / (72 + 2)^1.8 = {score(paper_id):.4f}" in section
    week, month = expected(date(2024, 5, 4)), expected(date(2024, 4, 11))
    assert f"#{week.index(paper_id) + 1} of {len(week)} this week" in section
    assert f"#{month.index(paper_id) + 1} of {len(month)} this month" in section


def test_breakdown_outside_the_week_and_without_points(web: TestClient) -> None:
    old = web.get("/papers/2405.00004").text
    section = old[old.index('id="trending"') :]
    assert "not in this week&#39;s window" in section or "not in this week's window" in section
    month = expected(date(2024, 4, 11))
    assert f"#{month.index('2405.00004') + 1} of {len(month)} this month" in section
    none = web.get("/papers/2405.00005").text
    assert "not ranked this week: no points yet" in none
    assert "(0 + 0) / (24 + 2)^1.8 = 0" in none


def test_paper_outside_the_feed(web: TestClient, loaded: SQLStore) -> None:
    loaded.upsert([Record(Paper("2405.00099", "Never listed"))])
    html = web.get("/papers/2405.00099").text
    assert "never been in the feed" in html


def test_api_sort_trending_uses_the_formula(web: TestClient) -> None:
    # the month of May, measured at the end of its latest day with papers
    may = [
        (paper_id, day, upvotes + LOCAL.get(paper_id, 0))
        for paper_id, entries in ENTRIES.items()
        for day, _, upvotes in entries
        if paper_id != HIDDEN and day.month == 5
    ]

    def entry_score(row: tuple[str, date, int]) -> float:
        return row[2] / (age_hours(entered(row[0])) + 2) ** GRAVITY

    ranked = sorted(may, key=lambda r: (-entry_score(r), -r[2], -entered(r[0]).toordinal(), r[0]))
    params = {"month": "2024-05", "sort": "trending", "limit": 100}
    items = web.get("/api/daily_papers", params=params).json()
    assert [(i["paper"]["id"], i["paper"]["upvotes"]) for i in items] == [
        (r[0], r[2]) for r in ranked
    ]
    paged = web.get("/api/daily_papers", params={**params, "limit": 3, "p": 1}).json()
    assert [i["paper"]["id"] for i in paged] == [r[0] for r in ranked[3:6]]
    # without sort: plain upvotes, as before
    plain = web.get("/api/daily_papers", params={"month": "2024-05", "limit": 100}).json()
    upvotes = [i["paper"]["upvotes"] for i in plain]
    assert upvotes == sorted(upvotes, reverse=True)
    assert [i["paper"]["id"] for i in plain] != [i["paper"]["id"] for i in items]


def test_api_sort_trending_of_a_past_week_is_measured_at_its_end(web: TestClient) -> None:
    # ISO week 2024-W18 is Apr 29 .. May 5: measured at May 6 00:00
    end = datetime(2024, 5, 6)
    items = web.get("/api/daily_papers", params={"week": "2024-W18", "sort": "trending"}).json()
    week = [p for p in ENTRIES if date(2024, 4, 29) <= entered(p) <= date(2024, 5, 5)]
    assert [i["paper"]["id"] for i in items] == sorted(week, key=lambda p: -score(p, end))


def test_gravity_setting_and_pages(
    loaded: SQLStore, database_url: str, make_app: Callable[..., FastAPI]
) -> None:
    settings = Settings(database_url=database_url, trending_gravity=0.5, page_size=2)
    app = create_app(settings, store=loaded, today=lambda: LATEST)
    order = expected(date(2024, 4, 11), gravity=0.5)
    assert order != expected(date(2024, 4, 11))
    with TestClient(app) as client:
        first = client.get("/papers/trending?window=month").text
        second = client.get("/papers/trending?window=month&page=2").text
        api = client.get("/api/papers/trending?window=month&limit=100").json()
    assert card_ids(first) == order[:2] and card_ids(second) == order[2:4]
    assert re.findall(r'<span class="rank">(\d+)\.</span>', second) == ["3", "4"]
    assert 'href="/papers/trending?window=month&amp;page=2"' in first
    assert [i["paper"]["id"] for i in api] == order
    assert {i["trending"]["gravity"] for i in api} == {0.5}


def test_reference_time_is_never_later_than_now(loaded: SQLStore) -> None:
    assert reference_time(LATEST, datetime(2030, 1, 1)) == AS_OF
    midday = datetime(2024, 5, 10, 12, 0)
    assert reference_time(LATEST, midday) == midday
    assert reference_time(None, midday) == midday
    service = TrendingService(loaded.engine, GRAVITY)
    ranking = service.window("week", clock=midday)
    assert ranking.now == midday
    assert [b.paper_id for b in ranking.ranked] == expected(date(2024, 5, 4), midday)
    assert ranking.ranked[0].age_hours == 12.0
    # before the latest day has begun in UTC (a site time zone ahead of UTC): its papers count,
    # with age 0
    early = datetime(2024, 5, 9, 18, 0)
    ranking = service.window("day", clock=early)
    assert [b.paper_id for b in ranking.ranked] == expected(date(2024, 5, 9), early)
    assert ranking.ranked[0].paper_id == "2405.00001" and ranking.ranked[0].age_hours == 0


def test_empty_store(client: TestClient) -> None:
    answer = client.get("/papers/trending")
    assert answer.status_code == 200 and "Nothing trending this week" in answer.text
    assert client.get("/api/papers/trending").json() == []
    assert client.get("/api/daily_papers", params={"sort": "trending"}).json() == []
