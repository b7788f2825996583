"""Search inside PostgreSQL: full text with ``tsvector`` + GIN, meaning with pgvector HNSW.

On PostgreSQL there are no index files: every web worker and job process reads the same
database, and the indexes are the database's own (migration 0005):

- ``papers.search_tsv``: title (weight A), abstract (B) and authors (C), English stemming, GIN;
- ``papers.author_tsv``: author names without stemming, GIN, for ``author:`` filters;
- ``embeddings.embedding``: the vector as pgvector ``halfvec``, HNSW for cosine distance.

User text reaches PostgreSQL only as bound parameters of ``websearch_to_tsquery`` (one per free
word, so a long query ORs its words instead of requiring all of them), never as SQL. Ranking
is ``ts_rank`` per word weighted by the word's inverse document frequency (a BM25-like idf that
``ts_rank`` alone lacks; measured on CISI and CACM in ``bench/eval_search.py --backend``).
``PgSearchIndex`` offers the same ``keyword`` / ``vectors`` surface as the file-based
``SearchIndex``, so the hybrid fusion of ``SearchService`` runs unchanged on top.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from datetime import date, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Engine, text

from paperboy.search.index import SyncReport
from paperboy.search.keyword import STOPWORDS, Scored, _words
from paperboy.search.limits import bounded
from paperboy.search.query import ParsedQuery, parse_query
from paperboy.store.sql import SQLStore

# ts_rank weights for {D, C, B, A}: title A, abstract B, authors C, and no length normalisation.
# Tuned on CISI and CACM (bench/eval_search.py --postgres): normalising by 1 + log(length) cost
# CACM 0.2 nDCG@10 (its many title-only records win every query); title 1.0, abstract 0.4 and
# no normalisation scored best on the two together (CISI 0.322, CACM 0.459).
RANK_WEIGHTS = "{0.1, 0.2, 0.4, 1.0}"
RANK_NORMALIZATION = 0
_DF_CAP = 50_000  # document frequencies are counted up to this (rarer words matter more)
_EXACT_BELOW = 200_000  # papers: below this, frequencies are counted; above, estimated
CANDIDATES = 2_000  # papers the keyword leg ranks at most, about (see _match_words)
_DF_CACHE = 20_000
_DF_TTL = 3600.0
_COUNT_TTL = 30.0


def vector_literal(vector: np.ndarray) -> str:
    """pgvector's text form of a query vector."""
    return "[" + ",".join(f"{v:.6g}" for v in np.asarray(vector, dtype=np.float32).tolist()) + "]"


class _TTLCache:
    def __init__(self, size: int, ttl: float) -> None:
        self.size, self.ttl = size, ttl
        self._data: OrderedDict[str, tuple[float, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> int | None:
        with self._lock:
            item = self._data.get(key)
            if item is None or time.monotonic() - item[0] > self.ttl:
                return None
            self._data.move_to_end(key)
            return item[1]

    def put(self, key: str, value: int) -> None:
        with self._lock:
            self._data[key] = (time.monotonic(), value)
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)


class _Sql:
    """A WHERE clause under construction with its bound parameters."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.params: dict[str, Any] = {}

    def bind(self, value: Any) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f":{name}"

    def where(self) -> str:
        return " AND ".join(self.clauses) if self.clauses else "TRUE"


def _free_words(parsed: ParsedQuery) -> list[str]:
    every = [w for word in parsed.words for w in _words(word)]
    kept = [w for w in every if w not in STOPWORDS]
    return list(dict.fromkeys(kept or every))


def _match_words(frequencies: Sequence[int]) -> list[int]:
    """Which free words (by position) a paper must contain one of to be ranked: the rarest ones
    while together they match at most ``CANDIDATES`` papers (always at least the rarest). In a
    small store that is every word; in a million papers "model" or "method" would make the
    database rank most of the table, and with their low idf they change little in the order
    of papers that contain the rarer words (they still count in the score). When even the
    rarest word is that common, ``search_parsed`` ranks the newest ``CANDIDATES`` papers
    that contain it."""
    order = sorted(range(len(frequencies)), key=lambda i: frequencies[i])
    chosen: list[int] = []
    total = 0
    for i in order:
        if chosen and total + frequencies[i] > CANDIDATES:
            break
        chosen.append(i)
        total += frequencies[i]
    return chosen


def _category_patterns(categories: Sequence[str]) -> list[str]:
    """LIKE patterns on the categories' JSON text: ``cs.CL`` matches the quoted category,
    ``cs`` (an archive) any category of it."""
    patterns: list[str] = []
    for cat in categories:
        cat = cat.strip().lower()
        if not cat:
            continue
        quoted = json.dumps(cat)[1:-1]  # as the JSON text spells it
        escaped = quoted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        patterns.append(f'%"{escaped}"%')
        if "." not in cat:
            patterns.append(f'%"{escaped}.%')
    return patterns


def _restricts(parsed: ParsedQuery) -> bool:
    """Whether the query has required parts. Then its free words only rank (as in the embedded
    backend's keyword index): ``bias since:2025`` lists 2025's papers, those on bias first."""
    return bool(
        parsed.phrases
        or parsed.authors
        or parsed.categories
        or parsed.date_from is not None
        or parsed.date_to is not None
    )


def _limited(conn: Any, query: str, sql: _Sql, limit: int) -> Sequence[Any]:
    """The first ``limit`` rows of ``query`` (ordered, without its LIMIT) with ``sql``'s
    parameters."""
    return conn.execute(text(f"{query} LIMIT :limit"), {**sql.params, "limit": limit}).all()


def _quoted(text_: str) -> str:
    return '"' + text_.replace('"', " ") + '"'


class PgKeyword:
    """The keyword leg in SQL; same methods as ``KeywordIndex`` where the service uses them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._df = _TTLCache(_DF_CACHE, _DF_TTL)
        self._total: tuple[float, int] | None = None

    def __len__(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM papers")).scalar_one())

    # -- statistics ---------------------------------------------------------------------------

    def _count(self) -> int:
        if self._total is None or time.monotonic() - self._total[0] > _COUNT_TTL:
            with self.engine.connect() as conn:
                estimate = conn.execute(
                    text("SELECT reltuples::bigint FROM pg_class WHERE relname = 'papers'")
                ).scalar()
                count = int(estimate or 0)
                if count < 100_000:  # exact while it is cheap
                    count = int(conn.execute(text("SELECT count(*) FROM papers")).scalar_one())
            self._total = (time.monotonic(), count)
        return self._total[1]

    def _frequencies(self, conn: Any, terms: Sequence[str]) -> list[int]:
        """How many papers contain each term: counted (up to a cap) in a small store, the
        planner's estimate from ANALYZE statistics in a large one. Cached for an hour."""
        exact = self._count() < _EXACT_BELOW
        out: list[int] = []
        for term in terms:
            df = self._df.get(term)
            if df is None:
                if exact:
                    df = int(
                        conn.execute(
                            text(
                                "SELECT count(*) FROM (SELECT 1 FROM papers WHERE search_tsv @@ "
                                "websearch_to_tsquery('english', :w) LIMIT :cap) AS hits"
                            ),
                            {"w": term, "cap": _DF_CAP},
                        ).scalar_one()
                    )
                else:
                    plan = conn.execute(
                        text(
                            "EXPLAIN (FORMAT JSON) SELECT 1 FROM papers WHERE search_tsv @@ "
                            "websearch_to_tsquery('english', :w)"
                        ),
                        {"w": term},
                    ).scalar_one()
                    plan = json.loads(plan) if isinstance(plan, str) else plan
                    df = int(plan[0]["Plan"]["Plan Rows"])
                self._df.put(term, df)
            out.append(df)
        return out

    def _idf(self, frequencies: Sequence[int]) -> list[float]:
        total = max(1, self._count())
        return [math.log(1 + (total - df + 0.5) / (df + 0.5)) for df in frequencies]

    # -- queries ------------------------------------------------------------------------------

    def _filters(self, parsed: ParsedQuery, sql: _Sql) -> None:
        for phrase in parsed.phrases:
            q = sql.bind(_quoted(phrase))
            sql.clauses.append(f"papers.search_tsv @@ websearch_to_tsquery('english', {q})")
        for author in parsed.authors:
            q = sql.bind(author)
            sql.clauses.append(f"papers.author_tsv @@ phraseto_tsquery('simple', {q})")
        patterns = _category_patterns(parsed.categories)
        if patterns:
            # On the stored JSON text (["cs.CL", "cs.AI"]): far cheaper per row than parsing
            # it. (LIKE's escape character is the backslash by default.)
            sql.clauses.append(f"lower(papers.categories::text) LIKE ANY({sql.bind(patterns)})")
        if parsed.date_from is not None:
            sql.clauses.append(f"papers.published >= {sql.bind(parsed.date_from)}")
        if parsed.date_to is not None and parsed.date_to < date.max:  # date.max: no bound
            sql.clauses.append(f"papers.published < {sql.bind(parsed.date_to + timedelta(1))}")
        for word in parsed.excluded:
            q = sql.bind(_quoted(word))
            sql.clauses.append(f"NOT papers.search_tsv @@ websearch_to_tsquery('english', {q})")

    def search_parsed(self, parsed: ParsedQuery, limit: int = 10) -> list[Scored]:
        """The best ``limit`` papers for a parsed query, best first (filters only: newest);
        ``limit`` is capped at ``MAX_RESULTS``."""
        limit = bounded(limit)
        if limit <= 0 or parsed.is_empty:
            return []
        sql = _Sql()
        self._filters(parsed, sql)
        words = _free_words(parsed)
        with self.engine.connect() as conn:
            if not words and not parsed.phrases:
                return self._newest(conn, sql, limit)
            ranked = [*words, *(_quoted(p) for p in parsed.phrases)]
            frequencies = self._frequencies(conn, ranked)
            weights = self._idf(frequencies)
            queries = [f"websearch_to_tsquery('english', {sql.bind(w)})" for w in ranked]
            terms = [
                f"{weight:.6f} * ts_rank('{RANK_WEIGHTS}', t, {q}, {RANK_NORMALIZATION})"
                for weight, q in zip(weights, queries, strict=True)
            ]
            matching = ""
            expected = 0
            if words:  # papers with none of the words score 0: rank only those with one
                chosen = _match_words(frequencies[: len(words)])
                matching = " || ".join(queries[i] for i in chosen)
                expected = sum(frequencies[i] for i in chosen)
            where = sql.where() + (f" AND papers.search_tsv @@ ({matching})" if matching else "")
            # Even the rarest word may be in most papers ("models"): then the newest
            # CANDIDATES of them are ranked, not the whole table.
            if expected > CANDIDATES:  # pick the newest by id and date alone, then fetch
                newest = self._newest_matching(sql.where(), matching, expected)
                candidates = (
                    "SELECT p.id, p.search_tsv || ''::tsvector AS t FROM papers AS p "
                    f"WHERE p.id = ANY(ARRAY({newest})) OFFSET 0"
                )
            else:
                candidates = (
                    "SELECT papers.id, papers.search_tsv || ''::tsvector AS t FROM papers "
                    f"WHERE {where} OFFSET 0"
                )
            # Each tsvector is read once (OFFSET 0 keeps that step apart), not once per word.
            rows = _limited(
                conn,
                f"SELECT id, ({' + '.join(terms)}) AS score FROM ({candidates}) AS c "
                "ORDER BY score DESC, id",
                sql,
                limit,
            )
            found = [Scored(r.id, float(r.score)) for r in rows]
            if matching and _restricts(parsed) and len(found) < limit:
                # Words only rank here: the other papers that pass the filters come after,
                # newest first (taken by the filters alone: testing every row for the words
                # again would read its text vector).
                seen = {hit.paper_id for hit in found}
                rest = self._newest(conn, sql, limit)
                found += [Scored(h.paper_id, 0.0) for h in rest if h.paper_id not in seen]
                found = found[:limit]
        return found

    def _newest_matching(self, where: str, matching: str, expected: int) -> str:
        """SQL for the ids of the newest ``CANDIDATES`` papers that pass ``where`` and contain
        one of the ``matching`` words. When most papers contain them, walking the newest
        papers and testing each is cheap; otherwise the GIN index finds them all first."""
        share = expected / max(1, self._count())
        if share >= 0.1:
            scan = int(CANDIDATES / share * 1.5) + 100
            return (
                "SELECT recent.id FROM (SELECT papers.id, papers.search_tsv FROM papers "
                f"WHERE {where} ORDER BY papers.published DESC NULLS LAST, papers.id "
                f"LIMIT {scan}) "
                f"AS recent WHERE recent.search_tsv @@ ({matching}) LIMIT {CANDIDATES}"
            )
        return (
            f"SELECT papers.id FROM papers WHERE {where} AND papers.search_tsv @@ ({matching}) "
            f"ORDER BY papers.published DESC NULLS LAST LIMIT {CANDIDATES}"
        )

    def _newest(self, conn: Any, sql: _Sql, limit: int) -> list[Scored]:
        rows = _limited(
            conn,
            f"SELECT id FROM papers WHERE {sql.where()} ORDER BY published DESC NULLS LAST, id",
            sql,
            limit,
        )
        return [Scored(r.id, 1.0) for r in rows]

    def search(self, query: str, limit: int = 10) -> list[Scored]:
        return self.search_parsed(parse_query(query), limit)

    def restrict(self, parsed: ParsedQuery, ids: list[str]) -> set[str]:
        """Which of ``ids`` pass the query's filters and words."""
        if not ids:
            return set()
        sql = _Sql()
        self._filters(parsed, sql)
        words = _free_words(parsed)
        if words and not _restricts(parsed):
            any_word = " || ".join(f"websearch_to_tsquery('english', {sql.bind(w)})" for w in words)
            sql.clauses.append(f"papers.search_tsv @@ ({any_word})")
        sql.clauses.append(f"papers.id = ANY({sql.bind(list(ids))})")
        with self.engine.connect() as conn:
            rows = conn.execute(text(f"SELECT id FROM papers WHERE {sql.where()}"), sql.params)
            return {r.id for r in rows}


class PgVectors:
    """The vector leg in pgvector; same methods as ``VectorIndex`` where the service uses them."""

    def __init__(self, engine: Engine, model: str) -> None:
        self.engine = engine
        self.model = model
        self._count: tuple[float, int] | None = None

    def __len__(self) -> int:
        """Embedded papers: counted while that is cheap, else the planner's estimate (the
        service only asks whether there are any, before each search)."""
        if self._count is None or time.monotonic() - self._count[0] > _COUNT_TTL:
            with self.engine.connect() as conn:
                count = int(
                    conn.execute(
                        text("SELECT reltuples::bigint FROM pg_class WHERE relname = 'embeddings'")
                    ).scalar()
                    or 0
                )
                if count < _EXACT_BELOW:
                    count = conn.execute(
                        text(
                            "SELECT count(*) FROM embeddings "
                            "WHERE model = :m AND embedding IS NOT NULL"
                        ),
                        {"m": self.model},
                    ).scalar_one()
            self._count = (time.monotonic(), int(count))
        return self._count[1]

    def __contains__(self, paper_id: object) -> bool:
        with self.engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT 1 FROM embeddings WHERE model = :m AND paper_id = :p "
                    "AND embedding IS NOT NULL"
                ),
                {"m": self.model, "p": paper_id},
            ).first()
        return row is not None

    def _nearest(self, target: str, params: dict[str, Any], k: int) -> list[tuple[str, float]]:
        """The ``k`` nearest by the HNSW index (``k`` capped at ``MAX_RESULTS``); ``target``
        is SQL for the query vector."""
        k = bounded(k)
        if k <= 0:
            return []
        with self.engine.begin() as conn:
            ef = str(min(1000, max(64, k)))
            conn.execute(text("SELECT set_config('hnsw.ef_search', :ef, true)"), {"ef": ef})
            rows = conn.execute(
                text(
                    f"SELECT paper_id, 1 - (embedding <=> {target}) AS score FROM embeddings "
                    f"WHERE model = :m AND embedding IS NOT NULL "
                    f"ORDER BY embedding <=> {target} LIMIT :k"
                ),
                {**params, "m": self.model, "k": k},
            ).all()
        return [(r.paper_id, float(r.score)) for r in rows]

    def search(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        return self._nearest("CAST(:q AS halfvec)", {"q": vector_literal(vector)}, k)

    def similar(self, paper_id: str, k: int) -> list[tuple[str, float]]:
        target = "(SELECT embedding FROM embeddings WHERE model = :m AND paper_id = :source)"
        found = self._nearest(target, {"source": paper_id}, k + 1)
        return [(pid, score) for pid, score in found if pid != paper_id][:k]

    def scores(self, vector: np.ndarray, ids: Iterable[str]) -> dict[str, float]:
        """Exact cosine similarity of each embedded paper among ``ids``."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT paper_id, 1 - (embedding <=> CAST(:q AS halfvec)) AS score "
                    "FROM embeddings WHERE model = :m AND paper_id = ANY(:ids) "
                    "AND embedding IS NOT NULL"
                ),
                {"q": vector_literal(vector), "m": self.model, "ids": wanted},
            ).all()
        return {r.paper_id: float(r.score) for r in rows}

    def search_within(
        self, vector: np.ndarray, ids: Sequence[str], k: int
    ) -> list[tuple[str, float]]:
        """The ``k`` most similar among ``ids``, ranked exactly."""
        scored = self.scores(vector, ids)
        return sorted(scored.items(), key=lambda item: (-item[1], item[0]))[: bounded(k)]


class PgSearchIndex:
    """Search of a PostgreSQL store: nothing to build or load, the database keeps it current."""

    def __init__(self, store: SQLStore, model: str) -> None:
        self.store = store
        self.model = model
        self.keyword = PgKeyword(store.engine)
        self.vectors = PgVectors(store.engine, model)

    def sync(
        self, progress: Callable[[int], None] | None = None, *, save: bool = True
    ) -> SyncReport:
        """Fill pgvector columns a raw copy left empty; full text is kept by the database."""
        filled = self.store.finish_copy()
        if progress is not None and filled:
            progress(filled)
        return SyncReport(keyword_docs=0, vectors=filled)

    def refresh(self, min_interval: float = 1.0) -> None:
        """Nothing to catch up: every query reads the database."""

    def save_vectors(self) -> None:
        """Nothing to snapshot: the HNSW graph lives in the database."""

    def close(self) -> None:
        """The engine belongs to the store."""
