"""Rows to records and back: papers and feed entries as the tables hold them."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, TypeVar

from sqlalchemy import Row, func

from paperboy.models import FeedEntry, Paper
from paperboy.store.schema import feed_entries, paper_activity

T = TypeVar("T")

_PAPER_COLUMNS = (
    "title",
    "abstract",
    "authors",
    "categories",
    "version",
    "published",
    "updated",
    "comments",
    "journal_ref",
    "doi",
    "license",
    "github_repo",
    "github_stars",
    "project_page",
    "withdrawn",
)


SHOWN_UPVOTES = (feed_entries.c.upvotes + func.coalesce(paper_activity.c.votes, 0)).label("upvotes")
SHOWN_COMMENTS = (feed_entries.c.num_comments + func.coalesce(paper_activity.c.comments, 0)).label(
    "num_comments"
)
SHOWN_ENTRY = (
    feed_entries.c.paper_id,
    feed_entries.c.feed_date,
    feed_entries.c.source,
    feed_entries.c.submitted_by,
    SHOWN_UPVOTES,
    SHOWN_COMMENTS,
    feed_entries.c.announce_type,
)
"""A feed entry's columns with its counts as the feed shows them: the imported ones plus the
votes and comments made here (the query must outer-join ``paper_activity``)."""


def record_from_row(cls: type[T], row: Row[Any] | Any, **converted: Any) -> T:
    """A ``cls`` from the row's columns of its field names; ``converted`` gives the fields
    that need more than the column's value (tuples for arrays, bools for flags)."""
    m = row._mapping
    values = {f.name: m[f.name] for f in fields(cls) if f.name not in converted}
    return cls(**values, **converted)


def paper_from_row(row: Row[Any] | Any) -> Paper:
    m = row._mapping
    return record_from_row(
        Paper,
        row,
        authors=tuple(m["authors"] or ()),
        categories=tuple(m["categories"] or ()),
        withdrawn=bool(m["withdrawn"]),
    )


def entry_from_row(row: Row[Any] | Any) -> FeedEntry:
    return record_from_row(FeedEntry, row)


def paper_values(paper: Paper) -> dict[str, Any]:
    values = {name: getattr(paper, name) for name in _PAPER_COLUMNS}
    values["authors"] = list(paper.authors)
    values["categories"] = list(paper.categories)
    values["primary_category"] = paper.primary_category
    return values


def entry_values(entry: FeedEntry) -> dict[str, Any]:
    return {
        "source": entry.source,
        "submitted_by": entry.submitted_by,
        "upvotes": entry.upvotes or 0,
        "num_comments": entry.num_comments or 0,
        "announce_type": entry.announce_type,
    }
