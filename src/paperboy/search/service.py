"""Hybrid search and similar papers: what the web pages, the JSON API and the CLI call.

A query runs two legs. The keyword leg asks the BM25 index (filters included); the semantic leg
embeds the query's words and asks the vector index for the nearest papers, keeping only those
that pass the query's filters. Both ranked lists are fused by weighted reciprocal-rank fusion
(RRF: each list adds ``weight / (k + rank)``), tuned on the development collections (see
``bench/eval_search.py``). Optional boosts for recency and popularity are off by default. Every
hit carries its reasons: the words it matched in each field, its rank in each leg and its
cosine similarity to the query.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

import numpy as np

from paperboy.clock import utc_now
from paperboy.errors import PaperboyError, PaperNotFound
from paperboy.models import Paper
from paperboy.search.highlight import matched_terms
from paperboy.search.index import SearchIndex
from paperboy.search.keyword import STOPWORDS
from paperboy.search.limits import MAX_PER_PAGE, MAX_RESULTS, bounded
from paperboy.search.pg import PgSearchIndex
from paperboy.search.query import ParsedQuery, analyze_terms, parse_query
from paperboy.store.sql import SQLStore

log = logging.getLogger(__name__)

Mode = Literal["hybrid", "keyword", "semantic"]
MODES: tuple[Mode, ...] = ("hybrid", "keyword", "semantic")
FILTER_MIN = 20  # fewer near neighbours than this pass the filters: rank the filtered set exactly
FILTER_POOL = 2000  # the newest papers of that filtered set that get ranked
HIDDEN_SLACK = 100  # extra similar-paper candidates fetched to make up for hidden ones


class QueryEncoder(Protocol):
    name: str

    def encode_query(self, text: str) -> np.ndarray: ...


@dataclass(frozen=True, slots=True)
class FusionParams:
    """How the two legs are combined. Defaults come from tuning on CISI and CACM."""

    k: float = 30.0
    keyword_weight: float = 1.0
    semantic_weight: float = 1.0
    depth: int = 200  # candidates taken from each leg
    recency: float = 0.0  # boost for new papers (0: off)
    popularity: float = 0.0  # boost for upvoted papers (0: off)


@dataclass(frozen=True, slots=True)
class Why:
    matched: dict[str, list[str]]  # field -> words of the paper that matched the query
    keyword_rank: int | None  # 1-based rank in the keyword leg
    semantic_rank: int | None  # 1-based rank in the semantic leg
    similarity: float | None  # cosine similarity of the paper to the query

    def summary(self) -> str:
        parts: list[str] = []
        for name, words in self.matched.items():
            if words:
                parts.append(f"{name}: {', '.join(words)}")
        if self.similarity is not None:
            parts.append(f"meaning {self.similarity:.0%} similar")
        return "; ".join(parts) if parts else "related in meaning"


@dataclass(frozen=True, slots=True)
class Hit:
    paper: Paper
    score: float
    why: Why
    upvotes: int = 0
    comments: int = 0


@dataclass(frozen=True, slots=True)
class Results:
    query: ParsedQuery
    hits: list[Hit]
    total: int  # fused candidates (both legs are cut at ``depth``)
    page: int
    per_page: int
    mode: Mode
    semantic: bool  # whether the semantic leg ran
    notes: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)  # milliseconds per stage

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def terms(self) -> list[str]:
        return query_terms(self.query)


@dataclass(frozen=True, slots=True)
class Similar:
    paper: Paper
    similarity: float
    shared: list[str]  # words the two papers share (title first)


def query_terms(parsed: ParsedQuery) -> list[str]:
    """Analyzed terms to highlight: the query's words, phrases and author names."""
    terms: dict[str, None] = {}
    for text in (*parsed.words, *parsed.phrases):
        for term in analyze_terms(text):
            if term not in STOPWORDS:
                terms[term] = None
    return list(terms)


def rrf(lists: Sequence[tuple[Sequence[str], float]], k: float) -> dict[str, float]:
    """Weighted reciprocal-rank fusion of ranked id lists: sum of weight / (k + rank)."""
    scores: dict[str, float] = {}
    for ids, weight in lists:
        if weight <= 0:
            continue
        for rank, paper_id in enumerate(ids, start=1):
            scores[paper_id] = scores.get(paper_id, 0.0) + weight / (k + rank)
    return scores


class SearchService:
    """Search over one store's indexes. Thread-safe for concurrent readers."""

    def __init__(
        self,
        store: SQLStore,
        index: SearchIndex | PgSearchIndex,
        encoder: Callable[[], QueryEncoder] | None,
        params: FusionParams | None = None,
    ) -> None:
        self.store = store
        self.index = index
        self._encoder_factory = encoder
        self._encoder: QueryEncoder | None = None
        self._encoder_error: str | None = None
        self._encoder_lock = threading.Lock()
        self.params = params or FusionParams()

    def warm(self) -> None:
        """Load the indexes and the model now (a server calls this in the background)."""
        try:
            self.index.refresh(min_interval=0)
            if len(self.index.vectors):
                self.encoder()
        except Exception:  # warming is an optimisation: a failure shows up on first use
            log.exception("could not preload search")

    # -- the model ----------------------------------------------------------------------------

    def encoder(self) -> QueryEncoder | None:
        """The query encoder, loaded on first use; None (with a note) when it can't load."""
        with self._encoder_lock:
            return self._load_encoder()

    def _load_encoder(self) -> QueryEncoder | None:
        if self._encoder is None and self._encoder_error is None:
            if self._encoder_factory is None:
                self._encoder_error = "semantic search is switched off"
            else:
                try:
                    self._encoder = self._encoder_factory()
                except PaperboyError as exc:
                    self._encoder_error = str(exc)
                    log.warning("semantic search unavailable: %s", exc)
        return self._encoder

    # -- legs ---------------------------------------------------------------------------------

    def _keyword_leg(self, parsed: ParsedQuery, depth: int) -> list[str]:
        return [hit.paper_id for hit in self.index.keyword.search_parsed(parsed, depth)]

    def _semantic_leg(self, parsed: ParsedQuery, vector: np.ndarray, depth: int) -> list[str]:
        vectors = self.index.vectors
        if not parsed.has_filters:
            return [pid for pid, _ in vectors.search(vector, depth)]
        filters = replace(parsed, words=())
        pool = [pid for pid, _ in vectors.search(vector, depth * 2)]
        allowed = self.index.keyword.restrict(filters, pool)
        ranked = [pid for pid in pool if pid in allowed][:depth]
        if len(ranked) < min(depth, FILTER_MIN):
            # Few near neighbours pass the filters: rank the newest filtered papers exactly.
            filtered = self.index.keyword.search_parsed(filters, FILTER_POOL)
            ids = [hit.paper_id for hit in filtered]
            ranked = [pid for pid, _ in vectors.search_within(vector, ids, depth)]
        return ranked

    # -- search -------------------------------------------------------------------------------

    def search(
        self,
        text: str,
        *,
        mode: Mode = "hybrid",
        page: int = 1,
        per_page: int = 20,
        params: FusionParams | None = None,
    ) -> Results:
        params = params or self.params
        timings: dict[str, float] = {}
        start = time.perf_counter()
        parsed = parse_query(text)
        notes = list(parsed.problems)
        per_page = max(1, min(per_page, MAX_PER_PAGE))
        page = max(1, page)
        beyond = (page - 1) * per_page >= MAX_RESULTS
        if beyond:
            notes.append(f"results stop at the {MAX_RESULTS:,}th: this page is past them")
        if parsed.is_empty or beyond:
            return Results(parsed, [], 0, page, per_page, mode, False, tuple(notes), timings)
        self.index.refresh()
        # Each leg ranks at most MAX_RESULTS candidates, whatever the page asked for.
        depth = bounded(max(params.depth, page * per_page))

        keyword_ids: list[str] = []
        if mode != "semantic":
            t = time.perf_counter()
            keyword_ids = self._keyword_leg(parsed, depth)
            timings["keyword"] = (time.perf_counter() - t) * 1000

        semantic_ids: list[str] = []
        vector: np.ndarray | None = None
        semantic_ran = False
        if mode != "keyword" and parsed.semantic_text:
            # No vectors to compare with: the model is not loaded (seconds, hundreds of MB).
            embedded = self._encoder_factory is None or len(self.index.vectors) > 0
            encoder = self.encoder() if embedded else None
            if not embedded:
                notes.append(
                    "meaning-based ranking is unavailable until papers are embedded "
                    "(run `paperboy embed`)"
                )
            elif encoder is None:
                notes.append(f"meaning-based ranking is unavailable: {self._encoder_error}")
            else:
                t = time.perf_counter()
                vector = encoder.encode_query(parsed.semantic_text)
                timings["encode"] = (time.perf_counter() - t) * 1000
                t = time.perf_counter()
                semantic_ids = self._semantic_leg(parsed, vector, depth)
                timings["vector"] = (time.perf_counter() - t) * 1000
                semantic_ran = True
        elif mode == "semantic" and not parsed.semantic_text:
            notes.append("meaning-based search needs words to compare: showing filter matches")
            keyword_ids = self._keyword_leg(parsed, depth)

        t = time.perf_counter()
        # Words alone rank by themselves whatever their weight in the fusion.
        keyword_weight = params.keyword_weight if semantic_ran else 1.0
        fused = rrf(
            [(keyword_ids, keyword_weight), (semantic_ids, params.semantic_weight)], params.k
        )
        order = sorted(fused, key=lambda pid: -fused[pid])
        hidden = self.hidden_papers()
        if hidden:  # moderators hid these: never a hit, whoever asks
            order = [pid for pid in order if pid not in hidden]
        if params.recency or params.popularity:
            order = self._boost(order, fused, params)
        total = len(order)
        page_ids = order[(page - 1) * per_page : page * per_page]
        hits = self._hits(parsed, page_ids, fused, keyword_ids, semantic_ids, vector)
        timings["fuse"] = (time.perf_counter() - t) * 1000
        timings["total"] = (time.perf_counter() - start) * 1000
        return Results(
            parsed, hits, total, page, per_page, mode, semantic_ran, tuple(notes), timings
        )

    def _boost(self, order: list[str], fused: dict[str, float], params: FusionParams) -> list[str]:
        papers = self.store.get_papers(order)
        counts = self.store.vote_counts(order) if params.popularity else {}
        upvotes = {pid: votes for pid, (votes, _c) in counts.items()}
        now = utc_now()
        top = max(fused.values(), default=1.0)
        boosted: dict[str, float] = {}
        for pid in order:
            score = fused[pid] / top
            paper = papers.get(pid)
            if params.recency and paper is not None and paper.published is not None:
                age_days = max(0.0, (now - paper.published).total_seconds() / 86400)
                score += params.recency * math.exp(-age_days / 180)
            if params.popularity:
                score += params.popularity * math.log1p(upvotes.get(pid, 0)) / math.log1p(250)
            boosted[pid] = score
        fused.update(boosted)
        return sorted(order, key=lambda pid: -boosted[pid])

    def _hits(
        self,
        parsed: ParsedQuery,
        ids: list[str],
        fused: dict[str, float],
        keyword_ids: list[str],
        semantic_ids: list[str],
        vector: np.ndarray | None,
    ) -> list[Hit]:
        papers = self.store.get_papers(ids)
        counts = self.store.vote_counts(ids)
        similarity = self.index.vectors.scores(vector, ids) if vector is not None else {}
        keyword_rank = {pid: n for n, pid in enumerate(keyword_ids, start=1)}
        semantic_rank = {pid: n for n, pid in enumerate(semantic_ids, start=1)}
        terms = query_terms(parsed)
        hits: list[Hit] = []
        for pid in ids:
            paper = papers.get(pid)
            if paper is None:
                continue  # indexed but gone from the store: the next sync drops it
            fields = {
                "title": paper.title,
                "abstract": paper.abstract,
                "authors": ", ".join(paper.authors),
            }
            why = Why(
                matched={k: v for k, v in matched_terms(fields, terms).items() if v},
                keyword_rank=keyword_rank.get(pid),
                semantic_rank=semantic_rank.get(pid),
                similarity=float(similarity[pid]) if pid in similarity else None,
            )
            votes, comments = counts.get(pid, (0, 0))
            hits.append(Hit(paper, fused[pid], why, votes, comments))
        return hits

    def hidden_papers(self) -> set[str]:
        """Papers hidden by the moderators (one small query: hidden papers are rare)."""
        return self.store.activity.hidden_papers()

    # -- similar papers -------------------------------------------------------------------------

    def similar(self, paper_id: str, k: int = 10, *, include_hidden: bool = False) -> list[Similar]:
        """The nearest papers in meaning, with the words they share. Raises PaperNotFound, also
        for a paper hidden by the moderators unless ``include_hidden`` (an admin's view); the
        neighbours never include a hidden paper."""
        source = self.store.get_paper(paper_id)
        if source is None:
            raise PaperNotFound(f"no paper {paper_id} in this Paperboy")
        hidden = self.hidden_papers()
        if paper_id in hidden and not include_hidden:
            raise PaperNotFound(f"{paper_id} has been hidden by the moderators")
        self.index.refresh()
        vectors = self.index.vectors
        k = max(0, min(k, MAX_PER_PAGE))
        wanted = k + min(len(hidden), HIDDEN_SLACK)  # room for the hidden ones dropped below
        if paper_id in vectors:
            neighbours = vectors.similar(paper_id, wanted)
        else:
            # Not embedded yet: fall back to the keyword index with the title's words.
            hits = self.index.keyword.search(source.title, wanted + 1)
            neighbours = [(h.paper_id, 0.0) for h in hits if h.paper_id != paper_id]
        neighbours = [(pid, score) for pid, score in neighbours if pid not in hidden][:k]
        papers = self.store.get_papers([pid for pid, _ in neighbours])
        source_terms = [
            t
            for t in dict.fromkeys(analyze_terms(f"{source.title} {source.abstract}"))
            if t not in STOPWORDS and len(t) > 2
        ]
        out: list[Similar] = []
        for pid, score in neighbours:
            paper = papers.get(pid)
            if paper is None:
                continue
            found = matched_terms({"title": paper.title, "abstract": paper.abstract}, source_terms)
            shared = list(dict.fromkeys([*found.get("title", []), *found.get("abstract", [])]))
            out.append(Similar(paper, float(score), shared[:6]))
        return out
