"""``paperboy daemon``: the harvest on a schedule, with APScheduler in one process.

One process runs the schedule (run one daemon per store; web workers never schedule jobs).
Each run harvests every configured set, then reads the day's announcements of the same
sets; a failing set is logged in the ingest log and does not
stop the others or the daemon. Missed runs (the machine was asleep) run once when it wakes,
within an hour's grace.
"""

from __future__ import annotations

import logging
from datetime import datetime

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from paperboy.errors import PaperboyError
from paperboy.settings import Settings

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


def harvest_job(settings: Settings) -> list[str]:
    """One scheduled run: harvest each set, read the day's announcements, embed and index,
    then compose the due email digests and send the outbox (``run_digests``).

    A failing set is logged (it is in the ingest log too) and does not stop the others; nothing
    is raised. Returns the sets for which arXiv was unavailable, so a job queue can retry the
    run later (harvests are incremental and resume where they stopped).
    """
    from paperboy.digest.jobs import run_digests
    from paperboy.ingest.announce import fetch_announcements
    from paperboy.ingest.harvest import harvest
    from paperboy.ingest.http import ArxivHttp, ArxivUnavailable
    from paperboy.search import refresh_search
    from paperboy.store import open_store

    unavailable: list[str] = []
    store = open_store(settings.database_url)
    try:
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
        refresh_search(settings, store)
        run_digests(settings, store)  # compose the due digests, send the outbox; never raises
    finally:
        store.close()
    return unavailable


def run_daemon(settings: Settings, *, run_now: bool = False) -> None:
    trigger = harvest_trigger(settings)
    scheduler = BlockingScheduler(timezone=settings.harvest_timezone)
    scheduler.add_job(
        harvest_job,
        trigger,
        args=[settings],
        id="harvest",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=3600,
    )
    if run_now:
        scheduler.add_job(harvest_job, args=[settings], id="harvest-now", max_instances=1)
    # The outbox goes out a minute at a time, paced at mail_rate_per_minute (see digest.jobs).
    from paperboy.digest.jobs import send_outbox

    scheduler.add_job(
        send_outbox, "interval", minutes=1, args=[settings], id="send-outbox", max_instances=1
    )
    scheduler.start()
