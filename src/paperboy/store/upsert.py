"""Writing papers and feed entries: a batch of records merged into what is stored (see ``merge``).

Every function here runs inside the caller's write transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update

from paperboy.clock import chunks, utc_now
from paperboy.models import FeedEntry, Paper, Record, UpsertCounts
from paperboy.store.dialects import executemany
from paperboy.store.merge import collapse_batch, merge_feed_entry, merge_paper
from paperboy.store.rows import entry_from_row, entry_values, paper_from_row, paper_values
from paperboy.store.schema import feed_entries, papers
from paperboy.store.substore import bump_revision


def upsert_in(conn: Any, records: Sequence[Record]) -> UpsertCounts:
    """Upsert ``records`` inside the caller's write transaction (bumps the revision)."""
    counts = UpsertCounts()
    if not records:
        return counts
    incoming = collapse_batch([r.paper for r in records])
    entries: dict[tuple[str, date], FeedEntry] = {}
    for record in records:
        if record.feed is not None:
            key = (record.feed.paper_id, record.feed.feed_date)
            prior = entries.get(key)
            entries[key] = record.feed if prior is None else merge_feed_entry(prior, record.feed)
    now = utc_now()
    stored: dict[str, Paper] = {}
    for ids in chunks(list(incoming)):
        for row in conn.execute(select(papers).where(papers.c.id.in_(ids))):
            stored[row.id] = paper_from_row(row)
    new_rows: list[dict[str, Any]] = []
    changed_rows: list[dict[str, Any]] = []
    for paper_id, paper in incoming.items():
        prior = stored.get(paper_id)
        if prior is None:
            new_rows.append(
                {
                    "id": paper_id,
                    **paper_values(paper),
                    "created_at": now,
                    "modified_at": now,
                }
            )
            counts.inserted += 1
            continue
        merged, outcome = merge_paper(prior, paper)
        if outcome == "updated":
            changed_rows.append({"b_id": paper_id, **paper_values(merged), "modified_at": now})
            counts.updated += 1
        elif outcome == "older":
            counts.older += 1
        else:
            counts.unchanged += 1
    bumped = False
    if new_rows or changed_rows:
        seq = bump_revision(conn)
        bumped = True
        for row in new_rows:
            row["change_seq"] = seq
        for row in changed_rows:
            row["change_seq"] = seq
    executemany(conn, insert(papers), new_rows)
    stmt = update(papers).where(papers.c.id == bindparam("b_id"))
    executemany(conn, stmt, changed_rows)
    if entries:
        _upsert_entries(conn, entries, set(stored), now, counts)
    if not bumped and (counts.feed_added or counts.feed_updated):
        bump_revision(conn)
    return counts


def _upsert_entries(
    conn: Any,
    entries: dict[tuple[str, date], FeedEntry],
    known: set[str],
    now: datetime,
    counts: UpsertCounts,
) -> None:
    stored: dict[tuple[str, date], FeedEntry] = {}
    # Papers first stored in this batch cannot have feed entries yet: look up the others.
    paper_ids = sorted({paper_id for paper_id, _ in entries if paper_id in known})
    for chunk in chunks(paper_ids):
        query = select(feed_entries).where(feed_entries.c.paper_id.in_(chunk))
        for row in conn.execute(query):
            key = (row.paper_id, row.feed_date)
            if key in entries:
                stored[key] = entry_from_row(row)
    new_rows: list[dict[str, Any]] = []
    changed_rows: list[dict[str, Any]] = []
    for key, entry in entries.items():
        prior = stored.get(key)
        if prior is None:
            new_rows.append(
                {
                    "paper_id": key[0],
                    "feed_date": key[1],
                    **entry_values(entry),
                    "created_at": now,
                }
            )
            counts.feed_added += 1
            continue
        merged = merge_feed_entry(prior, entry)
        if merged != prior:
            changed_rows.append({"b_pid": key[0], "b_day": key[1], **entry_values(merged)})
            counts.feed_updated += 1
    executemany(conn, insert(feed_entries), new_rows)
    stmt = update(feed_entries).where(
        feed_entries.c.paper_id == bindparam("b_pid"),
        feed_entries.c.feed_date == bindparam("b_day"),
    )
    executemany(conn, stmt, changed_rows)
