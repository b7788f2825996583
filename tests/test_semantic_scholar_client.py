"""The real ``semanticscholar`` client against a live Paperboy: its recommendation calls work
with ``api_url`` pointed at this instance."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import LiveServer
from paperboy.settings import Settings
from paperboy.store import SQLStore
from test_recommendations_api import records

semanticscholar = pytest.importorskip("semanticscholar")


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, recommend_rate_per_minute=1000)


@pytest.fixture
def s2(store: SQLStore, live_server: LiveServer) -> Any:
    store.upsert(records())
    return semanticscholar.SemanticScholar(api_url=live_server.url, timeout=10)


def test_recommended_papers_for_one_paper(s2: Any) -> None:
    papers = s2.get_recommended_papers(
        "arXiv:2605.00003", fields=["paperId", "title", "externalIds", "year"], limit=3
    )
    assert 1 <= len(papers) <= 3
    first = papers[0]
    assert first.paperId == "arXiv:2605.00004"
    assert first.title == "Surface codes for qubits"
    assert first.externalIds["ArXiv"] == "2605.00004"
    assert first.year == 2026
    everything = s2.get_recommended_papers("2605.00003", pool_from="all-cs")
    assert everything[0].paperId == "arXiv:2605.00004"


def test_recommended_papers_from_lists(s2: Any) -> None:
    papers = s2.get_recommended_papers_from_lists(
        ["arXiv:2605.00001"],
        ["arXiv:2605.00003"],
        fields=["paperId", "title", "authors", "publicationDate", "url", "abstract"],
        limit=4,
    )
    assert papers[0].paperId == "arXiv:2605.00002"
    assert papers[0].authors[0].name == "Author 2"
    assert papers[0].publicationDate.year == 2026
    assert papers[0].url.endswith("/papers/2605.00002")
    assert "arXiv:2605.00004" not in [p.paperId for p in papers[:1]]
    default = s2.get_recommended_papers_from_lists(["2605.00005"])
    assert all(p.paperId.startswith("arXiv:") for p in default)
