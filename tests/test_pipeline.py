"""What runs after an ingest (paperboy.pipeline): embed, index, digests; failures reported."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from demo import demo_record, demo_rows
from paperboy import pipeline
from paperboy.embed.model import EmbedderUnavailable
from paperboy.errors import PaperboyError
from paperboy.settings import Settings
from paperboy.store import SQLStore


class Recorder(pipeline.Observer):
    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []

    def embedded(self, report: Any) -> None:
        self.seen.append(("embedded", report))

    def embed_failed(self, exc: PaperboyError) -> None:
        self.seen.append(("embed_failed", exc))

    def indexed(self, report: Any) -> None:
        self.seen.append(("indexed", report))

    def index_failed(self, exc: OSError | ValueError) -> None:
        self.seen.append(("index_failed", exc))


@pytest.fixture
def local(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"index_dir": tmp_path / "idx"})


def _fill(store: SQLStore, n: int = 5) -> None:
    store.upsert([demo_record(row) for row in demo_rows()[:n]])


def test_index_catches_up_without_embedding(local: Settings, store: SQLStore) -> None:
    _fill(store)
    seen = Recorder()
    pipeline.after_ingest(local, store, embed=False, digests=False, observer=seen)
    assert [what for what, _ in seen.seen] == ["indexed"]


def test_embed_failure_is_reported_and_the_index_still_syncs(
    local: Settings, store: SQLStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fill(store)

    def unavailable(**_: object) -> None:
        raise EmbedderUnavailable("not installed here")

    monkeypatch.setattr("paperboy.embed.model.load_embedder", unavailable)
    seen = Recorder()
    pipeline.after_ingest(local, store, embed=True, digests=False, observer=seen)
    assert [what for what, _ in seen.seen] == ["embed_failed", "indexed"]


def test_nothing_to_embed_loads_no_model(
    local: Settings, store: SQLStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def never(**_: object) -> None:
        raise AssertionError("the model was loaded")

    monkeypatch.setattr("paperboy.embed.model.load_embedder", never)
    seen = Recorder()
    pipeline.after_ingest(local, store, embed=True, digests=False, observer=seen)
    assert [what for what, _ in seen.seen] == ["embedded", "indexed"]
    assert seen.seen[0][1].embedded == 0


def test_default_observer_logs(
    local: Settings, store: SQLStore, caplog: pytest.LogCaptureFixture
) -> None:
    _fill(store)
    with caplog.at_level(logging.INFO, logger="paperboy.pipeline"):
        pipeline.after_ingest(local, store, embed=False, digests=False)
    assert any(r.getMessage().startswith("search index: ") for r in caplog.records)
