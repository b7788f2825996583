"""PostgreSQL search against the embedded backend on the same data: same matches, same
neighbours, the same service on top."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import TEST_PG_URL, _pg_admin
from tests.demo import demo_record, rows_between
from typer.testing import CliRunner

from paperboy.cli import app
from paperboy.embed.jobs import load_embeddings
from paperboy.ingest.files import demo_embeddings_path
from paperboy.search import SearchService, open_search
from paperboy.search.query import parse_query
from paperboy.settings import Settings
from paperboy.store import open_store

pytestmark = [pytest.mark.postgres_only, pytest.mark.slow]

FIRST, LAST = "2025-03-01", "2025-04-30"


def _query_vector(text: str) -> np.ndarray:
    """A fixed unit vector per text: both backends get the same one (no model needed)."""
    rng = np.random.default_rng(sum(text.encode()))
    vector = rng.standard_normal(384).astype(np.float32)
    return vector / np.linalg.norm(vector)


def _service(url: str, index: Path) -> SearchService:
    store = open_store(url)
    store.upsert([demo_record(row) for row in rows_between(FIRST, LAST)])
    load_embeddings(store, demo_embeddings_path())
    settings = Settings(database_url=url, index_dir=index, semantic_search=False)
    service = open_search(settings, store)
    service.index.sync()
    return service


@pytest.fixture(scope="module")
def services(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[SearchService, SearchService]]:
    tmp = tmp_path_factory.mktemp("pg_search")
    database = f"t_pgsearch_{uuid.uuid4().hex[:12]}"
    _pg_admin(f'CREATE DATABASE "{database}"')
    lite = _service(f"sqlite:///{tmp / 'lite.db'}", tmp / "index")
    pg = _service(TEST_PG_URL.rsplit("/", 1)[0] + "/" + database, tmp / "unused")
    assert pg.store.backend == "postgresql" and lite.store.backend == "sqlite"
    yield lite, pg
    for service in (lite, pg):
        service.index.close()
        service.store.close()
    _pg_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


FILTER_QUERIES = [
    '"language model"',
    '"diffusion model" since:2025-04-01',
    "author:Zhang",
    'author:"Yang Liu"',
    "until:2025-03-05",
    "year:2025 -reasoning video",
    "cat:cs.CV",
]


@pytest.mark.parametrize("query", FILTER_QUERIES)
def test_filters_and_phrases_match_the_same_papers(
    services: tuple[SearchService, SearchService], query: str
) -> None:
    lite, pg = services
    parsed = parse_query(query)
    ids_lite = {h.paper_id for h in lite.index.keyword.search_parsed(parsed, 5000)}
    ids_pg = {h.paper_id for h in pg.index.keyword.search_parsed(parsed, 5000)}
    assert ids_lite == ids_pg


@pytest.mark.parametrize("query", ["bias", "robot manipulation", "video generation benchmark"])
def test_word_queries_find_mostly_the_same_top_papers(
    services: tuple[SearchService, SearchService], query: str
) -> None:
    lite, pg = services
    top_lite = [h.paper.id for h in lite.search(query, mode="keyword", per_page=20).hits]
    top_pg = [h.paper.id for h in pg.search(query, mode="keyword", per_page=20).hits]
    assert top_lite and top_pg
    # Two rankers (BM25 and idf-weighted ts_rank): their top 20 overlap by more than half.
    assert len(set(top_lite) & set(top_pg)) >= 10, (top_lite, top_pg)


def test_nearest_neighbours_are_the_same(services: tuple[SearchService, SearchService]) -> None:
    lite, pg = services
    ids = [row["id"] for row in rows_between(FIRST, LAST)][:20]
    agree = 0
    for paper_id in ids:
        near_lite = [pid for pid, _ in lite.index.vectors.similar(paper_id, 10)]
        near_pg = [pid for pid, _ in pg.index.vectors.similar(paper_id, 10)]
        agree += len(set(near_lite) & set(near_pg))
    assert agree >= 0.95 * 20 * 10  # HNSW against the exact scan: (nearly) the same


def test_similarity_scores_agree(services: tuple[SearchService, SearchService]) -> None:
    lite, pg = services
    vector = _query_vector("x")
    ids = [row["id"] for row in rows_between(FIRST, LAST)][:50]
    a, b = lite.index.vectors.scores(vector, ids), pg.index.vectors.scores(vector, ids)
    assert a.keys() == b.keys()
    assert max(abs(a[i] - b[i]) for i in a) < 2e-3  # both store float16


@pytest.mark.parametrize(
    "query",
    [
        "'); DROP TABLE papers; --",
        "bias' OR '1'='1",
        '"unbalanced',
        "author:'; DELETE FROM embeddings; --",
        "cat:cs.CL') OR 1=1 --",
        "x" * 5000,
        "!!! && || <-> :* ",
    ],
)
def test_hostile_queries_are_only_text(
    services: tuple[SearchService, SearchService], query: str
) -> None:
    _lite, pg = services
    before = (pg.store.count_papers(), pg.store.count_embeddings("all-MiniLM-L6-v2"))
    pg.search(query)  # no exception, whatever the text
    pg.search(query, mode="keyword")
    assert (pg.store.count_papers(), pg.store.count_embeddings("all-MiniLM-L6-v2")) == before


def test_index_rebuild_command_on_postgresql(services: tuple[SearchService, SearchService]) -> None:
    _lite, pg = services
    url = pg.store.engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(app, ["index", "rebuild", "--database-url", url])
    assert result.exit_code == 0, result.output
    assert "inside PostgreSQL" in result.output
    hits = pg.search("bias", mode="keyword").hits
    assert hits and "bias" in (hits[0].paper.title + hits[0].paper.abstract).lower()
    status = CliRunner().invoke(app, ["stats", "--database-url", url])
    assert "inside PostgreSQL" in status.output


def test_category_filters_on_postgresql(database_url: str, tmp_path: Path) -> None:
    from paperboy.models import Paper, Record

    store = open_store(database_url)
    papers = {
        "2501.00001": ("cs.CL", "cs.AI"),
        "2501.00002": ("math.GT",),
        "hep-th/9901001": ("hep-th",),
        "2501.00003": ("cs_CL",),  # not cs.CL: "_" is no wildcard
        "2501.00004": ("q-bio.NC", "cs.LG"),
    }
    store.upsert([Record(Paper(id=i, title=f"Paper {i}", categories=c)) for i, c in papers.items()])
    service = open_search(Settings(database_url=database_url, semantic_search=False), store)

    def found(query: str) -> set[str]:
        return {h.paper_id for h in service.index.keyword.search(query, 50)}

    assert found("cat:cs.CL") == {"2501.00001"}
    assert found("cat:CS.cl") == {"2501.00001"}
    assert found("cat:cs") == {"2501.00001", "2501.00004"}
    assert found("cat:hep-th") == {"hep-th/9901001"}
    assert found("cat:q-bio") == {"2501.00004"}
    assert found("cat:math.GT cat:cs.LG") == {"2501.00002", "2501.00004"}
    assert found("cat:cs% cat:_") == set()
    store.close()


@pytest.mark.parametrize(("word", "cap"), [("models", 40), ("robot", 5)])
def test_common_words_rank_the_newest_papers_that_contain_them(
    services: tuple[SearchService, SearchService],
    monkeypatch: pytest.MonkeyPatch,
    word: str,
    cap: int,
) -> None:
    """When even the rarest word of a query is in more than CANDIDATES papers, the newest
    CANDIDATES of them are ranked (walking the newest papers when most contain the word,
    through the GIN index otherwise)."""
    from sqlalchemy import text

    import paperboy.search.pg as pg_search

    _lite, pg = services
    monkeypatch.setattr(pg_search, "CANDIDATES", cap)
    hits = pg.index.keyword.search(word, 100)
    with pg.store.engine.connect() as conn:
        containing = (
            conn.execute(
                text(
                    "SELECT id FROM papers WHERE search_tsv @@ websearch_to_tsquery('english', :w) "
                    "ORDER BY published DESC NULLS LAST"
                ),
                {"w": word},
            )
            .scalars()
            .all()
        )
    assert len(containing) > cap  # the case under test
    newest = set(containing[:cap])
    assert {h.paper_id for h in hits} == newest
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0
