"""Hybrid search end to end on real demo papers and their shipped vectors, with the real model:
the service, the /search page, the JSON API (with the real huggingface_hub client), similar
papers and the CLI."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from conftest import LiveServer, NewDatabaseUrl
from demo import demo_record, demo_rows
from paperboy.cli import app as cli_app
from paperboy.embed.jobs import load_embeddings
from paperboy.ingest import demo_embeddings_path
from paperboy.search import open_search
from paperboy.search.service import SearchService
from paperboy.settings import Settings
from paperboy.store import SQLStore, open_store

# Demo papers about very different kinds of "bias", and a sample of everything else.
BIAS = {
    "2507.06952": "inductive bias",
    "2603.10444": "mean bias in FP4 quantized training",
    "2503.08588": "stereotypes in language models",
    "2510.00232": "bias in LLM responses",
    "2503.24310": "bias evaluation suite for LLMs",
}
SAMPLE = 400


@pytest.fixture(scope="module")
def template(module_database_url: NewDatabaseUrl) -> str:
    """The URL of a store with a few hundred demo papers, their shipped vectors and built
    indexes; tests work on copies of it."""
    url = module_database_url("search")
    store = open_store(url)
    rows = [r for r in demo_rows() if r["id"] in BIAS] + list(demo_rows()[::25][:SAMPLE])
    store.upsert([demo_record(row) for row in rows])
    loaded, _ = load_embeddings(store, demo_embeddings_path())
    assert loaded >= len(BIAS)
    open_search(Settings(database_url=url), store).index.sync()
    store.close()  # no connection left: the template can be copied
    return url


@pytest.fixture
def search_settings(template: str, new_database_url: NewDatabaseUrl) -> Settings:
    url = new_database_url("search", template=template)
    return Settings(database_url=url, search_preload=False)


@pytest.fixture
def search_store(search_settings: Settings) -> Iterator[SQLStore]:
    store = open_store(search_settings.database_url)
    yield store
    store.close()


@pytest.fixture
def service(search_settings: Settings, search_store: SQLStore) -> SearchService:
    return open_search(search_settings, search_store)


@pytest.fixture
def web(search_settings: Settings, search_store: SQLStore) -> Iterator[TestClient]:
    from paperboy.web.app import create_app

    with TestClient(create_app(search_settings, store=search_store)) as client:
        yield client


def _ids(results: object) -> list[str]:
    return [hit.paper.id for hit in results.hits]  # type: ignore[attr-defined]


def test_bias_finds_every_kind_of_bias(service: SearchService) -> None:
    results = service.search("bias", per_page=20)
    assert results.semantic
    found = set(_ids(results))
    assert set(BIAS) <= found, {BIAS[i] for i in set(BIAS) - found}


def test_meaning_without_shared_words(service: SearchService) -> None:
    # Words alone rank the FP4 quantisation paper lower; with its meaning it comes out on top.
    results = service.search("rounding errors in low precision arithmetic", per_page=10)
    assert "2603.10444" in _ids(results)[:3]
    hit = next(h for h in results.hits if h.paper.id == "2603.10444")
    assert hit.why.semantic_rank is not None and hit.why.similarity is not None


def test_every_hit_explains_itself(service: SearchService) -> None:
    results = service.search("quantized training", per_page=10)
    assert results.hits
    for hit in results.hits:
        assert hit.why.keyword_rank or hit.why.semantic_rank
        assert hit.why.summary()
    top = results.hits[0]
    assert top.why.matched  # words it matched, by field


def test_modes_differ_and_keyword_mode_needs_no_model(service: SearchService) -> None:
    query = "rounding errors in low precision arithmetic"
    keyword = service.search(query, mode="keyword")
    assert not keyword.semantic
    semantic = service.search(query, mode="semantic")

    def rank(results: object) -> int:
        ids = _ids(results)
        return ids.index("2603.10444") if "2603.10444" in ids else len(ids)

    assert rank(semantic) < rank(keyword)  # meaning ranks the FP4 paper higher than words do
    assert semantic.semantic and all(h.why.keyword_rank is None for h in semantic.hits)


def test_filters_apply_to_both_legs(service: SearchService, search_store: SQLStore) -> None:
    results = service.search("bias since:2026-01", per_page=50)
    assert results.hits
    for hit in results.hits:
        assert hit.paper.published is not None and hit.paper.published.year >= 2026
    phrase = service.search('"language models" bias', per_page=50)
    for hit in phrase.hits:
        # (PostgreSQL's parser also reads "language-model" as the two words in a row)
        text = f"{hit.paper.title} {hit.paper.abstract}".lower().replace("-", " ")
        assert "language model" in text
    excluded = service.search("bias -llm -llms", per_page=50)
    assert "2510.00232" not in _ids(excluded)


def test_pagination_is_stable(service: SearchService) -> None:
    first = service.search("language models", page=1, per_page=5)
    second = service.search("language models", page=2, per_page=5)
    assert first.total == second.total > 10
    assert not set(_ids(first)) & set(_ids(second))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "x" * 10_000,
        '"unbalanced',
        "NEAR(a b)",
        '* ( ) : - "',
        "注意力机制",
        "🙂🚀",
        "author:",
        "since:2024-13",
        "cat:",
        "-",
        "a:b:c",
    ],
)
def test_hostile_queries_never_fail(service: SearchService, text: str) -> None:
    results = service.search(text)
    assert results.page == 1


def test_similar_papers(service: SearchService) -> None:
    similar = service.similar("2503.08588", 5)
    assert len(similar) == 5
    assert all(s.paper.id != "2503.08588" for s in similar)
    assert [s.similarity for s in similar] == sorted((s.similarity for s in similar), reverse=True)
    assert any(s.paper.id in BIAS for s in similar)


def test_search_page(web: TestClient) -> None:
    page = web.get("/search", params={"q": "bias"})
    assert page.status_code == 200
    assert "<mark>" in page.text and "Why:" in page.text
    assert "2507.06952" in page.text
    empty = web.get("/search")
    assert empty.status_code == 200 and "Type words" in empty.text
    none = web.get("/search", params={"q": "qqqzzzxxyy", "mode": "keyword"})
    assert "No papers match" in none.text


def test_search_page_escapes_and_filters(web: TestClient) -> None:
    page = web.get("/search", params={"q": "<script>alert(1)</script>"})
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text
    filtered = web.get("/search", params={"q": "bias", "since": "2026", "mode": "keyword"})
    assert filtered.status_code == 200 and "since:2026" in filtered.text


def test_search_box_opens_arxiv_ids(web: TestClient) -> None:
    answer = web.get(
        "/search", params={"q": "https://arxiv.org/abs/2503.08588v2"}, follow_redirects=False
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/papers/2503.08588"


def test_paper_page_lists_similar_papers(web: TestClient) -> None:
    page = web.get("/papers/2503.08588")
    assert "Similar papers" in page.text and "similar in meaning" in page.text


def test_api_search_and_similar(web: TestClient) -> None:
    answer = web.get("/api/papers/search", params={"q": "bias", "limit": 7})
    assert answer.status_code == 200
    body = answer.json()
    assert len(body) == 7
    assert {"paper", "title", "summary", "why"} <= set(body[0])
    assert int(answer.headers["x-total-count"]) >= 7
    assert web.get("/api/papers/search", params={"limit": 0}).status_code == 400
    assert web.get("/api/papers/search").json() == []
    similar = web.get("/api/papers/2503.08588/similar", params={"limit": 3})
    assert similar.status_code == 200 and len(similar.json()) == 3
    assert web.get("/api/papers/2101.00001/similar").status_code == 404
    assert web.get("/api/papers/not-an-id/similar").status_code == 400


def test_huggingface_hub_list_papers(
    search_settings: Settings, search_store: SQLStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import HfApi, constants

    # Loading the model marks this process offline for huggingface_hub; the client below talks
    # to a local server only.
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    from paperboy.web.app import create_app

    with LiveServer(create_app(search_settings, store=search_store)) as server:
        api = HfApi(endpoint=server.url, token=False)
        papers = list(api.list_papers(query="inductive bias", limit=5))
    assert 0 < len(papers) <= 5
    assert papers[0].id and papers[0].title and papers[0].authors
    assert "2507.06952" in [p.id for p in papers]


def test_cli_search(search_settings: Settings) -> None:
    runner = CliRunner()
    result = runner.invoke(
        cli_app, ["search", "bias", "-n", "5", "--database-url", search_settings.database_url]
    )
    assert result.exit_code == 0, result.output
    assert "Why" in result.output
    as_json = runner.invoke(
        cli_app,
        ["search", "inductive bias", "--json", "--database-url", search_settings.database_url],
    )
    assert as_json.exit_code == 0 and "2507.06952" in as_json.output
    bad = runner.invoke(
        cli_app, ["search", "x", "--mode", "magic", "--database-url", search_settings.database_url]
    )
    assert bad.exit_code == 2


def test_boosts_are_off_by_default_and_reorder_when_on(service: SearchService) -> None:
    from dataclasses import replace

    assert service.params.recency == 0 and service.params.popularity == 0
    plain = service.search("language models", per_page=20)
    recent = service.search(
        "language models", per_page=20, params=replace(service.params, recency=5.0)
    )
    popular = service.search(
        "language models", per_page=20, params=replace(service.params, popularity=5.0)
    )

    def mean_year(results: object) -> float:
        years = [h.paper.published.year for h in results.hits[:10]]  # type: ignore[attr-defined]
        return sum(years) / len(years)

    def mean_votes(results: object) -> float:
        return sum(h.upvotes for h in results.hits[:10]) / 10  # type: ignore[attr-defined]

    assert mean_year(recent) > mean_year(plain)
    assert mean_votes(popular) > mean_votes(plain)
    assert _ids(plain) != _ids(recent)
