"""KeywordIndex on real demo papers: ranking, stemming, authors, phrases, boosts, hostile input."""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from conftest import shared_path
from paperboy.ingest import demo_data_path, import_files
from paperboy.search.evaluate import evaluate, load_beir
from paperboy.search.index import SearchIndex
from paperboy.search.keyword import IndexDoc, KeywordIndex, Scored
from paperboy.store import SQLStore
from paperboy.store.schema import papers

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from eval_search import arxiv_sanity_ranker  # noqa: E402

Doc = tuple[str, str, str, str]


def _demo_docs(n: int = 20) -> list[Doc]:
    docs: list[Doc] = []
    with gzip.open(demo_data_path(), "rt", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            docs.append((row["id"], row["title"], row["abstract"], ", ".join(row["authors"])))
            if len(docs) == n:
                break
    return docs


@pytest.fixture(scope="module")
def docs() -> list[Doc]:
    return _demo_docs()


@pytest.fixture
def index(tmp_path: Path, docs: list[Doc]) -> KeywordIndex:
    ix = KeywordIndex.create(tmp_path / "kw")
    assert ix.add(docs) == len(docs)
    ix.commit()
    return ix


def _ids(hits: list[Scored]) -> list[str]:
    return [h.paper_id for h in hits]


def _doc(docs: list[Doc], word: str) -> Doc:
    return next(d for d in docs if word.lower() in d[1].lower())


def test_title_word_finds_paper_first(index: KeywordIndex, docs: list[Doc]) -> None:
    paper = _doc(docs, "Matryoshka")
    hits = index.search("matryoshka")
    assert hits and hits[0].paper_id == paper[0]
    assert all(a.score >= b.score for a, b in zip(hits, hits[1:], strict=False))


def test_results_sorted_and_limited(index: KeywordIndex) -> None:
    hits = index.search("language models", limit=5)
    assert 0 < len(hits) <= 5
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert index.search("language models", limit=0) == []


def test_stemming(tmp_path: Path) -> None:
    ix = KeywordIndex.create(tmp_path / "kw")
    ix.add([("t", "A transformer for tables", "", ""), ("o", "Other", "graphs", "")])
    ix.commit()
    assert _ids(ix.search("transformers")) == ["t"]
    assert _ids(ix.search("TRANSFORMING")) == ["t"]


def test_ascii_folding(tmp_path: Path) -> None:
    ix = KeywordIndex.create(tmp_path / "kw")
    ix.add([("f", "Self-supervised features", "", "Timothée Darcet"), ("o", "Other", "", "")])
    ix.commit()
    assert _ids(ix.search("timothee")) == ["f"]
    assert _ids(ix.search("Timothée")) == ["f"]


def test_author_name_finds_paper(index: KeywordIndex, docs: list[Doc]) -> None:
    paper = _doc(docs, "Matryoshka")
    surname = paper[3].split(",")[0].split()[-1]  # first author's last name
    assert surname.lower() in paper[3].lower()
    assert paper[0] in _ids(index.search(surname))[:3]


def test_quoted_phrase(tmp_path: Path) -> None:
    ix = KeywordIndex.create(tmp_path / "kw")
    ix.add(
        [
            ("p", "Scaling", "we study the vision encoder of large models", ""),
            ("s", "Scaling", "an encoder for vision and text", ""),
        ]
    )
    ix.commit()
    assert _ids(ix.search('"vision encoder"')) == ["p"]
    assert set(_ids(ix.search("vision encoder"))) == {"p", "s"}


def test_title_boost(tmp_path: Path) -> None:
    ix = KeywordIndex.create(tmp_path / "kw")
    # same length fields, the term once in each: only the field differs
    ix.add(
        [
            ("abs", "Graph learning methods", "we study quantization for graph learning", ""),
            ("tit", "Quantization learning methods", "we study pruning for graph learning", ""),
        ]
    )
    ix.commit()
    assert _ids(ix.search("quantization")) == ["tit", "abs"]


def test_delete_removes(index: KeywordIndex, docs: list[Doc]) -> None:
    paper = _doc(docs, "Matryoshka")
    index.delete(paper[0])
    index.commit()
    assert paper[0] not in _ids(index.search("matryoshka multimodal"))
    assert len(index) == len(docs) - 1


def test_add_same_id_replaces(index: KeywordIndex, docs: list[Doc]) -> None:
    paper = _doc(docs, "Matryoshka")
    index.add([(paper[0], "Renamed entirely", "", "")])
    index.commit()
    assert len(index) == len(docs)
    assert _ids(index.search("renamed")) == [paper[0]]
    assert paper[0] not in _ids(index.search("matryoshka"))


@pytest.mark.parametrize(
    "query",
    [
        'C++ "unbalanced',
        "AND OR (",
        "title:",
        "*",
        "",
        "   ",
        'id:"x" OR -title:[a TO z] ^2 ~ \\ {}',
        "x" * 2000,
        "language " * 400,
    ],
)
def test_hostile_queries_never_raise(index: KeywordIndex, query: str) -> None:
    hits = index.search(query)
    assert isinstance(hits, list)
    assert all(isinstance(h, Scored) for h in hits)


def test_reopen_after_commit_keeps_docs(tmp_path: Path, docs: list[Doc]) -> None:
    path = tmp_path / "kw"
    with KeywordIndex.create(path) as ix:
        ix.add(docs)
        ix.commit()
    reopened = KeywordIndex.open(path)
    assert len(reopened) == len(docs)
    assert _ids(reopened.search("matryoshka"))[0] == _doc(docs, "Matryoshka")[0]


def test_open_missing_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        KeywordIndex.open(tmp_path / "nothing")


def test_build_from_store(store: SQLStore, tmp_path: Path) -> None:
    source = tmp_path / "papers.jsonl"
    with gzip.open(demo_data_path(), "rt", encoding="utf-8") as fh:
        source.write_text("".join(line for _, line in zip(range(120), fh, strict=False)))
    import_files(store, [source])
    SearchIndex(store, tmp_path / "idx", "none").sync()
    ix = KeywordIndex.open(tmp_path / "idx" / "keyword")
    with store.engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(papers)).scalar_one()
    assert len(ix) == total > 100
    hits = ix.search("matryoshka multimodal")
    assert hits and store.get_paper(hits[0].paper_id) is not None


@pytest.mark.slow
def test_bm25_beats_arxiv_sanity_scan_on_cisi(tmp_path: Path) -> None:
    corpus, queries, qrels = load_beir(shared_path("eval/cisi"))
    with KeywordIndex.create(tmp_path / "kw") as ix:
        ix.add((doc_id, d["title"], d["text"], "") for doc_id, d in corpus.items())
        ix.commit()
        bm25 = evaluate(lambda q: _ids(ix.search(q, limit=100)), queries, qrels)
    overlap = evaluate(arxiv_sanity_ranker(corpus), queries, qrels)
    assert bm25["queries"] == overlap["queries"] > 50
    assert bm25["ndcg_at_10"] > overlap["ndcg_at_10"]
    assert bm25["recall_at_100"] > overlap["recall_at_100"]


@pytest.fixture
def filtered(tmp_path: Path) -> KeywordIndex:
    from datetime import date

    ix = KeywordIndex.create(tmp_path / "kw")
    day = date(2025, 3, 10).toordinal()
    ix.add(
        [
            IndexDoc(
                "a",
                "Bias in language models",
                "we measure bias",
                "Ada Lovelace, Alan Turing",
                ("cs.CL", "cs.AI"),
                day,
            ),
            IndexDoc(
                "b",
                "Inductive bias of transformers",
                "a study",
                "Grace Hopper",
                ("cs.LG",),
                day + 40,
            ),
            IndexDoc(
                "c",
                "Bias terms in quantized training",
                "fp4 training bias",
                "Alan Kay",
                ("cs.LG", "stat.ML"),
                day - 400,
            ),
        ]
    )
    ix.commit()
    return ix


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("bias", {"a", "b", "c"}),
        ("bias cat:cs.CL", {"a"}),
        ("bias cat:cs", {"a", "b", "c"}),
        ("bias cat:stat.ML", {"c"}),
        ("bias author:turing", {"a"}),
        ('bias author:"Alan Kay"', {"c"}),
        ("bias since:2025", {"a", "b"}),
        ("bias until:2025-03", {"a", "c"}),
        ("bias year:2024", {"c"}),
        ("bias -quantized", {"a", "b"}),
        ('"inductive bias"', {"b"}),
        ("cat:cs.LG", {"b", "c"}),
    ],
)
def test_filters(filtered: KeywordIndex, query: str, expected: set[str]) -> None:
    assert set(_ids(filtered.search(query))) == expected


def test_filter_only_queries_list_newest_first(filtered: KeywordIndex) -> None:
    assert _ids(filtered.search("cat:cs")) == ["b", "a", "c"]


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.text(
        alphabet=st.sampled_from(list('abc xyz"-:*()^~[]{}\\+NEARANDOR注意力🙂é.,/'))
        | st.characters(),
        max_size=200,
    )
)
def test_any_text_is_a_safe_query(filtered: KeywordIndex, text: str) -> None:
    hits = filtered.search(text, limit=5)
    assert all(h.paper_id in {"a", "b", "c"} for h in hits)
