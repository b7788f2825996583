"""The harvest schedule and what one scheduled harvest reads (the sources' side only).

``harvest_trigger`` and ``next_runs`` read ``harvest_schedule`` in ``harvest_timezone``;
``harvest_configured`` harvests every configured set, then reads the day's announcements of the
same sets; a failing set is logged in the ingest log and does not stop the others. What runs
after it (embed, index, digests) is ``paperboy.pipeline``; the daemon is ``paperboy.daemon``.
"""

from __future__ import annotations

import logging
from datetime import datetime

from apscheduler.triggers.cron import CronTrigger

from paperboy.errors import PaperboyError
from paperboy.settings import Settings
from paperboy.store.base import Store

log = logging.getLogger(__name__)


def harvest_trigger(settings: Settings) -> CronTrigger:
    try:
        return CronTrigger.from_crontab(
            settings.harvest_schedule, timezone=settings.harvest_timezone
        )
    except (ValueError, LookupError) as exc:
        raise PaperboyError(
            f"harvest_schedule {settings.harvest_schedule!r} in time zone "
            f"{settings.harvest_timezone!r} is not a valid crontab line: {exc}"
        ) from exc


def next_runs(settings: Settings, after: datetime, count: int = 3) -> list[datetime]:
    """The next ``count`` times the daemon will harvest, after ``after`` (aware datetime)."""
    trigger = harvest_trigger(settings)
    runs: list[datetime] = []
    previous: datetime | None = None
    moment = after
    while len(runs) < count:
        fire = trigger.get_next_fire_time(previous, moment)
        if fire is None:
            break
        runs.append(fire)
        previous, moment = fire, fire
    return runs


def harvest_sets(settings: Settings) -> list[str]:
    return [name.strip() for name in settings.harvest_sets.split(",") if name.strip()]


def harvest_configured(settings: Settings, store: Store) -> list[str]:
    """Harvest each configured set, then read the day's announcements of the same sets.

    A failing set is logged (it is in the ingest log too) and does not stop the others; nothing
    is raised. Returns the sets for which arXiv was unavailable (see ``paperboy.pipeline``).
    """
    from paperboy.ingest.announce import fetch_announcements
    from paperboy.ingest.harvest import harvest
    from paperboy.ingest.http import ArxivHttp, ArxivUnavailable

    unavailable: list[str] = []
    with ArxivHttp(settings, store) as http:
        sets = harvest_sets(settings)
        for set_spec in sets:
            try:
                report = harvest(store, http, set_spec=set_spec)
                log.info("harvest of %s done: %s", set_spec, report)
            except ArxivUnavailable as exc:
                unavailable.append(set_spec)
                log.error("harvest of %s failed: %s", set_spec, exc)
            except PaperboyError as exc:  # already in the ingest log
                log.error("harvest of %s failed: %s", set_spec, exc)
        try:  # the day's announcements, so new papers show before any upvote
            fetch_announcements(store, http, sets)
        except PaperboyError as exc:
            log.error("announcements failed: %s", exc)
    return unavailable
