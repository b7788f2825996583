"""Hugging Face Papers API shapes: pure functions from Paperboy records to JSON-ready dicts.

The routes in ``paperboy.web.api`` only fetch records and hand them here, so every decision about
field names, nesting and formats lives in this module. The shapes follow what
``huggingface.co/api/daily_papers`` and ``/api/papers/{id}`` return and what
``huggingface_hub.HfApi`` (``list_daily_papers``, ``paper_info``) reads:

* dates are UTC strings in ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (the client's ``parse_datetime``);
* Paperboy has no MongoDB ids, so ``_id`` and ``discussionId`` values are stable 24-hex-digit
  hashes of the paper id (plus the author's position, or the user name);
* a feed entry only knows its day, so "submitted on daily" times are that day at midnight UTC.

Paperboy extension (a superset of Hugging Face's item): a daily item repeats ``projectPage``,
``githubRepo`` and ``githubStars`` at its top level. ``huggingface_hub``'s ``PaperInfo`` reads
those three keys from the top level only, while Hugging Face nests them in ``paper``; without
the copies the real client would report them as ``None`` for every daily paper.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Any

from paperboy.models import FeedEntry, FeedItem, Paper

JsonDict = dict[str, Any]


def hf_datetime(value: datetime | date | None) -> str | None:
    """``2024-05-24T17:34:15.000Z``: UTC, millisecond precision. Naive datetimes are UTC."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime.combine(value, time())
    elif value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return f"{value:%Y-%m-%dT%H:%M:%S}.{value.microsecond // 1000:03d}Z"


def object_id(*parts: object) -> str:
    """A stable stand-in for a MongoDB ObjectId: 24 hex digits hashed from ``parts``."""
    text = "\x1f".join(str(part) for part in parts)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def hf_authors(paper: Paper) -> list[JsonDict]:
    return [
        {"_id": object_id(paper.id, "author", index), "name": name, "hidden": False}
        for index, name in enumerate(paper.authors)
    ]


def hf_user(username: str | None) -> JsonDict | None:
    """The user object of a submitter; Paperboy only knows the user name.

    Both ``name`` (what Hugging Face sends) and ``user`` (what ``huggingface_hub``'s ``User``
    reads as ``username``) carry it.
    """
    if not username:
        return None
    return {
        "_id": object_id("user", username),
        "avatarUrl": "",
        "fullname": username,
        "name": username,
        "user": username,
        "type": "user",
        "isPro": False,
    }


def _links(paper: Paper) -> JsonDict:
    return {
        "projectPage": paper.project_page,
        "githubRepo": paper.github_repo,
        "githubStars": paper.github_stars,
    }


def _paper_core(paper: Paper) -> JsonDict:
    return {
        "id": paper.id,
        "authors": hf_authors(paper),
        "publishedAt": hf_datetime(paper.published),
    }


def daily_paper_item(item: FeedItem) -> JsonDict:
    """One element of ``/api/daily_papers``.

    Top-level ``publishedAt`` is when the paper entered the feed (its feed day); the nested
    ``paper.publishedAt`` is the paper's own publication time.
    """
    paper, entry = item.paper, item.entry
    submitted_at = hf_datetime(entry.feed_date)
    submitter = hf_user(entry.submitted_by)
    nested: JsonDict = {
        **_paper_core(paper),
        "submittedOnDailyAt": submitted_at,
        "title": paper.title,
    }
    if submitter is not None:
        nested["submittedOnDailyBy"] = submitter
    nested |= {
        "summary": paper.abstract,
        "upvotes": entry.upvotes or 0,
        "discussionId": object_id(paper.id, "discussion"),
        **_links(paper),
    }
    result: JsonDict = {
        "paper": nested,
        "publishedAt": submitted_at,
        "title": paper.title,
        "summary": paper.abstract,
        "thumbnail": None,
        "numComments": entry.num_comments or 0,
    }
    if submitter is not None:
        result["submittedBy"] = submitter
    result["isAuthorParticipating"] = False
    result |= _links(paper)  # see the module docstring: for huggingface_hub's PaperInfo
    return result


def daily_papers(items: Sequence[FeedItem]) -> list[JsonDict]:
    return [daily_paper_item(item) for item in items]


def _counted_entry(entries: Sequence[FeedEntry]) -> FeedEntry | None:
    """The entry whose counts stand for the paper: the latest community one, else the latest."""
    if not entries:
        return None
    daily = [e for e in entries if e.source == "daily"]
    return max(daily or entries, key=lambda e: e.feed_date)


def paper_detail(paper: Paper, entries: Sequence[FeedEntry]) -> JsonDict:
    """The flat object of ``/api/papers/{id}``.

    ``upvotes`` and ``numComments`` come from the paper's most recent "daily" (community) feed
    entry, or its most recent entry of any source when it has no community one. They are not
    summed: every entry's counts are a snapshot of the same per-paper counters, taken when that
    day was imported, so a sum would count the same votes more than once; the latest snapshot is
    the most up to date. ``submittedOnDailyAt`` and ``submittedOnDailyBy`` describe the paper's
    first appearance in the feed. A paper never seen in the feed has 0 upvotes and comments.
    """
    counted = _counted_entry(entries)
    first = min(entries, key=lambda e: e.feed_date) if entries else None
    result: JsonDict = _paper_core(paper)
    if first is not None:
        result["submittedOnDailyAt"] = hf_datetime(first.feed_date)
    result["title"] = paper.title
    submitter = hf_user(first.submitted_by if first is not None else None)
    if submitter is not None:
        result["submittedOnDailyBy"] = submitter
    result |= {
        "summary": paper.abstract,
        "upvotes": (counted.upvotes or 0) if counted is not None else 0,
        "discussionId": object_id(paper.id, "discussion"),
        **_links(paper),
        "numComments": (counted.num_comments or 0) if counted is not None else 0,
    }
    return result


def search_item(paper: Paper, upvotes: int, comments: int, why: JsonDict | None = None) -> JsonDict:
    """One element of ``/api/papers/search``: Hugging Face's shape (a paper nested in an item,
    title and summary repeated on top), plus Paperboy's ``why`` (what the result matched)."""
    nested: JsonDict = {
        **_paper_core(paper),
        "title": paper.title,
        "summary": paper.abstract,
        "upvotes": upvotes,
        "discussionId": object_id(paper.id, "discussion"),
        **_links(paper),
    }
    result: JsonDict = {
        "paper": nested,
        "publishedAt": hf_datetime(paper.published),
        "title": paper.title,
        "summary": paper.abstract,
        "thumbnail": None,
        "numComments": comments,
        "isAuthorParticipating": False,
    }
    result |= _links(paper)
    if why is not None:
        result["why"] = why
    return result
