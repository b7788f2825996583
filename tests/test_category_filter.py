"""``?cat=`` on the feed pages: the parser, the store's SQL on both backends, the pages."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient

from paperboy.categories import InvalidCategories, parse_categories
from paperboy.models import CategoryFilter, FeedEntry, Paper, Record
from paperboy.store import SQLStore

DAY = date(2024, 5, 6)
PAPERS = {
    "2405.00001": ("cs.CL",),
    "2405.00002": ("cs.CL", "cs.CY"),
    "2405.00003": ("cs.LG", "stat.ML"),
    "2405.00004": ("math.AP",),
    "2405.00005": ("hep-th",),
}


@pytest.fixture
def feed(store: SQLStore) -> None:
    store.upsert(
        [
            Record(
                Paper(pid, f"Paper {pid}", "Abstract.", ("A. Author",), cats), FeedEntry(pid, DAY)
            )
            for pid, cats in PAPERS.items()
        ]
    )


def test_parser() -> None:
    assert parse_categories("cs.cl, -CS.cy stat") == CategoryFilter(("cs.CL", "stat"), ("cs.CY",))
    assert parse_categories("  ") == CategoryFilter()
    assert parse_categories("physics.Optics").include == ("physics.optics",)
    for bad in ("<b>", "cs.CL'; drop table papers", "%", "cs_CL", "x" * 300, "é", "a," * 30):
        with pytest.raises(InvalidCategories):
            parse_categories(bad)


def test_matching_rules() -> None:
    wanted = parse_categories("cs,-cs.CY")
    assert wanted.matches(["cs.CL"]) and not wanted.matches(["cs.CL", "cs.CY"])
    assert not wanted.matches(["csx.AB"]) and not wanted.matches(["math.AP"])
    assert parse_categories("-hep-th").matches(["math.AP"])


@pytest.mark.parametrize(
    ("cat", "expected"),
    [
        ("cs.CL", {"2405.00001", "2405.00002"}),
        ("cs", {"2405.00001", "2405.00002", "2405.00003"}),
        ("cs,-cs.CY", {"2405.00001", "2405.00003"}),
        ("stat.ML hep-th", {"2405.00003", "2405.00005"}),
        ("-cs", {"2405.00004", "2405.00005"}),
        ("q-bio", set()),
    ],
)
def test_store_filters_like_the_parser(
    store: SQLStore, feed: None, cat: str, expected: set[str]
) -> None:
    wanted = parse_categories(cat)
    page = store.feed(DAY, DAY, categories=wanted, limit=50)
    assert {i.paper.id for i in page.items} == expected
    assert page.total == len(expected)
    assert expected == {pid for pid, cats in PAPERS.items() if wanted.matches(cats)}


def test_feed_page_keeps_the_filter(client: TestClient, feed: None) -> None:
    page = client.get("/papers", params={"date": DAY.isoformat(), "cat": "cs,-cs.CY"})
    assert page.status_code == 200
    assert (
        'data-paper-id="2405.00001"' in page.text and 'data-paper-id="2405.00002"' not in page.text
    )
    assert "cs papers outside cs.CY" in page.text
    assert "cat=cs%2C-cs.CY" in page.text  # the period and sort links carry it
    empty = client.get("/papers", params={"date": DAY.isoformat(), "cat": "q-bio"})
    assert empty.status_code == 200 and "No q-bio papers on this day" in empty.text
    bad = client.get("/papers", params={"date": DAY.isoformat(), "cat": "<script>"})
    assert bad.status_code == 400 and "<script>" not in bad.text


def test_for_you_sort_needs_a_reader(client: TestClient, feed: None) -> None:
    page = client.get("/papers", params={"date": DAY.isoformat(), "sort": "for-you"})
    assert page.status_code == 200 and "Log in to see this day ranked for you" in page.text
    assert client.get("/", params={"sort": "sideways"}).status_code == 400


def test_daily_feed_takes_the_filter(client: TestClient, feed: None) -> None:
    import feedparser

    answer = client.get("/feeds/daily.atom", params={"date": DAY.isoformat(), "cat": "cs.CL"})
    parsed = feedparser.parse(answer.content)
    assert not parsed.bozo and len(parsed.entries) == 2
    assert "cs.CL papers" in parsed.feed.title
    page = client.get("/papers", params={"date": DAY.isoformat(), "cat": "cs.CL"})
    assert "/feeds/daily.atom?date=2024-05-06&amp;cat=cs.CL" in page.text
    assert client.get("/feeds/daily.rss", params={"cat": "'"}).status_code == 400
