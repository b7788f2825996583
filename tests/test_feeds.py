"""RSS 2.0 and Atom 1.0 feeds over HTTP: daily, trending, collections and search.

Every feed is parsed back with feedparser (no bozo), its links must be absolute and point at
the paper pages of ``base_url``, its dates must parse and its ids must be unique. Hidden papers
never appear; private collections have no feed.
"""

from __future__ import annotations

import html
import re
from datetime import datetime

import feedparser
import pytest
from fastapi.testclient import TestClient

from community import log_in, make_user
from demo import demo_record, rows_between
from paperboy.models import Record
from paperboy.rank.service import TrendingService
from paperboy.settings import Settings
from paperboy.store import SQLStore
from paperboy.store.collections import CollectionStore
from paperboy.syndication import ATOM_TYPE, RSS_TYPE

BASE = "https://radar.example.org"
KINDS = pytest.mark.parametrize("kind", ["rss", "atom"])
TYPES = {"rss": RSS_TYPE, "atom": ATOM_TYPE}


@pytest.fixture
def settings(database_url: str) -> Settings:
    # one page holds a whole day, so the HTML order can be compared with the feed's
    return Settings(database_url=database_url, base_url=BASE + "/", page_size=100)


@pytest.fixture
def records(store: SQLStore) -> list[Record]:
    """Real papers of 2024-12-02 (15), 2024-12-03 (25) and 2024-12-04 (15, the latest day)."""
    found = [demo_record(row) for row in rows_between("2024-12-02", "2024-12-04")]
    store.upsert(found)
    return found


def day_of(records: list[Record], day: str) -> dict[str, Record]:
    return {r.paper.id: r for r in records if r.feed and r.feed.feed_date.isoformat() == day}


def fetch(client: TestClient, path: str, kind: str) -> feedparser.FeedParserDict:
    """GET a feed and check what every feed must satisfy; returns the parsed feed."""
    response = client.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == TYPES[kind]
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == ("rss20" if kind == "rss" else "atom10")
    self_links = [link.href for link in parsed.feed.links if link.rel == "self"]
    assert len(self_links) == 1 and self_links[0].startswith(BASE + "/")
    assert parsed.feed.link.startswith(BASE + "/")
    ids = [entry.id for entry in parsed.entries]
    assert len(ids) == len(set(ids))
    for entry in parsed.entries:
        assert re.fullmatch(re.escape(BASE) + r"/papers/\S+", entry.link), entry.link
        assert entry.id == entry.link
        assert entry.title
        assert entry.published_parsed is not None
        if kind == "atom":
            assert entry.updated_parsed is not None
    return parsed


def paper_ids(parsed: feedparser.FeedParserDict) -> list[str]:
    return [entry.link.removeprefix(f"{BASE}/papers/") for entry in parsed.entries]


def card_ids(page: str) -> list[str]:
    return re.findall(r'data-paper-id="([^"]+)"', page)


def summary(kind: str, entry: feedparser.FeedParserDict) -> str:
    return html.unescape(entry.summary) if kind == "rss" else entry.summary


# --------------------------------------------------------------------------- daily


@KINDS
def test_daily_feed_is_the_latest_day_in_page_order(
    client: TestClient, records: list[Record], kind: str
) -> None:
    parsed = fetch(client, f"/feeds/daily.{kind}", kind)
    latest = day_of(records, "2024-12-04")
    assert len(parsed.entries) == len(latest) == 15
    assert paper_ids(parsed) == card_ids(client.get("/papers?date=2024-12-04").text)
    assert parsed.feed.link == f"{BASE}/papers?date=2024-12-04"
    assert "December 4, 2024" in parsed.feed.title
    for entry in parsed.entries:
        paper = latest[entry.link.rsplit("/papers/", 1)[1]].paper
        assert entry.title == paper.title
        assert summary(kind, entry) == paper.abstract
        assert [a.name for a in entry.authors] == list(paper.authors)
        assert [t.term for t in entry.get("tags", [])] == list(paper.categories)
        assert paper.published is not None
        assert tuple(entry.published_parsed[:6]) == paper.published.timetuple()[:6]
        if kind == "atom":  # updated: the feed day
            assert tuple(entry.updated_parsed[:3]) == (2024, 12, 4)


@KINDS
def test_daily_feed_of_a_chosen_day(client: TestClient, records: list[Record], kind: str) -> None:
    parsed = fetch(client, f"/feeds/daily.{kind}?date=2024-12-02", kind)
    assert set(paper_ids(parsed)) == set(day_of(records, "2024-12-02"))
    assert paper_ids(parsed) == card_ids(client.get("/papers?date=2024-12-02").text)
    self_link = next(link.href for link in parsed.feed.links if link.rel == "self")
    assert self_link == f"{BASE}/feeds/daily.{kind}?date=2024-12-02"
    empty = fetch(client, f"/feeds/daily.{kind}?date=2024-12-01", kind)
    assert empty.entries == []
    assert client.get(f"/feeds/daily.{kind}?date=2024-13-01").status_code == 400


def test_daily_feed_of_an_empty_store(client: TestClient) -> None:
    for kind in ("rss", "atom"):
        assert fetch(client, f"/feeds/daily.{kind}", kind).entries == []
    assert client.get("/feeds/daily.xml").status_code == 404


def test_pages_link_their_feeds(client: TestClient, records: list[Record]) -> None:
    home = client.get("/").text
    assert '<link rel="alternate" type="application/atom+xml"' in home
    assert 'href="/feeds/daily.atom"' in home and 'href="/feeds/daily.rss"' in home
    day = client.get("/papers?date=2024-12-02").text
    assert 'href="/feeds/daily.atom?date=2024-12-02"' in day  # the visible link
    search = client.get("/search?q=video&mode=keyword").text
    assert re.search(
        r'<link rel="alternate" type="application/atom\+xml" title="[^"]*" '
        r'href="/search/feed.atom\?mode=keyword&amp;q=video">',
        search,
    )
    assert 'href="/search/feed.rss?mode=keyword&amp;q=video"' in search
    assert "/search/feed" not in client.get("/search").text


# --------------------------------------------------------------------------- trending


@KINDS
def test_trending_feed_follows_the_trending_ranking(
    client: TestClient, store: SQLStore, settings: Settings, records: list[Record], kind: str
) -> None:
    alice = make_user(store, "alice")
    chosen = records[0].paper.id  # a vote cast here counts too
    store.activity.set_vote(alice.id, chosen, True)
    parsed = fetch(client, f"/feeds/trending.{kind}?window=week", kind)
    ranking = TrendingService(store.engine, settings.trending_gravity).window("week")
    expected = [b.paper_id for b in ranking.ranked[:50]]
    assert paper_ids(parsed) == expected
    assert len(ranking.ranked) > 50 and chosen in expected
    page = card_ids(client.get("/papers/trending?window=week").text)
    assert paper_ids(parsed) == page[:50]  # the feed holds the first 50
    assert parsed.feed.link == f"{BASE}/papers/trending?window=week"
    month = fetch(client, f"/feeds/trending.{kind}?window=month", kind)
    assert paper_ids(month)  # its own ranking
    assert client.get(f"/feeds/trending.{kind}?window=year").status_code == 400


# --------------------------------------------------------------------------- collections


@KINDS
def test_collection_feed(
    client: TestClient, store: SQLStore, records: list[Record], kind: str
) -> None:
    alice = make_user(store, "alice")
    collections = CollectionStore(store.engine)
    public = collections.create(alice.id, "Picks", "My picks of the week", is_public=True)
    private = collections.create(alice.id, "Secret")
    chosen = [records[3].paper, records[20].paper, records[7].paper]
    for n, paper in enumerate(chosen):
        collections.add_item(alice.id, public.id, paper.id, f"note {n}" if n != 1 else "")
        collections.add_item(alice.id, private.id, paper.id)
    parsed = fetch(client, f"/collections/{public.id}/feed.{kind}", kind)
    assert paper_ids(parsed) == [p.id for p in reversed(chosen)]  # newest added first
    assert parsed.feed.title.startswith("Picks (alice)")
    assert parsed.feed.link == f"{BASE}/collections/{public.id}"
    texts = [summary(kind, entry) for entry in parsed.entries]
    assert texts[0] == f"Note: note 2\n\n{chosen[2].abstract}"
    assert texts[1] == chosen[1].abstract  # no note, just the abstract
    for kind_ in ("rss", "atom"):
        assert client.get(f"/collections/{private.id}/feed.{kind_}").status_code == 404
        assert client.get(f"/collections/987654/feed.{kind_}").status_code == 404
    page = client.get(f"/collections/{public.id}").text
    assert (
        f'<link rel="alternate" type="application/atom+xml" title="Picks (Atom)" '
        f'href="/collections/{public.id}/feed.atom">'
    ) in page
    log_in(client, store, alice)
    assert "application/atom+xml" not in client.get(f"/collections/{private.id}").text


# --------------------------------------------------------------------------- search


@KINDS
def test_search_feed_lists_the_matches_newest_first(
    client: TestClient, records: list[Record], kind: str
) -> None:
    parsed = fetch(client, f"/search/feed.{kind}?q=video&mode=keyword", kind)
    results = client.app.state.search.search(  # type: ignore[attr-defined]
        "video", mode="keyword", page=1, per_page=50
    )
    assert results.hits
    assert set(paper_ids(parsed)) == {hit.paper.id for hit in results.hits}
    published = [datetime(*entry.published_parsed[:6]) for entry in parsed.entries]
    assert published == sorted(published, reverse=True)
    assert parsed.feed.link == f"{BASE}/search?q=video&mode=keyword"
    assert "video" in parsed.feed.title
    filtered = fetch(client, f"/search/feed.{kind}?q=video&mode=keyword&cat=cs.CV", kind)
    assert set(paper_ids(filtered)) <= set(paper_ids(parsed))
    assert fetch(client, f"/search/feed.{kind}?q=", kind).entries == []


# --------------------------------------------------------------------------- hidden papers


def test_hidden_paper_is_in_no_feed(
    client: TestClient, store: SQLStore, records: list[Record]
) -> None:
    admin = make_user(store, "admin", admin=True)
    latest = day_of(records, "2024-12-04")
    target = max(latest.values(), key=lambda r: r.feed.upvotes or 0).paper  # type: ignore[union-attr]
    collections = CollectionStore(store.engine)
    public = collections.create(admin.id, "With it", is_public=True)
    collections.add_item(admin.id, public.id, target.id, "about to go")
    collections.add_item(admin.id, public.id, records[0].paper.id)
    word = max(re.findall(r"[A-Za-z]{6,}", target.title), key=len).lower()
    feeds = [
        "/feeds/daily.{}",
        "/feeds/trending.{}?window=week",
        f"/collections/{public.id}/feed.{{}}",
        f"/search/feed.{{}}?q={word}&mode=keyword",
    ]
    for path in feeds:
        for kind in ("rss", "atom"):
            assert target.id in paper_ids(fetch(client, path.format(kind), kind)), path
    store.activity.set_paper_hidden(admin.id, target.id, True, "spam")
    for path in feeds:
        for kind in ("rss", "atom"):
            parsed = fetch(client, path.format(kind), kind)
            assert target.id not in paper_ids(parsed), path
            assert parsed.entries or path.startswith("/search"), path
