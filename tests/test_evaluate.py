"""nDCG@k and recall@k against hand-computed values, and the BEIR loader on a tiny collection."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from paperboy.search.evaluate import evaluate, load_beir, ndcg_at_k, recall_at_k


def test_ndcg_single_relevant_at_rank_two() -> None:
    # DCG = 1 / log2(3); ideal = 1 / log2(2) = 1
    assert ndcg_at_k(["a", "b", "c"], {"b": 1}) == pytest.approx(1 / math.log2(3))
    assert ndcg_at_k(["a", "b", "c"], {"b": 1}) == pytest.approx(0.6309297535714575)


def test_ndcg_perfect_ranking_is_one() -> None:
    assert ndcg_at_k(["b", "a", "c"], {"b": 2, "a": 1}) == pytest.approx(1.0)


def test_ndcg_graded() -> None:
    # ranked a(1), b(0), c(2); ideal c(2), a(1)
    dcg = 1 / math.log2(2) + 0 + 2 / math.log2(4)  # 1 + 1 = 2
    ideal = 2 / math.log2(2) + 1 / math.log2(3)  # 2 + 0.6309 = 2.6309
    got = ndcg_at_k(["a", "b", "c"], {"a": 1, "c": 2})
    assert got == pytest.approx(dcg / ideal)
    assert got == pytest.approx(0.7601885, abs=1e-6)


def test_ndcg_cut_at_k() -> None:
    # the only relevant doc sits at rank 3, beyond k = 2
    assert ndcg_at_k(["a", "b", "c"], {"c": 1}, k=2) == 0.0
    # ideal is cut at k too: two relevant docs, k = 1, first one relevant -> 1.0
    assert ndcg_at_k(["x", "y"], {"x": 1, "y": 1}, k=1) == pytest.approx(1.0)


def test_ndcg_no_relevant_is_zero() -> None:
    assert ndcg_at_k(["a", "b"], {}) == 0.0
    assert ndcg_at_k(["a", "b"], {"a": 0}) == 0.0
    assert ndcg_at_k([], {"a": 1}) == 0.0


def test_ndcg_duplicates_count_once() -> None:
    assert ndcg_at_k(["a", "a"], {"a": 1, "b": 1}) == pytest.approx(1 / (1 + 1 / math.log2(3)))


def test_recall() -> None:
    relevant = {"a": 1, "b": 1, "c": 1, "d": 1}
    assert recall_at_k(["a", "x", "c"], relevant) == pytest.approx(0.5)
    assert recall_at_k(["a", "x", "c"], relevant, k=1) == pytest.approx(0.25)
    assert recall_at_k([], relevant) == 0.0
    assert recall_at_k(["a"], {}) == 0.0
    assert recall_at_k(["a", "b", "c", "d"], relevant) == pytest.approx(1.0)


def _write_collection(folder: Path) -> None:
    corpus = [{"_id": "d1", "title": "One", "text": "first"}, {"_id": "d2", "title": "Two"}]
    queries = [{"_id": "q1", "text": "first"}, {"_id": "q2", "text": "unjudged"}]
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps(r) for r in corpus) + "\n")
    (folder / "queries.jsonl").write_text("\n".join(json.dumps(r) for r in queries) + "\n")
    (folder / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\t0\n")


def test_load_beir_keeps_judged_queries_only(tmp_path: Path) -> None:
    _write_collection(tmp_path)
    corpus, queries, qrels = load_beir(tmp_path)
    assert corpus == {"d1": {"title": "One", "text": "first"}, "d2": {"title": "Two", "text": ""}}
    assert queries == {"q1": "first"}
    assert qrels == {"q1": {"d1": 1}}


def test_evaluate_means(tmp_path: Path) -> None:
    queries = {"q1": "x", "q2": "y", "q3": "unjudged"}
    qrels = {"q1": {"a": 1}, "q2": {"b": 1, "c": 1}}
    answers = {"x": ["a"], "y": ["z", "b"], "unjudged": ["a"]}
    result = evaluate(lambda text: answers[text], queries, qrels)
    assert result["queries"] == 2
    ndcg_q2 = (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    assert result["ndcg_at_10"] == pytest.approx((1.0 + ndcg_q2) / 2)
    assert result["recall_at_100"] == pytest.approx((1.0 + 0.5) / 2)
