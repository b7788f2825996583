"""arXiv's daily announcements, from its RSS listing feeds (``rss.arxiv.org/rss/<category>``).

Each feed (documented at https://info.arxiv.org/help/rss.html) is RSS 2.0 holding one
``<item>`` per paper announced in the latest mailing of a category or archive. Its
``<arxiv:announce_type>`` tells ``new`` submissions, ``cross`` lists from other categories, and
replacements (``replace``, ``replace-cross``) apart. On days without announcements the channel
has no items.

New papers and cross-lists become feed entries (source ``arxiv``) on the announcement day, with
their announce type; a replacement is not new, so it only updates the paper (its version goes
up). Every fetch is one run in the ingest log (source ``rss``).

Parsing is pure (bytes in, announcements out) and as guarded as the Atom and OAI-PMH parsers:
no entity expansion, no network, DOCTYPE refused. A body that is not an arXiv RSS feed becomes
:class:`RssError`; one unusable item is listed as a problem and the rest are kept.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

from lxml import etree

from paperboy.arxiv_ids import parse_arxiv_id
from paperboy.errors import InvalidArxivId, PaperboyError
from paperboy.ingest.http import ArxivHttp
from paperboy.ingest.runs import logged_run
from paperboy.ingest.shapes import _names, categories_of
from paperboy.ingest.xml import Skip, line_of, parse_document, parse_each, text_of
from paperboy.models import FeedEntry, Paper, Record, UpsertCounts, clean_abstract, clean_title
from paperboy.store.base import Store

__all__ = [
    "ANNOUNCE_TYPES",
    "SOURCE",
    "AnnounceReport",
    "Announcement",
    "CategoryReport",
    "RssError",
    "fetch_announcements",
    "parse_rss",
]

SOURCE = "rss"
ANNOUNCE_TYPES = ("new", "cross", "replace", "replace-cross")
"""What ``<arxiv:announce_type>`` may say; only ``new`` and ``cross`` are new on the day."""
FEED_TYPES = ("new", "cross")

ARXIV_NS = "http://arxiv.org/schemas/atom"
DC_NS = "http://purl.org/dc/elements/1.1/"
_ANNOUNCE_TYPE = f"{{{ARXIV_NS}}}announce_type"
_CREATOR = f"{{{DC_NS}}}creator"
_RIGHTS = f"{{{DC_NS}}}rights"

EASTERN = ZoneInfo("America/New_York")  # arXiv announces on US Eastern days

_DESCRIPTION_ID = re.compile(r"^\s*arXiv:(\S+)", re.I)
_DESCRIPTION_TYPE = re.compile(r"Announce Type:\s*(\S+)", re.I)
_ABSTRACT = re.compile(r"Abstract:\s*", re.I)
_GUID_PREFIX = re.compile(r"^oai:arXiv\.org:", re.I)


class RssError(PaperboyError):
    """The whole body is unusable: not XML, or XML that is not an arXiv RSS feed."""


@dataclass(frozen=True, slots=True)
class Announcement:
    """One paper in one day's listing of a category."""

    paper: Paper
    announce_type: str  # one of ANNOUNCE_TYPES
    day: date  # the announcement day (US Eastern)


def _day(text: str) -> date | None:
    """An RFC 822 date (``Mon, 30 Sep 2024 00:00:00 -0400``) as its US Eastern day."""
    text = text.strip()
    if not text:
        return None
    try:
        moment = parsedate_to_datetime(text)
        if moment.tzinfo is not None:
            moment = moment.astimezone(EASTERN)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return moment.date() if isinstance(moment, datetime) else None


def _item_id(item: etree._Element, description: str) -> tuple[str, int | None]:
    candidates: list[str] = []
    if match := _DESCRIPTION_ID.match(description):
        candidates.append(match[1])
    candidates.append(text_of(item.find("link")).strip())
    candidates.append(_GUID_PREFIX.sub("", text_of(item.find("guid")).strip()))
    for raw in candidates:
        if not raw:
            continue
        try:
            parsed = parse_arxiv_id(raw)
        except InvalidArxivId:
            continue
        return parsed.canonical, parsed.version
    shown = next((c for c in candidates if c), "")
    if shown:
        raise Skip(f"item id {shown[:200]!r} is not an arXiv id")
    raise Skip("item has no arXiv id")


def _announcement(item: etree._Element, channel_day: date | None) -> Announcement:
    description = text_of(item.find("description"))
    paper_id, version = _item_id(item, description)
    kind = (line_of(item.find(_ANNOUNCE_TYPE)) or "").lower()
    if not kind and (match := _DESCRIPTION_TYPE.search(description)):
        kind = match[1].lower()
    if kind not in ANNOUNCE_TYPES:
        raise Skip(f"item {paper_id} has an unknown announce type {kind[:50]!r}")
    title = clean_title(text_of(item.find("title")))
    if not title:
        raise Skip(f"item {paper_id} has no title")
    day = _day(text_of(item.find("pubDate"))) or channel_day
    if day is None:
        raise Skip(f"item {paper_id} has no announcement date")
    parts = _ABSTRACT.split(description, maxsplit=1)
    abstract = clean_abstract(parts[1]) if len(parts) == 2 else ""
    terms = [term for c in item.iterfind("category") if (term := line_of(c))]
    rights = line_of(item.find(_RIGHTS)) or ""
    paper = Paper(
        id=paper_id,
        title=title,
        abstract=abstract,
        authors=_names(text_of(item.find(_CREATOR))),
        categories=categories_of(terms),
        version=version,
        license=rights[:255] or None,
    )
    return Announcement(paper=paper, announce_type=kind, day=day)


def parse_rss(body: bytes) -> tuple[date | None, list[Announcement], list[tuple[int, str]]]:
    """Parse one arXiv RSS feed: (channel day, announcements, problems).

    The channel day is the channel's ``pubDate`` (else ``lastBuildDate``) as a US Eastern date.
    Announcements keep feed order; a repeated id keeps its first item. Problems are
    ``(item index from 1, reason)``. Raises :class:`RssError` when the body is not such a feed.
    """
    root = parse_document(body, RssError, "RSS feed", "<rss><channel>")
    if root.tag != "rss":
        raise RssError(f"expected an RSS feed (root element rss), got {str(root.tag)[:200]!r}")
    channel = root.find("channel")
    if channel is None:
        raise RssError("RSS feed has no <channel>")
    channel_day = _day(text_of(channel.find("pubDate"))) or _day(
        text_of(channel.find("lastBuildDate"))
    )
    parsed, problems = parse_each(
        channel.iterfind("item"), lambda item: _announcement(item, channel_day)
    )
    first = {a.paper.id: a for a in reversed(parsed)}  # a repeated id keeps its first item
    announcements = [a for a in parsed if first[a.paper.id] is a]
    return channel_day, announcements, problems


def _record(announcement: Announcement) -> Record:
    if announcement.announce_type not in FEED_TYPES:
        return Record(announcement.paper)  # a replacement is not new on the day
    entry = FeedEntry(
        paper_id=announcement.paper.id,
        feed_date=announcement.day,
        source="arxiv",
        announce_type=announcement.announce_type,
    )
    return Record(announcement.paper, entry)


@dataclass
class CategoryReport:
    category: str
    day: date | None = None
    types: dict[str, int] = field(default_factory=dict)  # announce type -> items
    problems: list[str] = field(default_factory=list)
    error: str | None = None  # the feed could not be used; nothing stored from it


@dataclass
class AnnounceReport:
    categories: list[CategoryReport] = field(default_factory=list)
    counts: UpsertCounts = field(default_factory=UpsertCounts)

    @property
    def types(self) -> dict[str, int]:
        """Items per announce type over all categories."""
        total = dict.fromkeys(ANNOUNCE_TYPES, 0)
        for category in self.categories:
            for kind, n in category.types.items():
                total[kind] = total.get(kind, 0) + n
        return total

    @property
    def failed(self) -> list[CategoryReport]:
        return [c for c in self.categories if c.error is not None]

    @property
    def problems(self) -> list[str]:
        return [f"{c.category}: {p}" for c in self.categories for p in c.problems]


def _fetch_one(store: Store, http: ArxivHttp, category: str, report: AnnounceReport) -> None:
    result = CategoryReport(category)
    report.categories.append(result)
    base = http.settings.arxiv_rss_url.rstrip("/")
    answer = http.get(f"{base}/{category}", {})
    try:
        day, announcements, problems = parse_rss(answer.body)
    except RssError as exc:
        if answer.status != 200:
            result.error = f"arXiv answered HTTP {answer.status}, not an RSS feed: {exc}"
        else:
            result.error = str(exc)
        return
    result.day = day
    result.problems = [f"item {i}: {why}" for i, why in problems]
    for announcement in announcements:
        kind = announcement.announce_type
        result.types[kind] = result.types.get(kind, 0) + 1
    if announcements:
        report.counts.add(store.upsert([_record(a) for a in announcements]))


def fetch_announcements(store: Store, http: ArxivHttp, categories: Sequence[str]) -> AnnounceReport:
    """Fetch each category's RSS feed and store its announcements; one run in the ingest log.

    A feed that is not usable is reported in its :class:`CategoryReport` (``error``) and the
    other categories are still fetched; :class:`~paperboy.ingest.http.ArxivUnavailable` is let
    through (categories stored before stay stored).
    """
    report = AnnounceReport()
    wanted = list(dict.fromkeys(c.strip() for c in categories if c.strip()))
    c = report.counts

    def tally() -> tuple[int, int, int, int]:
        errors = len(report.failed) + len(report.problems)
        return c.inserted, c.updated, c.unchanged + c.older, errors

    with logged_run(store, SOURCE, ", ".join(wanted), tally) as run:
        for category in wanted:
            _fetch_one(store, http, category, report)
        failed = report.failed
        if not failed and not report.problems:
            run.status = "ok"
        elif len(failed) < len(report.categories):
            run.status = "partial"
        lines = [f"{c.category}: {c.error}" for c in failed] + report.problems
        run.message = "; ".join(lines[:5])[:1000] or None
    return report
