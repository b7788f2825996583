"""Turn one decoded JSON object of a known real shape into a ``Record``. Pure, no I/O.

Shapes recognised (by their keys, per record, so mixed files work):
- ``hf_daily_item``: an item of Hugging Face's ``/api/daily_papers`` (``{"paper": {...}, ...}``),
  in every schema generation from 2024 to 2026;
- ``hf_paper``: the flat ``/api/papers/{id}`` object (``id``, ``summary``, author objects);
- ``daily_record``: flat Daily Papers records (``id``, ``daily_date``, ``upvotes``, ...), the shape
  of the shipped demo data;
- ``arxiv_snapshot``: the arXiv bulk metadata snapshot (``versions``, ``authors_parsed``, ...);
- ``arxiv_listing``: arXiv daily listing records (``first_listed``, ``listed_dates``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from paperboy.arxiv_ids import OLD_ARCHIVES, canonical_id
from paperboy.errors import InvalidArxivId, PaperboyError
from paperboy.ingest.xml import naive_utc
from paperboy.models import FeedEntry, Paper, Record, clean_abstract, clean_title


class BadRecord(PaperboyError, ValueError):
    """One record that cannot be used; the importer reports it with its line and moves on."""


_CATEGORY = re.compile(r"^([a-z][a-z-]*)(\.[A-Za-z][A-Za-z-]*)?$")
_ARCHIVES = OLD_ARCHIVES | {"econ", "eess"}
_MAX_COUNT = 2**31 - 1
_WITHDRAWN = re.compile(r"\b(has been|is) withdrawn\b|\bwithdrawn by\b|^withdrawn\b", re.I)
_VERSION = re.compile(r"^v(\d+)$")


def _text(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRecord(f"field {field!r} should be text, got {type(value).__name__}")
    value = value.strip()
    return value or None


def _int(value: Any, field: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise BadRecord(f"field {field!r} should be a number, got {type(value).__name__}")
    try:
        number = int(value)
    except (ValueError, OverflowError) as exc:
        raise BadRecord(f"field {field!r} should be a number, got {value!r}") from exc
    if not 0 <= number <= _MAX_COUNT:
        raise BadRecord(f"field {field!r} is out of range (0..{_MAX_COUNT}): {number}")
    return number


def _datetime(value: Any, field: str) -> datetime | None:
    """ISO 8601 (``2024-05-24T17:34:15.000Z``) or RFC 2822 (``Mon, 2 Apr 2007 19:18:42 GMT``)."""
    text = _text(value, field)
    if text is None:
        return None
    try:
        if text[:4].isdigit():
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        else:
            parsed = parsedate_to_datetime(text)
        return naive_utc(parsed)
    except (ValueError, TypeError, OverflowError) as exc:
        raise BadRecord(f"field {field!r} is not a date: {text!r}") from exc


def _date(value: Any, field: str) -> date | None:
    moment = _datetime(value, field)
    return moment.date() if moment else None


def _paper_id(value: Any) -> str:
    text = _text(value, "id")
    if text is None:
        raise BadRecord("record has no 'id'")
    try:
        return canonical_id(text)
    except InvalidArxivId as exc:
        raise BadRecord(str(exc)) from exc


def _title(value: Any) -> str:
    text = _text(value, "title")
    if text is None:
        raise BadRecord("record has no title")
    return clean_title(text)


def _names(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):  # "A. One, B. Two and C. Three"
        parts = re.split(r",\s*(?:and\s+)?|\s+and\s+", clean_title(value))
        return tuple(p for p in parts if p)
    if not isinstance(value, list):
        raise BadRecord(f"field 'authors' should be a list, got {type(value).__name__}")
    if all(isinstance(a, str) for a in value):  # the common case, fast
        return tuple(" ".join(a.split()) for a in value if a and not a.isspace())
    names: list[str] = []
    for author in value:
        name = author.get("name") if isinstance(author, dict) else author
        if not isinstance(name, str):
            raise BadRecord("an author has no name")
        if name.strip():
            names.append(clean_title(name))
    return tuple(names)


def categories_of(value: Any) -> tuple[str, ...]:
    """arXiv categories from a list or a space-separated string, primary first; other class
    strings (ACM, MSC, "na") are dropped."""
    if value is None:
        return ()
    items = value.split() if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise BadRecord("field 'categories' should be a list or a space-separated string")
    seen: list[str] = []
    for item in items:
        if not isinstance(item, str) or item in seen:
            continue
        match = _CATEGORY.match(item)
        if match and match[1] in _ARCHIVES:  # drops ACM/MSC class strings and "na"
            seen.append(item)
    return tuple(seen)


def _url(value: Any, field: str) -> str | None:
    text = _text(value, field)
    if text is None:
        return None
    return text if re.match(r"^https?://", text, re.I) else None


_CAMEL_LINKS = ("githubRepo", "githubStars", "projectPage")  # Hugging Face's field names
_SNAKE_LINKS = ("github_repo", "github_stars", "project_page")  # Paperboy's export


def _links(obj: dict[str, Any], names: tuple[str, str, str]) -> dict[str, Any]:
    """The code and project links of a Daily Papers record, under its ``names``."""
    repo, stars, page = names
    return {
        "github_repo": _url(obj.get(repo), repo),
        "github_stars": _int(obj.get(stars), stars),
        "project_page": _url(obj.get(page), page),
    }


def _user(value: Any) -> str | None:
    if isinstance(value, dict):
        return _text(value.get("user") or value.get("name"), "submittedBy")
    return _text(value, "submitted_by")


def _parsed_author(part: Any) -> str:
    """``["Last", "First", "Suffix"]`` (snapshot ``authors_parsed``) as ``First Last Suffix``."""
    if not isinstance(part, list) or not all(isinstance(p, str) for p in part):
        raise BadRecord("each entry of 'authors_parsed' should be a list of text")
    return clean_title(" ".join(p for p in (*part[1:2], part[0], *part[2:3]) if p))


def _withdrawn(comments: str | None) -> bool:
    return bool(comments and _WITHDRAWN.search(comments))


def hf_daily_item(obj: dict[str, Any], feed_day: date | None) -> Record:
    paper = obj.get("paper")
    if not isinstance(paper, dict):
        raise BadRecord("field 'paper' should be an object")
    paper_id = _paper_id(paper.get("id"))
    record = Paper(
        id=paper_id,
        title=_title(paper.get("title") or obj.get("title")),
        abstract=clean_abstract(_text(paper.get("summary") or obj.get("summary"), "summary") or ""),
        authors=_names(paper.get("authors")),
        published=_datetime(paper.get("publishedAt"), "paper.publishedAt"),
        **_links(paper, _CAMEL_LINKS),
    )
    day = (
        feed_day
        or _date(paper.get("submittedOnDailyAt"), "paper.submittedOnDailyAt")
        or _date(obj.get("publishedAt"), "publishedAt")
    )
    if day is None:
        raise BadRecord("item has no feed date (submittedOnDailyAt or publishedAt)")
    entry = FeedEntry(
        paper_id=paper_id,
        feed_date=day,
        source="daily",
        submitted_by=_user(obj.get("submittedBy") or paper.get("submittedOnDailyBy")),
        upvotes=_int(paper.get("upvotes"), "paper.upvotes"),
        num_comments=_int(obj.get("numComments"), "numComments"),
    )
    return Record(record, entry)


def _flat_paper(
    obj: dict[str, Any], abstract: str, published: str, links: tuple[str, str, str], *, cats: bool
) -> Paper:
    """The paper of a flat Daily Papers record under Hugging Face's or Paperboy's field names;
    only Paperboy's has ``categories`` (``cats``)."""
    return Paper(
        id=_paper_id(obj.get("id")),
        title=_title(obj.get("title")),
        abstract=clean_abstract(_text(obj.get(abstract), abstract) or ""),
        authors=_names(obj.get("authors")),
        categories=categories_of(obj.get("categories")) if cats else (),
        published=_datetime(obj.get(published), published),
        **_links(obj, links),
    )


def hf_paper(obj: dict[str, Any], feed_day: date | None) -> Record:
    return Record(_flat_paper(obj, "summary", "publishedAt", _CAMEL_LINKS, cats=False))


def daily_record(obj: dict[str, Any], feed_day: date | None) -> Record:
    record = _flat_paper(obj, "abstract", "published_at", _SNAKE_LINKS, cats=True)
    day = _date(obj.get("daily_date"), "daily_date")
    if day is None:
        raise BadRecord("record has no 'daily_date'")
    entry = FeedEntry(
        paper_id=record.id,
        feed_date=day,
        source="daily",
        submitted_by=_user(obj.get("submitted_by")),
        upvotes=_int(obj.get("upvotes"), "upvotes"),
        num_comments=_int(obj.get("num_comments"), "num_comments"),
    )
    return Record(record, entry)


def arxiv_snapshot(obj: dict[str, Any], feed_day: date | None) -> Record:
    versions = obj.get("versions") or []
    if not isinstance(versions, list):
        raise BadRecord("field 'versions' should be a list")
    numbers: list[int] = []
    stamps: list[datetime] = []
    for entry in versions:
        if not isinstance(entry, dict):
            raise BadRecord("each entry of 'versions' should be an object")
        match = _VERSION.match(str(entry.get("version", "")))
        if match:
            numbers.append(int(match[1]))
        stamp = _datetime(entry.get("created"), "versions.created")
        if stamp:
            stamps.append(stamp)
    parsed = obj.get("authors_parsed")
    if isinstance(parsed, list) and parsed:
        authors = tuple(_parsed_author(part) for part in parsed if part)
    else:
        authors = _names(obj.get("authors"))
    comments = _text(obj.get("comments"), "comments")
    record = Paper(
        id=_paper_id(obj.get("id")),
        title=_title(obj.get("title")),
        abstract=clean_abstract(_text(obj.get("abstract"), "abstract") or ""),
        authors=authors,
        categories=categories_of(obj.get("categories")),
        version=max(numbers) if numbers else None,
        published=min(stamps) if stamps else None,
        updated=max(stamps) if stamps else None,
        comments=comments,
        journal_ref=_text(obj.get("journal-ref"), "journal-ref"),
        doi=_text(obj.get("doi"), "doi"),
        license=_text(obj.get("license"), "license"),
        withdrawn=_withdrawn(comments),
    )
    return Record(record)


def arxiv_listing(obj: dict[str, Any], feed_day: date | None) -> Record:
    paper_id = _paper_id(obj.get("id"))
    comments = _text(obj.get("comment"), "comment")
    record = Paper(
        id=paper_id,
        title=_title(obj.get("title")),
        abstract=clean_abstract(_text(obj.get("abstract"), "abstract") or ""),
        authors=_names(obj.get("authors")),
        categories=categories_of(obj.get("categories")),
        comments=comments,
        withdrawn=_withdrawn(comments),
    )
    day = _date(obj.get("first_listed"), "first_listed")
    entry = FeedEntry(paper_id, day, source="arxiv") if day else None
    return Record(record, entry)


Converter = Callable[[dict[str, Any], date | None], Record]


def detect(obj: dict[str, Any]) -> tuple[str, Converter]:
    if isinstance(obj.get("data"), list) and "id" not in obj:
        raise BadRecord("a wrapper object: import its 'data' list instead")
    if "paper" in obj:
        return "hf_daily_item", hf_daily_item
    if "versions" in obj or "authors_parsed" in obj or "update_date" in obj:
        return "arxiv_snapshot", arxiv_snapshot
    if "first_listed" in obj or "listed_dates" in obj:
        return "arxiv_listing", arxiv_listing
    if "daily_date" in obj:
        return "daily_record", daily_record
    if "summary" in obj and "id" in obj:
        return "hf_paper", hf_paper
    raise BadRecord(
        "unrecognised record: expected a Daily Papers item ('paper'), a Daily Papers record "
        "('daily_date'), an arXiv snapshot record ('versions') or an arXiv listing ('first_listed')"
    )


def to_record(obj: Any, feed_day: date | None = None) -> Record:
    """Convert one decoded JSON value; raises ``BadRecord`` with a reason."""
    if isinstance(obj, str):
        raise BadRecord(
            "found a text string where a JSON object was expected "
            "(Python-printed text rather than JSON?)"
        )
    if not isinstance(obj, dict):
        raise BadRecord(f"expected a JSON object, got {type(obj).__name__}")
    _, convert = detect(obj)
    record = convert(obj, feed_day)
    _check_encodable(record.paper)
    return record


def _check_encodable(paper: Paper) -> None:
    """Reject text no database can store (lone UTF-16 surrogates from ``\\ud800`` escapes)."""
    texts = [paper.title, paper.abstract, paper.comments or "", *paper.authors]
    for text in texts:
        if not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise BadRecord("text holds an invalid character (a lone surrogate)") from exc
