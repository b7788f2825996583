"""The personal ranker over the store: a reader's profile from their ratings, upvotes,
collections and follows, candidates from the feed, and the model of ``paperboy.rank.personal``.

Every surface ranks through here: ``sort=for-you`` on the feed pages, ``/for-you``, the digests'
"for you" sections, the Atom feed per reader, ``paperboy recommend`` and the stateless
recommendations API (``for_ids``). A reader's positives are their "more like this" ratings,
their upvotes and the papers in their collections; their negatives are their "not for me"
ratings (a "not for me" wins over an upvote of the same paper).

The candidates of one feed window are prepared once (text vectors, embeddings, author keys) and
kept for ``WINDOW_TTL`` seconds, so ranking a day or a week for each page view only fits the
reader's profile (``bench/recs_latency.py``). Hidden papers never enter a window.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np

from paperboy.categories import CategoryFilter
from paperboy.embed.jobs import decode_vector
from paperboy.embed.text import paper_text
from paperboy.models import FeedItem, Paper
from paperboy.rank.personal import Candidates, Idf, rank
from paperboy.rank.personal_records import (
    Profile,
    RankedPaper,
    Rating,
    Reason,
    Recommendation,
    Signals,
)
from paperboy.store import SQLStore

WINDOW_TTL = 120.0  # seconds a prepared feed window is reused
WINDOWS_KEPT = 16  # prepared windows kept (days, weeks, months, categories)
MAX_CANDIDATES = 5000  # feed entries of one window that are ranked
BACKGROUND_DAYS = 30  # the feed before a window that anchors "like everything" (and idf)
MAX_PROFILE = 1000  # newest ratings, upvotes and collected papers read of each kind
MAX_IDS = 500  # papers named in one stateless request (positives, negatives, candidates)
IDF_PAPERS = 10_000  # the store's papers of the last year the term weights are fitted on
IDF_TTL = 6 * 3600.0  # seconds before they are fitted again

__all__ = ["MAX_IDS", "Ranked", "Recommender", "Window"]


@dataclass(frozen=True, slots=True)
class Ranked:
    """A feed item with its personal score and the reasons for it."""

    item: FeedItem
    score: float
    why: tuple[Reason, ...]


@dataclass(frozen=True, slots=True)
class Window:
    items: dict[str, FeedItem]  # paper id -> its entry in the window (the first one)
    order: list[str]  # the feed's own order (upvotes, then newest)
    candidates: Candidates


def ranked_paper(paper: Paper, vector: np.ndarray | None, upvotes: int = 0) -> RankedPaper:
    return RankedPaper(
        paper.id,
        paper.title,
        paper.abstract or "",
        tuple(paper.authors),
        tuple(paper.categories),
        vector,
        upvotes,
    )


def _id_of(rated: RankedPaper | Rating) -> str:
    return rated.paper.paper_id if isinstance(rated, Rating) else rated.paper_id


class Recommender:
    """Personal rankings over one store, with prepared windows shared by every reader."""

    def __init__(
        self,
        store: SQLStore,
        model: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.model = model
        self.clock = clock
        self._idf: tuple[float, Idf | None] | None = None
        self._idf_lock = threading.Lock()
        self._windows: OrderedDict[tuple[object, ...], tuple[float, Window]] = OrderedDict()
        self._lock = threading.Lock()

    # -- papers as the model sees them ------------------------------------------------------

    def idf(self) -> Idf | None:
        """Term weights fitted on up to ``IDF_PAPERS`` of the store's papers of the last year
        (fitted on first use, then every ``IDF_TTL`` seconds); None for an empty store (the
        ranker then derives them from the papers at hand)."""
        with self._idf_lock:
            now = self.clock()
            if self._idf is None or now - self._idf[0] > IDF_TTL:
                end = self.store.latest_feed_date()
                items = (
                    []
                    if end is None
                    else self._feed_items(end - timedelta(days=365), end, IDF_PAPERS)
                )
                texts = [paper_text(i.paper.title, i.paper.abstract or "") for i in items]
                self._idf = (now, Idf.fit(texts) if texts else None)
            return self._idf[1]

    def warm(self) -> None:
        """Fit the term weights now (the web app does it at start, like the search index)."""
        self.idf()

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for pid, blob in self.store.digest_rows.vectors(self.model, ids).items():
            vector = decode_vector(blob)
            norm = float(np.linalg.norm(vector))
            if norm > 0:
                out[pid] = vector / norm
        return out

    def papers(self, ids: Sequence[str]) -> dict[str, RankedPaper]:
        """The stored papers among ``ids`` (hidden ones left out), as the model sees them."""
        found = self.store.get_papers(ids)
        hidden = self.store.activity.hidden_papers()
        vectors = self.vectors([pid for pid in found if pid not in hidden])
        return {
            pid: ranked_paper(p, vectors.get(pid)) for pid, p in found.items() if pid not in hidden
        }

    # -- a reader's profile -----------------------------------------------------------------

    def profile(self, user_id: int, signals: Signals | None = None) -> Profile:
        """Ratings, upvotes and collected papers (oldest first), and what the reader follows."""
        store = self.store
        stamped: dict[str, tuple[float, int]] = {}  # paper id -> (when, +1 or -1)
        liked = [*store.activity.votes_of(user_id)[:MAX_PROFILE], *self._collected(user_id)]
        for pid, at in liked:
            when = at.timestamp()
            stamped[pid] = (max(when, stamped.get(pid, (when, 1))[0]), 1)
        for r in store.ratings.ratings_of(user_id, limit=MAX_PROFILE):
            stamped[r.paper_id] = (r.created_at.timestamp(), r.value)  # a rating decides
        papers = self.papers(list(stamped))
        order = sorted(stamped.items(), key=lambda kv: kv[1][0])
        positives = [Rating(papers[p], 1.0, at) for p, (at, v) in order if v > 0 and p in papers]
        negatives = [Rating(papers[p], 1.0, at) for p, (at, v) in order if v < 0 and p in papers]
        follows = store.ratings.profile(user_id)
        return Profile(
            positives,
            negatives,
            followed_authors=follows.authors,
            followed_categories=follows.categories,
            signals=signals or Signals(),
        )

    def _collected(self, user_id: int) -> list[tuple[str, datetime]]:
        owned = self.store.collections.of_user(user_id)
        if not owned:
            return []
        items = self.store.collections.notes_of([c.id for c in owned])
        rows = sorted(
            ((added, pid) for rows in items.values() for pid, _t, _n, added in rows), reverse=True
        )
        return [(pid, added) for added, pid in rows[:MAX_PROFILE]]

    @staticmethod
    def is_empty(profile: Profile) -> bool:
        return not (
            profile.positives
            or profile.negatives
            or profile.followed_authors
            or profile.followed_categories
        )

    # -- feed windows -----------------------------------------------------------------------

    def window(self, start: date, end: date, categories: CategoryFilter | None = None) -> Window:
        """The feed of ``start..end`` (filtered), prepared for ranking; reused for a while."""
        key = (start, end, categories)
        now = self.clock()
        with self._lock:
            kept = self._windows.get(key)
            if kept is not None and now - kept[0] < WINDOW_TTL:
                self._windows.move_to_end(key)
                return kept[1]
        built = self._build_window(start, end, categories)
        with self._lock:
            self._windows[key] = (now, built)
            while len(self._windows) > WINDOWS_KEPT:
                self._windows.popitem(last=False)
        return built

    def _feed_items(self, start: date, end: date, limit: int) -> list[FeedItem]:
        return self.store.feed(start, end, limit=limit).items

    def _build_window(self, start: date, end: date, categories: CategoryFilter | None) -> Window:
        items: dict[str, FeedItem] = {}
        for item in self._feed_items(start, end, MAX_CANDIDATES):
            if categories is None or categories.matches(item.paper.categories):
                items.setdefault(item.paper.id, item)
        earlier = start - timedelta(days=BACKGROUND_DAYS)
        background_items = self._feed_items(earlier, start - timedelta(days=1), 2000)
        vectors = self.vectors(list(items) + [i.paper.id for i in background_items])
        pool = [
            ranked_paper(i.paper, vectors.get(pid), i.entry.upvotes or 0)
            for pid, i in items.items()
        ]
        background = [
            ranked_paper(i.paper, vectors.get(i.paper.id)) for i in background_items
        ] or None
        candidates = Candidates(pool, idf=self.idf(), background=background)
        return Window(items, list(items), candidates)

    # -- rankings ---------------------------------------------------------------------------

    def rank_window(
        self,
        profile: Profile,
        window: Window,
        *,
        limit: int | None = None,
        explain: int | None = 50,
    ) -> list[Ranked]:
        """The window's papers best first for ``profile`` (the feed's own order when the
        profile is empty), the first ``explain`` with reasons. Rated papers are kept, at the
        end, so a day ranked "for you" still lists every paper."""
        if self.is_empty(profile):
            ids = window.order[:limit] if limit is not None else window.order
            return [Ranked(window.items[pid], 0.0, ()) for pid in ids]
        recs = rank(profile, window.candidates, explain=explain)
        out = [Ranked(window.items[r.paper_id], r.score, r.why) for r in recs]
        shown = {r.paper_id for r in recs}
        out += [Ranked(window.items[p], 0.0, ()) for p in window.order if p not in shown]
        return out[:limit] if limit is not None else out

    def for_user(
        self,
        user_id: int,
        start: date,
        end: date,
        *,
        categories: CategoryFilter | None = None,
        limit: int | None = None,
        explain: int | None = 50,
        unrated_only: bool = False,
        profile: Profile | None = None,
    ) -> list[Ranked]:
        """The reader's ranking of the feed of ``start..end`` (``profile``: theirs, when the
        caller has read it already)."""
        profile = profile if profile is not None else self.profile(user_id)
        ranked = self.rank_window(profile, self.window(start, end, categories), explain=explain)
        if unrated_only:
            rated = {_id_of(r) for r in [*profile.positives, *profile.negatives]}
            ranked = [r for r in ranked if r.item.paper.id not in rated]
        return ranked[:limit] if limit is not None else ranked

    def pool(self, ids: Sequence[str]) -> Candidates:
        """Stored, visible papers among ``ids`` prepared for ranking for many readers (a
        digest run prepares the papers new since a day once)."""
        found = self.papers(ids)
        return Candidates([found[p] for p in ids if p in found], idf=self.idf())

    def for_ids(
        self,
        positive: Sequence[str],
        negative: Sequence[str],
        candidates: Sequence[str],
        *,
        signals: Signals | None = None,
        limit: int = 100,
    ) -> list[Recommendation]:
        """The stateless ranking of the API: ``candidates`` (stored, visible papers) for a
        profile of ``positive`` and ``negative`` paper ids, best first, at most ``limit``."""
        papers = self.papers([*positive, *negative, *candidates])
        profile = Profile(
            [papers[p] for p in positive if p in papers],
            [papers[p] for p in negative if p in papers],
            signals=signals or Signals(),
        )
        pool = [papers[p] for p in candidates if p in papers]
        return rank(profile, pool, limit=limit, idf=self.idf())
