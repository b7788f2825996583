"""Hybrid search latency at 100k and 1M papers, index build time and memory.

Corpus: the real papers of ../shared/data (arXiv listings and Daily Papers, about 84k), extended
to the target size with synthetic papers whose titles and abstracts are sentences and words
drawn from the real ones. Vectors are synthetic (clustered unit vectors; embedding a million
abstracts on 2 cores would take days), stored through the store's own embeddings table.

Queries: 500 varied ones: real title fragments, single words, two-word phrases in quotes,
category and date filters, author filters, and long natural-language questions. Each query's
embedding is computed with the real model once, up front (its cost is reported separately as
``encode``), so the figures show the search itself; the full ``end_to_end`` p50 adds it back.

For each size: single-client p50/p95 of hybrid search (and of the keyword and vector legs on
their own), 8 concurrent clients (threads) p50/p95, index build time, resident memory, and the
baseline in the same run: an exact float32 NumPy scan of every vector.

    .venv/bin/python bench/search_bench.py [--sizes 100000,1000000] [--queries 500]
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import emit, shared_file, summary_ms  # noqa: E402
from paperboy.embed.jobs import encode_vector  # noqa: E402
from paperboy.models import Paper, Record  # noqa: E402
from paperboy.search import open_search  # noqa: E402
from paperboy.search.query import parse_query  # noqa: E402
from paperboy.settings import Settings  # noqa: E402
from paperboy.store import open_store  # noqa: E402

DIM = 384
MODEL = "all-MiniLM-L6-v2"


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def real_rows() -> list[dict[str, object]]:
    rows: dict[str, dict[str, object]] = {}
    for rel in (
        "data/arxiv-daily-listings/arxiv_daily_listings.jsonl.gz",
        "data/hf-daily-papers/hf_daily_papers.jsonl.gz",
    ):
        with gzip.open(shared_file(rel), "rt", encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                rows.setdefault(row["id"], row)
    return list(rows.values())


def _paper(
    pid: str, title: str, abstract: str, authors: list[str], cats: list[str], published: datetime
) -> Paper:
    return Paper(
        id=pid,
        title=title,
        abstract=abstract,
        authors=tuple(authors),
        categories=tuple(cats) or ("cs.LG",),
        published=published,
    )


def corpus(size: int, rng: random.Random) -> Iterator[Paper]:
    """``size`` papers: the real ones first, then synthetic ones from their sentences."""
    rows = real_rows()
    sentences: list[str] = []
    titles: list[list[str]] = []
    authors: list[str] = []
    for row in rows:
        sentences.extend(s.strip() for s in str(row["abstract"]).split(". ") if len(s) > 20)
        titles.append(str(row["title"]).split())
        authors.extend(row.get("authors") or [])  # type: ignore[arg-type]
    base = datetime(2025, 1, 1)
    for n, row in enumerate(rows[:size]):
        yield _paper(
            str(row["id"]),
            str(row["title"]),
            str(row["abstract"]),
            list(row.get("authors") or []),
            list(row.get("categories") or ["cs.LG"]),  # type: ignore[arg-type]
            base + timedelta(days=n % 540),
        )
    cats = ["cs.CV", "cs.CL", "cs.LG", "cs.AI", "cs.RO", "stat.ML", "eess.IV", "math.OC"]
    for n in range(len(rows), size):
        words = rng.choice(titles)[:]
        rng.shuffle(words)
        yield _paper(
            f"9{n // 100000:03d}.{n % 100000:05d}",
            " ".join(words[: rng.randint(5, 14)]),
            ". ".join(rng.choice(sentences) for _ in range(rng.randint(4, 9))) + ".",
            [rng.choice(authors) for _ in range(rng.randint(1, 6))],
            [rng.choice(cats)],
            base + timedelta(days=n % 540),
        )


def clustered_vectors(n: int, rng: np.random.Generator, centers: np.ndarray) -> np.ndarray:
    which = rng.integers(0, len(centers), n)
    v = centers[which] + 0.35 * rng.standard_normal((n, DIM)).astype(np.float32) / np.sqrt(DIM)
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def make_queries(count: int, rng: random.Random) -> list[str]:
    rows = real_rows()
    sample = rng.sample(rows, min(len(rows), count * 2))
    out: list[str] = []
    kinds = ["title", "word", "phrase", "cat", "date", "author", "question", "negation"]
    for n in range(count):
        row = sample[n]
        words = [w for w in str(row["title"]).replace(":", " ").split() if w.isalpha()]
        words = words or ["learning"]
        kind = kinds[n % len(kinds)]
        if kind == "title":
            out.append(" ".join(words[: rng.randint(2, 6)]))
        elif kind == "word":
            out.append(rng.choice(words))
        elif kind == "phrase":
            out.append(f'"{" ".join(words[:2])}"')
        elif kind == "cat":
            out.append(f"{rng.choice(words)} cat:{rng.choice(['cs.CV', 'cs.CL', 'cs.LG'])}")
        elif kind == "date":
            out.append(f"{' '.join(words[:3])} since:2025-06")
        elif kind == "author":
            names = list(row.get("authors") or ["Smith"])  # type: ignore[arg-type]
            out.append(f"author:{str(rng.choice(names)).split()[-1]} {rng.choice(words)}")
        elif kind == "question":
            out.append(f"how do {' '.join(words[:4]).lower()} methods compare on benchmarks")
        else:
            out.append(f"{' '.join(words[:3])} -{rng.choice(words)}")
    return out


class FixedEncoder:
    """Query vectors computed once with the real model, so timings show the search itself."""

    name = MODEL

    def __init__(self, vectors: dict[str, np.ndarray]) -> None:
        self.vectors = vectors

    def encode_query(self, text: str) -> np.ndarray:
        return self.vectors[text]


def run_size(
    size: int, queries: list[str], qvecs: dict[str, np.ndarray], workdir: Path, encode_ms: float
) -> None:
    rng = random.Random(size)
    nrng = np.random.default_rng(size)
    url = f"sqlite:///{workdir / f'bench-{size}.db'}"
    store = open_store(url)
    started = time.perf_counter()
    batch: list[Record] = []
    for paper in corpus(size, rng):
        batch.append(Record(paper=paper))
        if len(batch) == 5000:
            store.upsert(batch, bulk=True)
            batch = []
    if batch:
        store.upsert(batch, bulk=True)
    load_s = time.perf_counter() - started

    # Synthetic vectors: a mixture of 2,000 clusters on the unit sphere.
    centers = nrng.standard_normal((2000, DIM)).astype(np.float32)
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    started = time.perf_counter()
    after = ""
    total = 0
    all_vectors: list[np.ndarray] = []
    matrix_ids: list[str] = []
    while True:
        rows = store.papers_to_embed(MODEL, after_id=after, limit=5000)
        if not rows:
            break
        after = rows[-1][1].id
        vectors = clustered_vectors(len(rows), nrng, centers)
        all_vectors.append(vectors)
        matrix_ids.extend(p.id for _seq, p, _h in rows)
        store.save_embeddings(
            MODEL,
            [
                (p.id, seq, "synthetic", encode_vector(v))
                for (seq, p, _h), v in zip(rows, vectors, strict=True)
            ],
        )
        total += len(rows)
    vectors_s = time.perf_counter() - started
    matrix = np.concatenate(all_vectors)

    settings = Settings(database_url=url, search_preload=False)
    service = open_search(settings, store)
    # Query vectors near the data, as real queries are near real papers: each query gets a
    # stored vector plus noise (the model's own query vectors would be unrelated to the
    # synthetic ones, the worst case for a graph index, and tell nothing about real use).
    picks = nrng.integers(0, len(matrix), len(queries))
    noise = nrng.standard_normal((len(queries), DIM)).astype(np.float32) * 0.03
    near = matrix[picks] + noise
    near /= np.linalg.norm(near, axis=1, keepdims=True)
    qvecs = {q: near[n] for n, q in enumerate(queries)}
    by_text = {parse_query(q).semantic_text: v for q, v in qvecs.items()}
    service._encoder = FixedEncoder(by_text)  # noqa: SLF001 - timings without model inference
    rss_before = rss_mb()
    started = time.perf_counter()
    service.index.sync()
    build_s = time.perf_counter() - started
    emit(
        bench="search",
        size=size,
        stage="build",
        papers=store.count_papers(),
        vectors=total,
        store_load_s=round(load_s, 1),
        vectors_store_s=round(vectors_s, 1),
        index_build_s=round(build_s, 1),
        rss_mb=round(rss_mb(), 0),
        rss_growth_mb=round(rss_mb() - rss_before, 0),
    )

    # Baseline in the same run: exact float32 scan of every vector.
    scan: list[float] = []
    for text in queries[:100]:
        t = time.perf_counter()
        scores = matrix @ qvecs[text]
        np.argpartition(-scores, 200)[:200]
        scan.append(time.perf_counter() - t)
    baseline = summary_ms(scan)
    emit(bench="search", size=size, method="baseline_exact_f32_scan", **baseline)

    # Recall of the vector leg as the service calls it (top-``depth``), against the exact scan.
    vectors = service.index.vectors
    found = 0
    for text in queries[:100]:
        scores = matrix @ qvecs[text]
        truth = {matrix_ids[i] for i in np.argpartition(-scores, 10)[:10]}
        got = {pid for pid, _ in vectors.search(qvecs[text], service.params.depth)[:10]}
        found += len(truth & got)
    emit(
        bench="search",
        size=size,
        method="vector_leg_recall_at_10",
        queries=100,
        recall=round(found / (10 * len(queries[:100])), 4),
        hnsw=vectors.uses_hnsw,
        depth=service.params.depth,
    )

    for text in queries[:20]:  # warm up
        service.search(text)
    legs: dict[str, list[float]] = {"total": [], "keyword": [], "vector": [], "fuse": []}
    for text in queries:
        result = service.search(text)
        for leg in legs:
            if leg in result.timings:
                legs[leg].append(result.timings[leg] / 1000)
    single = summary_ms(legs["total"])
    emit(
        bench="search",
        size=size,
        method="hybrid_single_client",
        **single,
        ratio_p95_vs_scan_p50=round(single["p95_ms"] / baseline["p50_ms"], 3),
        end_to_end_p50_ms=round(single["p50_ms"] + encode_ms, 2),
    )
    for leg in ("keyword", "vector", "fuse"):
        emit(bench="search", size=size, method=f"leg_{leg}", **summary_ms(legs[leg]))

    samples: list[float] = []
    lock = threading.Lock()

    def client(chunk: list[str]) -> None:
        mine = []
        for text in chunk:
            t = time.perf_counter()
            service.search(text)
            mine.append(time.perf_counter() - t)
        with lock:
            samples.extend(mine)

    threads = [threading.Thread(target=client, args=(queries[i::8],)) for i in range(8)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    emit(
        bench="search",
        size=size,
        method="hybrid_8_clients",
        **summary_ms(samples),
        queries_per_s=round(len(samples) / wall, 1),
    )
    service.index.close()
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--queries", type=int, default=500)
    args = parser.parse_args()
    rng = random.Random(7)
    queries = make_queries(args.queries, rng)

    from paperboy.embed.model import load_embedder

    encoder = load_embedder()
    texts = [parse_query(q).semantic_text or q for q in queries]
    started = time.perf_counter()
    qvecs = {q: encoder.encode_query(t) for q, t in zip(queries, texts, strict=True)}
    encode = (time.perf_counter() - started) / len(queries)
    emit(
        bench="search", stage="encode_query", queries=len(queries), mean_ms=round(encode * 1000, 2)
    )

    rows = real_rows()[:256]
    abstracts = [f"{r['title']}. {r['abstract']}" for r in rows]
    started = time.perf_counter()
    encoder.encode(abstracts, batch_size=32)
    emit(
        bench="search",
        stage="embed_abstracts",
        abstracts=len(abstracts),
        per_s=round(len(abstracts) / (time.perf_counter() - started), 1),
    )

    with tempfile.TemporaryDirectory(prefix="paperboy-search-bench-") as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            run_size(size, queries, qvecs, Path(tmp), encode * 1000)


if __name__ == "__main__":
    main()
