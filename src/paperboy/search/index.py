"""The search indexes of the embedded store, kept beside it and always rebuildable from it.

Two derived indexes live in one directory (by default ``<database file>.index/``):

- ``keyword/``: the tantivy BM25 index, with ``keyword.json`` holding the (change_seq, id) of
  the last paper it has taken in. Catching up re-adds every paper changed since; adding replaces
  by id, so redoing work after a crash is harmless, and tantivy drops uncommitted segments.
- ``vectors.bin``: a snapshot of the vector index with the embedding sequence it holds. It only
  speeds up loading: the vectors themselves live in the store's ``embeddings`` table and each
  process catches up from there.

Nothing here writes to the store. Deleting the directory is always safe: it is rebuilt.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy.engine import make_url

from paperboy.embed.jobs import decode_vector
from paperboy.search.keyword import SCHEMA_VERSION, KeywordIndex, doc_from_paper
from paperboy.search.vectors import VectorIndex
from paperboy.store.sql import SQLStore

log = logging.getLogger(__name__)

Progress = Callable[[int], None]
_PAGE = 2000
_COMMIT_EVERY = 50_000


def default_index_dir(database_url: str) -> Path | None:
    """``<file>.index`` beside an SQLite database file; None for other databases."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database + ".index")
    return None


def _write_json(path: Path, data: dict[str, object]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


@dataclass(frozen=True, slots=True)
class SyncReport:
    keyword_docs: int  # papers (re)indexed by this call
    vectors: int  # vectors taken in by this call
    keyword_busy: bool = False  # another process held the keyword writer


class SearchIndex:
    """Keyword and vector indexes of one store, for one embedding model."""

    def __init__(self, store: SQLStore, directory: Path, model: str) -> None:
        self.store = store
        self.directory = Path(directory)
        self.model = model
        self._lock = threading.RLock()
        self._keyword: KeywordIndex | None = None
        self._vectors: VectorIndex | None = None
        self._vector_seq = -1
        self._seen_revision: int | None = None
        self._checked_at = 0.0

    # -- keyword ----------------------------------------------------------------------------

    @property
    def _keyword_meta(self) -> Path:
        return self.directory / "keyword.json"

    def _read_keyword_meta(self) -> tuple[int, str] | None:
        try:
            meta = json.loads(self._keyword_meta.read_text())
            if meta.get("schema") != SCHEMA_VERSION:
                return None
            return int(meta["seq"]), str(meta["id"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    @property
    def keyword(self) -> KeywordIndex:
        with self._lock:
            if self._keyword is None:
                self.directory.mkdir(parents=True, exist_ok=True)
                path = self.directory / "keyword"
                if self._read_keyword_meta() is None and path.exists():
                    shutil.rmtree(path)  # another schema or no record of progress: rebuild
                self._keyword = KeywordIndex.create(path)
            return self._keyword

    def sync_keyword(self, progress: Progress | None = None) -> tuple[int, bool]:
        """Take in every paper changed since the last sync. Returns (docs, busy)."""
        with self._lock:
            index = self.keyword
            position = self._read_keyword_meta() or (-1, "")
            try:
                index.add(())  # takes the writer lock, or raises if another process has it
            except ValueError:
                index.reload()
                return 0, True
            done = 0
            pending = 0
            try:
                while True:
                    rows = self.store.changed_papers(position[0], after_id=position[1], limit=_PAGE)
                    if not rows:
                        break
                    index.add(doc_from_paper(paper) for _seq, paper in rows)
                    position = (rows[-1][0], rows[-1][1].id)
                    done += len(rows)
                    pending += len(rows)
                    if progress is not None:
                        progress(len(rows))
                    if pending >= _COMMIT_EVERY:
                        self._commit_keyword(index, position)
                        pending = 0
                self._commit_keyword(index, position)
            finally:
                index.close()
            return done, False

    def _commit_keyword(self, index: KeywordIndex, position: tuple[int, str]) -> None:
        index.commit()
        data = {"schema": SCHEMA_VERSION, "seq": position[0], "id": position[1]}
        _write_json(self._keyword_meta, data)

    # -- vectors ----------------------------------------------------------------------------

    @property
    def _vector_file(self) -> Path:
        return self.directory / f"vectors-{self.model}.bin"

    @property
    def vectors(self) -> VectorIndex:
        with self._lock:
            if self._vectors is None:
                self._vectors = self._load_vectors()
                self._vector_seq = self._vectors.watermark
                self.sync_vectors()
                # The index's millions of small objects never die: keep the collector from
                # walking them again and again (each full collection paused searches for
                # tens of milliseconds at a million papers).
                gc.collect()
                gc.freeze()
            return self._vectors

    def _load_vectors(self) -> VectorIndex:
        path = self._vector_file
        if path.exists():
            try:
                return VectorIndex.load(path)
            except (OSError, ValueError) as exc:
                log.warning("rebuilding the vector index: %s", exc)
        index = VectorIndex()
        index.watermark = -1
        return index

    def sync_vectors(self, progress: Progress | None = None) -> int:
        """Take in every embedding written since this process last looked. Returns how many."""
        with self._lock:
            index = self._vectors if self._vectors is not None else self.vectors
            seq, last_id = self._vector_seq, ""
            taken = 0
            while True:
                rows = self.store.embeddings_since(self.model, seq, after_id=last_id, limit=_PAGE)
                if not rows:
                    break
                ids = [paper_id for _s, paper_id, _v in rows]
                matrix = np.stack([decode_vector(blob) for _s, _p, blob in rows])
                index.upsert(ids, matrix)
                seq, last_id = rows[-1][0], rows[-1][1]
                taken += len(rows)
                if progress is not None:
                    progress(len(rows))
            self._vector_seq = seq
            index.watermark = seq
            return taken

    def save_vectors(self) -> None:
        """Snapshot the vector index for quick loading by the next process."""
        with self._lock:
            self.directory.mkdir(parents=True, exist_ok=True)
            self.vectors.save(self._vector_file)

    # -- both -------------------------------------------------------------------------------

    def sync(self, progress: Progress | None = None, *, save: bool = True) -> SyncReport:
        """Catch both indexes up with the store (what import, harvest and embed call)."""
        with self._lock:
            docs, busy = self.sync_keyword(progress)
            fresh = self._vectors is None
            taken = len(self.vectors) if fresh else self.sync_vectors()
            if save and (taken or not self._vector_file.exists()):
                self.save_vectors()
            self._seen_revision = self.store.revision()
            return SyncReport(keyword_docs=docs, vectors=taken, keyword_busy=busy)

    def refresh(self, min_interval: float = 1.0) -> None:
        """Catch up if the store changed; checks at most every ``min_interval`` seconds.

        Serving processes call this before answering a search, so papers written by another
        process (an import, a harvest, ``paperboy embed``) become searchable without a restart.
        """
        now = time.monotonic()
        if self._seen_revision is not None and now - self._checked_at < min_interval:
            return
        with self._lock:
            self._checked_at = now
            revision = self.store.revision()
            if revision == self._seen_revision:
                return
            self.sync_keyword()
            self.sync_vectors()
            self._seen_revision = revision

    def close(self) -> None:
        with self._lock:
            if self._keyword is not None:
                self._keyword.close()
