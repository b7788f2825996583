"""The store on SQLAlchemy Core: one implementation for every SQL backend.

``SQLStore`` is put together from one class per kind of data, each in its own module:

- ``papers``: reading papers and the feed;
- ``upsert``: writing them (merging records into what is stored);
- ``ingest_log``: the ingest log and the OAI-PMH harvest checkpoints;
- ``embeddings``: stored vectors; ``changes``: the revision and the change feed;

and holds the sub-stores of the community and email features as attributes. Engine-specific
details (pragmas, sizes, date functions) live in ``dialects``.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine, insert, update

from paperboy.models import Record, UpsertCounts
from paperboy.store.accounts import AccountStore
from paperboy.store.activity import ActivityStore
from paperboy.store.changes import ChangeFeed
from paperboy.store.collections import CollectionStore
from paperboy.store.comments import CommentStore
from paperboy.store.delivery import DeliveryStore
from paperboy.store.dialects import lock_state_row, write_options
from paperboy.store.digest_rows import DigestRows
from paperboy.store.embeddings import EmbeddingStore
from paperboy.store.ingest_log import IngestLog
from paperboy.store.papers import PaperReads
from paperboy.store.ratings import RatingStore
from paperboy.store.schema import store_state
from paperboy.store.subscriptions import SubscriptionStore
from paperboy.store.trending import TrendingQueries
from paperboy.store.upsert import upsert_in


class SQLStore(PaperReads, IngestLog, EmbeddingStore, ChangeFeed):
    """A store on any SQLAlchemy engine (SQLite by default)."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.accounts = AccountStore(engine)
        self.activity = ActivityStore(engine)
        self.subscriptions = SubscriptionStore(engine)
        self.delivery = DeliveryStore(engine)
        self.collections = CollectionStore(engine)
        self.comments = CommentStore(engine)
        self.trending = TrendingQueries(engine)
        self.digest_rows = DigestRows(engine)
        self.ratings = RatingStore(engine)

    def upsert(self, records: Sequence[Record], *, bulk: bool = False) -> UpsertCounts:
        if not records:
            return UpsertCounts()
        options = write_options(self.engine, bulk=bulk)
        with self.engine.connect().execution_options(**options) as conn, conn.begin():
            return upsert_in(conn, records)

    def reserve_slot(self, key: str, interval_ms: int, now_ms: int) -> int:
        """Reserve the next request slot of a paced service; returns milliseconds to wait.

        Slots are ``interval_ms`` apart for every process sharing this store, taken in one write
        transaction, so two processes never send at once.
        """
        name = f"pace:{key}"
        with self.engine.connect().execution_options(**self._write) as conn, conn.begin():
            query = lock_state_row(conn, name)
            last = conn.execute(query).scalar_one_or_none()
            slot = now_ms if last is None else max(now_ms, int(last) + interval_ms)
            if last is None:
                conn.execute(insert(store_state).values(key=name, value=slot))
            else:
                conn.execute(
                    update(store_state).where(store_state.c.key == name).values(value=slot)
                )
        return slot - now_ms

    def close(self) -> None:
        self.engine.dispose()
