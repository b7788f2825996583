"""Which digest period is due: daily digests on weekdays, weekly ones on one day of the week.

Days are the site's days (``settings.timezone``). A daily period is one local weekday (Monday
to Friday; none on Saturday and Sunday), keyed ``daily:YYYY-MM-DD``. A weekly period is the
seven days that start on ``settings.digest_weekly_day``, keyed by the ISO week of that day,
``weekly:YYYY-Www``; it is due only on that day. ``start`` and ``end`` are the period's local
midnights as naive UTC datetimes (``end`` exclusive).

A subscriber is due for a period when their last digest was composed before the period
started (``SubscriptionStore.due``); composing stores the moment it ran as the subscriber's
``last_digest_at``, so the next digest covers everything from there on, and a second run in
the same period finds nobody due.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from paperboy.settings import Settings

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAILY_WEEKDAYS = frozenset(range(5))  # Monday .. Friday (date.weekday())
LENGTHS = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}


@dataclass(frozen=True, slots=True)
class Period:
    """One digest period of one frequency."""

    frequency: str  # daily | weekly
    key: str  # "daily:2026-11-27" | "weekly:2026-W48"
    day: date  # the local day it is sent on (a weekly period's first day)
    start: datetime  # naive UTC: the local midnight that starts ``day``
    end: datetime  # naive UTC, exclusive: the local midnight after the period

    @property
    def length(self) -> timedelta:
        """The nominal length (what a first digest looks back over)."""
        return LENGTHS[self.frequency]

    @property
    def label(self) -> str:
        """For subjects and greetings: ``Nov 27`` or ``the week of Nov 23``."""
        text = f"{self.day:%b} {self.day.day}"
        return text if self.frequency == "daily" else f"the week of {text}"


def _zone(settings: Settings) -> ZoneInfo:
    return ZoneInfo(settings.timezone)


def as_utc(moment: datetime) -> datetime:
    """Naive UTC for ``moment`` (naive datetimes are taken as UTC already)."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def local_day(settings: Settings, now: datetime) -> date:
    """The site's date at ``now`` (naive = UTC)."""
    return as_utc(now).replace(tzinfo=UTC).astimezone(_zone(settings)).date()


def midnight(settings: Settings, day: date) -> datetime:
    """The local midnight that starts ``day``, as naive UTC."""
    return as_utc(datetime.combine(day, time(), tzinfo=_zone(settings)))


def _period(settings: Settings, frequency: str, key: str, first: date, days: int) -> Period:
    """The period ``key`` of ``days`` local days from ``first``."""
    return Period(
        frequency,
        key,
        first,
        midnight(settings, first),
        midnight(settings, first + timedelta(days)),
    )


def daily_period(settings: Settings, day: date) -> Period:
    """The daily period of local ``day`` (whatever weekday it is)."""
    return _period(settings, "daily", f"daily:{day.isoformat()}", day, 1)


def weekly_period(settings: Settings, day: date) -> Period:
    """The weekly period that holds local ``day``: it starts on the latest weekly day."""
    first = day - timedelta(days=(day.weekday() - WEEKDAYS.index(settings.digest_weekly_day)) % 7)
    year, week, _ = first.isocalendar()
    return _period(settings, "weekly", f"weekly:{year}-W{week:02d}", first, 7)


def due_periods(settings: Settings, now: datetime) -> list[Period]:
    """The periods due at ``now``: today's daily one on a weekday, this week's weekly one on
    the weekly day."""
    today = local_day(settings, now)
    due = []
    if today.weekday() in DAILY_WEEKDAYS:
        due.append(daily_period(settings, today))
    if today.weekday() == WEEKDAYS.index(settings.digest_weekly_day):
        due.append(weekly_period(settings, today))
    return due


def current_period(frequency: str, settings: Settings, now: datetime) -> Period:
    """The period of ``frequency`` that holds ``now`` (a daily one even on a weekend; ``off``
    counts as daily): what a preview shows."""
    today = local_day(settings, now)
    if frequency == "weekly":
        return weekly_period(settings, today)
    return daily_period(settings, today)


def next_period(frequency: str, settings: Settings, now: datetime) -> Period:
    """The first period of ``frequency`` that starts after ``now``: when the next digest comes."""
    today = local_day(settings, now)
    if frequency == "weekly":
        return weekly_period(settings, weekly_period(settings, today).day + timedelta(days=7))
    day = today + timedelta(days=1)
    while day.weekday() not in DAILY_WEEKDAYS:
        day += timedelta(days=1)
    return daily_period(settings, day)
