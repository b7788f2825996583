"""``paperboy migrate-store``: copying a whole store to another database, resuming, verifying.

The source is always an SQLite file holding the demo data set (papers, feed, precomputed
embeddings, an ingest run, a harvest checkpoint and a pacing slot); the target is a fresh
database on the backend under test, so under ``scripts/pgcluster.py run`` this is the
SQLite → PostgreSQL move users make.
"""

from __future__ import annotations

import gzip
import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, insert, select, text, update
from typer.testing import CliRunner, Result

from paperboy import cli
from paperboy.cli import app
from paperboy.embed.jobs import load_embeddings
from paperboy.ingest import demo_data_path, demo_embeddings_path
from paperboy.models import FeedEntry, Paper, Record
from paperboy.store import SQLStore, open_store, transfer
from paperboy.store.base import HarvestProgress
from paperboy.store.schema import (
    collection_items,
    collections,
    comments,
    feed_entries,
    metadata,
    papers,
)
from paperboy.store.transfer import (
    TransferRefused,
    copy_store,
    same_database,
    table_checksum,
    verify,
)

runner = CliRunner(env={"COLUMNS": "240", "NO_COLOR": "1"})
Urls = Callable[[str], str]


@pytest.fixture(autouse=True)
def wide_consoles(monkeypatch: pytest.MonkeyPatch) -> None:
    for console in (cli.err, cli.out):
        monkeypatch.setattr(console, "_width", 240)


def invoke(*args: str) -> Result:
    return runner.invoke(app, list(args))


def migrate(source: str, target: str, *more: str) -> Result:
    return invoke("migrate-store", "--from", source, "--to", target, *more)


DEMO_SUBSET = 1200  # papers: the whole demo takes ~45 s to copy into PostgreSQL


@pytest.fixture(scope="module")
def source_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """An SQLite store with part of the demo data (papers, feed, their shipped embeddings)
    and a row in every table. Tests only read it."""
    folder = tmp_path_factory.mktemp("migrate")
    subset = folder / "demo-subset.jsonl"
    with gzip.open(demo_data_path(), "rt", encoding="utf-8") as demo:
        subset.write_text("".join(itertools.islice(demo, DEMO_SUBSET)), encoding="utf-8")
    url = f"sqlite:///{folder / 'src.db'}"
    result = invoke("import", str(subset), "--no-embed", "--database-url", url)
    assert result.exit_code == 0, result.output
    store = open_store(url)
    try:
        loaded, _ = load_embeddings(store, demo_embeddings_path())
        assert loaded == store.count_papers() == DEMO_SUBSET
        progress = HarvestProgress(
            from_date="2025-01-01",
            until_date=None,
            pages_done=1,
            records_done=2,
            max_datestamp="2025-01-02",
        )
        store.save_harvest_page("cs", [], next_token="token-1", progress=progress)
        store.reserve_slot("arxiv", 3000, 1_700_000_000_000)
        _community_rows(store)
    finally:
        store.close()
    return url


def _community_rows(store: SQLStore) -> None:
    """A row in each community table: users, a session, a token, votes, comments, ..."""
    from community import make_user  # tests/community.py

    alice, bob = make_user(store, "alice"), make_user(store, "bob", admin=True)
    store.accounts.create_session(alice.id, timedelta(days=1))
    store.accounts.create_api_token(alice.id, "script")
    store.accounts.hit("login:ip:127.0.0.1", 60, 1_700_000_000)
    store.accounts.secret("signing-key")
    first, second = _two_paper_ids(store)
    store.activity.set_vote(alice.id, first, True)
    store.activity.set_paper_hidden(bob.id, second, True, "spam")
    subscription, _ = store.subscriptions.create("reader@example.org", confirmed=True)
    store.subscriptions.add_alert(subscription.id, "bias")
    store.subscriptions.enqueue_digest(
        subscription.id,
        "daily:2025-01-02",
        datetime(2025, 1, 3),
        message_id="<digest-1@example.org>",
        to_addr="reader@example.org",
        subject="Trending papers",
        body_text="text",
        body_html="<p>html</p>",
        headers={"List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
        paper_ids=[first],
    )
    store.ratings.rate(alice.id, second, -1, "card")
    store.ratings.set_follows(alice.id, categories=["cs.CL"], authors=["Ada Lovelace"])
    now = datetime(2025, 1, 2, 3, 4, 5)
    with store.engine.begin() as conn:
        conn.execute(
            insert(comments).values(
                paper_id=first, user_id=alice.id, body="**nice**", created_at=now
            )
        )
        collection = conn.execute(
            insert(collections)
            .values(
                user_id=alice.id,
                name="reading",
                description="",
                is_public=True,
                created_at=now,
                updated_at=now,
            )
            .returning(collections.c.id)
        ).scalar_one()
        conn.execute(
            insert(collection_items).values(
                collection_id=collection, paper_id=first, note="read first", added_at=now
            )
        )


def _two_paper_ids(store: SQLStore) -> list[str]:
    with store.engine.connect() as conn:
        return list(conn.execute(select(papers.c.id).order_by(papers.c.id).limit(2)).scalars())


@pytest.fixture
def stores(source_url: str, new_database_url: Urls) -> Iterator[tuple[SQLStore, SQLStore, str]]:
    """The source store, a store on a fresh target database, and the target's URL."""
    target_url = new_database_url("target")
    source, target = open_store(source_url), open_store(target_url)
    yield source, target, target_url
    target.close()
    source.close()


def counts(store: SQLStore) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in metadata.sorted_tables
        }


def assert_same_store(source: SQLStore, target: SQLStore, *, checksums: bool = True) -> None:
    """Same row counts (every table non-empty) and, unless the CLI just verified, checksums."""
    mine = counts(source)
    assert all(mine.values()), mine  # every table is exercised
    assert counts(target) == mine
    if checksums:
        assert [c.name for c in verify(source, target) if not c.ok] == []


# -- copying ----------------------------------------------------------------------------------


def test_copy_gives_the_same_store(stores: tuple[SQLStore, SQLStore, str], source_url: str):
    source, target, target_url = stores
    result = migrate(source_url, target_url, "--batch-size", "500")
    assert result.exit_code == 0, result.output
    assert "Copied" in result.output and "holds the same store" in result.output
    for name in ("papers", "feed_entries", "embeddings", "store_state", "harvest_state"):
        assert name in result.output
    assert "NO" not in result.output
    assert_same_store(source, target)

    assert target.revision() == source.revision()
    latest = source.latest_feed_date()
    assert latest is not None and target.latest_feed_date() == latest
    start = date(latest.year, latest.month, 1)
    for sort in ("upvotes", "date"):
        mine = source.feed(start, latest, sort=sort, limit=30)  # type: ignore[arg-type]
        theirs = target.feed(start, latest, sort=sort, limit=30)  # type: ignore[arg-type]
        assert theirs == mine and len(mine.items) > 0
    ids = [item.paper.id for item in source.feed(start, latest, limit=5).items]
    for paper_id in ids:
        assert target.get_paper(paper_id) == source.get_paper(paper_id)
        assert target.feed_entries_for(paper_id) == source.feed_entries_for(paper_id)
        assert target.embedding_of("all-MiniLM-L6-v2", paper_id) == source.embedding_of(
            "all-MiniLM-L6-v2", paper_id
        )
    state = target.harvest_state("cs")
    assert state is not None and state.resumption_token == "token-1"


def test_sqlite_to_sqlite(source_url: str, tmp_path: Path):
    target_url = f"sqlite:///{tmp_path / 'copy.db'}"
    result = migrate(source_url, target_url)
    assert result.exit_code == 0, result.output
    source, target = open_store(source_url), open_store(target_url)
    try:
        assert_same_store(source, target)
    finally:
        target.close()
        source.close()


def test_running_again_copies_nothing(stores: tuple[SQLStore, SQLStore, str], source_url: str):
    source, target, target_url = stores
    assert migrate(source_url, target_url).exit_code == 0
    again = migrate(source_url, target_url)
    assert again.exit_code == 0, again.output
    assert "Copied 0 rows" in again.output
    assert_same_store(source, target, checksums=False)


def test_new_rows_after_copy_get_fresh_ids(stores: tuple[SQLStore, SQLStore, str], source_url: str):
    """Copied ids are explicit; PostgreSQL's sequences must be moved past them."""
    source, target, target_url = stores
    assert migrate(source_url, target_url).exit_code == 0
    with target.engine.connect() as conn:
        before = conn.execute(select(func.max(feed_entries.c.id))).scalar_one()
    paper = Paper(id="2999.00001", title="A paper after the move", categories=("cs.CL",))
    counts_ = target.upsert([Record(paper, FeedEntry(paper.id, date(2030, 1, 2), upvotes=3))])
    assert (counts_.inserted, counts_.feed_added) == (1, 1)
    run_id = target.start_ingest("test", "after the move")
    with target.engine.connect() as conn:
        after = conn.execute(select(func.max(feed_entries.c.id))).scalar_one()
    assert after > before
    assert run_id > 1
    assert target.revision() > source.revision()


@pytest.mark.postgres_only
def test_postgres_vectors_are_rebuilt(stores: tuple[SQLStore, SQLStore, str], source_url: str):
    source, target, target_url = stores
    assert migrate(source_url, target_url).exit_code == 0
    with target.engine.connect() as conn:
        missing = conn.execute(
            text("SELECT count(*) FROM embeddings WHERE embedding IS NULL")
        ).scalar_one()
        filled = conn.execute(
            text("SELECT count(*) FROM embeddings WHERE embedding IS NOT NULL")
        ).scalar_one()
        tsv = conn.execute(
            text("SELECT count(*) FROM papers WHERE search_tsv @@ plainto_tsquery('model')")
        ).scalar_one()
    assert missing == 0 and filled == counts(source)["embeddings"]
    assert tsv > 0


# -- resuming ---------------------------------------------------------------------------------


class Stop(Exception):
    """Stands in for a kill between two batches."""


def stop_after(batches: int) -> Callable[[str, int, int], None]:
    seen = {"n": 0}

    def progress(_table: str, _done: int, _total: int) -> None:
        seen["n"] += 1
        if seen["n"] > batches:
            raise Stop

    return progress


def test_interrupted_copy_resumes(stores: tuple[SQLStore, SQLStore, str], source_url: str):
    source, target, target_url = stores
    with pytest.raises(Stop):  # the progress call after a table's start counts too
        copy_store(source, target, batch_size=100, progress=stop_after(8))
    partial = counts(target)
    assert 0 < partial["papers"] < counts(source)["papers"]
    assert partial["feed_entries"] == partial["embeddings"] == 0
    result = migrate(source_url, target_url, "--batch-size", "100")
    assert result.exit_code == 0, result.output
    already = sum(partial.values()) - partial["store_state"]  # seeded, then replaced whole
    assert f"{already:,} were already there" in result.output
    assert_same_store(source, target, checksums=False)


def test_interrupted_in_a_later_table_resumes(
    stores: tuple[SQLStore, SQLStore, str], source_url: str
):
    """Stopped inside the composite-key table (embeddings: paper_id, model)."""
    source, target, _ = stores
    total = counts(source)["papers"]
    rows = counts(source)
    order = [t.name for t in transfer.copy_tables()]
    first_big = min(order.index("embeddings"), order.index("feed_entries"))
    batches_before = sum(-(-rows[name] // 100) + 1 for name in order[:first_big])
    with pytest.raises(Stop):
        copy_store(source, target, batch_size=100, progress=stop_after(batches_before + 8))
    partial = counts(target)
    assert partial["papers"] == total
    assert 0 < partial["embeddings"] + partial["feed_entries"] < 2 * total
    copy_store(source, target, batch_size=100)
    assert_same_store(source, target)


@pytest.mark.postgres_only
def test_resumes_with_a_linguistic_collation(
    stores: tuple[SQLStore, SQLStore, str], monkeypatch: pytest.MonkeyPatch
):
    """A PostgreSQL database with a non-C default collation orders text keys with COLLATE "C"
    (the test cluster is C: force that path), so the resume point and checksums still agree."""
    monkeypatch.setattr(
        transfer, "_needs_c_collation", lambda engine: engine.dialect.name == "postgresql"
    )
    source, target, _ = stores
    total = counts(source)["papers"]
    with pytest.raises(Stop):
        copy_store(source, target, batch_size=100, progress=stop_after(-(-total // 100) + 8))
    copy_store(source, target, batch_size=100)
    assert_same_store(source, target)


def test_killed_process_resumes(source_url: str, new_database_url: Urls, tmp_path: Path):
    """A real SIGKILL in the middle of the copy, then the same command again."""
    target_url = new_database_url("killed")
    command = [sys.executable, "-m", "paperboy", "migrate-store"]
    command += ["--from", source_url, "--to", target_url, "--batch-size", "20"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    engine = create_engine(target_url)
    try:
        deadline = time.monotonic() + 60
        copied = 0
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with engine.connect() as conn:
                    copied = conn.execute(select(func.count()).select_from(papers)).scalar_one()
            except Exception:  # schema not created yet
                copied = 0
            if copied >= 100:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the copy finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        engine.dispose()
    result = migrate(source_url, target_url, "--batch-size", "20")
    assert result.exit_code == 0, result.output
    assert "were already there" in result.output
    source, target = open_store(source_url), open_store(target_url)
    try:
        assert_same_store(source, target, checksums=False)
    finally:
        target.close()
        source.close()


# -- refusing ---------------------------------------------------------------------------------


def test_refuses_the_same_database(source_url: str):
    path = source_url.removeprefix("sqlite:///")
    spelled_otherwise = "sqlite:///" + os.path.relpath(path)
    for target in (source_url, spelled_otherwise):
        result = migrate(source_url, target)
        assert result.exit_code == 1
        assert "same database" in result.output


def test_same_database_spellings():
    pg = "postgresql+psycopg://u:secret@db.example:5432/paperboy"
    assert same_database(pg, "postgresql://other@DB.example/paperboy")
    assert not same_database(pg, "postgresql+psycopg://u@db.example:5433/paperboy")
    assert not same_database(pg, "sqlite:///paperboy.db")
    assert not same_database("sqlite:///a.db", "sqlite:///b.db")


def test_refuses_a_target_holding_another_store(source_url: str, new_database_url: Urls):
    target_url = new_database_url("other")
    other = open_store(target_url)
    try:
        paper = Paper(id="2999.99999", title="Not from the source", categories=("cs.AI",))
        other.upsert([Record(paper, FeedEntry(paper.id, date(2030, 1, 1)))])
        before = counts(other)
        result = migrate(source_url, target_url)
        assert result.exit_code == 1
        assert "refused" in result.output and "papers" in result.output
        assert counts(other) == before  # nothing written
    finally:
        other.close()


def test_refuses_a_target_that_is_not_a_prefix(
    stores: tuple[SQLStore, SQLStore, str], source_url: str
):
    source, target, _ = stores
    first = source.feed(date(2000, 1, 1), date(2100, 1, 1), limit=1).items[0].paper
    target.upsert([Record(first)])  # one row, inside the source's key range but not a prefix
    with pytest.raises(TransferRefused, match="not a partial copy"):
        copy_store(source, target)


def test_missing_source_file_is_refused(tmp_path: Path, new_database_url: Urls):
    missing = tmp_path / "nope.db"
    result = migrate(f"sqlite:///{missing}", new_database_url("target"))
    assert result.exit_code == 1
    assert "does not exist" in result.output
    assert not missing.exists()


def test_unreachable_database(source_url: str):
    result = migrate(source_url, "postgresql+psycopg://nobody:pw@127.0.0.1:9/paperboy")
    assert result.exit_code == 1
    assert "cannot reach the target database" in result.output
    assert "pw@" not in result.output


def test_help_explains():
    result = invoke("migrate-store", "--help")
    assert result.exit_code == 0
    for words in ("--from", "--to", "--batch-size", "--verify-only", "same command again"):
        assert words in result.output


# -- verifying --------------------------------------------------------------------------------


def test_verify_only_detects_a_tampered_row(
    stores: tuple[SQLStore, SQLStore, str], source_url: str
):
    source, target, target_url = stores
    assert migrate(source_url, target_url).exit_code == 0
    clean = migrate(source_url, target_url, "--verify-only")
    assert clean.exit_code == 0, clean.output
    assert "Copied" not in clean.output
    victim = source.feed(date(2000, 1, 1), date(2100, 1, 1), limit=1).items[0].paper.id
    with target.engine.begin() as conn:
        conn.execute(update(papers).where(papers.c.id == victim).values(title="Tampered"))
    result = migrate(source_url, target_url, "--verify-only")
    assert result.exit_code == 1
    assert "stores differ" in result.output
    line = next(line for line in result.output.splitlines() if "│ papers" in line)
    assert "NO" in line
    assert all(c.ok for c in verify(source, target) if c.name != "papers")


def test_checksum_normalises_values(source_url: str, tmp_path: Path):
    """Booleans, JSON, datetimes and bytes hash alike whatever the engine returns."""
    store = open_store(source_url)
    try:
        rows, digest = table_checksum(store, papers, batch=10)
        again = table_checksum(store, papers, batch=5000)
    finally:
        store.close()
    assert rows > 0 and (rows, digest) == again

    from paperboy.store.transfer import _normaliser, _plain

    assert _normaliser(papers.c.withdrawn)(1) is True
    assert _normaliser(papers.c.authors)('{"b": 1, "a": [2]}') == {"b": 1, "a": [2]}
    assert _plain(datetime(2024, 1, 2, 3, 4, 5, 6)) == "2024-01-02T03:04:05.000006"
    assert _plain(memoryview(b"\x01\xff")) == "01ff"
