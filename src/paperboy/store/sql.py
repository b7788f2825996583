"""The store on SQLAlchemy Core: one implementation for every SQL backend.

Engine-specific details (pragmas, sizes, date functions) live in ``dialects``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any, Literal

from sqlalchemy import (
    Engine,
    Row,
    and_,
    bindparam,
    delete,
    func,
    insert,
    select,
    text,
    tuple_,
    update,
)

from paperboy.models import FeedEntry, FeedItem, IngestRun, Paper, Record, UpsertCounts
from paperboy.store import dialects
from paperboy.store.accounts import AccountStore
from paperboy.store.activity import ActivityStore
from paperboy.store.base import (
    FeedPage,
    FeedSort,
    HarvestProgress,
    HarvestState,
    PeriodCount,
)
from paperboy.store.delivery import DeliveryStore
from paperboy.store.merge import collapse_batch, merge_feed_entry, merge_paper
from paperboy.store.schema import (
    embeddings,
    feed_entries,
    harvest_state,
    ingest_log,
    paper_activity,
    papers,
    store_state,
)
from paperboy.store.subscriptions import SubscriptionStore

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
_CHUNK = 500  # ids per IN (...) clause


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


_REBUILD_ABOVE = 5000  # finish_copy: missing vectors above which the HNSW index is rebuilt


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def paper_from_row(row: Row[Any] | Any) -> Paper:
    m = row._mapping
    return Paper(
        id=m["id"],
        title=m["title"],
        abstract=m["abstract"],
        authors=tuple(m["authors"] or ()),
        categories=tuple(m["categories"] or ()),
        version=m["version"],
        published=m["published"],
        updated=m["updated"],
        comments=m["comments"],
        journal_ref=m["journal_ref"],
        doi=m["doi"],
        license=m["license"],
        github_repo=m["github_repo"],
        github_stars=m["github_stars"],
        project_page=m["project_page"],
        withdrawn=bool(m["withdrawn"]),
    )


def _entry_from_row(row: Row[Any] | Any) -> FeedEntry:
    m = row._mapping
    return FeedEntry(
        paper_id=m["paper_id"],
        feed_date=m["feed_date"],
        source=m["source"],
        submitted_by=m["submitted_by"],
        upvotes=m["upvotes"],
        num_comments=m["num_comments"],
        announce_type=m["announce_type"],
    )


def _paper_values(paper: Paper) -> dict[str, Any]:
    values = {name: getattr(paper, name) for name in _PAPER_COLUMNS}
    values["authors"] = list(paper.authors)
    values["categories"] = list(paper.categories)
    values["primary_category"] = paper.primary_category
    return values


def _entry_values(entry: FeedEntry) -> dict[str, Any]:
    return {
        "source": entry.source,
        "submitted_by": entry.submitted_by,
        "upvotes": entry.upvotes or 0,
        "num_comments": entry.num_comments or 0,
        "announce_type": entry.announce_type,
    }


class SQLStore:
    """A store on any SQLAlchemy engine (SQLite by default)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.backend = engine.dialect.name
        self._write = dialects.write_options(engine)
        self.accounts = AccountStore(engine)
        self.activity = ActivityStore(engine)
        self.subscriptions = SubscriptionStore(engine)
        self.delivery = DeliveryStore(engine)

    # -- writes ---------------------------------------------------------------------------

    def upsert(self, records: Sequence[Record], *, bulk: bool = False) -> UpsertCounts:
        if not records:
            return UpsertCounts()
        options = dialects.write_options(self.engine, bulk=bulk)
        with self.engine.connect().execution_options(**options) as conn, conn.begin():
            return self._upsert_in(conn, records)

    def _upsert_in(self, conn: Any, records: Sequence[Record]) -> UpsertCounts:
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
                entries[key] = (
                    record.feed if prior is None else merge_feed_entry(prior, record.feed)
                )
        now = _now()
        stored: dict[str, Paper] = {}
        for ids in _chunks(list(incoming)):
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
                        **_paper_values(paper),
                        "created_at": now,
                        "modified_at": now,
                    }
                )
                counts.inserted += 1
                continue
            merged, outcome = merge_paper(prior, paper)
            if outcome == "updated":
                changed_rows.append({"b_id": paper_id, **_paper_values(merged), "modified_at": now})
                counts.updated += 1
            elif outcome == "older":
                counts.older += 1
            else:
                counts.unchanged += 1
        bumped = False
        if new_rows or changed_rows:
            seq = self._bump_revision(conn)
            bumped = True
            for row in new_rows:
                row["change_seq"] = seq
            for row in changed_rows:
                row["change_seq"] = seq
        dialects.executemany(conn, insert(papers), new_rows)
        stmt = update(papers).where(papers.c.id == bindparam("b_id"))
        dialects.executemany(conn, stmt, changed_rows)
        if entries:
            self._upsert_entries(conn, entries, set(stored), now, counts)
        if not bumped and (counts.feed_added or counts.feed_updated):
            self._bump_revision(conn)
        return counts

    def _bump_revision(self, conn: Any) -> int:
        """Advance the revision inside the caller's write transaction; returns the new value."""
        stmt = (
            update(store_state)
            .where(store_state.c.key == "revision")
            .values(value=store_state.c.value + 1)
            .returning(store_state.c.value)
        )
        return int(conn.execute(stmt).scalar_one())

    def reserve_slot(self, key: str, interval_ms: int, now_ms: int) -> int:
        """Reserve the next request slot of a paced service; returns milliseconds to wait.

        Slots are ``interval_ms`` apart for every process sharing this store, taken in one write
        transaction, so two processes never send at once.
        """
        name = f"pace:{key}"
        with self.engine.connect().execution_options(**self._write) as conn, conn.begin():
            if self.backend == "postgresql":
                # Make sure the row exists, then lock it: concurrent reservations queue up.
                conn.execute(
                    text(
                        "INSERT INTO store_state (key, value) VALUES (:k, 0) "
                        "ON CONFLICT (key) DO NOTHING"
                    ),
                    {"k": name},
                )
                query = (
                    select(store_state.c.value).where(store_state.c.key == name).with_for_update()
                )
            else:  # SQLite: BEGIN IMMEDIATE already holds the one write lock
                query = select(store_state.c.value).where(store_state.c.key == name)
            last = conn.execute(query).scalar_one_or_none()
            slot = now_ms if last is None else max(now_ms, int(last) + interval_ms)
            if last is None:
                conn.execute(insert(store_state).values(key=name, value=slot))
            else:
                conn.execute(
                    update(store_state).where(store_state.c.key == name).values(value=slot)
                )
        return slot - now_ms

    def revision(self) -> int:
        """A number that grows with every write that changed papers or the feed."""
        query = select(store_state.c.value).where(store_state.c.key == "revision")
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def _upsert_entries(
        self,
        conn: Any,
        entries: dict[tuple[str, date], FeedEntry],
        known: set[str],
        now: datetime,
        counts: UpsertCounts,
    ) -> None:
        stored: dict[tuple[str, date], FeedEntry] = {}
        # Papers first stored in this batch cannot have feed entries yet: look up the others.
        paper_ids = sorted({paper_id for paper_id, _ in entries if paper_id in known})
        for chunk in _chunks(paper_ids):
            query = select(feed_entries).where(feed_entries.c.paper_id.in_(chunk))
            for row in conn.execute(query):
                key = (row.paper_id, row.feed_date)
                if key in entries:
                    stored[key] = _entry_from_row(row)
        new_rows: list[dict[str, Any]] = []
        changed_rows: list[dict[str, Any]] = []
        for key, entry in entries.items():
            prior = stored.get(key)
            if prior is None:
                new_rows.append(
                    {
                        "paper_id": key[0],
                        "feed_date": key[1],
                        **_entry_values(entry),
                        "created_at": now,
                    }
                )
                counts.feed_added += 1
                continue
            merged = merge_feed_entry(prior, entry)
            if merged != prior:
                changed_rows.append({"b_pid": key[0], "b_day": key[1], **_entry_values(merged)})
                counts.feed_updated += 1
        dialects.executemany(conn, insert(feed_entries), new_rows)
        stmt = update(feed_entries).where(
            feed_entries.c.paper_id == bindparam("b_pid"),
            feed_entries.c.feed_date == bindparam("b_day"),
        )
        dialects.executemany(conn, stmt, changed_rows)

    # -- reads ----------------------------------------------------------------------------

    def get_paper(self, paper_id: str) -> Paper | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(papers).where(papers.c.id == paper_id)).first()
        return paper_from_row(row) if row is not None else None

    def feed_entries_for(self, paper_id: str) -> list[FeedEntry]:
        """The paper's feed entries; counts include the votes and comments made here."""
        fe, pa = feed_entries, paper_activity
        query = (
            select(
                fe.c.paper_id,
                fe.c.feed_date,
                fe.c.source,
                fe.c.submitted_by,
                (fe.c.upvotes + func.coalesce(pa.c.votes, 0)).label("upvotes"),
                (fe.c.num_comments + func.coalesce(pa.c.comments, 0)).label("num_comments"),
                fe.c.announce_type,
            )
            .select_from(fe.outerjoin(pa, pa.c.paper_id == fe.c.paper_id))
            .where(fe.c.paper_id == paper_id)
            .order_by(fe.c.feed_date)
        )
        with self.engine.connect() as conn:
            return [_entry_from_row(row) for row in conn.execute(query)]

    def feed(
        self,
        start: date,
        end: date,
        *,
        sort: FeedSort = "upvotes",
        offset: int = 0,
        limit: int = 50,
    ) -> FeedPage:
        fe = feed_entries
        pa = paper_activity
        joined = fe.outerjoin(pa, pa.c.paper_id == fe.c.paper_id)
        # Hidden papers leave the feed; counts are the imported ones plus those made here.
        window = and_(fe.c.feed_date.between(start, end), pa.c.hidden_at.is_(None))
        upvotes = (fe.c.upvotes + func.coalesce(pa.c.votes, 0)).label("upvotes")
        num_comments = (fe.c.num_comments + func.coalesce(pa.c.comments, 0)).label("num_comments")
        # Page through the small feed index first, then fetch only the papers on the page:
        # sorting whole paper rows (abstracts included) would cost far more.
        if sort == "published":
            keys = (
                select(fe.c.id)
                .select_from(joined.join(papers, papers.c.id == fe.c.paper_id))
                .where(window)
                .order_by(fe.c.feed_date.desc(), papers.c.published.desc(), fe.c.paper_id.desc())
            )
        else:
            keys = (
                select(fe.c.id)
                .select_from(joined)
                .where(window)
                .order_by(upvotes.desc(), fe.c.feed_date.desc(), fe.c.paper_id.desc())
            )
        entry_cols = [
            fe.c.id.label("entry_id"),
            fe.c.paper_id,
            fe.c.feed_date,
            fe.c.source,
            fe.c.submitted_by,
            upvotes,
            num_comments,
            fe.c.announce_type,
        ]
        with self.engine.connect() as conn:
            total = int(
                conn.execute(select(func.count()).select_from(joined).where(window)).scalar_one()
            )
            ids = list(conn.execute(keys.offset(offset).limit(limit)).scalars())
            rows = conn.execute(
                select(papers, *entry_cols)
                .select_from(joined.join(papers, papers.c.id == fe.c.paper_id))
                .where(fe.c.id.in_(ids))
            ).all()
            before = conn.execute(select(func.max(fe.c.feed_date)).where(fe.c.feed_date < start))
            after = conn.execute(select(func.min(fe.c.feed_date)).where(fe.c.feed_date > end))
            neighbours = (before.scalar_one(), after.scalar_one())
        position = {entry_id: index for index, entry_id in enumerate(ids)}
        rows.sort(key=lambda row: position[row.entry_id])
        items = [FeedItem(paper=paper_from_row(r), entry=_entry_from_row(r)) for r in rows]
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
            period = dialects.group_by_month(self.engine, feed_entries.c.feed_date)
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
        return dialects.database_size_bytes(self.engine)

    # -- ingest log -----------------------------------------------------------------------

    def start_ingest(
        self, source: str, detail: str, *, host: str | None = None, pid: int | None = None
    ) -> int:
        values = {
            "source": source,
            "detail": detail,
            "host": host,
            "pid": pid,
            "started_at": _now(),
            "status": "running",
            "inserted": 0,
            "updated": 0,
            "skipped": 0,
            "errors": 0,
        }
        with self.engine.connect().execution_options(**self._write) as conn, conn.begin():
            result = conn.execute(insert(ingest_log).values(**values))
            return int(result.inserted_primary_key[0])

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
    ) -> None:
        stmt = (
            update(ingest_log)
            .where(ingest_log.c.id == run_id)
            .values(
                finished_at=_now(),
                status=status,
                inserted=inserted,
                updated=updated,
                skipped=skipped,
                errors=errors,
                message=message,
            )
        )
        with self.engine.connect().execution_options(**self._write) as conn, conn.begin():
            conn.execute(stmt)

    def ingest_runs(self, limit: int = 20, *, status: str | None = None) -> list[IngestRun]:
        query = select(ingest_log).order_by(ingest_log.c.id.desc()).limit(limit)
        if status is not None:
            query = query.where(ingest_log.c.status == status)
        with self.engine.connect() as conn:
            return [IngestRun(**row._mapping) for row in conn.execute(query)]

    def close(self) -> None:
        self.engine.dispose()

    # -- OAI-PMH harvest checkpoints --------------------------------------------------------

    def harvest_state(self, set_spec: str) -> HarvestState | None:
        query = select(harvest_state).where(harvest_state.c.set_spec == set_spec)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return HarvestState(**row._mapping) if row is not None else None

    def _save_checkpoint(self, conn: Any, set_spec: str, values: dict[str, Any]) -> None:
        values = {**values, "updated_at": _now()}
        query = select(harvest_state.c.set_spec).where(harvest_state.c.set_spec == set_spec)
        if conn.execute(query).first() is None:
            row = {"pages_done": 0, "records_done": 0, **values, "set_spec": set_spec}
            conn.execute(insert(harvest_state).values(**row))
        else:
            stmt = update(harvest_state).where(harvest_state.c.set_spec == set_spec)
            conn.execute(stmt.values(**values))

    def save_harvest_page(
        self,
        set_spec: str,
        records: Sequence[Record],
        *,
        next_token: str | None,
        progress: HarvestProgress,
        deleted: Sequence[str] = (),
    ) -> UpsertCounts:
        with self.engine.connect().execution_options(**self._write) as conn, conn.begin():
            counts = self._upsert_in(conn, records)
            if deleted:
                seq = self._bump_revision(conn)
                for ids in _chunks(sorted(set(deleted))):
                    stmt = (
                        update(papers)
                        .where(papers.c.id.in_(ids), papers.c.withdrawn.is_(False))
                        .values(withdrawn=True, modified_at=_now(), change_seq=seq)
                    )
                    conn.execute(stmt)
            self._save_checkpoint(
                conn,
                set_spec,
                {
                    "resumption_token": next_token,
                    "from_date": progress.from_date,
                    "until_date": progress.until_date,
                    "pages_done": progress.pages_done,
                    "records_done": progress.records_done,
                    "max_datestamp": progress.max_datestamp,
                },
            )
        return counts

    def finish_harvest(self, set_spec: str, last_datestamp: str | None) -> None:
        values: dict[str, Any] = {"resumption_token": None}
        if last_datestamp is not None:
            values["last_datestamp"] = last_datestamp
        with self.engine.connect().execution_options(**self._write) as conn, conn.begin():
            self._save_checkpoint(conn, set_spec, values)

    # -- change feed and embeddings (for search indexes) ----------------------------------

    def changed_papers(
        self, after_seq: int, *, after_id: str = "", limit: int = 1000
    ) -> list[tuple[int, Paper]]:
        """Papers changed after ``(after_seq, after_id)``, ordered by (change_seq, id).

        Indexes catch up by paging with the last (seq, id) they saw; start from ``-1``.
        """
        key = tuple_(papers.c.change_seq, papers.c.id)
        query = (
            select(papers)
            .where(key > tuple_(bindparam("s"), bindparam("i")))
            .order_by(papers.c.change_seq, papers.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query, {"s": after_seq, "i": after_id}).all()
        return [(int(row.change_seq), paper_from_row(row)) for row in rows]

    def get_papers(self, ids: Sequence[str]) -> dict[str, Paper]:
        """The stored papers among ``ids``, by id (missing ids are absent)."""
        found: dict[str, Paper] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(list(dict.fromkeys(ids))):
                for row in conn.execute(select(papers).where(papers.c.id.in_(chunk))):
                    found[row.id] = paper_from_row(row)
        return found

    def vote_counts(self, ids: Sequence[str]) -> dict[str, tuple[int, int]]:
        """(upvotes, comments) of each paper among ``ids`` that was ever in the feed or has
        activity here: the largest imported counts of its feed entries (each entry is a
        snapshot of the same counters) plus the votes and comments made here."""
        out: dict[str, tuple[int, int]] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(list(dict.fromkeys(ids))):
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

    def papers_to_embed(
        self, model: str, *, after_id: str = "", limit: int = 256
    ) -> list[tuple[int, Paper, str | None]]:
        """Papers with no embedding for ``model`` or changed since theirs, by id after
        ``after_id``: (change_seq, paper, stored text hash or None)."""
        query = (
            select(papers, embeddings.c.text_hash.label("e_hash"))
            .select_from(
                papers.outerjoin(
                    embeddings,
                    (embeddings.c.paper_id == papers.c.id) & (embeddings.c.model == model),
                )
            )
            .where(
                papers.c.id > after_id,
                (embeddings.c.paper_id.is_(None)) | (papers.c.change_seq > embeddings.c.paper_seq),
            )
            .order_by(papers.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [(int(row.change_seq), paper_from_row(row), row.e_hash) for row in rows]

    def count_papers_to_embed(self, model: str) -> int:
        query = (
            select(func.count())
            .select_from(
                papers.outerjoin(
                    embeddings,
                    (embeddings.c.paper_id == papers.c.id) & (embeddings.c.model == model),
                )
            )
            .where(
                (embeddings.c.paper_id.is_(None)) | (papers.c.change_seq > embeddings.c.paper_seq)
            )
        )
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def save_embeddings(
        self, model: str, rows: Sequence[tuple[str, int, str, bytes | None]]
    ) -> int:
        """Store (paper_id, paper_seq, text_hash, vector) rows in one transaction.

        A ``None`` vector only records that the text is unchanged (no new vector, no new seq).
        Rows of papers deleted meanwhile are dropped. Returns how many vectors were written.
        """
        if not rows:
            return 0
        written = 0
        with self.engine.connect().execution_options(**self._write) as conn, conn.begin():
            ids = [row[0] for row in rows]
            present: set[str] = set()
            for chunk in _chunks(ids):
                present.update(
                    conn.execute(select(papers.c.id).where(papers.c.id.in_(chunk))).scalars()
                )
            fresh = [r for r in rows if r[0] in present and r[3] is not None]
            touched = [r for r in rows if r[0] in present and r[3] is None]
            seq = self._bump_revision(conn) if fresh else 0
            for chunk in _chunks([r[0] for r in fresh]):
                stmt = delete(embeddings).where(
                    embeddings.c.model == model, embeddings.c.paper_id.in_(chunk)
                )
                conn.execute(stmt)
            if fresh and self.backend == "postgresql":  # the pgvector column in the same row
                dialects.insert_pg_embeddings(conn, model, seq, fresh)
                written = len(fresh)
            elif fresh:
                conn.execute(
                    insert(embeddings),
                    [
                        {
                            "paper_id": pid,
                            "model": model,
                            "paper_seq": pseq,
                            "text_hash": digest,
                            "vector": vector,
                            "seq": seq,
                        }
                        for pid, pseq, digest, vector in fresh
                    ],
                )
                written = len(fresh)
            if touched:
                stmt = (
                    update(embeddings)
                    .where(
                        embeddings.c.model == model,
                        embeddings.c.paper_id == bindparam("b_id"),
                    )
                    .values(paper_seq=bindparam("b_seq"))
                )
                conn.execute(stmt, [{"b_id": pid, "b_seq": pseq} for pid, pseq, _, _ in touched])
        return written

    def finish_copy(self, batch: int = 5000) -> int:
        """Rebuild what a raw table copy (``paperboy migrate-store``) leaves out: on PostgreSQL
        the pgvector column of every embedding that lacks it. Returns how many were filled."""
        if self.backend != "postgresql":
            return 0
        from paperboy.store.bulk import HNSW_INDEX, rebuild_indexes

        with self.engine.connect() as conn:
            missing = int(
                conn.execute(
                    text("SELECT count(*) FROM embeddings WHERE embedding IS NULL")
                ).scalar_one()
            )
        if missing == 0:
            return 0
        if missing > _REBUILD_ABOVE:  # building the graph once beats inserting into it
            with self.engine.begin() as conn:
                conn.execute(text(f"DROP INDEX IF EXISTS {HNSW_INDEX}"))
        try:
            return self._fill_vectors(batch)
        finally:
            rebuild_indexes(self)

    def _fill_vectors(self, batch: int) -> int:
        filled = 0
        query = text(
            "SELECT paper_id, model, vector FROM embeddings WHERE embedding IS NULL "
            "ORDER BY model, paper_id LIMIT :n"
        )
        while True:
            with self.engine.begin() as conn:
                rows = conn.execute(query, {"n": batch}).all()
                for model in {r.model for r in rows}:
                    pairs = [(r.paper_id, bytes(r.vector)) for r in rows if r.model == model]
                    dialects.set_pg_vectors(conn, model, pairs)
            filled += len(rows)
            if len(rows) < batch:
                return filled

    def embeddings_since(
        self, model: str, after_seq: int, *, after_id: str = "", limit: int = 5000
    ) -> list[tuple[int, str, bytes]]:
        """(seq, paper_id, vector) written after ``(after_seq, after_id)``, in that order."""
        key = tuple_(embeddings.c.seq, embeddings.c.paper_id)
        query = (
            select(embeddings.c.seq, embeddings.c.paper_id, embeddings.c.vector)
            .where(embeddings.c.model == model, key > tuple_(bindparam("s"), bindparam("i")))
            .order_by(embeddings.c.seq, embeddings.c.paper_id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query, {"s": after_seq, "i": after_id}).all()
        return [(int(r.seq), r.paper_id, bytes(r.vector)) for r in rows]

    def embedding_of(self, model: str, paper_id: str) -> bytes | None:
        query = select(embeddings.c.vector).where(
            embeddings.c.model == model, embeddings.c.paper_id == paper_id
        )
        with self.engine.connect() as conn:
            value = conn.execute(query).scalar_one_or_none()
        return bytes(value) if value is not None else None

    def count_embeddings(self, model: str) -> int:
        query = select(func.count()).select_from(embeddings).where(embeddings.c.model == model)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def embedding_hashes(self, model: str, ids: Sequence[str]) -> dict[str, str]:
        """The text hash stored with each embedded paper among ``ids``."""
        out: dict[str, str] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(list(ids)):
                query = select(embeddings.c.paper_id, embeddings.c.text_hash).where(
                    embeddings.c.model == model, embeddings.c.paper_id.in_(chunk)
                )
                out.update({pid: digest for pid, digest in conn.execute(query)})
        return out

    def change_seqs(self, ids: Sequence[str]) -> dict[str, int]:
        """The change sequence of each stored paper among ``ids``."""
        out: dict[str, int] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(list(ids)):
                query = select(papers.c.id, papers.c.change_seq).where(papers.c.id.in_(chunk))
                out.update({pid: int(seq) for pid, seq in conn.execute(query)})
        return out
