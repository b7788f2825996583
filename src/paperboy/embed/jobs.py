"""Embedding papers into the store: incremental, batched, resumable.

``embed_pending`` finds papers with no vector for the model, or changed since theirs, encodes
them in chunks and commits each chunk, so a killed run loses at most one chunk and the next run
carries on. A changed paper whose embedded text (title and abstract) did not change keeps its
vector. Vectors can be exported to and loaded from a file (``.npz``), which is how the demo data
ships the vectors that ``paperboy embed`` produced for it.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from paperboy.clock import chunks
from paperboy.embed.text import paper_text, text_hash
from paperboy.errors import ImportFileError
from paperboy.store.sql import SQLStore

Progress = Callable[[int], None]
CHUNK = 256  # papers per commit


class Encoder(Protocol):
    name: str
    dim: int

    def encode(
        self, texts: list[str], *, batch_size: int = 32, progress: Progress | None = None
    ) -> np.ndarray: ...


@dataclass(slots=True)
class EmbedReport:
    embedded: int = 0  # new vectors written
    unchanged: int = 0  # papers changed in other fields: their vector was kept
    pending: int = 0  # papers that needed work when the run started


def encode_vector(vector: np.ndarray) -> bytes:
    """A vector as the ``embeddings`` table stores it: float16, little-endian."""
    return np.asarray(vector, dtype="<f2").tobytes()


def decode_vector(blob: bytes) -> np.ndarray:
    """A stored vector back as float32."""
    return np.frombuffer(blob, dtype="<f2").astype(np.float32)


def embed_pending(
    store: SQLStore,
    encoder: Encoder,
    *,
    batch_size: int = 32,
    limit: int | None = None,
    chunk: int = CHUNK,
    progress: Progress | None = None,
) -> EmbedReport:
    """Embed every paper that needs it (at most ``limit``), committing every ``chunk``."""
    report = EmbedReport(pending=store.count_papers_to_embed(encoder.name))
    after = ""
    while limit is None or report.embedded + report.unchanged < limit:
        size = chunk if limit is None else min(chunk, limit - report.embedded - report.unchanged)
        rows = store.papers_to_embed(encoder.name, after_id=after, limit=size)
        if not rows:
            break
        after = rows[-1][1].id
        keep: list[tuple[str, int, str, bytes | None]] = []
        todo: list[tuple[str, int, str, str]] = []
        for seq, paper, stored_hash in rows:
            text = paper_text(paper.title, paper.abstract)
            digest = text_hash(text)
            if digest == stored_hash:
                keep.append((paper.id, seq, digest, None))
            else:
                todo.append((paper.id, seq, digest, text))
        written: list[tuple[str, int, str, bytes | None]] = []
        if todo:
            vectors = encoder.encode([t[3] for t in todo], batch_size=batch_size)
            written = [
                (pid, seq, digest, encode_vector(vec))
                for (pid, seq, digest, _text), vec in zip(todo, vectors, strict=True)
            ]
        store.save_embeddings(encoder.name, written + keep)
        report.embedded += len(written)
        report.unchanged += len(keep)
        if progress is not None:
            progress(len(rows))
    return report


def export_embeddings(store: SQLStore, model: str, path: Path) -> int:
    """Write every stored vector of ``model`` with its text hash to an ``.npz`` file."""
    ids: list[str] = []
    hashes: list[str] = []
    blobs: list[bytes] = []
    seq, last = -1, ""
    while True:
        rows = store.embeddings_since(model, seq, after_id=last, limit=5000)
        if not rows:
            break
        for row_seq, paper_id, blob in rows:
            ids.append(paper_id)
            blobs.append(blob)
            seq, last = row_seq, paper_id
    stored = store.embedding_hashes(model, ids)
    hashes = [stored.get(i, "") for i in ids]
    matrix = (
        np.frombuffer(b"".join(blobs), dtype="<f2").reshape(len(blobs), -1)
        if blobs
        else np.zeros((0, 0), dtype="<f2")
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        np.savez_compressed(
            fh, ids=np.array(ids), hashes=np.array(hashes), vectors=matrix, model=np.array(model)
        )
    tmp.replace(path)
    return len(ids)


def load_embeddings(store: SQLStore, path: Path, *, chunk: int = 2000) -> tuple[int, int]:
    """Store the vectors of an exported file for papers whose text still matches.

    Returns (loaded, skipped): a vector is skipped when its paper is absent or its title or
    abstract changed since (``paperboy embed`` computes those afresh).
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            ids = [str(i) for i in data["ids"]]
            hashes = [str(h) for h in data["hashes"]]
            vectors = np.asarray(data["vectors"], dtype="<f2")
            model = str(data["model"])
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
        raise ImportFileError(str(path), f"not a readable embeddings file ({exc})") from exc
    if len(ids) != len(hashes) or len(ids) != len(vectors):
        raise ImportFileError(str(path), "ids, hashes and vectors differ in length")
    loaded = skipped = 0
    for part, part_hashes, part_vectors in zip(
        chunks(ids, chunk), chunks(hashes, chunk), chunks(vectors, chunk), strict=True
    ):
        papers = store.get_papers(part)
        seqs = store.change_seqs(part)
        rows: list[tuple[str, int, str, bytes | None]] = []
        for paper_id, digest, vector in zip(part, part_hashes, part_vectors, strict=True):
            paper = papers.get(paper_id)
            if paper is None or text_hash(paper_text(paper.title, paper.abstract)) != digest:
                skipped += 1
                continue
            rows.append((paper_id, seqs[paper_id], digest, vector.tobytes()))
        store.save_embeddings(model, rows)
        loaded += len(rows)
    return loaded, skipped
