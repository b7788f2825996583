"""Real records from the shipped demo data set, for tests that need a populated store.

Rows become records through the importer's own converter, so every test sees papers exactly as
``paperboy import --demo`` stores them.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import replace
from datetime import date
from functools import lru_cache
from typing import Any

from paperboy.ingest import demo_data_path
from paperboy.ingest.shapes import daily_record
from paperboy.models import Record


@lru_cache(maxsize=1)
def demo_rows() -> tuple[dict[str, Any], ...]:
    with gzip.open(demo_data_path(), "rt", encoding="utf-8") as handle:
        return tuple(json.loads(line) for line in handle if line.strip())


def rows_between(first: str, last: str) -> list[dict[str, Any]]:
    """Demo rows whose feed date lies in ``first..last`` (ISO dates, inclusive)."""
    return [row for row in demo_rows() if first <= row["daily_date"] <= last]


def demo_record(
    row: dict[str, Any],
    *,
    submitted_by: str | None = None,
    feed_date: date | None = None,
    upvotes: int | None = None,
    **paper_changes: Any,
) -> Record:
    """The record the importer makes of ``row``, with optional changes for a test."""
    record = daily_record(row, None)
    assert record.feed is not None
    paper = replace(record.paper, **paper_changes)
    entry = replace(
        record.feed,
        paper_id=paper.id,
        submitted_by=submitted_by,
        feed_date=feed_date or record.feed.feed_date,
        upvotes=record.feed.upvotes if upvotes is None else upvotes,
    )
    return Record(paper=paper, feed=entry)
