"""Keyword-search quality on real test collections (CISI, CACM in ../shared/eval, BEIR layout).

For each collection: build a tantivy BM25 index in a temp dir, run every judged query (top 100),
and report mean nDCG@10 and recall@100, plus query latency. A trivial term-overlap ranking goes
through the same ``evaluate`` as the reference the BM25 figures should beat.

    .venv/bin/python bench/search_quality.py
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import emit, shared_file, summary_ms  # noqa: E402
from paperboy.search.evaluate import Corpus, evaluate, load_beir  # noqa: E402
from paperboy.search.keyword import KeywordIndex  # noqa: E402

COLLECTIONS = ("cisi", "cacm")
LIMIT = 100
_WORD = re.compile(r"\w+")


def term_overlap_ranker(corpus: Corpus, limit: int = LIMIT) -> Callable[[str], list[str]]:
    """Rank docs by how many distinct query terms (lowercased) occur in title + text."""
    doc_terms = {
        doc_id: set(_WORD.findall(f"{doc['title']} {doc['text']}".lower()))
        for doc_id, doc in corpus.items()
    }

    def search(query: str) -> list[str]:
        terms = set(_WORD.findall(query.lower()))
        scored = [(len(terms & words), doc_id) for doc_id, words in doc_terms.items()]
        scored = [item for item in scored if item[0] > 0]
        scored.sort(key=lambda item: -item[0])  # stable: ties keep corpus order
        return [doc_id for _, doc_id in scored[:limit]]

    return search


def run_collection(name: str) -> None:
    corpus, queries, qrels = load_beir(shared_file(f"eval/{name}"))
    with tempfile.TemporaryDirectory(prefix=f"paperboy-{name}-") as tmp:
        started = time.perf_counter()
        index = KeywordIndex.create(Path(tmp) / "index")
        index.add((doc_id, doc["title"], doc["text"], "") for doc_id, doc in corpus.items())
        index.commit()
        index.close()
        build_s = time.perf_counter() - started

        timings: list[float] = []

        def bm25(query: str) -> list[str]:
            t0 = time.perf_counter()
            hits = index.search(query, limit=LIMIT)
            timings.append(time.perf_counter() - t0)
            return [hit.paper_id for hit in hits]

        result = evaluate(bm25, queries, qrels)
        latency = summary_ms(timings)
        emit(
            bench="search_quality",
            collection=name,
            method="bm25_tantivy",
            docs=len(corpus),
            queries=result["queries"],
            ndcg_at_10=round(result["ndcg_at_10"], 4),
            recall_at_100=round(result["recall_at_100"], 4),
            build_s=round(build_s, 3),
            p50_ms=latency["p50_ms"],
            p95_ms=latency["p95_ms"],
        )

    baseline = evaluate(term_overlap_ranker(corpus), queries, qrels)
    emit(
        bench="search_quality",
        collection=name,
        method="term_overlap",
        docs=len(corpus),
        queries=baseline["queries"],
        ndcg_at_10=round(baseline["ndcg_at_10"], 4),
        recall_at_100=round(baseline["recall_at_100"], 4),
    )


def main() -> None:
    for name in COLLECTIONS:
        run_collection(name)


if __name__ == "__main__":
    main()
