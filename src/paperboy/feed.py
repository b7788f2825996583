"""The daily feed as a service: periods (day, ISO week, month), paging and navigation.

Web pages, the JSON API and the CLI all call ``daily_feed``; none of them queries the store for
the feed directly.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from paperboy.errors import InvalidPeriod
from paperboy.models import CategoryFilter, FeedItem
from paperboy.store.base import FeedSort, Store

PeriodKind = Literal["day", "week", "month"]

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")

FIRST_YEAR = 1900
LAST_YEAR = 2200
"""Periods outside these years are refused (``InvalidPeriod``): no feed holds papers from them,
and every period keeps room around it for the day before and after (no date overflow)."""


@dataclass(frozen=True, slots=True)
class Period:
    kind: PeriodKind
    start: date
    end: date

    @property
    def label(self) -> str:
        if self.kind == "day":
            return self.start.isoformat()
        if self.kind == "week":
            year, week, _ = self.start.isocalendar()
            return f"{year}-W{week:02d}"
        return f"{self.start.year}-{self.start.month:02d}"

    @property
    def title(self) -> str:
        if self.kind == "day":
            return self.start.strftime("%A, %B %-d, %Y")
        if self.kind == "week":
            span = f"{self.start:%b %-d} to {self.end:%b %-d}"
            return f"Week {self.label[-2:]} of {self.label[:4]} ({span})"
        return self.start.strftime("%B %Y")

    def query(self) -> str:
        """The query string that selects this period (``date=``, ``week=`` or ``month=``)."""
        key = {"day": "date", "week": "week", "month": "month"}[self.kind]
        return f"{key}={self.label}"

    def containing(self, day: date) -> Period:
        """The period of the same kind that contains ``day``."""
        return period_of(self.kind, day)


def period_of(kind: PeriodKind, day: date) -> Period:
    """The day, ISO week or month that contains ``day``; ``InvalidPeriod`` when that period
    runs off the calendar (the week of ``date.max``)."""
    try:
        if kind == "day":
            return Period("day", day, day)
        if kind == "week":
            start = day - timedelta(days=day.isoweekday() - 1)
            return Period("week", start, start + timedelta(days=6))
        start = day.replace(day=1)
        following = (start + timedelta(days=32)).replace(day=1)
        return Period("month", start, following - timedelta(days=1))
    except OverflowError:
        parameter = "date" if kind == "day" else kind
        raise InvalidPeriod(
            parameter, f"the {kind} of {day.isoformat()} is off the calendar"
        ) from None


def _check_year(parameter: str, value: str, year: int) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise InvalidPeriod(
            parameter, f"{parameter} {value!r} is outside the years {FIRST_YEAR} to {LAST_YEAR}"
        )


def parse_date(value: str, parameter: str = "date") -> date:
    if not _DATE.match(value):
        raise InvalidPeriod(parameter, f"{parameter} must look like YYYY-MM-DD, got {value!r}")
    try:
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidPeriod(parameter, f"{parameter} {value!r} is not a calendar date") from exc
    _check_year(parameter, value, day.year)
    return day


def parse_week(value: str) -> Period:
    match = _WEEK.match(value)
    if not match:
        raise InvalidPeriod("week", f"week must look like YYYY-Www (e.g. 2025-W09), got {value!r}")
    _check_year("week", value, int(match[1]))
    try:
        start = date.fromisocalendar(int(match[1]), int(match[2]), 1)
    except ValueError as exc:
        raise InvalidPeriod("week", f"week {value!r} does not exist") from exc
    return period_of("week", start)


def parse_month(value: str) -> Period:
    match = _MONTH.match(value)
    if not match or not 1 <= int(match[2]) <= 12:
        raise InvalidPeriod("month", f"month must look like YYYY-MM (e.g. 2025-02), got {value!r}")
    _check_year("month", value, int(match[1]))
    return period_of("month", date(int(match[1]), int(match[2]), 1))


def parse_period(
    day: str | None = None, week: str | None = None, month: str | None = None
) -> Period | None:
    """At most one of ``date``, ``week`` and ``month``; None when none is given."""
    given = [(k, v) for k, v in (("date", day), ("week", week), ("month", month)) if v]
    if len(given) > 1:
        names = " and ".join(k for k, _ in given)
        raise InvalidPeriod(given[1][0], f"give only one of date, week and month (got {names})")
    if not given:
        return None
    key, value = given[0]
    if key == "date":
        return period_of("day", parse_date(value))
    return parse_week(value) if key == "week" else parse_month(value)


@dataclass(frozen=True, slots=True)
class FeedView:
    period: Period | None  # None when the store has no feed at all
    items: list[FeedItem]
    total: int
    page: int  # 0-based
    page_size: int
    previous: Period | None  # nearest earlier period that has papers
    next: Period | None
    latest: date | None  # latest day with papers in the whole store

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.page_size))

    @property
    def has_more(self) -> bool:
        return (self.page + 1) * self.page_size < self.total


def daily_feed(
    store: Store,
    period: Period | None = None,
    *,
    page: int = 0,
    page_size: int = 30,
    sort: FeedSort = "upvotes",
    categories: CategoryFilter | None = None,
) -> FeedView:
    """The feed for ``period`` (default: the latest day that has papers), in ``categories``."""
    latest = store.latest_feed_date()
    if period is None:
        if latest is None:
            return FeedView(None, [], 0, 0, page_size, None, None, None)
        period = period_of("day", latest)
    result = store.feed(
        period.start,
        period.end,
        sort=sort,
        offset=page * page_size,
        limit=page_size,
        categories=categories,
    )
    before, after = result.before, result.after
    return FeedView(
        period=period,
        items=result.items,
        total=result.total,
        page=page,
        page_size=page_size,
        previous=period.containing(before) if before else None,
        next=period.containing(after) if after else None,
        latest=latest,
    )
