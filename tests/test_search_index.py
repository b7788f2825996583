"""The search indexes beside the store: incremental catch-up, crash safety, rebuilds.

These are the files an SQLite store searches with; a PostgreSQL store searches inside the
database (paperboy.search.pg), so the tests of the files themselves (snapshots, progress
records, writer locks) run on SQLite only, while the catch-up from the store runs on both.

Vectors here are seeded random unit vectors written through the store's own API, so these
tests exercise the index plumbing without the embedding model (tests/test_search.py uses it).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from demo import demo_record, demo_rows
from paperboy.embed.jobs import decode_vector, encode_vector
from paperboy.search import index_dir, open_search
from paperboy.search.index import SearchIndex
from paperboy.search.keyword import KeywordIndex
from paperboy.settings import Settings
from paperboy.store import SQLStore, open_store

MODEL = "test-model"


def _vectors(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    m = rng.standard_normal((n, 384)).astype(np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def _fill(store: SQLStore, n: int = 40) -> list[str]:
    rows = list(demo_rows()[:n])
    store.upsert([demo_record(row) for row in rows])
    return [row["id"] for row in rows]


def _embed(store: SQLStore, ids: list[str], seed: int = 0) -> np.ndarray:
    vectors = _vectors(len(ids), seed)
    seqs = store.change_seqs(ids)
    store.save_embeddings(
        MODEL,
        [
            (pid, seqs[pid], f"h{seed}", encode_vector(v))
            for pid, v in zip(ids, vectors, strict=True)
        ],
    )
    return vectors


@pytest.fixture
def index(store: SQLStore, tmp_path: Path) -> SearchIndex:
    return SearchIndex(store, tmp_path / "idx", MODEL)


def test_sync_indexes_every_paper_then_only_changes(store: SQLStore, index: SearchIndex) -> None:
    ids = _fill(store)
    report = index.sync()
    assert report.keyword_docs == len(ids)
    assert len(index.keyword) == len(ids)
    assert index.sync().keyword_docs == 0  # nothing changed

    paper = store.get_paper(ids[3])
    assert paper is not None
    store.upsert([demo_record(demo_rows()[3], title="Zyxwvut retitled paper", version=99)])
    assert index.sync().keyword_docs == 1
    assert [h.paper_id for h in index.keyword.search("zyxwvut")] == [ids[3]]
    assert len(index.keyword) == len(ids)  # replaced, not added twice


def test_vectors_catch_up_and_replace(store: SQLStore, index: SearchIndex) -> None:
    ids = _fill(store, 20)
    first = _embed(store, ids[:10], seed=1)
    index.sync()
    assert len(index.vectors) == 10
    best = index.vectors.search(first[4], 1)
    assert best[0][0] == ids[4] and best[0][1] == pytest.approx(1.0, abs=1e-2)

    _embed(store, ids[10:], seed=2)
    second = _embed(store, ids[:1], seed=3)  # a changed paper's vector replaces the old one
    index.refresh(min_interval=0)
    assert len(index.vectors) == 20
    assert index.vectors.search(second[0], 1)[0][0] == ids[0]
    assert float(index.vectors.scores(first[0], [ids[0]])[ids[0]]) < 0.5


@pytest.mark.sqlite_only
def test_vector_snapshot_loads_then_catches_up(
    store: SQLStore, index: SearchIndex, tmp_path: Path
) -> None:
    ids = _fill(store, 12)
    _embed(store, ids[:6], seed=1)
    index.sync()  # writes the snapshot
    snapshot = index.directory / f"vectors-{MODEL}.bin"
    assert snapshot.exists()
    later = _embed(store, ids[6:], seed=2)
    again = SearchIndex(store, tmp_path / "idx", MODEL)
    assert len(again.vectors) == 12
    assert again.vectors.search(later[2], 1)[0][0] == ids[8]


@pytest.mark.sqlite_only
def test_truncated_vector_snapshot_is_rebuilt_from_the_store(
    store: SQLStore, index: SearchIndex, tmp_path: Path
) -> None:
    ids = _fill(store, 8)
    vectors = _embed(store, ids)
    index.sync()
    snapshot = index.directory / f"vectors-{MODEL}.bin"
    snapshot.write_bytes(snapshot.read_bytes()[: snapshot.stat().st_size // 2])
    again = SearchIndex(store, tmp_path / "idx", MODEL)
    assert len(again.vectors) == 8
    assert again.vectors.search(vectors[5], 1)[0][0] == ids[5]


@pytest.mark.sqlite_only
def test_crash_between_commit_and_progress_record_redoes_safely(
    store: SQLStore, index: SearchIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = _fill(store, 30)
    import paperboy.search.index as module

    def crash(*_args: object) -> None:
        raise OSError("disk full while writing the progress record")

    monkeypatch.setattr(module, "_write_json", crash)
    with pytest.raises(OSError):
        index.sync()
    monkeypatch.undo()
    fresh = SearchIndex(store, index.directory, MODEL)
    fresh.sync()
    assert len(fresh.keyword) == len(ids)
    title_word = "matryoshka"
    hits = [h.paper_id for h in fresh.keyword.search(title_word, 50)]
    assert len(hits) == len(set(hits))


@pytest.mark.sqlite_only
def test_unreadable_progress_record_rebuilds(store: SQLStore, index: SearchIndex) -> None:
    ids = _fill(store, 10)
    index.sync()
    index.close()
    (index.directory / "keyword.json").write_text("{not json")
    again = SearchIndex(store, index.directory, MODEL)
    assert again.sync().keyword_docs == len(ids)
    assert len(again.keyword) == len(ids)


@pytest.mark.sqlite_only
def test_other_schema_version_rebuilds(store: SQLStore, index: SearchIndex) -> None:
    ids = _fill(store, 10)
    index.sync()
    index.close()
    meta = index.directory / "keyword.json"
    data = json.loads(meta.read_text())
    meta.write_text(json.dumps({**data, "schema": -1}))
    again = SearchIndex(store, index.directory, MODEL)
    assert again.sync().keyword_docs == len(ids)


@pytest.mark.sqlite_only
def test_busy_writer_is_reported_not_raised(store: SQLStore, index: SearchIndex) -> None:
    _fill(store, 5)
    index.sync()
    holder = KeywordIndex.open(index.directory / "keyword")
    holder.add(())  # takes the writer lock, as another process would
    try:
        store.upsert([demo_record(demo_rows()[5])])
        other = SearchIndex(store, index.directory, MODEL)
        assert other.sync().keyword_busy
    finally:
        holder.close()


def test_refresh_sees_papers_written_later(store: SQLStore, index: SearchIndex) -> None:
    _fill(store, 5)
    index.sync()
    row = demo_rows()[7]
    store.upsert([demo_record(row)])
    index.refresh(min_interval=0)
    assert row["id"] in [h.paper_id for h in index.keyword.search(row["title"], 3)]


def test_vector_codec_roundtrip() -> None:
    v = _vectors(1)[0]
    assert np.allclose(decode_vector(encode_vector(v)), v, atol=1e-3)


def test_withdrawn_and_filters(store: SQLStore, index: SearchIndex) -> None:
    ids = _fill(store, 10)
    paper = store.get_paper(ids[0])
    assert paper is not None
    store.upsert([demo_record(demo_rows()[0], categories=("cs.CL", "cs.AI"), version=98)])
    index.sync()
    assert ids[0] in [h.paper_id for h in index.keyword.search("cat:cs.CL", 20)]
    assert ids[0] in [h.paper_id for h in index.keyword.search("cat:cs", 20)]
    assert ids[0] not in [h.paper_id for h in index.keyword.search("cat:math", 20)]


def _import_fifteen(url: str, tmp_path: Path) -> str:
    """Import the first 15 demo papers with ``paperboy import``; return its output."""
    import gzip

    from typer.testing import CliRunner

    from paperboy.cli import app
    from paperboy.ingest import demo_data_path

    source = tmp_path / "few.jsonl"
    with gzip.open(demo_data_path(), "rt", encoding="utf-8") as fh:
        source.write_text("".join(line for _, line in zip(range(15), fh, strict=False)))
    result = CliRunner().invoke(app, ["import", str(source), "--no-embed", "--database-url", url])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.sqlite_only
def test_import_command_updates_the_index(settings: Settings, tmp_path: Path) -> None:
    output = _import_fifteen(settings.database_url, tmp_path)
    assert "15 papers indexed" in output
    index = KeywordIndex.open(index_dir(settings) / "keyword")
    try:
        assert len(index) == 15
        row = demo_rows()[4]
        assert row["id"] in [h.paper_id for h in index.search(row["title"], 3)]
    finally:
        index.close()


def test_imported_papers_are_found_by_keyword(settings: Settings, tmp_path: Path) -> None:
    _import_fifteen(settings.database_url, tmp_path)
    store = open_store(settings.database_url)
    try:
        search = open_search(settings, store)
        try:
            for row in (demo_rows()[4], demo_rows()[11]):
                hits = search.index.keyword.search(row["title"], 3)
                assert row["id"] in [h.paper_id for h in hits]
        finally:
            search.index.close()
    finally:
        store.close()
