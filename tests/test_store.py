"""The SQL store on the backend under test (SQLite files or PostgreSQL): upsert merge rules,
feed reads, ingest log, durability."""

from __future__ import annotations

import os
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from pathlib import Path

import psycopg
import pytest
import sqlalchemy
import sqlalchemy.exc
from sqlalchemy.pool import NullPool

from conftest import BACKEND, assert_consistent, sql_rows
from paperboy.errors import RecordRejected
from paperboy.models import FeedEntry, FeedItem, Paper, Record
from paperboy.settings import Settings
from paperboy.store import SQLStore, migrate, open_store

DAY = date(2025, 6, 10)


def paper(paper_id: str = "2506.08007", **fields: object) -> Paper:
    values: dict[str, object] = {"title": f"Paper {paper_id}", "abstract": "An abstract."}
    values.update(fields)
    return Paper(id=paper_id, **values)  # type: ignore[arg-type]


def entry(paper_id: str = "2506.08007", day: date = DAY, **fields: object) -> FeedEntry:
    return FeedEntry(paper_id=paper_id, feed_date=day, **fields)  # type: ignore[arg-type]


def record(paper_id: str = "2506.08007", day: date | None = DAY, **fields: object) -> Record:
    upvotes = fields.pop("upvotes", None)
    source = fields.pop("source", "daily")
    feed = entry(paper_id, day, upvotes=upvotes, source=source) if day is not None else None
    return Record(paper(paper_id, **fields), feed)


def db_file(store: SQLStore) -> Path:
    assert store.engine.dialect.name == "sqlite", "only an SQLite store has a database file"
    database = store.engine.url.database
    assert database, "the store fixture should be a file-backed SQLite store"
    return Path(database)


# -- upsert: papers ---------------------------------------------------------------------------


def test_insert_then_identical_upsert_is_a_noop(store: SQLStore) -> None:
    first = store.upsert([record(version=1, upvotes=4)])
    assert (first.inserted, first.updated, first.unchanged, first.feed_added) == (1, 0, 0, 1)
    stored = store.get_paper("2506.08007")

    again = store.upsert([record(version=1, upvotes=4)])

    assert (again.inserted, again.updated, again.unchanged, again.older) == (0, 0, 1, 0)
    assert (again.feed_added, again.feed_updated) == (0, 0)
    assert store.get_paper("2506.08007") == stored
    assert store.count_papers() == 1
    assert store.count_feed_entries() == 1


def test_newer_version_updates_fields_and_version(store: SQLStore) -> None:
    store.upsert([record(version=1, title="Old title", abstract="Old abstract.")])

    counts = store.upsert(
        [record(version=3, title="New title", abstract="New abstract.", comments="v3: fixes")]
    )

    assert counts.updated == 1
    stored = store.get_paper("2506.08007")
    assert stored is not None
    assert (stored.version, stored.title, stored.abstract) == (3, "New title", "New abstract.")
    assert stored.comments == "v3: fixes"


def test_older_version_keeps_metadata_but_fills_missing_github_repo(store: SQLStore) -> None:
    store.upsert([record(version=3, title="Title v3", abstract="Abstract v3.")])

    counts = store.upsert(
        [
            record(
                version=1,
                title="Title v1",
                abstract="Abstract v1.",
                github_repo="https://github.com/openbmb/minicpm",
            )
        ]
    )

    assert counts.updated == 1
    stored = store.get_paper("2506.08007")
    assert stored is not None
    assert (stored.title, stored.abstract, stored.version) == ("Title v3", "Abstract v3.", 3)
    assert stored.github_repo == "https://github.com/openbmb/minicpm"


def test_older_version_with_nothing_new_counts_as_older(store: SQLStore) -> None:
    store.upsert([record(version=2, title="Title v2")])

    counts = store.upsert([record(version=1, title="Title v1")])

    assert (counts.older, counts.updated, counts.unchanged) == (1, 0, 0)
    stored = store.get_paper("2506.08007")
    assert stored is not None and stored.title == "Title v2"


def test_older_version_cannot_mark_paper_withdrawn(store: SQLStore) -> None:
    store.upsert([record(version=2)])
    store.upsert([record(version=1, withdrawn=True)])
    stored = store.get_paper("2506.08007")
    assert stored is not None and stored.withdrawn is False

    store.upsert([record(version=3, withdrawn=True)])
    stored = store.get_paper("2506.08007")
    assert stored is not None and stored.withdrawn is True and stored.version == 3


def test_unknown_version_overwrites_carried_fields_and_keeps_the_rest(store: SQLStore) -> None:
    store.upsert([record(version=2, title="Title v2", abstract="Kept abstract.", doi="10.1/abc")])

    counts = store.upsert(
        [
            record(
                version=None,
                title="Retitled",
                abstract="",
                project_page="https://example.org/project",
                github_stars=12,
            )
        ]
    )

    assert counts.updated == 1
    stored = store.get_paper("2506.08007")
    assert stored is not None
    assert stored.title == "Retitled"
    assert stored.abstract == "Kept abstract."  # an empty value is not carried
    assert stored.doi == "10.1/abc"
    assert stored.project_page == "https://example.org/project"
    assert stored.github_stars == 12
    assert stored.version == 2  # the highest version ever seen


def test_version_fills_in_when_stored_version_is_unknown(store: SQLStore) -> None:
    store.upsert([record(version=None)])
    store.upsert([record(version=4)])
    stored = store.get_paper("2506.08007")
    assert stored is not None and stored.version == 4


def test_authors_and_categories_round_trip_in_order(store: SQLStore) -> None:
    authors = ("Qingxiu Dong", "Li Dong", "Yao Tang", "Tianzhu Ye")
    store.upsert([record(authors=authors, categories=("cs.CL", "cs.LG", "cs.AI"))])
    stored = store.get_paper("2506.08007")
    assert stored is not None
    assert stored.authors == authors
    assert stored.categories == ("cs.CL", "cs.LG", "cs.AI")
    assert stored.primary_category == "cs.CL"


def test_duplicate_ids_in_one_batch_are_written_once(store: SQLStore) -> None:
    counts = store.upsert(
        [
            record(version=1, title="First", upvotes=2),
            record(version=2, title="Second", upvotes=9),
            record("2506.07044", version=1),
        ]
    )

    assert (counts.inserted, counts.updated, counts.feed_added) == (2, 0, 2)
    assert store.count_papers() == 2
    stored = store.get_paper("2506.08007")
    assert stored is not None and (stored.title, stored.version) == ("Second", 2)
    entries = store.feed_entries_for("2506.08007")
    assert len(entries) == 1 and entries[0].upvotes == 9


def test_get_paper_unknown_id_is_none(store: SQLStore) -> None:
    store.upsert([record()])
    assert store.get_paper("2401.00001") is None
    assert store.feed_entries_for("2401.00001") == []


# -- upsert: feed entries ---------------------------------------------------------------------


def test_feed_entry_counts_follow_the_newest_snapshot(store: SQLStore) -> None:
    store.upsert([Record(paper(), entry(upvotes=40, num_comments=3))])

    counts = store.upsert([Record(paper(), entry(upvotes=35, num_comments=None))])

    assert (counts.feed_added, counts.feed_updated) == (0, 1)
    [stored] = store.feed_entries_for("2506.08007")
    assert stored.upvotes == 35  # newest snapshot wins, even when lower
    assert stored.num_comments == 3  # no incoming value: kept

    counts = store.upsert([Record(paper(), entry(upvotes=None))])
    assert counts.feed_updated == 0
    [stored] = store.feed_entries_for("2506.08007")
    assert stored.upvotes == 35


def test_one_entry_per_paper_and_day(store: SQLStore) -> None:
    store.upsert([record(day=date(2025, 6, 9)), record(day=date(2025, 6, 10))])
    entries = store.feed_entries_for("2506.08007")
    assert [e.feed_date for e in entries] == [date(2025, 6, 9), date(2025, 6, 10)]
    assert store.count_papers() == 1


def test_daily_source_outranks_arxiv_on_the_same_day(store: SQLStore) -> None:
    store.upsert([record("2506.00001", source="arxiv")])
    store.upsert([record("2506.00001", source="daily", upvotes=7)])
    store.upsert([record("2506.00002", source="daily", upvotes=5)])
    store.upsert([record("2506.00002", source="arxiv")])

    [upgraded] = store.feed_entries_for("2506.00001")
    [kept] = store.feed_entries_for("2506.00002")
    assert (upgraded.source, upgraded.upvotes) == ("daily", 7)
    assert (kept.source, kept.upvotes) == ("daily", 5)


def test_daily_source_outranks_arxiv_inside_one_batch(store: SQLStore) -> None:
    store.upsert([record(source="daily", upvotes=11), record(source="arxiv")])
    [stored] = store.feed_entries_for("2506.08007")
    assert (stored.source, stored.upvotes) == ("daily", 11)


# -- a failing batch rolls back whole ---------------------------------------------------------

# The store reports a refused write as RecordRejected (wrapping the driver's IntegrityError).
DB_ERRORS = (
    RecordRejected,
    sqlite3.IntegrityError,
    psycopg.IntegrityError,
    sqlalchemy.exc.IntegrityError,
)


def not_null_failed(table: str, column: str) -> str:
    """A pattern for either engine's NOT NULL violation message on ``table.column``."""
    return (
        rf"NOT NULL constraint failed: {table}\.{column}"
        rf'|null value in column "{column}" of relation "{table}" violates not-null constraint'
    )


FOREIGN_KEY_FAILED = r"FOREIGN KEY constraint failed|violates foreign key constraint"


def test_not_null_violation_rolls_back_the_whole_batch(store: SQLStore) -> None:
    store.upsert([record("2506.00001")])
    broken = Paper(id="2506.00003", title=None)  # type: ignore[arg-type]

    with pytest.raises(DB_ERRORS, match=not_null_failed("papers", "title")):
        store.upsert([record("2506.00002"), Record(broken), record("2506.00004")])

    assert store.count_papers() == 1
    assert store.get_paper("2506.00002") is None
    assert store.count_feed_entries() == 1
    assert store.upsert([record("2506.00002")]).inserted == 1  # the store is still writable


def test_failure_after_updates_rolls_back_updates_too(store: SQLStore, database_url: str) -> None:
    store.upsert([record("2506.00001", version=1, title="Original")])
    bad_entry = FeedEntry(paper_id="2506.00005", feed_date=DAY, source=None)  # type: ignore[arg-type]

    with pytest.raises(DB_ERRORS, match=not_null_failed("feed_entries", "source")):
        store.upsert(
            [
                record("2506.00001", version=2, title="Changed"),
                record("2506.00002"),
                Record(paper("2506.00005"), bad_entry),
            ]
        )

    stored = store.get_paper("2506.00001")
    assert stored is not None and (stored.version, stored.title) == (1, "Original")
    assert store.count_papers() == 1
    assert store.count_feed_entries() == 1
    assert_consistent(database_url)


def test_feed_entry_for_a_missing_paper_violates_the_foreign_key(store: SQLStore) -> None:
    orphan = FeedEntry(paper_id="2506.09999", feed_date=DAY)
    with pytest.raises(DB_ERRORS, match=FOREIGN_KEY_FAILED):
        store.upsert([Record(paper("2506.00001"), orphan)])
    assert store.count_papers() == 0
    assert store.count_feed_entries() == 0
    assert store.upsert([record("2506.00001")]).inserted == 1  # the store is still writable


# -- feed reads -------------------------------------------------------------------------------


@pytest.fixture
def feed_store(store: SQLStore) -> SQLStore:
    """Three days of entries: ids, published times and upvotes chosen to pin every tie-break."""
    rows = [
        ("2506.00001", date(2025, 6, 9), 10, datetime(2025, 6, 5, 12)),
        ("2506.00002", date(2025, 6, 9), 30, datetime(2025, 6, 6, 12)),
        ("2506.00003", date(2025, 6, 10), 30, datetime(2025, 6, 4, 12)),
        ("2506.00004", date(2025, 6, 10), 5, datetime(2025, 6, 8, 12)),
        ("2506.00005", date(2025, 6, 10), 5, datetime(2025, 6, 7, 12)),
        ("2506.00006", date(2025, 6, 13), 50, datetime(2025, 6, 12, 12)),
        ("2505.00007", date(2025, 5, 30), 2, datetime(2025, 5, 28, 12)),
    ]
    store.upsert(
        [
            Record(paper(pid, published=published), entry(pid, day, upvotes=votes))
            for pid, day, votes, published in rows
        ]
    )
    return store


def ids(items: list[FeedItem]) -> list[str]:
    return [item.paper.id for item in items]


def test_feed_sorted_by_upvotes(feed_store: SQLStore) -> None:
    page = feed_store.feed(date(2025, 6, 9), date(2025, 6, 10), sort="upvotes")
    assert page.total == 5
    # upvotes desc, then newer day first, then id desc
    assert ids(page.items) == [
        "2506.00003",
        "2506.00002",
        "2506.00001",
        "2506.00005",
        "2506.00004",
    ]
    first = page.items[0]
    assert first.entry.upvotes == 30 and first.entry.feed_date == date(2025, 6, 10)
    assert first.paper.title == "Paper 2506.00003"


def test_feed_sorted_by_published(feed_store: SQLStore) -> None:
    page = feed_store.feed(date(2025, 6, 9), date(2025, 6, 10), sort="published")
    # newer feed day first, then newer publication first
    assert ids(page.items) == [
        "2506.00004",
        "2506.00005",
        "2506.00003",
        "2506.00002",
        "2506.00001",
    ]


def test_feed_offset_limit_and_total(feed_store: SQLStore) -> None:
    full = ids(feed_store.feed(date(2025, 5, 1), date(2025, 6, 30)).items)
    assert len(full) == 7
    page = feed_store.feed(date(2025, 5, 1), date(2025, 6, 30), offset=2, limit=3)
    assert page.total == 7
    assert ids(page.items) == full[2:5]
    beyond = feed_store.feed(date(2025, 5, 1), date(2025, 6, 30), offset=7, limit=3)
    assert beyond.items == [] and beyond.total == 7


def test_feed_window_is_inclusive_and_can_be_empty(feed_store: SQLStore) -> None:
    one_day = feed_store.feed(date(2025, 6, 13), date(2025, 6, 13))
    assert ids(one_day.items) == ["2506.00006"] and one_day.total == 1
    empty = feed_store.feed(date(2025, 6, 11), date(2025, 6, 12))
    assert empty.items == [] and empty.total == 0


def test_feed_date_neighbours(feed_store: SQLStore) -> None:
    assert feed_store.latest_feed_date() == date(2025, 6, 13)
    assert feed_store.feed_date_before(date(2025, 6, 13)) == date(2025, 6, 10)
    assert feed_store.feed_date_before(date(2025, 6, 12)) == date(2025, 6, 10)
    assert feed_store.feed_date_before(date(2025, 6, 9)) == date(2025, 5, 30)
    assert feed_store.feed_date_before(date(2025, 5, 30)) is None
    assert feed_store.feed_date_after(date(2025, 6, 10)) == date(2025, 6, 13)
    assert feed_store.feed_date_after(date(2025, 5, 30)) == date(2025, 6, 9)
    assert feed_store.feed_date_after(date(2025, 6, 13)) is None


def test_empty_store_reads(store: SQLStore) -> None:
    assert store.latest_feed_date() is None
    assert store.feed_date_before(DAY) is None
    assert store.feed_counts("day") == []
    assert store.feed(DAY, DAY).total == 0
    assert store.ingest_runs() == []


def test_feed_counts_by_day_and_month(feed_store: SQLStore) -> None:
    by_day = [(c.period, c.entries, c.upvotes) for c in feed_store.feed_counts("day")]
    assert by_day == [
        ("2025-05-30", 1, 2),
        ("2025-06-09", 2, 40),
        ("2025-06-10", 3, 40),
        ("2025-06-13", 1, 50),
    ]
    by_month = [(c.period, c.entries, c.upvotes) for c in feed_store.feed_counts("month")]
    assert by_month == [("2025-05", 1, 2), ("2025-06", 6, 130)]


# -- ingest log -------------------------------------------------------------------------------


def test_ingest_log_start_finish_and_list(store: SQLStore) -> None:
    first = store.start_ingest("import", "a.jsonl")
    second = store.start_ingest("import", "b.jsonl")
    assert second > first

    running = {run.id: run for run in store.ingest_runs()}
    assert running[first].status == "running" and running[first].finished_at is None

    store.finish_ingest(first, "partial", inserted=5, updated=2, skipped=3, errors=1, message="x:3")
    runs = store.ingest_runs()
    assert [run.id for run in runs] == [second, first]  # newest first
    done = runs[1]
    assert (done.source, done.detail, done.status) == ("import", "a.jsonl", "partial")
    assert (done.inserted, done.updated, done.skipped, done.errors) == (5, 2, 3, 1)
    assert done.message == "x:3"
    assert done.finished_at is not None and done.finished_at >= done.started_at
    assert [run.id for run in store.ingest_runs(limit=1)] == [second]


# -- the database on disk --------------------------------------------------------------------


@pytest.mark.sqlite_only
def test_sqlite_file_is_wal_and_consistent(store: SQLStore, database_url: str) -> None:
    store.upsert([record(f"2506.{n:05d}", upvotes=n) for n in range(1, 301)])
    assert sql_rows(database_url, "PRAGMA journal_mode") == [("wal",)]
    assert sql_rows(database_url, "PRAGMA integrity_check") == [("ok",)]
    assert sql_rows(database_url, "PRAGMA foreign_key_check") == []
    assert sql_rows(database_url, "SELECT count(*) FROM papers") == [(300,)]


def test_writes_are_visible_and_consistent_from_another_connection(
    store: SQLStore, database_url: str
) -> None:
    store.upsert([record(f"2506.{n:05d}", upvotes=n) for n in range(1, 301)])
    assert sql_rows(database_url, "SELECT count(*) FROM papers") == [(300,)]
    assert sql_rows(database_url, "SELECT count(*) FROM feed_entries") == [(300,)]
    assert_consistent(database_url)


def test_size_bytes_grows_with_the_data(store: SQLStore) -> None:
    before = store.size_bytes()
    assert before > 0
    store.upsert([record(f"2506.{n:05d}", abstract="word " * 200) for n in range(1, 201)])
    after = store.size_bytes()
    assert after > before + 200 * 1000  # 200 abstracts of 1,000 bytes each


@pytest.mark.sqlite_only
def test_size_bytes_is_the_file_and_its_wal(store: SQLStore) -> None:
    path = db_file(store)
    store.upsert([record(f"2506.{n:05d}", abstract="word " * 200) for n in range(1, 201)])
    after = store.size_bytes()
    wal = Path(f"{path}-wal")
    on_disk = path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    assert after == on_disk


@pytest.mark.postgres_only
def test_size_bytes_is_the_postgres_database(store: SQLStore, database_url: str) -> None:
    store.upsert([record(f"2506.{n:05d}", abstract="word " * 200) for n in range(1, 201)])
    [(on_server,)] = sql_rows(database_url, "SELECT pg_database_size(current_database())")
    assert store.size_bytes() == on_server


def test_migrations_are_idempotent(settings: Settings) -> None:
    url = settings.database_url
    first = open_store(url)
    first.upsert([record()])
    first.close()

    second = open_store(url)
    migrate(second)  # explicitly again: a no-op
    try:
        assert second.count_papers() == 1
        versions = sql_rows(url, "SELECT version_num FROM alembic_version")
        assert len(versions) == 1
        engine = sqlalchemy.create_engine(url, poolclass=NullPool)
        try:
            tables = set(sqlalchemy.inspect(engine).get_table_names())
        finally:
            engine.dispose()
        assert {"papers", "feed_entries", "ingest_log", "alembic_version"} <= tables
    finally:
        second.close()


@pytest.mark.sqlite_only
def test_open_store_creates_missing_directories(tmp_path: Path) -> None:
    nested = tmp_path / "a" / "b" / "paperboy.db"
    store = open_store(f"sqlite:///{nested}")
    try:
        store.upsert([record()])
        assert nested.exists() and os.path.getsize(nested) > 0
    finally:
        store.close()


def test_backend_under_test_is_the_one_configured(store: SQLStore) -> None:
    assert store.engine.dialect.name == BACKEND


def test_reserved_request_slots_never_collide_across_connections(database_url: str) -> None:
    """Processes sharing a store take distinct paced slots, however their calls interleave."""
    stores = [open_store(database_url) for _ in range(4)]
    start = threading.Barrier(len(stores))
    now_ms, interval_ms, each = 1_000_000, 100, 10

    def reserve(store: SQLStore) -> list[int]:
        start.wait()
        return [store.reserve_slot("test", interval_ms, now_ms) for _ in range(each)]

    try:
        with ThreadPoolExecutor(len(stores)) as pool:
            waits = [w for ws in pool.map(reserve, stores) for w in ws]
    finally:
        for store in stores:
            store.close()
    assert sorted(waits) == [n * interval_ms for n in range(len(stores) * each)]
