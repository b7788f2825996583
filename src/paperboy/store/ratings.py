"""Ratings and reader profiles in the store: a reader's private thumbs up and down, and the
categories and authors they follow, which the personal ranker reads.

Ratings are private: nothing here bumps the store revision (no anonymous page shows them), and
no query joins them to another user's rows. A rating is one row per reader and paper; rating
again replaces it, so a double click never counts twice.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select

from paperboy.clock import chunks, utc_now
from paperboy.models import Rating, ReaderProfile
from paperboy.store.dialects import insert_for
from paperboy.store.schema import ratings, reader_profiles
from paperboy.store.substore import SubStore

__all__ = ["RatingStore"]


def _rating(row: Any) -> Rating:
    return Rating(
        user_id=int(row.user_id),
        paper_id=row.paper_id,
        value=int(row.value),
        source=row.source,
        created_at=row.created_at,
    )


class RatingStore(SubStore):
    """``store.ratings``: one reader's ratings and profile."""

    def rate(self, user_id: int, paper_id: str, value: int, source: str) -> Rating:
        """Record (or replace) the reader's rating of a paper that is in the store."""
        now = utc_now()
        values = {"value": value, "source": source, "created_at": now}
        stmt = insert_for(self.engine, ratings).values(user_id=user_id, paper_id=paper_id, **values)
        stmt = stmt.on_conflict_do_update(index_elements=["user_id", "paper_id"], set_=values)
        with self._writer() as conn, conn.begin():
            conn.execute(stmt)
        return Rating(user_id, paper_id, value, source, now)

    def rate_many(self, user_id: int, paper_ids: Sequence[str], value: int, source: str) -> int:
        """Rate many papers at once (a library file, seed papers), in one transaction; a paper
        already rated keeps its rating. Returns how many were added."""
        now = utc_now()
        rows = [
            {
                "user_id": user_id,
                "paper_id": pid,
                "value": value,
                "source": source,
                "created_at": now,
            }
            for pid in dict.fromkeys(paper_ids)
        ]
        if not rows:
            return 0
        stmt = insert_for(self.engine, ratings).on_conflict_do_nothing(
            index_elements=["user_id", "paper_id"]
        )
        held = self.values_for(user_id, [r["paper_id"] for r in rows])
        with self._writer() as conn, conn.begin():
            for part in chunks(rows, 500):
                conn.execute(stmt, list(part))
        return len(rows) - len(held)

    def unrate(self, user_id: int, paper_id: str) -> bool:
        """Take the rating back; False when there was none."""
        where = (ratings.c.user_id == user_id) & (ratings.c.paper_id == paper_id)
        with self._writer() as conn, conn.begin():
            return conn.execute(delete(ratings).where(where)).rowcount > 0

    def ratings_of(self, user_id: int, *, offset: int = 0, limit: int = 1000) -> list[Rating]:
        """The reader's ratings, newest first."""
        query = (
            select(ratings)
            .where(ratings.c.user_id == user_id)
            .order_by(ratings.c.created_at.desc(), ratings.c.paper_id)
            .offset(offset)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [_rating(row) for row in conn.execute(query)]

    def count_of(self, user_id: int) -> dict[int, int]:
        """How many ratings the reader gave, by value (+1, -1)."""
        query = (
            select(ratings.c.value, func.count())
            .where(ratings.c.user_id == user_id)
            .group_by(ratings.c.value)
        )
        with self.engine.connect() as conn:
            return {int(value): int(n) for value, n in conn.execute(query)}

    def values_for(self, user_id: int, paper_ids: Sequence[str]) -> dict[str, int]:
        """The reader's rating of each of ``paper_ids`` that they rated."""
        out: dict[str, int] = {}
        with self.engine.connect() as conn:
            for part in chunks(list(dict.fromkeys(paper_ids))):
                query = select(ratings.c.paper_id, ratings.c.value).where(
                    ratings.c.user_id == user_id, ratings.c.paper_id.in_(part)
                )
                out.update({pid: int(value) for pid, value in conn.execute(query)})
        return out

    # -- the profile ----------------------------------------------------------------------------

    def profile(self, user_id: int) -> ReaderProfile:
        """The reader's profile (an empty one when they set nothing yet)."""
        query = select(reader_profiles).where(reader_profiles.c.user_id == user_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return ReaderProfile(user_id)
        return ReaderProfile(
            user_id=user_id,
            categories=tuple(row.categories or ()),
            authors=tuple(row.authors or ()),
            feed_key=row.feed_key,
            last_visit_at=row.last_visit_at,
        )

    def _save(self, user_id: int, **values: Any) -> None:
        now = utc_now()
        first = {"categories": [], "authors": [], "updated_at": now, **values}
        stmt = insert_for(self.engine, reader_profiles).values(user_id=user_id, **first)
        stmt = stmt.on_conflict_do_update(
            index_elements=["user_id"], set_={"updated_at": now, **values}
        )
        with self._writer() as conn, conn.begin():
            conn.execute(stmt)

    def set_follows(
        self, user_id: int, *, categories: Sequence[str], authors: Sequence[str]
    ) -> None:
        """Replace the followed categories and authors."""
        self._save(user_id, categories=list(categories), authors=list(authors))

    def visited(self, user_id: int, at: datetime | None = None) -> None:
        """Note a visit of the reader's page (what "new since your last visit" counts from)."""
        self._save(user_id, last_visit_at=at or utc_now())

    def feed_key(self, user_id: int, *, renew: bool = False) -> str:
        """The secret of the reader's Atom feed URL, made on first use; ``renew`` replaces it
        (the old URL stops working)."""
        current = self.profile(user_id).feed_key
        if current is not None and not renew:
            return current
        key = secrets.token_urlsafe(24)
        self._save(user_id, feed_key=key)
        return key

    def user_of_feed_key(self, key: str) -> int | None:
        query = select(reader_profiles.c.user_id).where(reader_profiles.c.feed_key == key)
        with self.engine.connect() as conn:
            found = conn.execute(query).scalar()
        return None if found is None else int(found)

    def forget(self, user_id: int) -> int:
        """Delete every rating and the profile of the reader; returns the ratings deleted."""
        with self._writer() as conn, conn.begin():
            n = conn.execute(delete(ratings).where(ratings.c.user_id == user_id)).rowcount
            conn.execute(delete(reader_profiles).where(reader_profiles.c.user_id == user_id))
        return int(n)
