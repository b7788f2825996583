"""The store interface every backend implements. Views and services depend on this only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, Protocol

from sqlalchemy import Engine

from paperboy.models import (
    CategoryFilter,
    FeedEntry,
    FeedItem,
    IngestRun,
    Paper,
    Record,
    UpsertCounts,
)
from paperboy.store.accounts import AccountStore
from paperboy.store.activity import ActivityStore
from paperboy.store.collections import CollectionStore
from paperboy.store.comments import CommentStore
from paperboy.store.delivery import DeliveryStore
from paperboy.store.digest_rows import DigestRows
from paperboy.store.ratings import RatingStore
from paperboy.store.subscriptions import SubscriptionStore
from paperboy.store.trending import TrendingQueries

FeedSort = Literal["upvotes", "published"]


@dataclass(frozen=True, slots=True)
class FeedPage:
    items: list[FeedItem]
    total: int
    before: date | None = None  # the closest earlier day with entries
    after: date | None = None  # the closest later day with entries


@dataclass(frozen=True, slots=True)
class PeriodCount:
    period: str  # "YYYY-MM-DD" or "YYYY-MM"
    entries: int
    upvotes: int


class Store(Protocol):
    """Owns the schema. Sources write through ``upsert``; everything else only reads.

    The sub-stores (``accounts`` to ``digest_rows``) are the store's own classes, typed as
    themselves: each is one implementation in SQLAlchemy Core for both backends, so a Protocol
    would only restate its signatures. A new backend provides the methods below.
    """

    engine: Engine  # for the store's own query modules (``digest_rows``, ``transfer``)
    backend: str  # "sqlite" or "postgresql"
    accounts: AccountStore  # users, sessions, API tokens, rate counters, site secrets
    activity: ActivityStore  # votes, per-paper counters, moderation of papers, audit log
    subscriptions: SubscriptionStore  # email subscriptions, alerts, composed digests
    delivery: DeliveryStore  # the outbox's sending side: claims, retries, pauses
    collections: CollectionStore  # users' collections of papers, with notes
    comments: CommentStore  # comments under papers, moderation of comments and users
    trending: TrendingQueries  # the queries behind the trending ranking
    digest_rows: DigestRows  # the queries digests are composed from
    ratings: RatingStore  # readers' private ratings and followed categories and authors

    def upsert(self, records: Sequence[Record], *, bulk: bool = False) -> UpsertCounts:
        """Insert or merge papers and feed entries in one transaction (see ``merge``).

        ``bulk`` marks a batch of a large re-runnable import: the backend may relax per-commit
        durability (never consistency) for speed.
        """
        ...

    def reserve_slot(self, key: str, interval_ms: int, now_ms: int) -> int: ...

    def revision(self) -> int: ...

    def get_paper(self, paper_id: str) -> Paper | None: ...

    def get_papers(self, ids: Sequence[str]) -> dict[str, Paper]: ...

    def papers_by_doi(self, dois: Sequence[str]) -> dict[str, Paper]: ...

    def vote_counts(self, ids: Sequence[str]) -> dict[str, tuple[int, int]]: ...

    def feed_entries_for(self, paper_id: str) -> list[FeedEntry]: ...

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
        """Feed entries with ``start <= feed_date <= end``."""
        ...

    def latest_feed_date(self) -> date | None: ...

    def feed_date_before(self, day: date) -> date | None:
        """The closest earlier day that has feed entries."""
        ...

    def feed_date_after(self, day: date) -> date | None: ...

    def count_papers(self) -> int: ...

    def count_feed_entries(self) -> int: ...

    def feed_counts(self, by: Literal["day", "month"]) -> list[PeriodCount]: ...

    def size_bytes(self) -> int: ...

    def start_ingest(
        self, source: str, detail: str, *, host: str | None = None, pid: int | None = None
    ) -> int:
        """Log a run as 'running'; ``host`` and ``pid`` say which process owns it."""
        ...

    def finish_ingest(
        self,
        run_id: int,
        status: str,
        *,
        inserted: int,
        updated: int,
        skipped: int,
        errors: int,
        message: str | None = None,
    ) -> None: ...

    def ingest_runs(self, limit: int = 20, *, status: str | None = None) -> list[IngestRun]: ...

    def close(self) -> None: ...

    # -- the change feed and embeddings (for search indexes) --------------------------------

    def changed_papers(
        self, after_seq: int, *, after_id: str = "", limit: int = 1000
    ) -> list[tuple[int, Paper]]: ...

    def change_seqs(self, ids: Sequence[str]) -> dict[str, int]: ...

    def papers_to_embed(
        self, model: str, *, after_id: str = "", limit: int = 256
    ) -> list[tuple[int, Paper, str | None]]: ...

    def count_papers_to_embed(self, model: str) -> int: ...

    def save_embeddings(
        self, model: str, rows: Sequence[tuple[str, int, str, bytes | None]]
    ) -> int: ...

    def finish_copy(self, batch: int = 5000) -> int: ...

    def embeddings_since(
        self, model: str, after_seq: int, *, after_id: str = "", limit: int = 5000
    ) -> list[tuple[int, str, bytes]]: ...

    def embedding_of(self, model: str, paper_id: str) -> bytes | None: ...

    def count_embeddings(self, model: str) -> int: ...

    def embedding_hashes(self, model: str, ids: Sequence[str]) -> dict[str, str]: ...

    def harvest_state(self, set_spec: str) -> HarvestState | None:
        """The OAI-PMH harvest checkpoint of ``set_spec``; None before its first harvest."""
        ...

    def save_harvest_page(
        self,
        set_spec: str,
        records: Sequence[Record],
        *,
        next_token: str | None,
        progress: HarvestProgress,
        deleted: Sequence[str] = (),
    ) -> UpsertCounts:
        """Store one harvested page and advance the checkpoint, in ONE transaction.

        ``deleted`` ids are marked withdrawn when stored (never deleted). After a crash the
        checkpoint names exactly the first page whose records are not stored.
        """
        ...

    def finish_harvest(self, set_spec: str, last_datestamp: str | None) -> None:
        """Clear the resumption token; record ``last_datestamp`` (kept when None)."""
        ...


@dataclass(frozen=True, slots=True)
class HarvestProgress:
    """Where a harvest in progress stands, saved with each page."""

    from_date: str | None
    until_date: str | None
    pages_done: int
    records_done: int
    max_datestamp: str | None


@dataclass(frozen=True, slots=True)
class HarvestState:
    set_spec: str
    last_datestamp: str | None  # YYYY-MM-DD of the last completed harvest
    from_date: str | None
    until_date: str | None
    resumption_token: str | None  # the next page to fetch while a harvest is in progress
    max_datestamp: str | None
    pages_done: int
    records_done: int
    updated_at: datetime
