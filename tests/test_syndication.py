"""RSS 2.0 and Atom 1.0 feeds: parsed back with feedparser and lxml, hostile text included."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import feedparser
import pytest
from lxml import etree

from paperboy.syndication import (
    ATOM_TYPE,
    RSS_TYPE,
    FeedDoc,
    FeedItemDoc,
    atom,
    clean_xml_text,
    feed_updated,
    rss,
)

Builder = Callable[[FeedDoc], bytes]
BUILDERS = pytest.mark.parametrize("build", [rss, atom], ids=["rss", "atom"])

HOSTILE = (
    "A <script>alert(1)</script> ]]> & \"double\" 'single' \x00\x07\x0b\x0c\x1f\ud800\ufffe end"
)
HOSTILE_CLEAN = "A <script>alert(1)</script> ]]> & \"double\" 'single'  end"
UNICODE = "Équivariant réseaux 漢字 😀 naïve"


def item(n: int, **changes: object) -> FeedItemDoc:
    fields: dict[str, object] = {
        "id": f"https://paperboy.test/papers/2401.{n:05d}",
        "title": f"Paper {n}",
        "link": f"https://paperboy.test/papers/2401.{n:05d}",
        "summary": f"Abstract of paper {n}.",
        "authors": (f"Author {n}", "Second Author"),
        "published": datetime(2024, 1, n, 12, 30, tzinfo=UTC),
        "categories": ("cs.LG", "stat.ML"),
    }
    fields.update(changes)
    return FeedItemDoc(**fields)  # type: ignore[arg-type]


def feed(*items: FeedItemDoc, **changes: object) -> FeedDoc:
    fields: dict[str, object] = {
        "title": "Paperboy: daily",
        "link": "https://paperboy.test/",
        "self_link": "https://paperboy.test/feed.xml",
        "description": "Today's papers",
        "items": items,
    }
    fields.update(changes)
    return FeedDoc(**fields)  # type: ignore[arg-type]


def parse(data: bytes) -> feedparser.FeedParserDict:
    assert data.startswith(b"<?xml")
    etree.fromstring(data)  # well-formed for a strict parser too
    parsed = feedparser.parse(data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed


def summary_text(build: Builder, entry: feedparser.FeedParserDict) -> str:
    # RSS descriptions are HTML to every reader; the plain text is HTML-escaped inside it.
    return html.unescape(entry.summary) if build is rss else entry.summary


def test_content_types() -> None:
    assert RSS_TYPE == "application/rss+xml; charset=utf-8"
    assert ATOM_TYPE == "application/atom+xml; charset=utf-8"


@BUILDERS
def test_round_trip(build: Builder) -> None:
    doc = feed(item(1), item(2, comments_link="https://paperboy.test/papers/2401.00002#c"))
    parsed = parse(build(doc))
    assert parsed.version == ("rss20" if build is rss else "atom10")
    assert parsed.feed.title == "Paperboy: daily"
    assert parsed.feed.link == "https://paperboy.test/"
    self_links = [link.href for link in parsed.feed.links if link.rel == "self"]
    assert self_links == ["https://paperboy.test/feed.xml"]
    assert len(parsed.entries) == 2
    for n, entry in enumerate(parsed.entries, start=1):
        url = f"https://paperboy.test/papers/2401.{n:05d}"
        assert entry.title == f"Paper {n}"
        assert entry.link == url
        assert entry.id == url
        assert summary_text(build, entry) == f"Abstract of paper {n}."
        assert tuple(entry.published_parsed[:6]) == (2024, 1, n, 12, 30, 0)
        assert [a.name for a in entry.authors] == [f"Author {n}", "Second Author"]
        assert [t.term for t in entry.tags] == ["cs.LG", "stat.ML"]
    if build is rss:
        assert parsed.entries[1].comments == "https://paperboy.test/papers/2401.00002#c"


@BUILDERS
def test_hostile_text_stays_text(build: Builder) -> None:
    doc = feed(
        item(1, title=HOSTILE, summary=HOSTILE, authors=(HOSTILE,), categories=("a&b<c>",)),
        title=HOSTILE,
        description=HOSTILE,
    )
    data = build(doc)
    assert b"<script" not in data
    assert b"]]>" not in data
    root = etree.fromstring(data)
    texts = [el.text for el in root.iter() if isinstance(el.tag, str) and el.text]
    assert HOSTILE_CLEAN in texts
    parsed = parse(data)
    assert parsed.feed.title == HOSTILE_CLEAN
    (entry,) = parsed.entries
    assert entry.title == HOSTILE_CLEAN
    assert summary_text(build, entry) == HOSTILE_CLEAN
    assert [a.name for a in entry.authors] == [HOSTILE_CLEAN]
    assert [t.term for t in entry.tags] == ["a&b<c>"]


def test_rss_item_description_markup() -> None:
    root = etree.fromstring(rss(feed(item(1, summary="x<y & z"))))
    assert [el.text for el in root.iter("description")] == ["Today's papers", "x&lt;y &amp; z"]


@BUILDERS
def test_empty_feed(build: Builder) -> None:
    parsed = parse(build(feed()))
    assert parsed.feed.title == "Paperboy: daily"
    assert parsed.entries == []
    assert tuple(parsed.feed.updated_parsed[:6]) == (1970, 1, 1, 0, 0, 0)


@BUILDERS
def test_naive_datetimes_are_utc(build: Builder) -> None:
    naive = feed(item(1, published=datetime(2024, 1, 1, 12, 30)))
    aware = feed(item(1, published=datetime(2024, 1, 1, 12, 30, tzinfo=UTC)))
    shifted = feed(
        item(1, published=datetime(2024, 1, 1, 14, 30, tzinfo=timezone(timedelta(hours=2))))
    )
    assert build(naive) == build(aware) == build(shifted)
    (entry,) = parse(build(naive)).entries
    assert tuple(entry.published_parsed[:6]) == (2024, 1, 1, 12, 30, 0)


@BUILDERS
def test_unicode_survives(build: Builder) -> None:
    doc = feed(item(1, title=UNICODE, summary=UNICODE, authors=("Zoë 李",)), title=UNICODE)
    data = build(doc)
    assert UNICODE.encode() in data  # raw UTF-8, not character references
    parsed = parse(data)
    assert parsed.feed.title == UNICODE
    (entry,) = parsed.entries
    assert entry.title == UNICODE
    assert summary_text(build, entry) == UNICODE
    assert [a.name for a in entry.authors] == ["Zoë 李"]


@BUILDERS
def test_deterministic_and_dated_by_newest_item(build: Builder) -> None:
    doc = feed(item(1), item(3, updated=datetime(2024, 2, 1, 8, 0)), item(2))
    assert build(doc) == build(doc)
    assert feed_updated(doc) == datetime(2024, 2, 1, 8, 0, tzinfo=UTC)
    parsed = parse(build(doc))
    assert tuple(parsed.feed.updated_parsed[:6]) == (2024, 2, 1, 8, 0, 0)
    explicit = feed(item(1), updated=datetime(2025, 5, 5))
    assert feed_updated(explicit) == datetime(2025, 5, 5, tzinfo=UTC)


def test_atom_entry_updated_fallbacks() -> None:
    doc = feed(
        item(1, updated=datetime(2024, 1, 9)),
        item(2),
        item(3, published=None),
    )
    entries = parse(atom(doc)).entries
    updated = [tuple(e.updated_parsed[:6]) for e in entries]
    assert updated == [(2024, 1, 9, 0, 0, 0), (2024, 1, 2, 12, 30, 0), (2024, 1, 9, 0, 0, 0)]
    assert "published" not in entries[2]


def test_atom_feed_structure() -> None:
    root = etree.fromstring(atom(feed(item(1, comments_link="https://paperboy.test/c/1"))))
    ns = {"a": "http://www.w3.org/2005/Atom"}
    assert root.findtext("a:id", namespaces=ns) == "https://paperboy.test/feed.xml"
    assert root.findtext("a:updated", namespaces=ns) == "2024-01-01T12:30:00Z"
    links = {(ln.get("rel"), ln.get("type")): ln.get("href") for ln in root.findall("a:link", ns)}
    assert links == {
        ("self", "application/atom+xml"): "https://paperboy.test/feed.xml",
        ("alternate", "text/html"): "https://paperboy.test/",
    }
    entry = root.find("a:entry", ns)
    assert entry is not None
    assert entry.find("a:summary", ns).get("type") == "text"  # type: ignore[union-attr]
    replies = entry.find("a:link[@rel='replies']", ns)
    assert replies is not None and replies.get("href") == "https://paperboy.test/c/1"
    # Every entry has authors, so the feed needs none of its own (RFC 4287 4.1.1).
    assert root.find("a:author", ns) is None
    no_author = etree.fromstring(atom(feed(item(1, authors=()))))
    assert no_author.findtext("a:author/a:name", namespaces=ns) == "Paperboy: daily"


def test_rss_structure() -> None:
    root = etree.fromstring(rss(feed(item(1), item(2, id="urn:paper:2", published=None))))
    assert root.get("version") == "2.0"
    self_link = root.find("channel/{http://www.w3.org/2005/Atom}link")
    assert self_link is not None and self_link.get("rel") == "self"
    first, second = root.iter("item")
    assert first.findtext("pubDate") == "Mon, 01 Jan 2024 12:30:00 GMT"
    assert first.find("guid").get("isPermaLink") == "true"  # type: ignore[union-attr]
    creators = first.findall("{http://purl.org/dc/elements/1.1/}creator")
    assert [c.text for c in creators] == ["Author 1", "Second Author"]
    assert second.find("guid").get("isPermaLink") == "false"  # type: ignore[union-attr]
    assert second.find("pubDate") is None
    assert first.find("comments") is None


def test_clean_xml_text() -> None:
    assert clean_xml_text("a\tb\nc\rd") == "a\tb\nc\rd"
    assert clean_xml_text("\x00\x08\x0b\x0c\x0e\x1f\ud800\udfff\ufffe\uffff") == ""
    assert clean_xml_text("\x7f\x85\ue000\ufffd😀") == "\x7f\x85\ue000\ufffd😀"
