"""Parse one arXiv OAI-PMH ``ListRecords`` page in the ``arXivRaw`` format into ``Record``\\s.

Pure and streaming: bytes or a binary file in, an :class:`OaiPage` out; no network, no store.
The harvester (HTTP, pacing, checkpoints) lives elsewhere and feeds this one page at a time.

The body is read with :func:`lxml.etree.iterparse`; each ``<record>`` is converted when its end
tag arrives and then cleared, together with the records before it, so memory stays flat however
long the page is. Entities are never resolved, DTDs never loaded, the network never touched and
libxml2's size limits stay on; a body that declares a DOCTYPE is refused outright.

* ``<error code="...">`` under ``<OAI-PMH>`` becomes :class:`OaiError`.
* A body that is not OAI-PMH XML (empty, truncated, an HTML error page, malformed) becomes
  :class:`OaiParseError`; the page is then unusable as a whole and should be fetched again.
* One unusable record (no title, an id that is not an arXiv id, a date that does not parse) is
  listed in :attr:`OaiPage.problems`; the rest of the page is still returned.
* A header with ``status="deleted"`` adds its canonical id to :attr:`OaiPage.deleted`.

Mapping of an ``arXivRaw`` record onto :class:`~paperboy.models.Paper`:

* ``version`` is the highest ``vN`` listed; ``published`` is the date of ``v1`` (the earliest
  date when ``v1`` is missing) and ``updated`` the date of the highest version, both as naive UTC.
* ``authors`` is the one ``"A, B and C"`` string split in order; parenthesised affiliations
  (``"Sorina Ionica (LFANT, UB)"``) are dropped, as the Atom API keeps them apart from names.
  TeX accents (``Thom\\'e``) are kept as arXiv wrote them.
* ``withdrawn`` is true when the comment says so (the rule the other shapes use) or when the
  latest version is an empty ``0kb`` one: that is how arXiv records a withdrawal, and the
  comment of such a version often only gives the reason (``"The survey is not complete"``).
* The same id twice on one page keeps the record with the higher version (the later one on a
  tie), silently.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field, fields
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import BinaryIO

from lxml import etree

from paperboy.arxiv_ids import canonical_id
from paperboy.errors import InvalidArxivId, PaperboyError
from paperboy.ingest.shapes import _withdrawn, categories_of
from paperboy.ingest.xml import SAFE_OPTIONS, Skip, count_of, line_of, naive_utc, text_of
from paperboy.models import Paper, Record, clean_abstract, clean_title

__all__ = ["OAI_NS", "ARXIV_RAW_NS", "OaiError", "OaiPage", "OaiParseError", "parse_list_records"]

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
ARXIV_RAW_NS = "http://arxiv.org/OAI/arXivRaw/"

_ROOT = f"{{{OAI_NS}}}OAI-PMH"
_ERROR = f"{{{OAI_NS}}}error"
_LIST_RECORDS = f"{{{OAI_NS}}}ListRecords"
_RECORD = f"{{{OAI_NS}}}record"
_HEADER = f"{{{OAI_NS}}}header"
_IDENTIFIER = f"{{{OAI_NS}}}identifier"
_DATESTAMP = f"{{{OAI_NS}}}datestamp"
_METADATA = f"{{{OAI_NS}}}metadata"
_TOKEN = f"{{{OAI_NS}}}resumptionToken"
_RAW = f"{{{ARXIV_RAW_NS}}}arXivRaw"


def _raw(name: str) -> str:
    return f"{{{ARXIV_RAW_NS}}}{name}"


_DATESTAMP_TEXT = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})(?:T[0-9:]+Z)?", re.ASCII)
_VERSION_TEXT = re.compile(r"v([1-9][0-9]{0,8})", re.ASCII)
_EMPTY_SIZE = re.compile(r"0\s*kb", re.I)
_AUTHOR_SPLIT = re.compile(r"\s*,\s*(?:and\s+)?|\s+and\s+")

_CODE_MESSAGES = {
    "noRecordsMatch": (
        "no records match the request (nothing changed in that date range or set); "
        "this is not a failure: the harvest is up to date"
    ),
    "badResumptionToken": (
        "the resumption token has expired or is invalid; "
        "restart the harvest from the last datestamp harvested"
    ),
    "badArgument": (
        "the request had an illegal, missing or repeated argument "
        "(a fault in how the harvester built the request)"
    ),
    "badVerb": "the request's verb is missing, repeated or not an OAI-PMH verb",
    "cannotDisseminateFormat": (
        "the repository does not offer the requested metadata format (expected arXivRaw)"
    ),
    "idDoesNotExist": "the requested identifier is not known to the repository",
    "noMetadataFormats": "the repository offers no metadata formats for that item",
    "noSetHierarchy": "the repository does not support sets",
}


class OaiError(PaperboyError):
    """The repository answered with an OAI-PMH ``<error code="...">``."""

    def __init__(self, code: str, detail: str = "") -> None:
        self.code = code
        self.detail = detail
        explanation = _CODE_MESSAGES.get(code, "the repository reported an OAI-PMH error")
        message = f"OAI-PMH error {code or '(no code)'}: {explanation}"
        if detail:
            message += f" (repository said: {detail[:500]})"
        super().__init__(message)
        self.message = message


class OaiParseError(PaperboyError):
    """The whole body is unusable: empty, not well-formed XML, truncated, or not OAI-PMH."""


@dataclass(frozen=True, slots=True)
class OaiPage:
    """One ``ListRecords`` response page."""

    records: list[Record]  # one per good record; feed=None (OAI says nothing of the daily feed)
    deleted: list[str]  # canonical ids whose header has status="deleted"
    problems: list[tuple[str, str]]  # (header identifier or "record N", reason) per skipped record
    resumption_token: str | None  # None on the last page (absent or empty token)
    complete_list_size: int | None
    cursor: int | None
    max_datestamp: str | None  # the largest header datestamp on the page, YYYY-MM-DD


def _moment(text: str, label: str) -> datetime:
    """An RFC 2822 date (``Mon, 2 Apr 2007 19:18:42 GMT``) as a naive UTC datetime."""
    try:
        return naive_utc(parsedate_to_datetime(text))
    except (ValueError, TypeError, OverflowError, IndexError) as exc:
        raise Skip(f"{label} date is not an RFC 2822 date: {text[:100]!r}") from exc


def _authors(value: str) -> tuple[str, ...]:
    """``"A (X, Y), B and C"`` -> ``("A", "B", "C")``, affiliations in brackets dropped."""
    flat: list[str] = []
    depth = 0
    for char in value:
        if char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
        elif not depth:
            flat.append(char)
    parts = _AUTHOR_SPLIT.split(clean_title("".join(flat)))
    return tuple(name for part in parts if (name := clean_title(part)))


def _canonical(text: str, what: str) -> str:
    if not text:
        raise Skip(f"{what} is empty")
    try:
        return canonical_id(text)
    except InvalidArxivId as exc:
        raise Skip(f"{what} {text[:200]!r} is not an arXiv id") from exc


def _paper(raw: etree._Element) -> Paper:
    paper_id = _canonical(text_of(raw.find(_raw("id"))).strip(), "arXivRaw id")
    title = clean_title(text_of(raw.find(_raw("title"))))
    if not title:
        raise Skip(f"record {paper_id} has no title")
    versions: dict[int, etree._Element] = {}
    for version in raw.iterfind(_raw("version")):
        match = _VERSION_TEXT.fullmatch((version.get("version") or "").strip())
        if match:
            versions[int(match[1])] = version
    dates = {
        number: _moment(text, f"v{number}")
        for number, version in versions.items()
        if (text := text_of(version.find(_raw("date"))).strip())
    }
    latest = max(versions) if versions else None
    published = dates.get(1) or (min(dates.values()) if dates else None)
    updated = dates.get(latest) if latest is not None else None
    empty_latest = latest is not None and bool(
        _EMPTY_SIZE.fullmatch(text_of(versions[latest].find(_raw("size"))).strip())
    )
    comments = line_of(raw.find(_raw("comments")))
    return Paper(
        id=paper_id,
        title=title,
        abstract=clean_abstract(text_of(raw.find(_raw("abstract"))).strip()),
        authors=_authors(text_of(raw.find(_raw("authors")))),
        categories=categories_of(text_of(raw.find(_raw("categories")))),
        version=latest,
        published=published,
        updated=updated,
        comments=comments,
        journal_ref=line_of(raw.find(_raw("journal-ref"))),
        doi=line_of(raw.find(_raw("doi"))),
        license=line_of(raw.find(_raw("license"))),
        withdrawn=_withdrawn(comments) or empty_latest,
    )


def _open(source: bytes | bytearray | memoryview | BinaryIO) -> BinaryIO:
    if isinstance(source, bytes | bytearray | memoryview):
        return io.BytesIO(bytes(source))
    if hasattr(source, "read"):
        return source
    raise OaiParseError(
        f"expected the response body as bytes or a binary file, got {type(source).__name__}"
    )


def _events(stream: BinaryIO) -> etree.iterparse:
    """``iterparse`` of ``stream`` with entities, DTDs and the network off."""
    return etree.iterparse(
        stream, events=("start", "end"), remove_comments=True, remove_pis=True, **SAFE_OPTIONS
    )


def _check_root(element: etree._Element) -> None:
    if element.getroottree().docinfo.doctype:
        raise OaiParseError("response declares a DOCTYPE; an OAI-PMH response never does")
    if element.tag != _ROOT:
        raise OaiParseError(
            f"expected an OAI-PMH response (root element {_ROOT}), got {str(element.tag)[:200]!r}"
        )


@dataclass(slots=True)
class _PageBuilder:
    """What one page holds so far, fed the end of each element as ``iterparse`` reads it
    (the fields of :class:`OaiPage` under the same names, and the parse's own state)."""

    records: list[Record] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)
    resumption_token: str | None = None
    complete_list_size: int | None = None
    cursor: int | None = None
    max_datestamp: str | None = None
    where: dict[str, int] = field(default_factory=dict)  # canonical id -> index in records
    seen_root: bool = False
    seen_list: bool = False
    index: int = 0  # records seen, for the label of one without an identifier

    def end(self, element: etree._Element) -> None:
        tag = element.tag
        if tag == _RECORD:
            self.record(element)
            element.clear(keep_tail=False)  # memory stays flat: drop the records read
            while element.getprevious() is not None:
                del element.getparent()[0]
        elif tag == _ERROR:
            raise OaiError((element.get("code") or "").strip(), " ".join(text_of(element).split()))
        elif tag == _TOKEN:
            self.resumption_token = text_of(element).strip() or None
            self.complete_list_size = count_of(element.get("completeListSize"))
            self.cursor = count_of(element.get("cursor"))
        elif tag == _LIST_RECORDS:
            self.seen_list = True

    def record(self, element: etree._Element) -> None:
        """Take in one ``<record>``: a paper, a deleted id, or a problem."""
        self.index += 1
        header = element.find(_HEADER)
        identifier = text_of(header.find(_IDENTIFIER) if header is not None else None).strip()
        stamp = _DATESTAMP_TEXT.fullmatch(
            text_of(header.find(_DATESTAMP) if header is not None else None).strip()
        )
        if stamp and (self.max_datestamp is None or stamp[1] > self.max_datestamp):
            self.max_datestamp = stamp[1]
        label = identifier[:200] or f"record {self.index}"
        try:
            if header is not None and header.get("status") == "deleted":
                oai_id = identifier.removeprefix("oai:arXiv.org:")
                self.deleted.append(_canonical(oai_id, "deleted header identifier"))
            else:
                self.add(_paper(_raw_metadata(element)))
        except Skip as exc:
            self.problems.append((label, str(exc)))

    def add(self, paper: Paper) -> None:
        """The same id twice keeps the higher version (the later one on a tie)."""
        at = self.where.get(paper.id)
        if at is None:
            self.where[paper.id] = len(self.records)
            self.records.append(Record(paper))
        elif (paper.version or 0) >= (self.records[at].paper.version or 0):
            self.records[at] = Record(paper)

    def page(self) -> OaiPage:
        if not self.seen_list:
            raise OaiParseError("response is OAI-PMH but holds no ListRecords element")
        return OaiPage(**{f.name: getattr(self, f.name) for f in fields(OaiPage)})


def _raw_metadata(record: etree._Element) -> etree._Element:
    metadata = record.find(_METADATA)
    raw = metadata.find(_RAW) if metadata is not None else None
    if raw is None:
        raise Skip("record has no arXivRaw metadata")
    return raw


def parse_list_records(source: bytes | BinaryIO) -> OaiPage:
    """Parse one OAI-PMH ``ListRecords`` response (``metadataPrefix=arXivRaw``).

    Raises :class:`OaiError` for an OAI-PMH error answer and :class:`OaiParseError` for a body
    that is not a usable OAI-PMH response; a bad record is reported in ``problems``.
    """
    stream = _open(source)
    page = _PageBuilder()
    try:
        for event, element in _events(stream):
            if not page.seen_root:
                page.seen_root = True
                _check_root(element)
            elif event == "end":
                page.end(element)
    except etree.XMLSyntaxError as exc:
        raise OaiParseError(_syntax_message(exc, page.seen_root)) from exc
    except (etree.LxmlError, ValueError, LookupError) as exc:
        raise OaiParseError(f"response could not be read as XML: {exc}") from exc
    return page.page()


def _syntax_message(exc: etree.XMLSyntaxError, seen_root: bool) -> str:
    detail = str(exc.msg or exc)[:300]
    if not seen_root:
        return f"response is empty or not XML, expected an OAI-PMH response: {detail}"
    if seen_root and ("premature end" in detail.lower() or "end of data" in detail.lower()):
        return f"response is truncated (it ends before </OAI-PMH>): {detail}"
    return f"response is not well-formed XML, expected an OAI-PMH response: {detail}"
