"""Vector top-k at 100k and 1M papers: exact NumPy scans against HNSW graphs (usearch, faiss).

Vectors: synthetic 384-d unit vectors shaped like sentence embeddings rather than uniform noise
(on which HNSW is unrepresentatively hard): a mixture of 2,000 Gaussian clusters, each point its
cluster centre plus a low-rank "topic drift" (a shared 48-d subspace) plus isotropic noise, then
normalised. Queries are perturbed data points, so they land near the data like real queries do.

For each size and variant: build time, single-query p50/p95 latency for the top 10 (one query at
a time, one thread per query as the server answers them), recall@10 against the exact float32
scan (the baseline, in the same run), memory the variant adds, and ratios against the baseline.
Variants: exact float32 (the baseline), exact float16 (converted in chunks), exact int8 (scaled,
int32 accumulation), usearch HNSW (float16 and int8 storage, a few ``ef`` values, and the
top-1000 call the hybrid search makes), faiss HNSW (float32).

    .venv/bin/python bench/vector_bench.py [--sizes 100000,1000000] [--queries 500]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")  # the server has 2 cores
os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import emit, summary_ms  # noqa: E402

DIM = 384
K = 10
THREADS = 2
CHUNK = 16_384


def rss_mb() -> float:
    """Current resident set size (not the peak), in MB."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def clustered(n: int, rng: np.random.Generator, clusters: int = 2000) -> np.ndarray:
    """Unit vectors from a mixture of Gaussian clusters with low-rank within-cluster drift."""
    centers = rng.standard_normal((clusters, DIM)).astype(np.float32)
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    basis = np.linalg.qr(rng.standard_normal((DIM, 48)))[0].T.astype(np.float32)  # 48 x DIM
    out = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        which = rng.integers(0, clusters, m)
        drift = rng.standard_normal((m, 48)).astype(np.float32) @ basis * (0.7 / np.sqrt(48))
        noise = rng.standard_normal((m, DIM)).astype(np.float32) * (0.5 / np.sqrt(DIM))
        v = centers[which] + drift + noise
        out[start : start + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def make_queries(data: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Perturbed data points (cosine about 0.85 to the point they came from)."""
    picks = data[rng.integers(0, len(data), count)]
    q = picks + rng.standard_normal(picks.shape).astype(np.float32) * (0.6 / np.sqrt(DIM))
    return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    part = np.argpartition(-scores, k - 1)[:k]
    return part[np.argsort(-scores[part], kind="stable")]


def truth(data: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Exact top-k of every query, in blocks (batched, so not part of any latency figure)."""
    out = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), 64):
        block = queries[start : start + 64] @ data.T
        for i, row in enumerate(block):
            out[start + i] = top_k(row, k)
    return out


def recall(found: list[np.ndarray], expected: np.ndarray) -> float:
    hits = sum(len(set(f.tolist()) & set(e.tolist())) for f, e in zip(found, expected, strict=True))
    return hits / expected.size


def measure(
    name: str,
    size: int,
    search: Callable[[np.ndarray], np.ndarray],
    queries: np.ndarray,
    expected: np.ndarray,
    baseline: dict[str, float] | None,
    **extra: object,
) -> dict[str, float]:
    for q in queries[:5]:
        search(q)  # warm up
    samples: list[float] = []
    found: list[np.ndarray] = []
    for q in queries:
        started = time.perf_counter()
        ids = search(q)
        samples.append(time.perf_counter() - started)
        found.append(np.asarray(ids)[:K])
    stats = summary_ms(samples)
    fields: dict[str, object] = {
        "bench": "vectors",
        "size": size,
        "variant": name,
        **extra,
        **stats,
        "recall_at_10": round(recall(found, expected), 4),
    }
    if baseline is not None:
        fields["p50_vs_exact"] = round(stats["p50_ms"] / baseline["p50_ms"], 3)
        fields["p95_vs_exact"] = round(stats["p95_ms"] / baseline["p95_ms"], 3)
        if "memory_mb" in extra and baseline.get("memory_mb"):
            fields["memory_vs_exact"] = round(float(extra["memory_mb"]) / baseline["memory_mb"], 3)
    emit(**fields)
    return {"p50_ms": stats["p50_ms"], "p95_ms": stats["p95_ms"]}


def run_size(size: int, n_queries: int, seed: int, skip: set[str], expansion_add: int) -> None:
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    data = clustered(size, rng)
    queries = make_queries(data, n_queries, rng)
    expected = truth(data, queries, K)
    emit(bench="vectors", size=size, stage="data", seconds=round(time.perf_counter() - started, 1))

    # Baseline: exact float32 scan with one matmul and argpartition.
    base_mem = data.nbytes / 2**20
    baseline = measure(
        "exact_f32",
        size,
        lambda q: top_k(data @ q, K),
        queries,
        expected,
        None,
        build_s=0.0,
        memory_mb=round(base_mem, 1),
    )
    baseline["memory_mb"] = base_mem

    if "f16" not in skip:
        started = time.perf_counter()
        half = data.astype(np.float16)
        build = time.perf_counter() - started

        def exact_f16(q: np.ndarray) -> np.ndarray:
            scores = np.empty(len(half), dtype=np.float32)
            for s in range(0, len(half), CHUNK):
                scores[s : s + CHUNK] = half[s : s + CHUNK].astype(np.float32) @ q
            return top_k(scores, K)

        measure(
            "exact_f16_chunked",
            size,
            exact_f16,
            queries,
            expected,
            baseline,
            build_s=round(build, 2),
            memory_mb=round(half.nbytes / 2**20, 1),
        )
        del half

    if "i8" not in skip:
        started = time.perf_counter()
        codes = np.clip(np.rint(data * 127 / 0.5), -127, 127).astype(np.int8)
        build = time.perf_counter() - started

        def exact_i8(q: np.ndarray) -> np.ndarray:
            qc = np.clip(np.rint(q * 127 / 0.5), -127, 127).astype(np.int8)
            scores = np.empty(len(codes), dtype=np.float32)
            for s in range(0, len(codes), CHUNK):
                # float32 matmul of the int8 rows: NumPy has no int8 BLAS path
                scores[s : s + CHUNK] = codes[s : s + CHUNK].astype(np.float32) @ qc
            return top_k(scores, K)

        measure(
            "exact_i8_chunked",
            size,
            exact_i8,
            queries,
            expected,
            baseline,
            build_s=round(build, 2),
            memory_mb=round(codes.nbytes / 2**20, 1),
        )
        del codes

    if "usearch" not in skip:
        from usearch.index import Index

        keys = np.arange(size, dtype=np.uint64)
        for dtype in ("f16", "i8"):
            if f"usearch_{dtype}" in skip:
                continue
            before = rss_mb()
            index = Index(
                ndim=DIM, metric="ip", dtype=dtype, connectivity=16, expansion_add=expansion_add
            )
            started = time.perf_counter()
            index.add(keys, data, threads=THREADS)
            build = time.perf_counter() - started
            memory = rss_mb() - before
            for ef in (32, 64, 128):
                index.expansion_search = ef

                def us(q: np.ndarray, index: Index = index) -> np.ndarray:
                    return index.search(q, K, threads=1).keys

                measure(
                    f"usearch_hnsw_{dtype}",
                    size,
                    us,
                    queries,
                    expected,
                    baseline,
                    ef=ef,
                    connectivity=16,
                    expansion_add=expansion_add,
                    build_s=round(build, 1),
                    memory_mb=round(memory, 1),
                    index_mb=round(index.memory_usage / 2**20, 1),
                )
            if dtype == "f16":
                index.expansion_search = 64
                measure(
                    "usearch_hnsw_f16_top1000",
                    size,
                    lambda q, index=index: index.search(q, 1000, threads=1).keys,
                    queries,
                    expected,
                    baseline,
                    ef="max(64,k)",
                    build_s=round(build, 1),
                )
                tmp = Path(f"/tmp/vector-bench-{os.getpid()}.usearch")
                started = time.perf_counter()
                index.save(str(tmp))
                save_s = time.perf_counter() - started
                started = time.perf_counter()
                loaded = Index.restore(str(tmp))
                load_s = time.perf_counter() - started
                emit(
                    bench="vectors",
                    size=size,
                    variant="usearch_hnsw_f16",
                    stage="persist",
                    save_s=round(save_s, 2),
                    load_s=round(load_s, 2),
                    file_mb=round(tmp.stat().st_size / 2**20, 1),
                )
                del loaded
                tmp.unlink()
            del index

    if "faiss" not in skip:
        import faiss

        faiss.omp_set_num_threads(THREADS)
        before = rss_mb()
        fidx = faiss.IndexHNSWFlat(DIM, 16, faiss.METRIC_INNER_PRODUCT)
        fidx.hnsw.efConstruction = expansion_add
        started = time.perf_counter()
        fidx.add(data)
        build = time.perf_counter() - started
        memory = rss_mb() - before
        faiss.omp_set_num_threads(1)
        for ef in (32, 64, 128):
            fidx.hnsw.efSearch = ef

            def fs(q: np.ndarray, fidx: faiss.IndexHNSWFlat = fidx) -> np.ndarray:
                return fidx.search(q[None, :], K)[1][0]

            measure(
                "faiss_hnsw_f32",
                size,
                fs,
                queries,
                expected,
                baseline,
                ef=ef,
                M=16,
                ef_construction=expansion_add,
                build_s=round(build, 1),
                memory_mb=round(memory, 1),
            )
        del fidx


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument(
        "--skip", default="", help="comma list of: f16,i8,usearch,usearch_i8,usearch_f16,faiss"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--expansion-add", type=int, default=64, help="HNSW ef at build time")
    args = parser.parse_args()
    skip = {s for s in args.skip.split(",") if s}
    for size in (int(s) for s in args.sizes.split(",")):
        run_size(size, args.queries, args.seed, skip, args.expansion_add)


if __name__ == "__main__":
    main()
