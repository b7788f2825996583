"""Retrieval-quality measures (nDCG@k, recall@k) and a loader for BEIR-layout test collections.

Pure functions, no index: ``evaluate`` takes any ``query text -> ranked ids`` callable.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path

Corpus = dict[str, dict[str, str]]  # doc id -> {"title": ..., "text": ...}
Queries = dict[str, str]  # query id -> text
Qrels = dict[str, dict[str, int]]  # query id -> {doc id: graded relevance > 0}


def dcg(gains: list[int]) -> float:
    """Discounted cumulative gain: sum of gain_i / log2(i + 1) over ranks i = 1, 2, ..."""
    return sum(g / math.log2(rank + 2) for rank, g in enumerate(gains))


def ndcg_at_k(ranked: list[str], relevant: Mapping[str, int], k: int = 10) -> float:
    """Normalized DCG of the first ``k`` of ``ranked`` with graded (linear) gains.

    A doc's gain is its grade in ``relevant`` (0 if absent); the ideal ranking is the grades
    sorted descending. 0.0 when nothing is relevant. Repeated ids count once, at their best rank.
    """
    ideal = dcg(sorted((g for g in relevant.values() if g > 0), reverse=True)[:k])
    if ideal <= 0:
        return 0.0
    seen: set[str] = set()
    gains: list[int] = []
    for doc_id in ranked:
        if len(gains) == k:
            break
        if doc_id in seen:
            continue
        seen.add(doc_id)
        gains.append(max(relevant.get(doc_id, 0), 0))
    return dcg(gains) / ideal


def recall_at_k(ranked: list[str], relevant: Mapping[str, int], k: int = 100) -> float:
    """Share of the relevant docs (grade > 0) found in the first ``k`` of ``ranked``; 0.0 when
    nothing is relevant."""
    wanted = {doc_id for doc_id, grade in relevant.items() if grade > 0}
    if not wanted:
        return 0.0
    return len(wanted.intersection(ranked[:k])) / len(wanted)


def _read_jsonl(path: Path) -> list[dict[str, object]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load_beir(folder: str | Path) -> tuple[Corpus, Queries, Qrels]:
    """A BEIR-layout collection: ``corpus.jsonl`` (_id, title, text), ``queries.jsonl``
    (_id, text), ``qrels.tsv`` (header ``query-id corpus-id score``).

    Only judged queries are returned (those with at least one doc of grade > 0), and the qrels
    hold only positive grades.
    """
    folder = Path(folder)
    corpus: Corpus = {
        str(row["_id"]): {"title": str(row.get("title") or ""), "text": str(row.get("text") or "")}
        for row in _read_jsonl(folder / "corpus.jsonl")
    }
    qrels: Qrels = {}
    with (folder / "qrels.tsv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            grade = int(float(row["score"]))
            if grade > 0:
                qrels.setdefault(row["query-id"], {})[row["corpus-id"]] = grade
    queries: Queries = {
        str(row["_id"]): str(row["text"])
        for row in _read_jsonl(folder / "queries.jsonl")
        if str(row["_id"]) in qrels
    }
    qrels = {qid: judged for qid, judged in qrels.items() if qid in queries}
    return corpus, queries, qrels


def evaluate(
    search_fn: Callable[[str], list[str]],
    queries: Mapping[str, str],
    qrels: Mapping[str, Mapping[str, int]],
    ndcg_k: int = 10,
    recall_k: int = 100,
) -> dict[str, float | int]:
    """Run every judged query through ``search_fn`` (text -> ranked doc ids) and average.

    Returns ``{"queries": N, "ndcg_at_10": mean, "recall_at_100": mean}`` (keys follow k).
    Queries without judgments are skipped.
    """
    judged = [qid for qid in queries if qrels.get(qid)]
    ndcg_sum = recall_sum = 0.0
    for qid in judged:
        ranked = search_fn(queries[qid])
        ndcg_sum += ndcg_at_k(ranked, qrels[qid], ndcg_k)
        recall_sum += recall_at_k(ranked, qrels[qid], recall_k)
    n = len(judged)
    return {
        "queries": n,
        f"ndcg_at_{ndcg_k}": ndcg_sum / n if n else 0.0,
        f"recall_at_{recall_k}": recall_sum / n if n else 0.0,
    }
