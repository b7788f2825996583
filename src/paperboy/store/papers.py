"""Reading papers and the feed: pages of the feed, single papers, counts and sizes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, Literal

from sqlalchemy import and_, func, select

from paperboy.clock import chunks
from paperboy.models import CategoryFilter, FeedEntry, FeedItem, Paper
from paperboy.store.base import FeedPage, FeedSort, PeriodCount
from paperboy.store.dialects import category_clause, database_size_bytes, group_by_month
from paperboy.store.rows import SHOWN_ENTRY, SHOWN_UPVOTES, entry_from_row, paper_from_row
from paperboy.store.schema import feed_entries, paper_activity, papers
from paperboy.store.substore import SubStore


class PaperReads(SubStore):
    """Papers and the feed, read (a part of ``SQLStore``)."""

    def get_paper(self, paper_id: str) -> Paper | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(papers).where(papers.c.id == paper_id)).first()
        return paper_from_row(row) if row is not None else None

    def feed_entries_for(self, paper_id: str) -> list[FeedEntry]:
        """The paper's feed entries; counts include the votes and comments made here."""
        fe, pa = feed_entries, paper_activity
        query = (
            select(*SHOWN_ENTRY)
            .select_from(fe.outerjoin(pa, pa.c.paper_id == fe.c.paper_id))
            .where(fe.c.paper_id == paper_id)
            .order_by(fe.c.feed_date)
        )
        with self.engine.connect() as conn:
            return [entry_from_row(row) for row in conn.execute(query)]

    def feed(
        self,
        start: date,
        end: date,
        *,
        sort: FeedSort = "upvotes",
        offset: int = 0,
        limit: int = 50,
        categories: CategoryFilter | None = None,
    ) -> FeedPage:
        fe = feed_entries
        pa = paper_activity
        joined = fe.outerjoin(pa, pa.c.paper_id == fe.c.paper_id)
        # Hidden papers leave the feed; counts are the imported ones plus those made here.
        window = and_(fe.c.feed_date.between(start, end), pa.c.hidden_at.is_(None))
        with_papers = joined.join(papers, papers.c.id == fe.c.paper_id)
        shown = with_papers  # the page's rows, whatever the filter
        if categories:  # only papers listed in the wanted categories
            joined = with_papers
            window = and_(window, category_clause(papers.c.categories, categories))
        # Page through the small feed index first, then fetch only the papers on the page:
        # sorting whole paper rows (abstracts included) would cost far more.
        if sort == "published":
            keys = (
                select(fe.c.id)
                .select_from(with_papers)
                .where(window)
                .order_by(fe.c.feed_date.desc(), papers.c.published.desc(), fe.c.paper_id.desc())
            )
        else:
            keys = (
                select(fe.c.id)
                .select_from(joined)
                .where(window)
                .order_by(SHOWN_UPVOTES.desc(), fe.c.feed_date.desc(), fe.c.paper_id.desc())
            )
        with self.engine.connect() as conn:
            total = int(
                conn.execute(select(func.count()).select_from(joined).where(window)).scalar_one()
            )
            ids = list(conn.execute(keys.offset(offset).limit(limit)).scalars())
            rows = conn.execute(
                select(papers, fe.c.id.label("entry_id"), *SHOWN_ENTRY)
                .select_from(shown)
                .where(fe.c.id.in_(ids))
            ).all()
            before = conn.execute(select(func.max(fe.c.feed_date)).where(fe.c.feed_date < start))
            after = conn.execute(select(func.min(fe.c.feed_date)).where(fe.c.feed_date > end))
            neighbours = (before.scalar_one(), after.scalar_one())
        position = {entry_id: index for index, entry_id in enumerate(ids)}
        rows.sort(key=lambda row: position[row.entry_id])
        items = [FeedItem(paper=paper_from_row(r), entry=entry_from_row(r)) for r in rows]
        return FeedPage(items=items, total=total, before=neighbours[0], after=neighbours[1])

    def latest_feed_date(self) -> date | None:
        with self.engine.connect() as conn:
            return conn.execute(select(func.max(feed_entries.c.feed_date))).scalar_one()

    def feed_date_before(self, day: date) -> date | None:
        query = select(func.max(feed_entries.c.feed_date)).where(feed_entries.c.feed_date < day)
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one()

    def feed_date_after(self, day: date) -> date | None:
        query = select(func.min(feed_entries.c.feed_date)).where(feed_entries.c.feed_date > day)
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one()

    def count_papers(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(papers)).scalar_one())

    def count_feed_entries(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(feed_entries)).scalar_one())

    def feed_counts(self, by: Literal["day", "month"]) -> list[PeriodCount]:
        if by == "day":
            period: Any = feed_entries.c.feed_date
        else:
            period = group_by_month(self.engine, feed_entries.c.feed_date)
        query = (
            select(
                period.label("period"),
                func.count(),
                func.coalesce(func.sum(feed_entries.c.upvotes), 0),
            )
            .group_by(period)
            .order_by(period)
        )
        with self.engine.connect() as conn:
            return [
                PeriodCount(period=str(p), entries=int(n), upvotes=int(u))
                for p, n, u in conn.execute(query)
            ]

    def size_bytes(self) -> int:
        return database_size_bytes(self.engine)

    def get_papers(self, ids: Sequence[str]) -> dict[str, Paper]:
        """The stored papers among ``ids``, by id (missing ids are absent)."""
        found: dict[str, Paper] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(list(dict.fromkeys(ids))):
                for row in conn.execute(select(papers).where(papers.c.id.in_(chunk))):
                    found[row.id] = paper_from_row(row)
        return found

    def papers_by_doi(self, dois: Sequence[str]) -> dict[str, Paper]:
        """The stored papers whose DOI is one of ``dois`` (compared without case), by the DOI
        as given."""
        wanted = {d.strip().lower(): d for d in dois if d and d.strip()}
        found: dict[str, Paper] = {}
        column = func.lower(papers.c.doi)
        with self.engine.connect() as conn:
            for chunk in chunks(list(wanted)):
                for row in conn.execute(select(papers).where(column.in_(chunk))):
                    found[wanted[row.doi.lower()]] = paper_from_row(row)
        return found

    def vote_counts(self, ids: Sequence[str]) -> dict[str, tuple[int, int]]:
        """(upvotes, comments) of each paper among ``ids`` that was ever in the feed or has
        activity here: the largest imported counts of its feed entries (each entry is a
        snapshot of the same counters) plus the votes and comments made here."""
        out: dict[str, tuple[int, int]] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(list(dict.fromkeys(ids))):
                query = (
                    select(
                        feed_entries.c.paper_id,
                        func.max(feed_entries.c.upvotes),
                        func.max(feed_entries.c.num_comments),
                    )
                    .where(feed_entries.c.paper_id.in_(chunk))
                    .group_by(feed_entries.c.paper_id)
                )
                for paper_id, votes, comments in conn.execute(query):
                    out[paper_id] = (int(votes or 0), int(comments or 0))
                local = select(
                    paper_activity.c.paper_id, paper_activity.c.votes, paper_activity.c.comments
                ).where(paper_activity.c.paper_id.in_(chunk))
                for paper_id, votes, comments in conn.execute(local):
                    imported = out.get(paper_id, (0, 0))
                    out[paper_id] = (imported[0] + votes, imported[1] + comments)
        return out
