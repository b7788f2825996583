"""RSS 2.0 and Atom 1.0 documents built from plain data.

Both builders are pure functions of a :class:`FeedDoc`: the same data always gives the same
bytes (no clock is read; a feed without an explicit ``updated`` uses its newest item date,
else the Unix epoch). Documents are built with ``lxml.etree`` elements, never by string
concatenation, so every title, abstract and author text is escaped by construction.
Characters that XML 1.0 forbids (C0 controls other than tab/newline/carriage return, lone
surrogates, U+FFFE/U+FFFF) are dropped first, so one bad title cannot make a whole feed
malformed. Naive datetimes are taken as UTC.

Summaries are plain text. Atom says so (``type="text"``); RSS has no such flag and readers
treat ``<description>`` as HTML, so there the text is HTML-escaped before being XML-escaped
(a reader shows ``<script>`` as those literal characters; it never sees a tag).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

from lxml import etree

__all__ = [
    "ATOM_TYPE",
    "RSS_TYPE",
    "FeedDoc",
    "FeedItemDoc",
    "atom",
    "clean_xml_text",
    "feed_updated",
    "rss",
]

RSS_TYPE = "application/rss+xml; charset=utf-8"
ATOM_TYPE = "application/atom+xml; charset=utf-8"

ATOM_NS = "http://www.w3.org/2005/Atom"
DC_NS = "http://purl.org/dc/elements/1.1/"
_A = f"{{{ATOM_NS}}}"
_DC = f"{{{DC_NS}}}"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Everything outside XML 1.0's Char production. Python strings may hold lone surrogates
# (U+D800-U+DFFF); they fall outside both BMP ranges below and are removed too.
_INVALID_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True, slots=True)
class FeedItemDoc:
    """One entry: a paper, with an absolute ``link`` and a plain-text ``summary``."""

    id: str
    title: str
    link: str
    summary: str
    authors: tuple[str, ...] = ()
    published: datetime | None = None
    updated: datetime | None = None
    categories: tuple[str, ...] = ()
    comments_link: str | None = None


@dataclass(frozen=True, slots=True)
class FeedDoc:
    """A whole feed: ``link`` is the HTML page it mirrors, ``self_link`` the feed's own URL."""

    title: str
    link: str
    self_link: str
    description: str
    items: tuple[FeedItemDoc, ...]
    updated: datetime | None = None


def clean_xml_text(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot represent."""
    return _INVALID_XML.sub("", text)


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _rfc3339(value: datetime) -> str:
    return _utc(value).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _rfc822(value: datetime) -> str:
    return format_datetime(_utc(value).replace(microsecond=0), usegmt=True)


def _is_url(value: str) -> bool:
    return value.startswith(("http://", "https://"))


def feed_updated(doc: FeedDoc) -> datetime:
    """The feed's date: explicit, else the newest item date, else the Unix epoch (UTC)."""
    if doc.updated is not None:
        return _utc(doc.updated)
    dates = [_utc(d) for item in doc.items for d in (item.published, item.updated) if d]
    return max(dates, default=EPOCH)


def _sub(
    parent: etree._Element,
    tag: str,
    text: str | None = None,
    attrib: Mapping[str, str] | None = None,
) -> etree._Element:
    element = etree.SubElement(parent, tag)
    for key, value in (attrib or {}).items():
        element.set(key, clean_xml_text(value))
    if text is not None:
        element.text = clean_xml_text(text)
    return element


def _rss_html(text: str) -> str:
    # Readers (and feedparser) take an RSS <description> as HTML, so plain text is
    # HTML-escaped once before the XML escaping: "x<y" shows as "x<y", not a broken tag.
    return html.escape(clean_xml_text(text), quote=False)


def _serialize(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)


def rss(doc: FeedDoc) -> bytes:
    """The feed as RSS 2.0 (with ``atom:link rel="self"`` and ``dc:creator`` per author)."""
    root = etree.Element("rss", nsmap={"atom": ATOM_NS, "dc": DC_NS})
    root.set("version", "2.0")
    channel = _sub(root, "channel")
    _sub(channel, "title", doc.title)
    _sub(channel, "link", doc.link)
    _sub(channel, "description", _rss_html(doc.description))
    _sub(
        channel,
        f"{_A}link",
        attrib={"href": doc.self_link, "rel": "self", "type": "application/rss+xml"},
    )
    _sub(channel, "lastBuildDate", _rfc822(feed_updated(doc)))
    for item in doc.items:
        node = _sub(channel, "item")
        _sub(node, "title", item.title)
        _sub(node, "link", item.link)
        _sub(node, "description", _rss_html(item.summary))
        permalink = "true" if _is_url(item.id) else "false"
        _sub(node, "guid", item.id, {"isPermaLink": permalink})
        date = item.published or item.updated
        if date is not None:
            _sub(node, "pubDate", _rfc822(date))
        for author in item.authors:
            _sub(node, f"{_DC}creator", author)
        for category in item.categories:
            _sub(node, "category", category)
        if item.comments_link:
            _sub(node, "comments", item.comments_link)
    return _serialize(root)


def atom(doc: FeedDoc) -> bytes:
    """The feed as Atom 1.0 (RFC 4287); the feed's id is its ``self_link``."""
    updated = feed_updated(doc)
    root = etree.Element(f"{_A}feed", nsmap={None: ATOM_NS})
    _sub(root, f"{_A}id", doc.self_link)
    _sub(root, f"{_A}title", doc.title, {"type": "text"})
    _sub(root, f"{_A}subtitle", doc.description, {"type": "text"})
    self_attrib = {"rel": "self", "type": "application/atom+xml", "href": doc.self_link}
    _sub(root, f"{_A}link", attrib=self_attrib)
    _sub(root, f"{_A}link", attrib={"rel": "alternate", "type": "text/html", "href": doc.link})
    _sub(root, f"{_A}updated", _rfc3339(updated))
    if not doc.items or not all(item.authors for item in doc.items):
        # RFC 4287 4.1.1: a feed needs an author unless every entry has one.
        _sub(_sub(root, f"{_A}author"), f"{_A}name", doc.title)
    for item in doc.items:
        entry = _sub(root, f"{_A}entry")
        _sub(entry, f"{_A}id", item.id)
        _sub(entry, f"{_A}title", item.title, {"type": "text"})
        _sub(
            entry, f"{_A}link", attrib={"rel": "alternate", "type": "text/html", "href": item.link}
        )
        if item.comments_link:
            attrib = {"rel": "replies", "type": "text/html", "href": item.comments_link}
            _sub(entry, f"{_A}link", attrib=attrib)
        if item.published is not None:
            _sub(entry, f"{_A}published", _rfc3339(item.published))
        _sub(entry, f"{_A}updated", _rfc3339(item.updated or item.published or updated))
        for author in item.authors:
            _sub(_sub(entry, f"{_A}author"), f"{_A}name", author)
        _sub(entry, f"{_A}summary", item.summary, {"type": "text"})
        for category in item.categories:
            _sub(entry, f"{_A}category", attrib={"term": category})
    return _serialize(root)
