"""Trending as a service: which papers compete, at what reference time, and in what order.

The formula itself lives in ``paperboy.rank.trending``::

    score = (imported_upvotes + local_votes) / (age_hours + 2) ** gravity

This module decides its inputs:

* **points**: the paper's imported upvotes (the largest of its feed entries' snapshots, as every
  page shows them) plus the votes cast on this site;
* **entered**: 00:00 UTC of the paper's earliest feed-entry day (any source);
* **now**, the reference time: the end (the next midnight, UTC) of the latest day that has feed
  entries, but never later than the real clock. A live radar, whose latest day is today,
  therefore ranks at the real "now"; a demo store whose data stopped months ago still shows the
  trending list of its last day instead of an empty or flattened one. Pages show it ("as of ...").
* **windows**: ``day``, ``week`` (the default) and ``month`` hold the papers whose earliest feed
  day starts within that many days (1, 7, 30) before the reference time. A feed day that starts
  after it (possible only when the reference time is the real clock: today's papers in a site
  time zone ahead of UTC) counts too, with age 0, so a live radar never hides today's papers.

Only papers with points take part in a window's ranking; hidden papers never do. ``sort=trending``
in ``/api/daily_papers`` orders the feed entries of the requested period with the same formula,
at the end of that period (capped by the reference time above).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import Engine

from paperboy.clock import utc_now
from paperboy.hfapi import hf_datetime
from paperboy.models import FeedItem
from paperboy.rank.trending import (
    DEFAULT_GRAVITY,
    WINDOWS,
    Breakdown,
    TrendingInput,
    breakdown,
    rank,
    window_start,
)
from paperboy.store.trending import TrendingQueries, TrendingRow

DEFAULT_WINDOW = "week"
RANKED_WINDOWS = ("week", "month")
"""The windows whose rank a paper's page shows."""

_EPOCH = datetime(1970, 1, 1)

FORMULA = "score = (imported upvotes + local votes) / (age in hours + 2)^gravity"


def real_now() -> datetime:
    """The real clock, as naive UTC."""
    return utc_now()


def day_start(day: date) -> datetime:
    """00:00 UTC of ``day``: when a paper with that first feed day entered the feed."""
    return datetime.combine(day, time())


def reference_time(latest_feed_day: date | None, clock: datetime | None = None) -> datetime:
    """The moment trending scores are measured at: the end of the latest day with feed entries
    (the following midnight, UTC), or the real ``clock`` when that is earlier. With no feed at
    all, the clock."""
    now = clock or real_now()
    if latest_feed_day is None:
        return now
    return end_of_day(latest_feed_day, now)


def end_of_day(day: date, cap: datetime) -> datetime:
    """The midnight (UTC) that ends ``day``, or ``cap`` when that is earlier. A day at or after
    ``cap``'s date ends after ``cap``, so the calendar's last day never overflows."""
    if day >= cap.date():
        return cap
    return min(day_start(day + timedelta(days=1)), cap)


def window_first_day(now: datetime, window: str) -> date:
    """The first feed day whose 00:00 lies within the window ending at ``now``."""
    start = window_start(now, window)
    return start.date() if start.time() == time() else start.date() + timedelta(days=1)


def _input(row: TrendingRow) -> TrendingInput:
    return TrendingInput(
        row.paper_id, row.imported_upvotes, row.local_votes, day_start(row.entered)
    )


@dataclass(frozen=True, slots=True)
class TrendingList:
    """A window's ranking: every paper with points, best first."""

    window: str
    now: datetime  # the reference time
    start: datetime  # the window's start
    gravity: float
    ranked: list[Breakdown]

    @property
    def total(self) -> int:
        return len(self.ranked)

    def rank_of(self, paper_id: str) -> int | None:
        """1-based position of the paper, or None when it is not in this ranking."""
        for index, item in enumerate(self.ranked):
            if item.paper_id == paper_id:
                return index + 1
        return None


@dataclass(frozen=True, slots=True)
class WindowRank:
    window: str
    rank: int | None  # None: not ranked in this window
    total: int  # papers ranked in the window
    in_window: bool  # entered within the window (ranked when it also has points)


@dataclass(frozen=True, slots=True)
class PaperTrending:
    """One paper's breakdown at the reference time and its ranks in the week and month."""

    breakdown: Breakdown
    hidden: bool
    ranks: list[WindowRank] = field(default_factory=list)


class TrendingService:
    """Trending over a store's engine, at the reference time described in the module."""

    def __init__(self, engine: Engine, gravity: float = DEFAULT_GRAVITY) -> None:
        self.queries = TrendingQueries(engine)
        self.gravity = gravity

    def now(self, clock: datetime | None = None) -> datetime:
        return reference_time(self.queries.latest_feed_date(), clock)

    def window(
        self, window: str = DEFAULT_WINDOW, *, clock: datetime | None = None
    ) -> TrendingList:
        """The ranking of ``window`` (``day``, ``week`` or ``month``); ValueError otherwise."""
        if window not in WINDOWS:
            known = ", ".join(WINDOWS)
            raise ValueError(f"unknown trending window {window!r}; expected one of {known}")
        now = self.now(clock)
        return self._ranking(window, now, self.queries.candidates(window_first_day(now, window)))

    def _ranking(self, window: str, now: datetime, rows: list[TrendingRow]) -> TrendingList:
        ranked = [b for b in rank(map(_input, rows), now, self.gravity) if b.points > 0]
        return TrendingList(window, now, window_start(now, window), self.gravity, ranked)

    def since(self, first_day: date, now: datetime) -> list[Breakdown]:
        """Every visible paper whose first feed day is ``first_day`` or later, ranked at
        ``now``, those without points included (last)."""
        return rank(map(_input, self.queries.candidates(first_day)), now, self.gravity)

    def page(
        self, ranking: TrendingList, offset: int, limit: int
    ) -> list[tuple[Breakdown, FeedItem]]:
        """One page of a ranking with the feed item of each paper."""
        chosen = ranking.ranked[offset : offset + limit]
        items = self.queries.items([b.paper_id for b in chosen])
        return [(b, items[b.paper_id]) for b in chosen if b.paper_id in items]

    def paper(self, paper_id: str, *, clock: datetime | None = None) -> PaperTrending | None:
        """The paper's breakdown and ranks; None when it was never in the feed."""
        row = self.queries.paper(paper_id)
        if row is None:
            return None
        now = self.now(clock)
        result = breakdown(_input(row), now, self.gravity)
        firsts = {name: window_first_day(now, name) for name in RANKED_WINDOWS}
        # One query for the widest window the paper is in: a narrower window's candidates are
        # those of the wider one that entered on or after its first day.
        wanted = [name for name in RANKED_WINDOWS if firsts[name] <= row.entered]
        widest = min((firsts[name] for name in wanted), default=None)
        rows = self.queries.candidates(widest) if widest is not None and not row.hidden else []
        ranks = []
        for name in RANKED_WINDOWS:
            inside = name in wanted
            ranking = (
                self._ranking(name, now, [r for r in rows if r.entered >= firsts[name]])
                if inside and not row.hidden
                else None
            )
            ranks.append(
                WindowRank(
                    name,
                    ranking.rank_of(paper_id) if ranking is not None else None,
                    ranking.total if ranking is not None else 0,
                    inside,
                )
            )
        return PaperTrending(result, row.hidden, ranks)

    def feed_order(
        self, start: date, end: date, *, clock: datetime | None = None
    ) -> tuple[list[PeriodScore], datetime]:
        """Every visible feed entry dated ``start .. end``, ordered by trending score measured
        at the end of ``end`` (capped by the reference time), the order of ``rank``: score,
        points, newest first, paper id; then newest feed day."""
        now = end_of_day(end, self.now(clock))
        scored = []
        for entry in self.queries.period_entries(start, end):
            item = TrendingInput(
                entry.paper_id, entry.imported_upvotes, entry.local_votes, day_start(entry.entered)
            )
            b = breakdown(item, now, self.gravity)
            scored.append(PeriodScore(entry.entry_id, entry.feed_date, b))
        scored.sort(key=lambda s: (*_order(s.breakdown), -s.feed_date.toordinal(), -s.entry_id))
        return scored, now

    def feed_page(
        self, start: date, end: date, *, offset: int, limit: int, clock: datetime | None = None
    ) -> list[FeedItem]:
        """One page of the period's feed in trending order."""
        scored, _ = self.feed_order(start, end, clock=clock)
        chosen = [s.entry_id for s in scored[offset : offset + limit]]
        items = self.queries.items_by_entry(chosen)
        return [items[entry_id] for entry_id in chosen if entry_id in items]


@dataclass(frozen=True, slots=True)
class PeriodScore:
    entry_id: int
    feed_date: date
    breakdown: Breakdown


def _order(b: Breakdown) -> tuple[float, int, float, str]:
    """``rank``'s order: score desc, points desc, entered desc (newest first), paper id asc."""
    return (-b.score, -b.points, -(b.entered - _EPOCH).total_seconds(), b.paper_id)


def as_json(b: Breakdown, position: int | None = None) -> dict[str, object]:
    """The ``trending`` object of the API: every number that went into the score."""
    out: dict[str, object] = {
        "score": b.score,
        "points": b.points,
        "importedUpvotes": b.imported_upvotes,
        "localVotes": b.local_votes,
        "ageHours": round(b.age_hours, 4),
        "gravity": b.gravity,
        "enteredAt": hf_datetime(b.entered),
        "asOf": hf_datetime(b.now),
        "formula": b.formula(),
    }
    if position is not None:
        out["rank"] = position
    return out
