"""Read-only store queries behind the trending ranking (``paperboy.rank.service``).

Reached as ``store.trending`` (or build ``TrendingQueries(store.engine)``). The queries only
read; the scoring itself is pure Python (``paperboy.rank.trending``), so every backend ranks
the same way (SQLite has no portable ``power()``).

Counts follow ``SQLStore.vote_counts``: a paper's imported upvotes are the largest of its feed
entries' upvotes (each entry is a snapshot of the same counters), plus the votes cast here.
Hidden papers are never returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import exists, func, select

from paperboy.clock import chunks
from paperboy.models import FeedEntry, FeedItem
from paperboy.store.records import PeriodEntry, TrendingRow
from paperboy.store.rows import SHOWN_ENTRY, entry_from_row, paper_from_row
from paperboy.store.schema import feed_entries, paper_activity, papers
from paperboy.store.substore import SubStore

__all__ = ["PeriodEntry", "TrendingQueries", "TrendingRow"]


class TrendingQueries(SubStore):
    def latest_feed_date(self) -> date | None:
        with self.engine.connect() as conn:
            return conn.execute(select(func.max(feed_entries.c.feed_date))).scalar_one()

    def candidates(self, first_day: date) -> list[TrendingRow]:
        """Visible papers with points (imported + local > 0) whose earliest feed day is
        ``first_day`` or later."""
        fe, pa = feed_entries, paper_activity
        earlier = feed_entries.alias("earlier")
        has_earlier = exists().where(
            earlier.c.paper_id == fe.c.paper_id, earlier.c.feed_date < first_day
        )
        imported = func.max(fe.c.upvotes)
        local = func.max(func.coalesce(pa.c.votes, 0))
        query = (
            select(
                fe.c.paper_id,
                func.min(fe.c.feed_date).label("entered"),
                imported.label("imported"),
                local.label("local"),
            )
            .select_from(fe.outerjoin(pa, pa.c.paper_id == fe.c.paper_id))
            .where(fe.c.feed_date >= first_day, pa.c.hidden_at.is_(None), ~has_earlier)
            .group_by(fe.c.paper_id)
            .having(imported + local > 0)
        )
        with self.engine.connect() as conn:
            return [
                TrendingRow(r.paper_id, r.entered, int(r.imported or 0), int(r.local or 0))
                for r in conn.execute(query)
            ]

    def paper(self, paper_id: str) -> TrendingRow | None:
        """The paper's trending inputs; None when it was never in the feed."""
        fe, pa = feed_entries, paper_activity
        query = select(
            func.min(fe.c.feed_date).label("entered"),
            func.max(fe.c.upvotes).label("imported"),
        ).where(fe.c.paper_id == paper_id)
        activity = select(pa.c.votes, pa.c.hidden_at).where(pa.c.paper_id == paper_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).one()
            act = conn.execute(activity).first()
        if row.entered is None:
            return None
        return TrendingRow(
            paper_id,
            row.entered,
            int(row.imported or 0),
            int(act.votes) if act is not None else 0,
            act is not None and act.hidden_at is not None,
        )

    def period_entries(self, start: date, end: date) -> list[PeriodEntry]:
        """Every visible feed entry dated ``start .. end`` (what the feed lists for the
        period), with its paper's earliest feed day."""
        fe, pa = feed_entries, paper_activity
        first = feed_entries.alias("first")
        entered = (
            select(func.min(first.c.feed_date))
            .where(first.c.paper_id == fe.c.paper_id)
            .scalar_subquery()
        )
        query = (
            select(
                fe.c.id,
                fe.c.paper_id,
                fe.c.feed_date,
                fe.c.upvotes,
                func.coalesce(pa.c.votes, 0).label("local"),
                entered.label("entered"),
            )
            .select_from(fe.outerjoin(pa, pa.c.paper_id == fe.c.paper_id))
            .where(fe.c.feed_date.between(start, end), pa.c.hidden_at.is_(None))
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        out = []
        for r in rows:
            day = r.entered if isinstance(r.entered, date) else date.fromisoformat(r.entered)
            out.append(
                PeriodEntry(r.id, r.paper_id, r.feed_date, int(r.upvotes or 0), int(r.local), day)
            )
        return out

    def items_by_entry(self, entry_ids: Sequence[int]) -> dict[int, FeedItem]:
        """Feed items for the given entries, counts as the feed shows them (imported + local)."""
        fe, pa = feed_entries, paper_activity
        out: dict[int, FeedItem] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(list(entry_ids)):
                query = (
                    select(papers, fe.c.id.label("entry_id"), *SHOWN_ENTRY)
                    .select_from(
                        fe.join(papers, papers.c.id == fe.c.paper_id).outerjoin(
                            pa, pa.c.paper_id == fe.c.paper_id
                        )
                    )
                    .where(fe.c.id.in_(chunk))
                )
                for r in conn.execute(query):
                    entry = entry_from_row(r)
                    out[int(r.entry_id)] = FeedItem(paper=paper_from_row(r), entry=entry)
        return out

    def items(self, paper_ids: Sequence[str]) -> dict[str, FeedItem]:
        """One feed item per paper, standing for the paper as a whole: its earliest feed day,
        the submitter of its community entry, and counts as ``SQLStore.vote_counts`` gives them
        (largest imported snapshot plus what happened here)."""
        ids = list(dict.fromkeys(paper_ids))
        found: dict[str, Any] = {}
        entries: dict[str, list[Any]] = {}
        activity: dict[str, tuple[int, int]] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(ids):
                for row in conn.execute(select(papers).where(papers.c.id.in_(chunk))):
                    found[row.id] = row
                query = (
                    select(feed_entries)
                    .where(feed_entries.c.paper_id.in_(chunk))
                    .order_by(feed_entries.c.feed_date)
                )
                for row in conn.execute(query):
                    entries.setdefault(row.paper_id, []).append(row)
                local = select(
                    paper_activity.c.paper_id, paper_activity.c.votes, paper_activity.c.comments
                ).where(paper_activity.c.paper_id.in_(chunk))
                for paper_id, votes, comments in conn.execute(local):
                    activity[paper_id] = (int(votes), int(comments))
        out: dict[str, FeedItem] = {}
        for paper_id in ids:
            rows = entries.get(paper_id)
            if paper_id not in found or not rows:
                continue
            first = rows[0]
            submitter = next(
                (r.submitted_by for r in rows if r.source == "daily" and r.submitted_by), None
            )
            votes, comments = activity.get(paper_id, (0, 0))
            entry = FeedEntry(
                paper_id=paper_id,
                feed_date=first.feed_date,
                source=first.source,
                submitted_by=submitter,
                upvotes=max(int(r.upvotes or 0) for r in rows) + votes,
                num_comments=max(int(r.num_comments or 0) for r in rows) + comments,
                announce_type=first.announce_type,
            )
            out[paper_id] = FeedItem(paper=paper_from_row(found[paper_id]), entry=entry)
        return out
