"""Trending: the formula's numbers, its decay, its order and its explanation."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paperboy.rank.trending import (
    WINDOWS,
    Breakdown,
    TrendingInput,
    breakdown,
    rank,
    window_start,
)

NOW = datetime(2025, 3, 10, 12, 0, 0)


def paper(paper_id: str, imported: int, local: int, hours_ago: float) -> TrendingInput:
    return TrendingInput(paper_id, imported, local, NOW - timedelta(hours=hours_ago))


def test_hand_computed_values() -> None:
    # 16 / (2 + 2)^2 = 1
    assert breakdown(paper("a", 10, 6, 2), NOW, gravity=2).score == 1.0
    # 45 / (30.5 + 2)^1.8: ln 32.5 = 3.48124; * 1.8 = 6.26623;
    # e^6.26623 = e^6 * e^0.26623 = 403.429 * 1.30503 = 526.49
    b = breakdown(paper("b", 42, 3, 30.5), NOW)
    assert b.points == 45
    assert b.age_hours == 30.5
    assert b.gravity == 1.8
    assert b.score == pytest.approx(45 / 526.49, rel=1e-4)
    assert b.score == pytest.approx(0.085472, rel=1e-4)
    # A brand-new paper: 10 / 2^1.8 = 10 / 3.48220
    assert breakdown(paper("c", 10, 0, 0), NOW).score == pytest.approx(2.87175, rel=1e-5)


def test_breakdown_carries_its_inputs() -> None:
    item = paper("2401.00001", 7, 2, 5.25)
    b = breakdown(item, NOW, gravity=1.5)
    assert (b.paper_id, b.imported_upvotes, b.local_votes, b.points) == ("2401.00001", 7, 2, 9)
    assert (b.entered, b.now, b.age_hours, b.gravity) == (item.entered, NOW, 5.25, 1.5)


def test_zero_points_score_zero() -> None:
    assert breakdown(paper("z", 0, 0, 0), NOW).score == 0.0
    assert breakdown(paper("z", 0, 0, 1000), NOW).score == 0.0


def test_age_is_never_negative() -> None:
    b = breakdown(paper("future", 5, 0, -3), NOW)
    assert b.age_hours == 0.0
    assert b.score == breakdown(paper("fresh", 5, 0, 0), NOW).score


def test_aware_datetimes_are_taken_as_utc() -> None:
    aware = TrendingInput("a", 5, 0, datetime(2025, 3, 10, 10, 0, tzinfo=UTC))
    b = breakdown(aware, NOW.replace(tzinfo=UTC))
    assert b.age_hours == 2.0
    assert b.entered.tzinfo is None and b.now.tzinfo is None


def test_older_scores_lower_at_same_points() -> None:
    scores = [breakdown(paper("p", 20, 5, h), NOW).score for h in (0, 1, 6, 24, 72, 720)]
    assert scores == sorted(scores, reverse=True)
    assert len(set(scores)) == len(scores)


def test_more_points_score_higher_at_same_age() -> None:
    scores = [breakdown(paper("p", n, 1, 12), NOW).score for n in (0, 1, 5, 50, 500)]
    assert scores == sorted(scores)
    assert len(set(scores)) == len(scores)


def test_gravity_changes_the_order() -> None:
    fresh = paper("fresh", 4, 1, 1)  # 5 points, an hour old
    older = paper("older", 95, 5, 48)  # 100 points, two days old
    # gravity 1.8: 5 / 3^1.8 = 0.692 beats 100 / 50^1.8 = 0.0872
    assert [b.paper_id for b in rank([older, fresh], NOW)] == ["fresh", "older"]
    # gravity 0.5: 5 / 3^0.5 = 2.89 loses to 100 / 50^0.5 = 14.1
    assert [b.paper_id for b in rank([older, fresh], NOW, gravity=0.5)] == ["older", "fresh"]


def test_ties_are_deterministic() -> None:
    items = [
        # Same score (1.0 with gravity 2): more points first.
        paper("four-points", 4, 0, 0),  # 4 / (0 + 2)^2
        paper("sixteen-points", 16, 0, 2),  # 16 / (2 + 2)^2
        # Zero points: newer first, then paper id.
        paper("zero-old", 0, 0, 10),
        paper("zero-new-b", 0, 0, 1),
        paper("zero-new-a", 0, 0, 1),
    ]
    expected = ["sixteen-points", "four-points", "zero-new-a", "zero-new-b", "zero-old"]
    rng = random.Random(7)
    for _ in range(20):
        shuffled = items[:]
        rng.shuffle(shuffled)
        assert [b.paper_id for b in rank(shuffled, NOW, gravity=2)] == expected


def test_rank_limit() -> None:
    items = [paper(f"p{i}", i, 0, 1) for i in range(10)]
    assert [b.paper_id for b in rank(items, NOW, limit=3)] == ["p9", "p8", "p7"]
    assert len(rank(items, NOW)) == 10
    assert rank(items, NOW, limit=0) == []
    assert rank([], NOW) == []
    with pytest.raises(ValueError, match="limit"):
        rank(items, NOW, limit=-1)


@pytest.mark.parametrize("gravity", [0, -1.8, float("nan"), float("inf")])
def test_gravity_must_be_positive(gravity: float) -> None:
    with pytest.raises(ValueError, match="gravity"):
        breakdown(paper("a", 1, 0, 1), NOW, gravity=gravity)
    with pytest.raises(ValueError, match="gravity"):
        rank([], NOW, gravity=gravity)


def test_negative_votes_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        TrendingInput("a", -1, 0, NOW)
    with pytest.raises(ValueError, match="negative"):
        TrendingInput("a", 0, -1, NOW)


_FORMULA = re.compile(
    r"^\((\d+) \+ (\d+)\) / \(([\d.]+) \+ 2\)\^([\d.]+) = ([\d.e+-]+)$",
)


def _check_formula(b: Breakdown) -> None:
    match = _FORMULA.match(b.formula())
    assert match, b.formula()
    imported, local, age, gravity, score = match.groups()
    assert int(imported) == b.imported_upvotes
    assert int(local) == b.local_votes
    assert float(age) == pytest.approx(b.age_hours, abs=0.005)
    assert float(gravity) == b.gravity
    assert float(score) == pytest.approx(b.score, rel=1e-3, abs=1e-4)
    recomputed = (int(imported) + int(local)) / (float(age) + 2) ** float(gravity)
    assert recomputed == pytest.approx(float(score), rel=2e-3, abs=1e-4)


def test_formula_string_matches_the_numbers() -> None:
    b = breakdown(paper("b", 42, 3, 30.5), NOW)
    assert b.formula() == "(42 + 3) / (30.5 + 2)^1.8 = 0.0855"
    assert (
        breakdown(paper("c", 16, 0, 2), NOW, gravity=2).formula() == "(16 + 0) / (2 + 2)^2 = 1.0000"
    )
    assert breakdown(paper("z", 0, 0, 5), NOW).formula() == "(0 + 0) / (5 + 2)^1.8 = 0"
    for hours, imported, local in [(0, 1, 0), (0.25, 3, 4), (17.3333, 120, 9), (2000, 5, 5)]:
        _check_formula(breakdown(paper("x", imported, local, hours), NOW))


def test_explain_says_where_numbers_come_from() -> None:
    lines = breakdown(paper("b", 42, 3, 30.5), NOW).explain()
    assert lines == [
        "45 points: 42 upvotes imported from the source plus 3 votes on this site.",
        "Age: 30.5 hours since it entered the feed "
        "(2025-03-09 05:30 UTC, measured at 2025-03-10 12:00 UTC).",
        "Score: 45 divided by (30.5 + 2) to the power 1.8 (the gravity) = 0.0855.",
    ]
    zero = breakdown(paper("z", 0, 0, 1), NOW).explain()
    assert zero[0].startswith("0 points: 0 upvotes")
    assert zero[1].startswith("Age: 1 hour since")
    assert zero[-1] == "With no points the score is 0."


def test_windows() -> None:
    assert dict(WINDOWS) == {"day": 1, "week": 7, "month": 30}
    assert window_start(NOW, "day") == NOW - timedelta(days=1)
    assert window_start(NOW, "week") == datetime(2025, 3, 3, 12, 0)
    assert window_start(NOW, "month") == datetime(2025, 2, 8, 12, 0)


def test_unknown_window() -> None:
    with pytest.raises(ValueError, match=r"unknown trending window 'year'.*'day', 'week', 'month'"):
        window_start(NOW, "year")


@settings(max_examples=200, deadline=None)
@given(
    points=st.integers(min_value=0, max_value=1_000_000),
    extra_points=st.integers(min_value=0, max_value=1_000_000),
    minutes=st.integers(min_value=-600, max_value=60 * 24 * 400),
    extra_minutes=st.integers(min_value=0, max_value=60 * 24 * 400),
    gravity=st.floats(min_value=0.05, max_value=5, allow_nan=False, allow_infinity=False),
)
def test_score_monotone_in_age_and_points(
    points: int, extra_points: int, minutes: int, extra_minutes: int, gravity: float
) -> None:
    def score(p: int, m: int) -> float:
        item = TrendingInput("p", p, 0, NOW - timedelta(minutes=m))
        return breakdown(item, NOW, gravity).score

    base = score(points, minutes)
    assert base >= 0
    assert score(points, minutes + extra_minutes) <= base
    assert score(points + extra_points, minutes) >= base
