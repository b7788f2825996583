"""Scale-out: SQLite against PostgreSQL (pgvector) on the same million papers, in the same run.

Corpus, vectors and queries are those of ``search_bench.py`` (imported from it): the real papers
of ../shared/data extended to the target size with synthetic ones built from their sentences,
clustered synthetic unit vectors (deterministic per batch, so both backends store the very same
vector for each paper), and the varied real query mix of ``make_queries``. Each query's vector
is a stored paper's vector plus a little noise and is fixed up front, so no model runs and the
figures show the search alone.

For each size and each backend (SQLite: a file in a temporary directory; PostgreSQL: a fresh
database in a throwaway pgvector cluster from ``scripts/pgcluster.py``, or in the cluster of
``PAPERBOY_TEST_DATABASE_URL`` when that is set):

- ``load``: papers bulk-upserted in batches (``upsert(bulk=True)``), then vectors saved in
  batches (``save_embeddings``, after ``papers_to_embed`` as ``paperboy embed`` does), timed
  apart: ``*_s`` wall time with the synthetic generator, ``papers_upsert_s`` and
  ``vectors_store_s`` (fetch + save) / ``vectors_save_s`` the store calls alone, which give the
  rates; then what makes the store searchable: on SQLite the tantivy + vector index build
  (``index.sync()``), on PostgreSQL the rebuild of the GIN/HNSW indexes that
  ``deferred_indexes`` dropped for the load, plus ``ANALYZE`` (and ``dead_tuples`` left by the
  load); ``searchable_s`` sums the store's parts, from an empty store to the first search;
- ``disk``: the store on disk (``size_bytes()``) and, on SQLite, the index directory, in MB;
- ``hybrid_first_pass``: every query once on cold caches (PostgreSQL also fills its cache of
  word document frequencies here), then ``hybrid_1_client`` (p50/p95/p99, queries/s),
  ``hybrid_8_clients`` (8 threads sharing the service), ``keyword_1_client`` and
  ``semantic_1_client``;
- ``sql_profile``: the store's five costliest SQL statements during ``hybrid_1_client``
  (total and mean ms per call), to show where the time of a backend goes.

Then per size: ``overlap_at_10`` (mean Jaccard and mean shared fraction of the top 10 ids of
the two backends, per mode; reported, not asserted: the keyword legs rank differently by
design, BM25 in tantivy against idf-weighted ``ts_rank``, and both vector legs approximate), and
``compare``: ratios PostgreSQL / SQLite of load times and of p50/p95 at 1 and 8 clients (> 1:
PostgreSQL slower).

    .venv/bin/python bench/scale_bench.py [--sizes 1000000] [--backends sqlite,postgresql]
        [--queries 300] [--seed 7]

Progress goes to stderr, one JSON line per figure to stdout. Temporary files and databases are
removed at the end, also when a run fails.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import random
import re
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import event, text

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "scripts"))

from _common import emit, summary_ms  # noqa: E402
from paperboy.embed.jobs import encode_vector  # noqa: E402
from paperboy.models import Record  # noqa: E402
from paperboy.search import open_search  # noqa: E402
from paperboy.search.query import parse_query  # noqa: E402
from paperboy.search.service import SearchService  # noqa: E402
from paperboy.settings import Settings  # noqa: E402
from paperboy.store import open_store  # noqa: E402
from paperboy.store.bulk import deferred_indexes, rebuild_indexes  # noqa: E402
from paperboy.store.sql import SQLStore  # noqa: E402
from search_bench import (  # noqa: E402
    DIM,
    MODEL,
    FixedEncoder,
    clustered_vectors,
    corpus,
    make_queries,
    rss_mb,
)

BATCH = 5000  # papers per upsert, vectors per save_embeddings
CLIENTS = 8
CENTERS = 2000
TOP = 10
MODES = ("hybrid", "keyword", "semantic")
BACKENDS = ("sqlite", "postgresql")
_T0 = time.perf_counter()


def log(message: str) -> None:
    print(f"[scale {time.perf_counter() - _T0:7.1f}s] {message}", file=sys.stderr, flush=True)


def mb(n: float) -> float:
    return round(n / 1e6, 1)


def dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.exists() else 0


# -- the data: identical on both backends -------------------------------------------------------


def centers_for(size: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, size])
    centers = rng.standard_normal((CENTERS, DIM)).astype(np.float32)
    return centers / np.linalg.norm(centers, axis=1, keepdims=True)


def batch_vectors(size: int, seed: int, batch_no: int, n: int, centers: np.ndarray) -> np.ndarray:
    """The vectors of the ``batch_no``-th batch of papers in id order (the embedding order)."""
    return clustered_vectors(n, np.random.default_rng([seed, size, batch_no, 1]), centers)


def query_vectors(
    size: int, seed: int, queries: list[str], centers: np.ndarray
) -> dict[str, np.ndarray]:
    """Each query's vector: a stored paper's vector (its position in id order) plus noise."""
    rng = np.random.default_rng([seed, size, 2])
    picks = rng.integers(0, size, len(queries))
    noise = rng.standard_normal((len(queries), DIM)).astype(np.float32) * 0.03
    cache: dict[int, np.ndarray] = {}
    out: dict[str, np.ndarray] = {}
    for n, (query, pos) in enumerate(zip(queries, picks, strict=True)):
        batch_no, row = divmod(int(pos), BATCH)
        if batch_no not in cache:
            rows = min(BATCH, size - batch_no * BATCH)
            cache[batch_no] = batch_vectors(size, seed, batch_no, rows, centers)
        v = cache[batch_no][row] + noise[n]
        out[query] = (v / np.linalg.norm(v)).astype(np.float32)
    return out


def load(store: SQLStore, size: int, seed: int, centers: np.ndarray) -> dict[str, float]:
    """Papers then vectors into an empty store; wall and store-call seconds of each."""
    rng = random.Random(seed * 1_000_003 + size)
    started = time.perf_counter()
    upsert_s = 0.0
    batch: list[Record] = []
    done = 0
    for paper in corpus(size, rng):
        batch.append(Record(paper=paper))
        if len(batch) == BATCH:
            t = time.perf_counter()
            store.upsert(batch, bulk=True)
            upsert_s += time.perf_counter() - t
            done += len(batch)
            batch = []
            if done % 100_000 == 0:
                log(f"  papers {done:,}/{size:,}")
    if batch:
        t = time.perf_counter()
        store.upsert(batch, bulk=True)
        upsert_s += time.perf_counter() - t
    papers_s = time.perf_counter() - started

    started = time.perf_counter()
    save_s = 0.0
    after = ""
    batch_no = 0
    total = 0
    fetch_s = 0.0
    while True:
        t = time.perf_counter()
        rows = store.papers_to_embed(MODEL, after_id=after, limit=BATCH)
        fetch_s += time.perf_counter() - t
        if not rows:
            break
        after = rows[-1][1].id
        vectors = batch_vectors(size, seed, batch_no, len(rows), centers)
        payload = [
            (p.id, seq, "synthetic", encode_vector(v))
            for (seq, p, _h), v in zip(rows, vectors, strict=True)
        ]
        t = time.perf_counter()
        store.save_embeddings(MODEL, payload)
        save_s += time.perf_counter() - t
        batch_no += 1
        total += len(rows)
        if total % 100_000 == 0:
            log(f"  vectors {total:,}/{size:,}")
    vectors_s = time.perf_counter() - started
    return {
        "papers_s": papers_s,
        "papers_upsert_s": upsert_s,
        "vectors": total,
        "vectors_s": vectors_s,
        "vectors_save_s": save_s,
        "vectors_store_s": fetch_s + save_s,
    }


# -- measuring searches -------------------------------------------------------------------------


class SqlProfile:
    """Time per SQL statement shape on an engine, while attached."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.totals: dict[str, list[float]] = {}
        self._local = threading.local()

    def _before(self, *_args: Any) -> None:
        self._local.start = time.perf_counter()

    def _after(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        elapsed = time.perf_counter() - getattr(self._local, "start", time.perf_counter())
        shape = re.sub(r"\s+", " ", statement).strip()
        shape = re.sub(r"%\(p\d+\)s|\$\d+|:\w+|\?", "?", shape)
        shape = re.sub(r"\d+\.\d+ \* ", "w * ", shape)
        entry = self.totals.setdefault(shape[:160], [0.0, 0])
        entry[0] += elapsed
        entry[1] += 1

    @contextlib.contextmanager
    def attached(self) -> Iterator[None]:
        event.listen(self.engine, "before_cursor_execute", self._before)
        event.listen(self.engine, "after_cursor_execute", self._after)
        try:
            yield
        finally:
            event.remove(self.engine, "before_cursor_execute", self._before)
            event.remove(self.engine, "after_cursor_execute", self._after)

    def top(self, n: int = 5) -> list[dict[str, object]]:
        ranked = sorted(self.totals.items(), key=lambda kv: -kv[1][0])[:n]
        return [
            {
                "sql": shape,
                "calls": int(calls),
                "total_ms": round(total * 1000, 1),
                "mean_ms": round(total * 1000 / max(1, calls), 2),
            }
            for shape, (total, calls) in ranked
        ]


def one_client(
    service: SearchService, queries: list[str], mode: str
) -> tuple[list[float], list[list[str]], float]:
    samples: list[float] = []
    tops: list[list[str]] = []
    started = time.perf_counter()
    for query in queries:
        t = time.perf_counter()
        result = service.search(query, mode=mode)  # type: ignore[arg-type]
        samples.append(time.perf_counter() - t)
        tops.append([hit.paper.id for hit in result.hits[:TOP]])
    return samples, tops, time.perf_counter() - started


def many_clients(
    service: SearchService, queries: list[str], clients: int
) -> tuple[list[float], float]:
    samples: list[float] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def client(chunk: list[str]) -> None:
        mine: list[float] = []
        try:
            for query in chunk:
                t = time.perf_counter()
                service.search(query)
                mine.append(time.perf_counter() - t)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        with lock:
            samples.extend(mine)

    threads = [threading.Thread(target=client, args=(queries[i::clients],)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if errors:
        raise errors[0]
    return samples, wall


def measure(
    backend: str, size: int, service: SearchService, queries: list[str]
) -> tuple[dict[str, dict[str, float]], dict[str, list[list[str]]]]:
    """All search measures of one backend; (figures by method, top ids by mode)."""
    figures: dict[str, dict[str, float]] = {}
    tops: dict[str, list[list[str]]] = {}

    def report(method: str, samples: list[float], wall: float, **extra: object) -> None:
        stats: dict[str, Any] = {
            **summary_ms(samples),
            "queries_per_s": round(len(samples) / wall, 1),
            **extra,
        }
        figures[method] = stats
        emit(bench="scale", size=size, backend=backend, method=method, **stats)

    log(f"{backend} {size:,}: hybrid, first pass (cold caches)")
    samples, _tops, wall = one_client(service, queries, "hybrid")
    report("hybrid_first_pass", samples, wall)

    log(f"{backend} {size:,}: hybrid, 1 client")
    profile = SqlProfile(service.store.engine)
    with profile.attached():
        samples, tops["hybrid"], wall = one_client(service, queries, "hybrid")
    report("hybrid_1_client", samples, wall)
    emit(bench="scale", size=size, backend=backend, method="sql_profile", top=profile.top())

    log(f"{backend} {size:,}: hybrid, {CLIENTS} clients")
    samples, wall = many_clients(service, queries, CLIENTS)
    report(f"hybrid_{CLIENTS}_clients", samples, wall, clients=CLIENTS)

    for mode in ("keyword", "semantic"):
        log(f"{backend} {size:,}: {mode}, 1 client")
        samples, tops[mode], wall = one_client(service, queries, mode)
        report(f"{mode}_1_client", samples, wall)
    return figures, tops


# -- the backends -------------------------------------------------------------------------------


def run_sqlite(
    size: int, seed: int, workdir: Path, queries: list[str], qvecs: dict[str, np.ndarray]
) -> tuple[dict[str, Any], dict[str, list[list[str]]]]:
    folder = Path(tempfile.mkdtemp(prefix=f"sqlite-{size}-", dir=workdir))
    try:
        url = f"sqlite:///{folder / 'scale.db'}"
        store = open_store(url)
        log(f"sqlite {size:,}: loading")
        timings = load(store, size, seed, centers_for(size, seed))
        settings = Settings(database_url=url, index_dir=folder / "index", search_preload=False)
        service = open_search(settings, store)
        log(f"sqlite {size:,}: building the search indexes")
        t = time.perf_counter()
        service.index.sync()
        timings["index_s"] = time.perf_counter() - t
        timings["searchable_s"] = (
            timings["papers_upsert_s"] + timings["vectors_store_s"] + timings["index_s"]
        )
        figures = emit_load("sqlite", size, store, timings, index_bytes=dir_bytes(folder / "index"))
        service._encoder = FixedEncoder(by_semantic_text(qvecs))  # noqa: SLF001
        searches, tops = measure("sqlite", size, service, queries)
        service.index.close()
        store.close()
        del service, store
        gc.collect()
        return {**figures, **searches}, tops
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_postgresql(
    size: int, seed: int, admin_url: str, queries: list[str], qvecs: dict[str, np.ndarray]
) -> tuple[dict[str, Any], dict[str, list[list[str]]]]:
    import psycopg

    database = f"paperboy_scale_{size}_{os.getpid()}"
    dsn = admin_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{database}"')
    store: SQLStore | None = None
    try:
        url = admin_url.rsplit("/", 1)[0] + "/" + database
        store = open_store(url)
        timings: dict[str, float] = {}
        with deferred_indexes(store):
            log(f"postgresql {size:,}: loading (search indexes dropped)")
            timings = load(store, size, seed, centers_for(size, seed))
            log(f"postgresql {size:,}: rebuilding the search indexes")
            t = time.perf_counter()
            # The HNSW graph of a million 384-d vectors needs about 1.5 GB to build in memory.
            rebuild_indexes(store, memory="3GB", workers=2)
            timings["index_s"] = time.perf_counter() - t
        t = time.perf_counter()
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
            dead = conn.execute(
                text(
                    "SELECT coalesce(sum(n_dead_tup), 0) FROM pg_stat_user_tables "
                    "WHERE relname IN ('papers', 'embeddings')"
                )
            ).scalar_one()
        timings["analyze_s"] = time.perf_counter() - t
        service = open_search(Settings(database_url=url, search_preload=False), store)
        t = time.perf_counter()
        service.index.sync()  # fills pgvector columns a raw copy left empty: none here
        timings["sync_s"] = time.perf_counter() - t
        timings["searchable_s"] = (
            timings["papers_upsert_s"]
            + timings["vectors_store_s"]
            + timings["index_s"]
            + timings["analyze_s"]
            + timings["sync_s"]
        )
        figures = emit_load("postgresql", size, store, timings, dead_tuples=int(dead))
        service._encoder = FixedEncoder(by_semantic_text(qvecs))  # noqa: SLF001
        searches, tops = measure("postgresql", size, service, queries)
        return {**figures, **searches}, tops
    finally:
        if store is not None:
            store.close()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def by_semantic_text(qvecs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {parse_query(q).semantic_text: v for q, v in qvecs.items()}


def emit_load(
    backend: str,
    size: int,
    store: SQLStore,
    timings: dict[str, float],
    *,
    index_bytes: int = 0,
    **extra: object,
) -> dict[str, Any]:
    papers = store.count_papers()
    load_line = {
        "papers": papers,
        "vectors": int(timings["vectors"]),
        "papers_s": round(timings["papers_s"], 1),
        "papers_upsert_s": round(timings["papers_upsert_s"], 1),
        "papers_per_s": round(papers / max(timings["papers_upsert_s"], 1e-9)),
        "vectors_s": round(timings["vectors_s"], 1),
        "vectors_store_s": round(timings["vectors_store_s"], 1),
        "vectors_save_s": round(timings["vectors_save_s"], 1),
        "vectors_per_s": round(timings["vectors"] / max(timings["vectors_save_s"], 1e-9)),
        "index_s": round(timings["index_s"], 1),
        **{k: round(timings[k], 1) for k in ("analyze_s", "sync_s") if k in timings},
        "searchable_s": round(timings["searchable_s"], 1),
        "rss_mb": round(rss_mb()),
        **extra,
    }
    emit(bench="scale", size=size, backend=backend, stage="load", **load_line)
    db = store.size_bytes()
    disk = {"db_mb": mb(db), "index_dir_mb": mb(index_bytes), "total_mb": mb(db + index_bytes)}
    emit(bench="scale", size=size, backend=backend, stage="disk", **disk)
    return {"load": load_line, "disk": disk}


# -- comparing ----------------------------------------------------------------------------------


def overlap(a: list[list[str]], b: list[list[str]]) -> dict[str, float]:
    jaccard: list[float] = []
    shared: list[float] = []
    for x, y in zip(a, b, strict=True):
        sx, sy = set(x), set(y)
        if not sx and not sy:
            continue
        jaccard.append(len(sx & sy) / len(sx | sy))
        shared.append(len(sx & sy) / max(len(sx), len(sy)))
    return {
        "queries": len(jaccard),
        "mean_jaccard": round(float(np.mean(jaccard)) if jaccard else float("nan"), 3),
        "mean_shared": round(float(np.mean(shared)) if shared else float("nan"), 3),
    }


def ratio(pg: float, lite: float) -> float | None:
    return round(pg / lite, 2) if lite else None


def compare(size: int, results: dict[str, dict[str, Any]], tops: dict[str, Any]) -> None:
    for mode in MODES:
        emit(
            bench="scale",
            size=size,
            method="overlap_at_10",
            mode=mode,
            **overlap(tops["sqlite"][mode], tops["postgresql"][mode]),
        )
    pg, lite = results["postgresql"], results["sqlite"]
    fields: dict[str, Any] = {}
    for key in ("papers_upsert_s", "vectors_store_s", "index_s", "searchable_s"):
        fields[f"{key.removesuffix('_s')}_time"] = ratio(pg["load"][key], lite["load"][key])
    fields["disk_total"] = ratio(pg["disk"]["total_mb"], lite["disk"]["total_mb"])
    for method, short in (("hybrid_1_client", "1c"), (f"hybrid_{CLIENTS}_clients", f"{CLIENTS}c")):
        for stat in ("p50_ms", "p95_ms"):
            fields[f"hybrid_{short}_{stat.removesuffix('_ms')}"] = ratio(
                pg[method][stat], lite[method][stat]
            )
        fields[f"hybrid_{short}_qps"] = ratio(
            pg[method]["queries_per_s"], lite[method]["queries_per_s"]
        )
    for mode in ("keyword", "semantic"):
        for stat in ("p50_ms", "p95_ms"):
            fields[f"{mode}_1c_{stat.removesuffix('_ms')}"] = ratio(
                pg[f"{mode}_1_client"][stat], lite[f"{mode}_1_client"][stat]
            )
    emit(bench="scale", size=size, method="compare", ratios="postgresql/sqlite", **fields)


@contextlib.contextmanager
def postgres_admin(wanted: bool) -> Iterator[str | None]:
    """The admin URL of a PostgreSQL cluster: PAPERBOY_TEST_DATABASE_URL's or a throwaway one."""
    if not wanted:
        yield None
        return
    given = os.environ.get("PAPERBOY_TEST_DATABASE_URL")
    if given:
        log("postgresql: using the cluster of PAPERBOY_TEST_DATABASE_URL")
        yield given
        return
    from pgcluster import running_cluster, server_bin

    log(f"postgresql: starting a throwaway cluster ({server_bin()})")
    with running_cluster() as url:
        yield url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000000", help="comma list of corpus sizes")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="sqlite,postgresql")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(backends) - set(BACKENDS)
    if unknown or not backends:
        parser.error(f"--backends takes {', '.join(BACKENDS)}; got {args.backends!r}")
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    queries = make_queries(args.queries, random.Random(args.seed))
    emit(bench="scale", stage="setup", sizes=sizes, backends=backends, queries=len(queries))

    with (
        tempfile.TemporaryDirectory(prefix="paperboy-scale-bench-") as tmp,
        postgres_admin("postgresql" in backends) as admin_url,
    ):
        for size in sizes:
            qvecs = query_vectors(size, args.seed, queries, centers_for(size, args.seed))
            results: dict[str, dict[str, Any]] = {}
            tops: dict[str, dict[str, list[list[str]]]] = {}
            for backend in backends:
                if backend == "sqlite":
                    results[backend], tops[backend] = run_sqlite(
                        size, args.seed, Path(tmp), queries, qvecs
                    )
                else:
                    assert admin_url is not None
                    results[backend], tops[backend] = run_postgresql(
                        size, args.seed, admin_url, queries, qvecs
                    )
            if len(results) == 2:
                compare(size, results, tops)
    log("done")


if __name__ == "__main__":
    main()
