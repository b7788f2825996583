"""Papers pushed over HTTP (``POST /api/papers/import``): the same shapes and upsert path as
``paperboy import``, for scripts that feed a running Paperboy.

Every item is checked on its own: bad ones are reported by position and the good ones are
stored in one transaction, so a push never half-succeeds silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from paperboy.errors import RecordRejected
from paperboy.ingest.shapes import BadRecord, to_record
from paperboy.models import Record
from paperboy.store.base import Store

MAX_ITEMS = 1000


@dataclass(slots=True)
class PushReport:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    feed_added: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (position, reason)


def push_records(store: Store, items: Sequence[Any], feed_day: date | None = None) -> PushReport:
    """Convert and store ``items`` (any shape ``paperboy import`` reads)."""
    report = PushReport()
    records: list[tuple[int, Record]] = []
    for position, obj in enumerate(items):
        try:
            records.append((position, to_record(obj, feed_day)))
        except BadRecord as exc:
            report.rejected.append((position, str(exc)))
    if not records:
        return report
    try:
        _add(report, store, [record for _, record in records])
    except RecordRejected:
        # The database refused one of them: store the others one by one and name the culprit.
        for position, record in records:
            try:
                _add(report, store, [record])
            except RecordRejected as exc:
                report.rejected.append((position, str(exc)))
        report.rejected.sort()
    return report


def _add(report: PushReport, store: Store, records: list[Record]) -> None:
    counts = store.upsert(records)
    report.inserted += counts.inserted
    report.updated += counts.updated
    report.unchanged += counts.unchanged + counts.older
    report.feed_added += counts.feed_added
