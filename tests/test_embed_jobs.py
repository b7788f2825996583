"""Embedding papers into the store: incremental, resumable after a crash, export and load.

Most tests use a small deterministic encoder (a hash of the text) to test the job's logic
quickly; one runs the real ``paperboy embed`` command with the packaged model.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from demo import demo_record, demo_rows
from paperboy.cli import app as cli_app
from paperboy.embed.jobs import embed_pending, export_embeddings, load_embeddings
from paperboy.errors import ImportFileError
from paperboy.settings import Settings
from paperboy.store import SQLStore


class HashEncoder:
    """Deterministic unit vectors from the text; counts what it encodes; can fail on demand."""

    name = "hash-model"
    dim = 384

    def __init__(self, fail_after: int | None = None) -> None:
        self.encoded: list[str] = []
        self.fail_after = fail_after

    def encode(
        self, texts: list[str], *, batch_size: int = 32, progress: object = None
    ) -> np.ndarray:
        if self.fail_after is not None and len(self.encoded) >= self.fail_after:
            raise KeyboardInterrupt  # the process is stopped mid-run
        self.encoded.extend(texts)
        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
            v = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
            rows.append(v / np.linalg.norm(v))
        return np.stack(rows)


def _fill(store: SQLStore, n: int) -> list[str]:
    rows = list(demo_rows()[:n])
    store.upsert([demo_record(row) for row in rows])
    return [row["id"] for row in rows]


def test_embeds_each_paper_once(store: SQLStore) -> None:
    ids = _fill(store, 30)
    encoder = HashEncoder()
    report = embed_pending(store, encoder, chunk=8)
    assert report.embedded == 30 and report.pending == 30
    assert store.count_embeddings("hash-model") == 30
    again = embed_pending(store, encoder, chunk=8)
    assert again.embedded == 0 and again.pending == 0
    assert len(encoder.encoded) == 30
    assert store.embedding_of("hash-model", ids[0]) is not None


def test_only_text_changes_are_re_embedded(store: SQLStore) -> None:
    _fill(store, 5)
    encoder = HashEncoder()
    embed_pending(store, encoder)
    row = demo_rows()[2]
    store.upsert([demo_record(row, comments="12 pages, camera ready", version=9)])
    kept = embed_pending(store, encoder)
    assert (kept.embedded, kept.unchanged) == (0, 1)
    assert embed_pending(store, encoder).pending == 0
    store.upsert([demo_record(row, title="A wholly new title", version=10)])
    changed = embed_pending(store, encoder)
    assert (changed.embedded, changed.unchanged) == (1, 0)
    assert encoder.encoded[-1].startswith("A wholly new title")


def test_interrupted_run_resumes_without_redoing_work(store: SQLStore) -> None:
    _fill(store, 40)
    crashing = HashEncoder(fail_after=16)
    with pytest.raises(KeyboardInterrupt):
        embed_pending(store, crashing, chunk=8)
    assert store.count_embeddings("hash-model") == 16  # two whole chunks were committed
    rest = HashEncoder()
    report = embed_pending(store, rest, chunk=8)
    assert report.embedded == 24 and len(rest.encoded) == 24
    assert store.count_embeddings("hash-model") == 40


def test_limit(store: SQLStore) -> None:
    _fill(store, 10)
    assert embed_pending(store, HashEncoder(), limit=3).embedded == 3
    assert store.count_papers_to_embed("hash-model") == 7


def test_export_and_load_roundtrip(
    store: SQLStore, tmp_path: Path, settings: Settings, new_database_url: Callable[[str], str]
) -> None:
    ids = _fill(store, 12)
    embed_pending(store, HashEncoder())
    path = tmp_path / "vectors.npz"
    assert export_embeddings(store, "hash-model", path) == 12

    from paperboy.store import open_store

    other = open_store(new_database_url("other"))
    try:
        rows = list(demo_rows()[:12])
        changed = demo_record(rows[0], title="Changed since the export")
        other.upsert([changed] + [demo_record(r) for r in rows[1:11]])  # one absent, one changed
        loaded, skipped = load_embeddings(other, path)
        assert (loaded, skipped) == (10, 2)
        assert other.embedding_of("hash-model", ids[0]) is None
        assert other.embedding_of("hash-model", ids[1]) == store.embedding_of("hash-model", ids[1])
        assert embed_pending(other, HashEncoder()).embedded == 1  # only the changed paper
    finally:
        other.close()


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated zip", b"not a zip at all"])
def test_unreadable_embeddings_file(store: SQLStore, tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.npz"
    path.write_bytes(content)
    with pytest.raises(ImportFileError, match="broken.npz"):
        load_embeddings(store, path)


@pytest.mark.slow
def test_cli_embed_with_the_packaged_model(settings: Settings, store: SQLStore) -> None:
    _fill(store, 6)
    runner = CliRunner()
    url = ["--database-url", settings.database_url]
    first = runner.invoke(cli_app, ["embed", "--limit", "4", *url])
    assert first.exit_code == 0, first.output
    assert "4 of 6 papers have embeddings" in first.output
    second = runner.invoke(cli_app, ["embed", *url])
    assert second.exit_code == 0 and "6 of 6 papers have embeddings" in second.output
    search = runner.invoke(cli_app, ["search", demo_rows()[3]["title"], "--json", *url])
    assert search.exit_code == 0 and demo_rows()[3]["id"] in search.output
