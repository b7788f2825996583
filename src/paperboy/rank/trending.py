"""Trending: a documented, transparent Hacker-News-style ranking.

The formula, exactly::

    score = points / (age_hours + 2) ** gravity

where

* ``points = imported_upvotes + local_votes``: the paper's upvotes on the source it was imported
  from (for example Hugging Face daily papers) plus the votes cast on this site;
* ``age_hours = max(0, (now - entered) / 1 hour)``: the hours from the moment the paper entered
  the feed to the reference time ``now`` (both naive UTC), never negative;
* ``gravity = 1.8`` by default (any number > 0): the higher it is, the faster old papers sink.

A paper with 0 points scores 0. Papers are ordered by score (highest first), then points (most
first), then the moment they entered the feed (newest first), then paper id, so the order is
total and the same on every run.

Every ranked paper comes back as a ``Breakdown`` that carries the numbers that went in, so a page
can show exactly why a paper is where it is (``Breakdown.formula()`` and ``Breakdown.explain()``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Final

__all__ = [
    "DEFAULT_GRAVITY",
    "WINDOWS",
    "Breakdown",
    "TrendingInput",
    "breakdown",
    "rank",
    "window_start",
]

DEFAULT_GRAVITY: Final = 1.8
AGE_OFFSET_HOURS: Final = 2
"""Added to the age so a brand-new paper is not divided by zero (or by a tiny number)."""

WINDOWS: Final[Mapping[str, int]] = MappingProxyType({"day": 1, "week": 7, "month": 30})
"""Trending windows, in days: only papers that entered the feed within the window compete."""

_HOUR = timedelta(hours=1)
_EPOCH = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)


def _naive_utc(moment: datetime) -> datetime:
    """Naive UTC as given; an aware datetime is converted to naive UTC."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def _check_gravity(gravity: float) -> None:
    if not (math.isfinite(gravity) and gravity > 0):
        raise ValueError(f"gravity must be a finite number greater than 0, got {gravity!r}")


def _number(value: float) -> str:
    """A short, readable rendering: at most two decimals, no trailing zeros."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _score_text(score: float) -> str:
    if score == 0:
        return "0"
    if score >= 0.001:
        return f"{score:.4f}"
    return f"{score:.3g}"


@dataclass(frozen=True, slots=True)
class TrendingInput:
    """What the formula needs to know about one paper. Vote counts are never negative."""

    paper_id: str
    imported_upvotes: int
    local_votes: int
    entered: datetime

    def __post_init__(self) -> None:
        if self.imported_upvotes < 0 or self.local_votes < 0:
            raise ValueError(
                f"vote counts must not be negative (paper {self.paper_id!r}: "
                f"imported_upvotes={self.imported_upvotes}, local_votes={self.local_votes})"
            )


@dataclass(frozen=True, slots=True)
class Breakdown:
    """One paper's trending score with every number that went into it."""

    paper_id: str
    imported_upvotes: int
    local_votes: int
    points: int
    entered: datetime
    now: datetime
    age_hours: float
    gravity: float
    score: float

    def formula(self) -> str:
        """The formula with this paper's numbers, e.g. ``(42 + 3) / (30.5 + 2)^1.8 = 0.0855``."""
        return (
            f"({self.imported_upvotes} + {self.local_votes}) / "
            f"({_number(self.age_hours)} + {AGE_OFFSET_HOURS})^{self.gravity:g} "
            f"= {_score_text(self.score)}"
        )

    def explain(self) -> list[str]:
        """Short sentences that say where each number comes from."""
        upvotes = "upvote" if self.imported_upvotes == 1 else "upvotes"
        votes = "vote" if self.local_votes == 1 else "votes"
        point_word = "point" if self.points == 1 else "points"
        hours = "hour" if _number(self.age_hours) == "1" else "hours"
        lines = [
            f"{self.points} {point_word}: {self.imported_upvotes} {upvotes} imported from the "
            f"source plus {self.local_votes} {votes} on this site.",
            f"Age: {_number(self.age_hours)} {hours} since it entered the feed "
            f"({self.entered:%Y-%m-%d %H:%M} UTC, measured at {self.now:%Y-%m-%d %H:%M} UTC).",
        ]
        if self.points == 0:
            lines.append("With no points the score is 0.")
        else:
            lines.append(
                f"Score: {self.points} divided by ({_number(self.age_hours)} + "
                f"{AGE_OFFSET_HOURS}) to the power {self.gravity:g} (the gravity) "
                f"= {_score_text(self.score)}."
            )
        return lines


def breakdown(item: TrendingInput, now: datetime, gravity: float = DEFAULT_GRAVITY) -> Breakdown:
    """Score one paper at the reference time ``now`` (naive UTC)."""
    _check_gravity(gravity)
    entered = _naive_utc(item.entered)
    now = _naive_utc(now)
    age_hours = max(0.0, (now - entered) / _HOUR)
    points = item.imported_upvotes + item.local_votes
    score = 0.0 if points == 0 else points / (age_hours + AGE_OFFSET_HOURS) ** gravity
    return Breakdown(
        paper_id=item.paper_id,
        imported_upvotes=item.imported_upvotes,
        local_votes=item.local_votes,
        points=points,
        entered=entered,
        now=now,
        age_hours=age_hours,
        gravity=float(gravity),
        score=score,
    )


def _order(b: Breakdown) -> tuple[float, int, int, str]:
    return (-b.score, -b.points, -((b.entered - _EPOCH) // _MICROSECOND), b.paper_id)


def rank(
    items: Iterable[TrendingInput],
    now: datetime,
    gravity: float = DEFAULT_GRAVITY,
    limit: int | None = None,
) -> list[Breakdown]:
    """Score every paper and order them: score desc, points desc, entered desc, paper id asc.

    ``limit`` keeps only the first ``limit`` papers (``None``: all of them).
    """
    _check_gravity(gravity)
    if limit is not None and limit < 0:
        raise ValueError(f"limit must not be negative, got {limit}")
    ranked = sorted((breakdown(item, now, gravity) for item in items), key=_order)
    return ranked if limit is None else ranked[:limit]


def window_start(now: datetime, window: str) -> datetime:
    """The start of a trending window ending at ``now``: ``now`` minus the window's days."""
    try:
        days = WINDOWS[window]
    except KeyError:
        known = ", ".join(repr(name) for name in WINDOWS)
        raise ValueError(f"unknown trending window {window!r}; expected one of {known}") from None
    return now - timedelta(days=days)
