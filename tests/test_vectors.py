"""The vector index: exact search against brute force, changes, persistence, the HNSW path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from paperboy.search.vectors import HNSW_AVAILABLE, VectorIndex

DIM = 32


def unit(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=-1, keepdims=True)


def clustered(n: int, dim: int, seed: int, clusters: int = 40) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = unit(rng.standard_normal((clusters, dim)))
    which = rng.integers(0, clusters, n)
    return unit(centers[which] + 0.6 / np.sqrt(dim) * rng.standard_normal((n, dim)))


def brute(
    ids: list[str], matrix: np.ndarray, q: np.ndarray, k: int, skip: set[str] = frozenset()
) -> list[str]:
    scores = unit(matrix) @ unit(q)
    order = np.argsort(-scores, kind="stable")
    return [ids[i] for i in order if ids[i] not in skip][:k]


@pytest.fixture
def small() -> tuple[VectorIndex, list[str], np.ndarray]:
    rng = np.random.default_rng(1)
    matrix = unit(rng.standard_normal((300, DIM)))
    ids = [f"p{i}" for i in range(300)]
    index = VectorIndex(DIM)
    index.upsert(ids[:150], matrix[:150])
    index.upsert(ids[150:], matrix[150:])  # a second batch grows the matrix
    return index, ids, matrix


def test_exact_search_matches_brute_force(
    small: tuple[VectorIndex, list[str], np.ndarray],
) -> None:
    index, ids, matrix = small
    rng = np.random.default_rng(2)
    assert len(index) == 300 and "p7" in index and "nope" not in index
    for _ in range(20):
        q = rng.standard_normal(DIM).astype(np.float32)
        got = index.search(q, 10)
        assert [pid for pid, _ in got] == brute(ids, matrix, q, 10)
        scores = [s for _, s in got]
        assert scores == sorted(scores, reverse=True)
        expected = float(unit(matrix[int(got[0][0][1:])]) @ unit(q))
        assert scores[0] == pytest.approx(expected, abs=1e-5)
    assert len(index.search(rng.standard_normal(DIM), 1000)) == 300


def test_upsert_replaces_and_remove_frees(
    small: tuple[VectorIndex, list[str], np.ndarray],
) -> None:
    index, ids, matrix = small
    q = matrix[5]
    assert index.search(q, 1)[0][0] == "p5"
    index.upsert(["p5"], -matrix[5:6])  # now the opposite direction
    assert len(index) == 300
    assert index.search(q, 1)[0][0] != "p5"
    assert index.search(-q, 1)[0] == ("p5", pytest.approx(1.0, abs=1e-5))
    np.testing.assert_allclose(index.vector("p5"), -matrix[5], atol=1e-6)

    index.remove(["p5", "p6", "missing"])
    assert len(index) == 298 and "p5" not in index and index.vector("p5") is None
    found = [pid for pid, _ in index.search(-q, 300)]
    assert "p5" not in found and "p6" not in found and len(found) == 298
    index.upsert(["new"], matrix[6:7] * 3.0)  # reuses a freed row, normalised on the way in
    assert len(index) == 299
    assert index.search(matrix[6], 1)[0] == ("new", pytest.approx(1.0, abs=1e-5))
    assert float(np.linalg.norm(index.vector("new"))) == pytest.approx(1.0, abs=1e-6)


def test_exclude_scores_and_search_within(
    small: tuple[VectorIndex, list[str], np.ndarray],
) -> None:
    index, ids, matrix = small
    q = np.random.default_rng(3).standard_normal(DIM).astype(np.float32)
    top = brute(ids, matrix, q, 5)
    got = [pid for pid, _ in index.search(q, 5, exclude=top[:2])]
    assert got == brute(ids, matrix, q, 5, skip=set(top[:2]))

    subset = ids[10:60:3]
    within = index.search_within(q, [*subset, "missing", subset[0]], 4)
    assert [pid for pid, _ in within] == brute(subset, matrix[10:60:3], q, 4)

    scores = index.scores(q, ["p1", "missing", "p2"])
    assert set(scores) == {"p1", "p2"}
    assert scores["p1"] == pytest.approx(float(unit(matrix[1]) @ unit(q)), abs=1e-5)


def test_similar_excludes_itself(small: tuple[VectorIndex, list[str], np.ndarray]) -> None:
    index, ids, matrix = small
    got = index.similar("p3", 5)
    assert len(got) == 5 and "p3" not in [pid for pid, _ in got]
    assert [pid for pid, _ in got] == brute(ids, matrix, matrix[3], 5, skip={"p3"})
    assert index.similar("missing", 5) == []


def test_empty_index_and_bad_dimensions() -> None:
    index = VectorIndex(DIM)
    q = np.ones(DIM, dtype=np.float32)
    assert len(index) == 0
    assert index.search(q, 10) == []
    assert index.search_within(q, ["a"], 10) == []
    assert index.scores(q, ["a"]) == {}
    assert index.similar("a", 3) == []
    with pytest.raises(ValueError, match=f"query must have {DIM} dimensions"):
        index.search(np.ones(DIM + 1), 3)
    with pytest.raises(ValueError, match=rf"shape \(n, {DIM}\)"):
        index.upsert(["a", "b"], np.ones((2, DIM - 1)))
    with pytest.raises(ValueError, match="2 ids but 3 vectors"):
        index.upsert(["a", "b"], np.ones((3, DIM)))
    assert len(index) == 0


def test_save_load_round_trip(
    tmp_path: Path, small: tuple[VectorIndex, list[str], np.ndarray]
) -> None:
    index, ids, matrix = small
    index.remove(["p0", "p9"])
    index.watermark = 12345
    path = tmp_path / "sub" / "vectors.bin"
    index.save(path)
    index.save(path)  # overwriting is fine too
    assert [p.name for p in path.parent.iterdir()] == ["vectors.bin"]  # no temp file left

    loaded = VectorIndex.load(path)
    assert loaded.watermark == 12345 and loaded.dim == DIM and len(loaded) == 298
    assert "p0" not in loaded and "p1" in loaded
    q = np.random.default_rng(4).standard_normal(DIM).astype(np.float32)
    assert loaded.search(q, 20) == index.search(q, 20)
    assert loaded.similar("p1", 3) == index.similar("p1", 3)
    loaded.upsert(
        ["p0", "x\ny"], np.stack([matrix[0], -matrix[1]])
    )  # a loaded index keeps working; any id is fine
    assert len(loaded) == 300 and loaded.search(matrix[0], 1)[0][0] == "p0"
    loaded.save(path)
    assert VectorIndex.load(path).search(-matrix[1], 1)[0][0] == "x\ny"

    empty = VectorIndex(8)
    empty.save(tmp_path / "empty.bin")
    again = VectorIndex.load(tmp_path / "empty.bin")
    assert len(again) == 0 and again.dim == 8 and again.search(np.ones(8), 3) == []


def test_damaged_files_raise_clear_errors(
    tmp_path: Path, small: tuple[VectorIndex, list[str], np.ndarray]
) -> None:
    index, _ids, _matrix = small
    path = tmp_path / "vectors.bin"
    index.save(path)
    data = path.read_bytes()

    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated or damaged"):
        VectorIndex.load(path)

    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match="checksum"):
        VectorIndex.load(path)

    path.write_bytes(b"something else entirely, not an index at all")
    with pytest.raises(ValueError, match="not a paperboy vector index"):
        VectorIndex.load(path)

    path.write_bytes(b"")
    with pytest.raises(ValueError):
        VectorIndex.load(path)
    with pytest.raises(OSError):
        VectorIndex.load(tmp_path / "absent.bin")


@pytest.mark.skipif(not HNSW_AVAILABLE, reason="usearch is not installed")
def test_hnsw_path_recall_and_changes(tmp_path: Path) -> None:
    dim = 64
    matrix = clustered(2000, dim, seed=5)
    ids = [f"c{i}" for i in range(2000)]
    index = VectorIndex(dim, hnsw_min=500)
    index.upsert(ids, matrix)
    assert index.uses_hnsw
    rng = np.random.default_rng(6)
    queries = unit(
        matrix[rng.integers(0, 2000, 100)] + 0.3 / np.sqrt(dim) * rng.standard_normal((100, dim))
    )
    hits = 0
    for q in queries:
        got = index.search(q, 10)
        hits += len({pid for pid, _ in got} & set(brute(ids, matrix, q, 10)))
        assert [s for _, s in got] == sorted((s for _, s in got), reverse=True)
    assert hits / 1000 >= 0.9
    assert index._graph is not None  # built by the upsert that crossed hnsw_min

    # changes reach the graph: a replaced vector is found at its new place, a removed one never
    index.upsert(["c1"], -matrix[1:2])
    assert index.search(-matrix[1], 1)[0][0] == "c1"
    index.remove(["c2"])
    assert "c2" not in [pid for pid, _ in index.search(matrix[2], 10)]
    assert "c3" not in [pid for pid, _ in index.similar("c3", 10)]

    # the graph is saved and restored with the matrix
    path = tmp_path / "v.bin"
    index.save(path)
    loaded = VectorIndex.load(path)
    assert loaded._graph is not None and len(loaded) == 1999
    current = matrix.copy()
    current[1] = -matrix[1]
    hits = 0
    for q in queries:  # HNSW is approximate: the restored graph must be as good, not identical
        got = loaded.search(q, 10)
        hits += len({pid for pid, _ in got} & set(brute(ids, current, q, 10, skip={"c2"})))
    assert hits / 1000 >= 0.9
