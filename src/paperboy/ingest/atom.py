"""Parse responses of arXiv's Atom API (``export.arxiv.org/api/query``) into ``Record``\\s.

Pure: bytes in, an :class:`AtomPage` out; no network, no store. The HTTP client that fetches
the bytes lives elsewhere.

A response is an Atom ``<feed>`` holding OpenSearch paging counts and one ``<entry>`` per paper.
arXiv reports a bad request (``id_list=abc``) as a feed with a single entry whose id is under
``https://arxiv.org/api/errors#`` and whose summary says what went wrong; that becomes
:class:`ArxivApiError`. A body that is not an Atom feed at all becomes :class:`AtomError`. One
unusable entry (no title, an id that is not an arXiv id, a date that does not parse) is listed
in :attr:`AtomPage.problems` and the rest of the page is still returned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from paperboy.arxiv_ids import parse_arxiv_id
from paperboy.errors import InvalidArxivId, PaperboyError
from paperboy.ingest.shapes import _withdrawn, categories_of
from paperboy.ingest.xml import (
    Skip,
    count_of,
    line_of,
    naive_utc,
    parse_document,
    parse_each,
    text_of,
)
from paperboy.models import Paper, Record, clean_abstract, clean_title

__all__ = ["ArxivApiError", "AtomError", "AtomPage", "parse_atom"]

ATOM_NS = "http://www.w3.org/2005/Atom"
ARXIV_NS = "http://arxiv.org/schemas/atom"
OPENSEARCH_NS = "http://a9.com/-/spec/opensearch/1.1/"

_FEED = f"{{{ATOM_NS}}}feed"
_ENTRY = f"{{{ATOM_NS}}}entry"
_ID = f"{{{ATOM_NS}}}id"
_TITLE = f"{{{ATOM_NS}}}title"
_SUMMARY = f"{{{ATOM_NS}}}summary"
_AUTHOR = f"{{{ATOM_NS}}}author"
_NAME = f"{{{ATOM_NS}}}name"
_CATEGORY = f"{{{ATOM_NS}}}category"
_PUBLISHED = f"{{{ATOM_NS}}}published"
_UPDATED = f"{{{ATOM_NS}}}updated"
_PRIMARY = f"{{{ARXIV_NS}}}primary_category"
_COMMENT = f"{{{ARXIV_NS}}}comment"
_JOURNAL_REF = f"{{{ARXIV_NS}}}journal_ref"
_DOI = f"{{{ARXIV_NS}}}doi"

_ERROR_ID = re.compile(r"^https?://(?:www\.|export\.)?arxiv\.org/api/errors\b", re.I)


class AtomError(PaperboyError):
    """The whole body is unusable: not XML, or XML that is not an Atom feed."""


class ArxivApiError(PaperboyError):
    """arXiv answered with an error entry; :attr:`message` holds its text."""

    def __init__(self, message: str) -> None:
        super().__init__(f"arXiv API error: {message}")
        self.message = message


@dataclass(frozen=True, slots=True)
class AtomPage:
    """One page of API results."""

    records: list[Record]  # one per good entry; feed=None (the API says nothing of the daily feed)
    problems: list[tuple[int, str]]  # (entry index from 1, reason) for each entry skipped
    total_results: int | None  # opensearch:totalResults
    start_index: int | None  # opensearch:startIndex
    items_per_page: int | None  # opensearch:itemsPerPage


def _count(feed: etree._Element, name: str) -> int | None:
    return count_of(text_of(feed.find(f"{{{OPENSEARCH_NS}}}{name}")))


def _moment(element: etree._Element | None, field: str) -> datetime | None:
    """An Atom date (``2021-04-20T16:07:14Z``) as a naive UTC datetime."""
    text = text_of(element).strip()
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        return naive_utc(parsed)
    except (ValueError, OverflowError) as exc:
        raise Skip(f"{field} is not a date: {text!r}") from exc


def _is_error_entry(entry: etree._Element) -> bool:
    return bool(_ERROR_ID.match(text_of(entry.find(_ID)).strip()))


def _error_message(entry: etree._Element) -> str:
    message = line_of(entry.find(_SUMMARY))
    if message:
        return message
    fragment = text_of(entry.find(_ID)).strip().partition("#")[2]
    return fragment.replace("_", " ") or "unspecified error"


def _paper(entry: etree._Element) -> Paper:
    raw_id = text_of(entry.find(_ID)).strip()
    if not raw_id:
        raise Skip("entry has no id")
    try:
        arxiv_id = parse_arxiv_id(raw_id)
    except InvalidArxivId as exc:
        raise Skip(f"entry id {raw_id[:200]!r} is not an arXiv id") from exc
    title = clean_title(text_of(entry.find(_TITLE)))
    if not title:
        raise Skip(f"entry {arxiv_id.canonical} has no title")
    authors = tuple(
        name
        for author in entry.iterfind(_AUTHOR)
        if (name := clean_title(text_of(author.find(_NAME))))
    )
    primary = entry.find(_PRIMARY)
    terms = [primary.get("term")] if primary is not None else []
    terms += [category.get("term") for category in entry.iterfind(_CATEGORY)]
    comments = line_of(entry.find(_COMMENT))
    return Paper(
        id=arxiv_id.canonical,
        title=title,
        abstract=clean_abstract(text_of(entry.find(_SUMMARY))),
        authors=authors,
        categories=categories_of([t.strip() for t in terms if t]),
        version=arxiv_id.version,
        published=_moment(entry.find(_PUBLISHED), "published"),
        updated=_moment(entry.find(_UPDATED), "updated"),
        comments=comments,
        journal_ref=line_of(entry.find(_JOURNAL_REF)),
        doi=line_of(entry.find(_DOI)),
        withdrawn=_withdrawn(comments),
    )


def parse_atom(body: bytes) -> AtomPage:
    """Parse one arXiv API response body.

    Raises :class:`AtomError` when the body is not an Atom feed and :class:`ArxivApiError`
    when arXiv answered with an error entry; a bad entry is reported in ``problems``.
    """
    root = parse_document(body, AtomError, "Atom feed", "<feed> in the Atom namespace")
    if root.tag != _FEED:
        raise AtomError(
            f"expected an Atom feed (root element {{{ATOM_NS}}}feed), got {str(root.tag)[:200]!r}"
        )
    entries = list(root.iterfind(_ENTRY))
    for entry in entries:
        if _is_error_entry(entry):
            raise ArxivApiError(_error_message(entry))
    records, problems = parse_each(entries, lambda entry: Record(_paper(entry)))
    return AtomPage(
        records=records,
        problems=problems,
        total_results=_count(root, "totalResults"),
        start_index=_count(root, "startIndex"),
        items_per_page=_count(root, "itemsPerPage"),
    )
