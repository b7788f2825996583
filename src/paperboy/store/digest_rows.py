"""Read-only store queries behind composing digests (``paperboy.digest.compose``).

Build ``DigestRows(store.engine)`` (or use the store's own, where it has one). Every query only
reads and speaks of rows and the shared models; every ``IN (...)`` list is cut into chunks of
``paperboy.clock.SQL_CHUNK``:

- :meth:`DigestRows.new_paper_ids`: the papers new since a day (in the feed on that day or
  later, or first published then);
- :meth:`DigestRows.vectors`: the stored embeddings (raw blobs) of some papers;
- :meth:`DigestRows.sent_papers` and :meth:`DigestRows.alerts`: what many subscribers were
  already sent and their saved searches, one query per chunk of subscribers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time

from sqlalchemy import Engine, select, union

from paperboy.clock import chunks
from paperboy.models import Alert
from paperboy.store.schema import alerts, embeddings, feed_entries, papers, sent_papers


class DigestRows:
    """The rows a digest is composed from, read over ``engine``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def new_paper_ids(self, first_day: date) -> set[str]:
        """Papers in the feed on ``first_day`` or later, or first published then."""
        since = datetime.combine(first_day, time())
        query = union(
            select(feed_entries.c.paper_id.label("id")).where(
                feed_entries.c.feed_date >= first_day
            ),
            select(papers.c.id.label("id")).where(papers.c.published >= since),
        )
        with self.engine.connect() as conn:
            return set(conn.execute(query).scalars())

    def vectors(self, model: str, ids: Sequence[str]) -> dict[str, bytes]:
        """The stored vector (as stored: float16 bytes) of each of ``ids`` that has one."""
        out: dict[str, bytes] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(ids):
                query = select(embeddings.c.paper_id, embeddings.c.vector).where(
                    embeddings.c.model == model, embeddings.c.paper_id.in_(chunk)
                )
                for pid, blob in conn.execute(query):
                    out[pid] = bytes(blob)
        return out

    def sent_papers(self, subscription_ids: Sequence[int]) -> dict[int, set[str]]:
        """Subscription id -> every paper already put into one of its digests (each id given
        has an entry)."""
        out: dict[int, set[str]] = {sid: set() for sid in subscription_ids}
        with self.engine.connect() as conn:
            for chunk in chunks(subscription_ids):
                query = select(sent_papers.c.subscription_id, sent_papers.c.paper_id).where(
                    sent_papers.c.subscription_id.in_(chunk)
                )
                for sid, pid in conn.execute(query):
                    out[sid].add(pid)
        return out

    def alerts(self, subscription_ids: Sequence[int]) -> dict[int, list[Alert]]:
        """Subscription id -> its alerts, oldest first (each id given has an entry)."""
        out: dict[int, list[Alert]] = {sid: [] for sid in subscription_ids}
        with self.engine.connect() as conn:
            for chunk in chunks(subscription_ids):
                query = select(alerts).where(alerts.c.subscription_id.in_(chunk))
                for r in conn.execute(query.order_by(alerts.c.id)):
                    out[r.subscription_id].append(
                        Alert(r.id, r.subscription_id, r.query, r.mode, r.created_at)
                    )
        return out


__all__ = ["DigestRows"]
