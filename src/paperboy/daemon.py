"""``paperboy daemon``: the harvest on a schedule, with APScheduler in one process.

One process runs the schedule (run one daemon per store; web workers never schedule jobs).
Each run is ``paperboy.pipeline.harvest_job``: it harvests every configured set, then reads the
day's announcements of the same sets; a failing set is logged in the ingest log and does not
stop the others or the daemon. Missed runs (the machine was asleep) run once when it wakes,
within an hour's grace.
"""

from __future__ import annotations

from apscheduler.schedulers.blocking import BlockingScheduler

from paperboy.digest.jobs import send_outbox
from paperboy.ingest.schedule import harvest_trigger
from paperboy.pipeline import harvest_job
from paperboy.settings import Settings


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
    scheduler.add_job(
        send_outbox, "interval", minutes=1, args=[settings], id="send-outbox", max_instances=1
    )
    scheduler.start()
