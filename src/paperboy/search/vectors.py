"""The vector index: cosine top-k over paper embeddings, exact on a matrix, HNSW when large.

Every vector lives in one contiguous float32 matrix (rows are L2-normalised on the way in, so a
dot product is the cosine), with maps between paper ids and rows. Removing a paper frees its
row for the next new one; rows never move, so they double as the HNSW keys.

- ``scores`` and ``search_within`` are always exact: a gather of the candidate rows and a
  matrix-vector product.
- ``search`` and ``similar`` scan the whole matrix (matmul + argpartition) while the index holds
  fewer than ``hnsw_min`` vectors. From ``hnsw_min`` on they ask a usearch HNSW graph (float16
  storage, built by the ``upsert`` that crosses ``hnsw_min`` or, for an index loaded without
  one, by the first search, then kept up to date by ``upsert`` and ``remove``) for candidates
  and re-score those exactly from the matrix, so every score this class returns is the same
  float32 cosine. Without usearch installed everything stays exact.

``bench/vector_bench.py`` measured the trade-off on 2 cores (clustered 384-d vectors): an exact
float32 scan costs about 16 ms at 100k vectors and 160 ms at 1M, too slow for a 20 ms hybrid
search. The HNSW graph answers in about 0.7 ms with recall@10 of 1.0 at 100k (connectivity 16,
build ef 128, search ef 64, build 43 s); at 1M with build ef 64 it took 14 minutes to build and
recall@10 fell to 0.66 at search ef 64 (0.83 at 128): the 1M settings still need tuning.
A float16 matrix halves memory but NumPy's float16 -> float32 conversion makes a full scan ten
times slower, so the matrix stays float32.

``save`` writes one file (header, ids, matrix, serialised graph, checksums) to a temporary file,
fsyncs it and renames it over the old one. ``load`` checks the magic, the lengths and the
checksums and raises ``ValueError`` on a truncated or damaged file, never loading garbage; a
graph that cannot be restored is dropped and rebuilt on demand.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
import threading
import zlib
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from paperboy.clock import chunks
from paperboy.search.limits import bounded

try:  # optional: without it every search is exact
    from usearch.index import Index as _HnswIndex
except ImportError:  # pragma: no cover - depends on the environment
    _HnswIndex = None

HNSW_AVAILABLE = _HnswIndex is not None

DEFAULT_DIM = 384
HNSW_MIN = 20_000  # below this a full float32 scan takes ~3 ms on 2 cores; above, HNSW
HNSW_CONNECTIVITY = 16
HNSW_EXPANSION_ADD = 128
HNSW_EXPANSION_SEARCH = 64
_BUILD_THREADS = 2  # the server has 2 cores
_MIN_CAPACITY = 1024
_MAGIC = b"PBVECS1\n"
_TRAILER = b"PBVEND1\n"
_FORMAT = 1
_HEADER = struct.Struct("<8sQ")  # magic, header JSON length
_CRC_CHUNK = 1 << 24


class VectorIndex:
    """Paper embeddings by paper id, searchable by cosine similarity.

    Thread-safe: every public method holds the index's lock, so a search never sees a
    half-applied ``upsert``.
    """

    dim: int
    watermark: int  # the caller's embedding sequence number this index holds up to

    def __init__(self, dim: int = DEFAULT_DIM, *, hnsw_min: int = HNSW_MIN) -> None:
        if dim <= 0:
            raise ValueError(f"dimension must be positive, not {dim}")
        self.dim = dim
        self.hnsw_min = hnsw_min
        self.watermark = 0
        self._matrix = np.zeros((0, dim), dtype=np.float32)
        self._ids: list[str | None] = []  # row -> paper id; None for a free row
        self._rows: dict[str, int] = {}  # paper id -> row
        self._free: list[int] = []  # freed rows, reused by new ids
        self._live = np.zeros(0, dtype=bool)
        self._graph: Any = None  # usearch Index keyed by row, or None
        self._lock = threading.RLock()

    # -- size and lookup --------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, paper_id: object) -> bool:
        return paper_id in self._rows

    def ids(self) -> list[str]:
        """Every paper id in the index, in row order."""
        with self._lock:
            return [pid for pid in self._ids if pid is not None]

    def vector(self, paper_id: str) -> np.ndarray | None:
        """A float32 copy of the (normalised) vector of ``paper_id``, or None."""
        with self._lock:
            row = self._rows.get(paper_id)
            return None if row is None else self._matrix[row].copy()

    @property
    def uses_hnsw(self) -> bool:
        """Whether ``search`` goes through the HNSW graph at the current size."""
        return HNSW_AVAILABLE and len(self._rows) >= self.hnsw_min

    # -- changes ----------------------------------------------------------------------------

    def upsert(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        """Add vectors, or replace those of ids already present. One row per id."""
        matrix = self._check_matrix(vectors, len(ids))
        if len(ids) == 0:
            return
        if len(set(ids)) != len(ids):  # the last vector of a repeated id wins
            last = {pid: i for i, pid in enumerate(ids)}
            keep = sorted(last.values())
            ids = [ids[i] for i in keep]
            matrix = matrix[keep]
        with self._lock:
            rows = np.empty(len(ids), dtype=np.int64)
            replaced: list[int] = []
            for i, pid in enumerate(ids):
                row = self._rows.get(pid)
                if row is None:
                    row = self._take_row()
                    self._rows[pid] = row
                    self._ids[row] = pid
                    self._live[row] = True
                else:
                    replaced.append(row)
                rows[i] = row
            self._matrix[rows] = matrix
            if self._graph is None:
                if self.uses_hnsw:  # crossing hnsw_min: build now, in the writer, not in a search
                    self._graph = self._build_graph()
            else:
                if replaced:
                    self._graph.remove(np.asarray(replaced, dtype=np.uint64))
                self._graph.add(rows.astype(np.uint64), matrix, threads=_BUILD_THREADS)

    def remove(self, ids: Iterable[str]) -> None:
        """Drop the vectors of these ids; ids not present are ignored."""
        with self._lock:
            freed: list[int] = []
            for pid in ids:
                row = self._rows.pop(pid, None)
                if row is None:
                    continue
                self._ids[row] = None
                self._live[row] = False
                self._matrix[row] = 0.0
                self._free.append(row)
                freed.append(row)
            if freed and self._graph is not None:
                self._graph.remove(np.asarray(freed, dtype=np.uint64))

    # -- queries ----------------------------------------------------------------------------

    def search(
        self, query: np.ndarray, k: int, *, exclude: Collection[str] = ()
    ) -> list[tuple[str, float]]:
        """The ``k`` papers most similar to ``query``, best first, as (paper id, cosine);
        ``k`` is capped at ``MAX_RESULTS``."""
        q = self._check_query(query)
        with self._lock:
            excluded = {self._rows[pid] for pid in exclude if pid in self._rows}
            want = min(bounded(k), len(self._rows) - len(excluded))
            if want <= 0:
                return []
            if self.uses_hnsw and want + len(excluded) <= len(self._rows) // 10:
                rows = self._hnsw_rows(q, want + len(excluded))
                if excluded:
                    rows = rows[~np.isin(rows, list(excluded))]
                if len(rows) >= want:
                    return self._ranked(q, rows, want)
            scores = self._matrix[: len(self._ids)] @ q
            if len(self._rows) < len(self._ids):
                scores[~self._live[: len(self._ids)]] = -np.inf
            if excluded:
                scores[list(excluded)] = -np.inf
            return self._top(scores, np.arange(len(scores)), want)

    def scores(self, query: np.ndarray, ids: Sequence[str]) -> dict[str, float]:
        """Exact cosine of ``query`` with each of ``ids`` that the index holds."""
        q = self._check_query(query)
        with self._lock:
            present = [pid for pid in ids if pid in self._rows]
            if not present:
                return {}
            rows = np.fromiter((self._rows[pid] for pid in present), np.int64, len(present))
            values = self._matrix[rows] @ q
            return dict(zip(present, values.tolist(), strict=True))

    def search_within(
        self, query: np.ndarray, ids: Sequence[str], k: int
    ) -> list[tuple[str, float]]:
        """Exact top ``k`` of ``ids`` (those present) by cosine with ``query``, best first
        (``k`` capped at ``MAX_RESULTS``)."""
        q = self._check_query(query)
        k = bounded(k)
        with self._lock:
            rows_list = list({self._rows[pid] for pid in ids if pid in self._rows})
            if not rows_list or k <= 0:
                return []
            rows = np.asarray(rows_list, dtype=np.int64)
            return self._top(self._matrix[rows] @ q, rows, k)

    def similar(self, paper_id: str, k: int) -> list[tuple[str, float]]:
        """The ``k`` papers most similar to ``paper_id``, itself excluded; [] if it is absent."""
        with self._lock:
            row = self._rows.get(paper_id)
            if row is None:
                return []
            return self.search(self._matrix[row].copy(), k, exclude=(paper_id,))

    # -- persistence ------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        """Write the index (and its HNSW graph, if built) to ``path`` atomically.

        The file is written beside ``path`` under a temporary name, fsynced, then renamed over
        it, so a crash leaves either the old file or the new one, never a mix.
        """
        path = Path(path)
        with self._lock:
            used = len(self._ids)
            ids_blob = json.dumps(self._ids, separators=(",", ":")).encode("utf-8")
            matrix_blob = memoryview(
                np.ascontiguousarray(self._matrix[:used]).view(np.uint8).reshape(-1)
            )
            graph_blob = b""
            if self._graph is not None and len(self._graph) > 0:
                graph_blob = bytes(self._graph.save())
            header = {
                "format": _FORMAT,
                "dim": self.dim,
                "rows": used,
                "count": len(self._rows),
                "watermark": self.watermark,
                "hnsw_min": self.hnsw_min,
                "ids_len": len(ids_blob),
                "ids_crc": zlib.crc32(ids_blob),
                "matrix_len": matrix_blob.nbytes,
                "matrix_crc": _crc(matrix_blob),
                "graph_len": len(graph_blob),
                "graph_crc": _crc(memoryview(graph_blob)),
            }
            head = json.dumps(header, sort_keys=True).encode("utf-8")
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(_HEADER.pack(_MAGIC, len(head)))
                    fh.write(head)
                    fh.write(ids_blob)
                    fh.write(matrix_blob)
                    fh.write(graph_blob)
                    fh.write(_TRAILER)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp_name, path)
            except BaseException:
                Path(tmp_name).unlink(missing_ok=True)
                raise
            _fsync_dir(path.parent)

    @classmethod
    def load(cls, path: Path, *, hnsw_min: int = HNSW_MIN) -> VectorIndex:
        """Read an index written by ``save``.

        Raises ``ValueError`` if the file is not a vector index, is truncated or fails its
        checksums, and ``OSError`` if it cannot be read.
        """
        path = Path(path)
        with open(path, "rb") as fh:
            data = fh.read()
        name = path.name
        if len(data) < _HEADER.size + len(_TRAILER) or not data.startswith(_MAGIC):
            raise ValueError(f"{name} is not a paperboy vector index (bad magic or too short)")
        _magic, head_len = _HEADER.unpack_from(data)
        start = _HEADER.size
        try:
            header = json.loads(data[start : start + head_len])
            fmt, dim, used, count = header["format"], header["dim"], header["rows"], header["count"]
            sizes = (header["ids_len"], header["matrix_len"], header["graph_len"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{name}: unreadable header ({exc})") from None
        if fmt != _FORMAT:
            raise ValueError(f"{name}: format {fmt}, this version reads {_FORMAT}")
        expected = start + head_len + sum(sizes) + len(_TRAILER)
        if len(data) != expected or not data.endswith(_TRAILER):
            raise ValueError(
                f"{name} is truncated or damaged: {len(data)} bytes, expected {expected}"
            )
        if sizes[1] != used * dim * 4:
            raise ValueError(f"{name}: matrix of {sizes[1]} bytes for {used} x {dim}")
        view = memoryview(data)
        pos = start + head_len
        sections = []
        for size, key in zip(sizes, ("ids_crc", "matrix_crc", "graph_crc"), strict=True):
            section = view[pos : pos + size]
            if _crc(section) != header[key]:
                raise ValueError(f"{name} is damaged: checksum mismatch in {key[:-4]}")
            sections.append(section)
            pos += size
        ids_blob, matrix_blob, graph_blob = sections
        try:
            row_ids = json.loads(bytes(ids_blob))
        except ValueError:
            row_ids = None
        if not isinstance(row_ids, list) or len(row_ids) != used:
            raise ValueError(f"{name}: the id list does not match the {used} rows")

        index = cls(dim, hnsw_min=hnsw_min)
        index.watermark = int(header["watermark"])
        capacity = max(_MIN_CAPACITY, used)
        index._matrix = np.zeros((capacity, dim), dtype=np.float32)
        index._matrix[:used] = np.frombuffer(matrix_blob, dtype=np.float32).reshape(used, dim)
        index._live = np.zeros(capacity, dtype=bool)
        index._ids = [str(pid) if pid is not None else None for pid in row_ids]
        for row, pid in enumerate(index._ids):
            if pid is None:
                index._free.append(row)
            else:
                index._rows[pid] = row
                index._live[row] = True
        if len(index._rows) != count:
            raise ValueError(f"{name}: {len(index._rows)} ids, header says {count}")
        index._free.reverse()  # pop() hands out the lowest free row first
        if graph_blob.nbytes and HNSW_AVAILABLE:
            index._graph = _restore_graph(bytes(graph_blob), dim, len(index._rows))
        return index

    # -- internals --------------------------------------------------------------------------

    def _check_matrix(self, vectors: np.ndarray, count: int) -> np.ndarray:
        matrix = np.asarray(vectors, dtype=np.float32)
        if matrix.ndim == 1 and count == 1:
            matrix = matrix[None, :]
        if matrix.ndim != 2 or matrix.shape[1] != self.dim:
            raise ValueError(
                f"vectors must have shape (n, {self.dim}), got {tuple(np.shape(vectors))}"
            )
        if matrix.shape[0] != count:
            raise ValueError(f"{count} ids but {matrix.shape[0]} vectors")
        if not np.isfinite(matrix).all():
            raise ValueError("vectors contain NaN or infinity")
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return matrix / np.where(norms > 0, norms, 1.0)

    def _check_query(self, query: np.ndarray) -> np.ndarray:
        q = np.asarray(query, dtype=np.float32).reshape(-1)
        if q.shape[0] != self.dim or np.ndim(query) > 2 or np.size(query) != self.dim:
            raise ValueError(
                f"query must have {self.dim} dimensions, got shape {tuple(np.shape(query))}"
            )
        norm = float(np.linalg.norm(q))
        return q / norm if norm > 0 else q

    def _take_row(self) -> int:
        if self._free:
            return self._free.pop()
        row = len(self._ids)
        if row >= len(self._matrix):
            capacity = max(_MIN_CAPACITY, 2 * len(self._matrix))
            matrix = np.zeros((capacity, self.dim), dtype=np.float32)
            matrix[:row] = self._matrix[:row]
            live = np.zeros(capacity, dtype=bool)
            live[:row] = self._live[:row]
            self._matrix, self._live = matrix, live
        self._ids.append(None)
        return row

    def _hnsw_rows(self, q: np.ndarray, count: int) -> np.ndarray:
        if self._graph is None:
            self._graph = self._build_graph()
        found = self._graph.search(q, count, threads=1)
        return np.asarray(found.keys, dtype=np.int64)

    def _build_graph(self) -> Any:
        graph = _new_graph(self.dim)
        rows = np.flatnonzero(self._live[: len(self._ids)])
        for part in chunks(rows, 100_000):
            graph.add(part.astype(np.uint64), self._matrix[part], threads=_BUILD_THREADS)
        return graph

    def _ranked(self, q: np.ndarray, rows: np.ndarray, k: int) -> list[tuple[str, float]]:
        return self._top(self._matrix[rows] @ q, rows, k)

    def _top(self, scores: np.ndarray, rows: np.ndarray, k: int) -> list[tuple[str, float]]:
        k = min(k, len(scores))
        if k < len(scores):
            part = np.argpartition(-scores, k - 1)[:k]
        else:
            part = np.arange(len(scores))
        order = part[np.argsort(-scores[part], kind="stable")]
        out: list[tuple[str, float]] = []
        for i in order.tolist():
            score = float(scores[i])
            pid = self._ids[int(rows[i])]
            if pid is not None and score != -np.inf:
                out.append((pid, score))
        return out


def _new_graph(dim: int) -> Any:
    assert _HnswIndex is not None
    return _HnswIndex(
        ndim=dim,
        metric="ip",
        dtype="f16",
        connectivity=HNSW_CONNECTIVITY,
        expansion_add=HNSW_EXPANSION_ADD,
        expansion_search=HNSW_EXPANSION_SEARCH,
    )


def _restore_graph(blob: bytes, dim: int, count: int) -> Any:
    """The saved graph, or None (rebuilt on demand) if it does not match the matrix."""
    try:
        graph = _new_graph(dim)
        graph.load(blob)
    except (RuntimeError, ValueError):
        return None
    if len(graph) != count or graph.ndim != dim:
        return None
    graph.expansion_search = HNSW_EXPANSION_SEARCH
    return graph


def _crc(view: memoryview) -> int:
    crc = 0
    for start in range(0, view.nbytes, _CRC_CHUNK):
        crc = zlib.crc32(view[start : start + _CRC_CHUNK], crc)
    return crc


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
