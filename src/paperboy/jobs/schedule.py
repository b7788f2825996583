"""The harvest schedule as a procrastinate periodic task.

procrastinate evaluates cron lines in UTC, while ``harvest_schedule`` is a crontab line in
``harvest_timezone`` (which may observe daylight saving time). So the periodic task is a *tick*:
in UTC zones it fires exactly on ``harvest_schedule``; elsewhere it fires every hour at the
schedule's minutes (shifted by the zone's sub-hour offset, e.g. +05:30), and each tick harvests
only when its scheduled instant, seen in ``harvest_timezone``, matches ``harvest_schedule``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

from paperboy.errors import PaperboyError
from paperboy.ingest.schedule import harvest_trigger
from paperboy.settings import Settings


def _utc_offsets(zone: ZoneInfo, year: int) -> set[timedelta]:
    """Every UTC offset ``zone`` uses in ``year`` and the next (sampled twice a month)."""
    offsets: set[timedelta] = set()
    for y in (year, year + 1):
        for month in range(1, 13):
            for day in (1, 15):
                offset = datetime(y, month, day, 12, tzinfo=zone).utcoffset()
                if offset is not None:
                    offsets.add(offset)
    return offsets


def tick_cron(settings: Settings, *, now: datetime | None = None) -> str:
    """The UTC cron line of the periodic tick (raises PaperboyError for a bad schedule)."""
    harvest_trigger(settings)  # validates the crontab line and the time zone
    zone = ZoneInfo(settings.harvest_timezone)
    offsets = _utc_offsets(zone, (now or datetime.now(UTC)).year)
    if offsets == {timedelta(0)}:
        return settings.harvest_schedule
    try:
        minutes = croniter.expand(settings.harvest_schedule)[0][0]
    except (ValueError, KeyError) as exc:
        raise PaperboyError(f"harvest_schedule {settings.harvest_schedule!r}: {exc}") from exc
    if "*" in minutes:
        return "* * * * *"
    shifts = {int(offset.total_seconds() // 60) % 60 for offset in offsets}
    ticks = sorted({(int(m) - shift) % 60 for m in minutes for shift in shifts})
    return ",".join(str(m) for m in ticks) + " * * * *"


def is_due(settings: Settings, timestamp: int) -> bool:
    """Whether the tick scheduled at ``timestamp`` (UTC epoch seconds) is a harvest time."""
    zone = ZoneInfo(settings.harvest_timezone)
    local = datetime.fromtimestamp(timestamp, zone).replace(second=0, microsecond=0)
    fire = harvest_trigger(settings).get_next_fire_time(None, local)
    return fire is not None and fire == local
