"""Search quality on real test collections (CISI, CACM in ../shared/eval, BEIR layout).

For each collection, every judged query is run through each method and scored by nDCG@10 and
recall@100 (``paperboy.search.evaluate``):

- ``keyword``: Paperboy's BM25 leg (tantivy, stemming and folding, title and abstract as one
  field plus a small title field, stop words dropped from the query);
- ``semantic``: Paperboy's meaning leg (all-MiniLM-L6-v2 vectors, exact cosine);
- ``hybrid``: both fused by weighted reciprocal-rank fusion with the shipped defaults;
- anchors, in the same run: ``bm25_plain`` (one field, default parameters, no boosts) and
  ``arxiv_sanity`` (arxiv-sanity-lite's scan: 20 x title hits + 10 x author hits + per query
  word min(3, abstract count)).

``--postgres`` also loads each collection into a PostgreSQL store (a throwaway cluster from
``scripts/pgcluster.py``, or ``PAPERBOY_TEST_DATABASE_URL``) and scores the search service there
(``pg_keyword``: tsvector + idf-weighted ts_rank; ``pg_semantic``: pgvector HNSW; ``pg_hybrid``:
the same fusion), to compare the two backends on the same data in the same run.
``--tune`` also grid-searches the fusion (k, semantic weight) and prints, per setting, the scores
on each collection, so the defaults can be chosen on both (and checked leave-one-out).
Document vectors are cached under ``var/cache/eval`` (embedding 4,664 abstracts takes minutes).

    .venv/bin/python bench/eval_search.py [--tune] [--postgres] [--max-tokens 256]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, emit, shared_file  # noqa: E402
from paperboy.embed.model import load_embedder  # noqa: E402
from paperboy.embed.text import paper_text  # noqa: E402
from paperboy.search.evaluate import Corpus, evaluate, load_beir  # noqa: E402
from paperboy.search.keyword import BOOSTS, KeywordIndex  # noqa: E402
from paperboy.search.query import parse_query  # noqa: E402
from paperboy.search.service import FusionParams, rrf  # noqa: E402

COLLECTIONS = ("cisi", "cacm")
DEPTH = FusionParams().depth  # candidates per leg, as the service takes them
Ranker = Callable[[str], list[str]]
_SYNTAX = re.compile(r'["\u201c\u201d:]|(?:^|\s)-')


def prose(text: str) -> str:
    """A collection's query as plain text: its quotes, colons and leading dashes are prose (CACM
    queries quote the titles of papers they cite), not Paperboy's query syntax."""
    return _SYNTAX.sub(" ", text)


def arxiv_sanity_ranker(corpus: Corpus, limit: int = 100) -> Ranker:
    """arxiv-sanity-lite's search: substring counts of each lowercased query word."""
    docs = [
        (doc_id, doc["title"].lower(), str(doc.get("authors", "")).lower(), doc["text"].lower())
        for doc_id, doc in corpus.items()
    ]

    def search(query: str) -> list[str]:
        words = query.lower().strip().split()
        scored: list[tuple[float, str]] = []
        for doc_id, title, authors, text in docs:
            score = 10.0 * sum(int(authors.count(w) > 0) for w in words)
            score += 20.0 * sum(int(title.count(w) > 0) for w in words)
            score += sum(min(3, text.count(w)) for w in words)
            if score > 0:
                scored.append((score, doc_id))
        scored.sort(key=lambda item: -item[0])
        return [doc_id for _, doc_id in scored[:limit]]

    return search


def doc_vectors(name: str, corpus: Corpus, max_tokens: int) -> tuple[list[str], np.ndarray]:
    ids = list(corpus)
    texts = [paper_text(corpus[i]["title"], corpus[i]["text"]) for i in ids]
    digest = hashlib.blake2b("\x1e".join(texts).encode(), digest_size=8).hexdigest()
    cache = ROOT / "var" / "cache" / "eval" / f"{name}-{max_tokens}-{digest}.npy"
    if cache.exists():
        return ids, np.load(cache)
    encoder = load_embedder(max_tokens=max_tokens)
    started = time.perf_counter()
    matrix = encoder.encode(texts, batch_size=32)
    elapsed = time.perf_counter() - started
    emit(
        bench="eval_search",
        collection=name,
        stage="embed_corpus",
        docs=len(texts),
        seconds=round(elapsed, 1),
        docs_per_s=round(len(texts) / elapsed, 1),
    )
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, matrix)
    return ids, matrix


class Legs:
    """The two ranked lists of every query, computed once, fused many times."""

    def __init__(
        self, name: str, corpus: Corpus, tmp: Path, max_tokens: int, title: float | None
    ) -> None:
        boosts = None if title is None else {**BOOSTS, "title": title}
        self.index = KeywordIndex.create(tmp / "keyword", boosts=boosts)
        self.index.add((i, d["title"], d["text"], "") for i, d in corpus.items())
        self.index.commit()
        self.index.close()
        self.plain = KeywordIndex.create(
            tmp / "plain", boosts={"title": 0.0, "text": 1.0, "authors": 0.0}, stopwords=False
        )
        self.plain.add((i, "", f"{d['title']} {d['text']}", "") for i, d in corpus.items())
        self.plain.commit()
        self.plain.close()
        self.ids, self.matrix = doc_vectors(name, corpus, max_tokens)
        self.encoder = load_embedder(max_tokens=max_tokens)
        self._keyword: dict[str, list[str]] = {}
        self._semantic: dict[str, list[str]] = {}

    def keyword(self, query: str) -> list[str]:
        if query not in self._keyword:
            hits = self.index.search_parsed(parse_query(query), DEPTH)
            self._keyword[query] = [h.paper_id for h in hits]
        return self._keyword[query]

    def bm25_plain(self, query: str) -> list[str]:
        return [h.paper_id for h in self.plain.search(query, 100)]

    def semantic(self, query: str) -> list[str]:
        if query not in self._semantic:
            text = parse_query(query).semantic_text
            vector = self.encoder.encode_query(text)
            scores = self.matrix @ vector
            top = np.argsort(-scores)[:DEPTH]
            self._semantic[query] = [self.ids[i] for i in top]
        return self._semantic[query]

    def hybrid(self, params: FusionParams) -> Ranker:
        def search(query: str) -> list[str]:
            fused = rrf(
                [
                    (self.keyword(query), params.keyword_weight),
                    (self.semantic(query), params.semantic_weight),
                ],
                params.k,
            )
            return sorted(fused, key=lambda i: -fused[i])[:100]

        return search


def pg_rankers(name: str, corpus: Corpus, legs: Legs, admin_url: str) -> dict[str, Ranker]:
    """The search service on a PostgreSQL store holding ``corpus`` and its vectors."""
    import psycopg

    from paperboy.embed.jobs import encode_vector
    from paperboy.embed.model import MODEL_NAME
    from paperboy.models import Paper, Record
    from paperboy.search.pg import PgSearchIndex
    from paperboy.search.service import SearchService
    from paperboy.store import open_store

    database = f"eval_{name}"
    dsn = admin_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {database}")
    store = open_store(admin_url.rsplit("/", 1)[0] + "/" + database)
    records = [
        Record(Paper(id=i, title=d["title"] or "-", abstract=d["text"])) for i, d in corpus.items()
    ]
    for start in range(0, len(records), 2000):
        store.upsert(records[start : start + 2000])
    seqs = store.change_seqs(legs.ids)
    rows = [
        (pid, seqs[pid], "eval", encode_vector(legs.matrix[n])) for n, pid in enumerate(legs.ids)
    ]
    for start in range(0, len(rows), 2000):
        store.save_embeddings(MODEL_NAME, rows[start : start + 2000])
    with store.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    service = SearchService(store, PgSearchIndex(store, MODEL_NAME), lambda: legs.encoder)

    def ranker(mode: str) -> Ranker:
        def search(query: str) -> list[str]:
            results = service.search(query, mode=mode, per_page=100)  # type: ignore[arg-type]
            return [hit.paper.id for hit in results.hits]

        return search

    return {f"pg_{mode}": ranker(mode) for mode in ("keyword", "semantic", "hybrid")}


def report(name: str, method: str, result: dict[str, float], **extra: object) -> None:
    emit(
        bench="eval_search",
        collection=name,
        method=method,
        queries=int(result["queries"]),
        ndcg_at_10=round(result["ndcg_at_10"], 4),
        recall_at_100=round(result["recall_at_100"], 4),
        **extra,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tune", action="store_true", help="grid-search the fusion too")
    parser.add_argument("--title-boost", type=float, default=None, help="override the title boost")
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument(
        "--postgres", action="store_true", help="also score the PostgreSQL backend's search"
    )
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        admin_url = ""
        if args.postgres:
            admin_url = os.environ.get("PAPERBOY_TEST_DATABASE_URL", "")
            if not admin_url:
                sys.path.insert(0, str(ROOT / "scripts"))
                from pgcluster import running_cluster  # type: ignore[import-not-found]

                admin_url = stack.enter_context(running_cluster())
        run(args, admin_url)


def run(args: argparse.Namespace, admin_url: str) -> None:
    defaults = FusionParams()
    grid: dict[tuple[float, float], dict[str, float]] = {}
    for name in COLLECTIONS:
        corpus, queries, qrels = load_beir(shared_file(f"eval/{name}"))
        queries = {qid: prose(text) for qid, text in queries.items()}
        with tempfile.TemporaryDirectory(prefix=f"paperboy-eval-{name}-") as tmp:
            legs = Legs(name, corpus, Path(tmp), args.max_tokens, args.title_boost)
            scores = {
                "bm25_plain": evaluate(legs.bm25_plain, queries, qrels),
                "arxiv_sanity": evaluate(arxiv_sanity_ranker(corpus), queries, qrels),
                "keyword": evaluate(legs.keyword, queries, qrels),
                "semantic": evaluate(legs.semantic, queries, qrels),
                "hybrid": evaluate(legs.hybrid(defaults), queries, qrels),
            }
            if admin_url:
                for method, ranker in pg_rankers(name, corpus, legs, admin_url).items():
                    scores[method] = evaluate(ranker, queries, qrels)
            for method, result in scores.items():
                report(name, method, result, max_tokens=args.max_tokens)
            parts = max(scores["keyword"]["ndcg_at_10"], scores["semantic"]["ndcg_at_10"])
            emit(
                bench="eval_search",
                collection=name,
                check="hybrid_beats_both_parts",
                hybrid_ndcg_at_10=round(scores["hybrid"]["ndcg_at_10"], 4),
                best_part_ndcg_at_10=round(parts, 4),
                ratio=round(scores["hybrid"]["ndcg_at_10"] / parts, 3),
                ok=scores["hybrid"]["ndcg_at_10"] > parts,
            )
            if args.tune:
                for k in (10.0, 30.0, 60.0, 100.0):
                    for weight in (0.5, 0.75, 1.0, 1.25, 1.5, 2.0):
                        params = FusionParams(k=k, semantic_weight=weight)
                        result = evaluate(legs.hybrid(params), queries, qrels)
                        grid.setdefault((k, weight), {})[name] = result["ndcg_at_10"]
    if args.tune:
        for (k, weight), by_name in sorted(grid.items()):
            emit(
                bench="eval_search",
                tune="rrf",
                k=k,
                semantic_weight=weight,
                **{f"{n}_ndcg_at_10": round(v, 4) for n, v in by_name.items()},
                mean=round(sum(by_name.values()) / len(by_name), 4),
            )
        best = max(grid, key=lambda key: sum(grid[key].values()))
        emit(bench="eval_search", tune="best_mean", k=best[0], semantic_weight=best[1])
        for held_out in COLLECTIONS:
            train = [n for n in COLLECTIONS if n != held_out]
            pick = max(grid, key=lambda key: sum(grid[key][n] for n in train))
            emit(
                bench="eval_search",
                tune="leave_one_out",
                tuned_on=train,
                held_out=held_out,
                k=pick[0],
                semantic_weight=pick[1],
                held_out_ndcg_at_10=round(grid[pick][held_out], 4),
            )


if __name__ == "__main__":
    main()
