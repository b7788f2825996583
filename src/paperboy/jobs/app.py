"""The procrastinate app of a PostgreSQL store: its tasks, locks, retries and schedule.

Tasks (queue, lock):

- ``paperboy.harvest`` (``ingest``, lock ``harvest``): the daemon's harvest run;
- ``paperboy.embed`` (``embed``, lock ``embed``): embed pending papers;
- ``paperboy.harvest_tick`` (``ingest``): periodic; defers ``paperboy.harvest`` when the
  harvest schedule says so (see ``paperboy.jobs.schedule``);
- ``paperboy.embed_sweep`` (``embed``): every 10 minutes, defers ``paperboy.embed`` when papers
  wait for vectors (pushed through the API, copied by ``migrate-store``, imported elsewhere);
- ``paperboy.cleanup`` (``ingest``): daily, forgets finished jobs older than 30 days;
- ``paperboy.send_outbox`` (``mail``, lock ``outbox``): every minute, sends due digests for
  up to 50 s (a harvest composes them; see ``paperboy.digest.jobs``).

``lock`` makes jobs sharing it run one after another, whichever worker fetches them; the
``queueing_lock`` (same name) keeps at most one of them waiting in the queue, so deferring a
job that is already queued is refused (``AlreadyEnqueued``) instead of piling up duplicates.
"""

from __future__ import annotations

from typing import Any

import procrastinate
from procrastinate import JobContext, PsycopgConnector, RetryStrategy, builtin_tasks, exceptions

from paperboy.jobs.conninfo import libpq_conninfo
from paperboy.jobs.schedule import is_due, tick_cron
from paperboy.jobs.work import embed_now, harvest_now, transient_errors
from paperboy.settings import Settings, load_settings

HARVEST = "paperboy.harvest"
EMBED = "paperboy.embed"
HARVEST_TICK = "paperboy.harvest_tick"
EMBED_SWEEP = "paperboy.embed_sweep"
CLEANUP = "paperboy.cleanup"
SEND_OUTBOX = "paperboy.send_outbox"
KEEP_JOBS_HOURS = 30 * 24
TASKS = {"harvest": HARVEST, "embed": EMBED}  # what `paperboy jobs enqueue` accepts
QUEUES = ("ingest", "embed", "mail")
MISSED_RUN_GRACE = 3600  # seconds: a worker started late still defers a tick this recent


def retry_strategy(settings: Settings) -> RetryStrategy:
    """Retry transient failures ``job_retries`` times, waiting w, 2w, 3w... (w =
    ``job_retry_wait`` seconds); other errors fail the job at once."""
    return RetryStrategy(
        max_attempts=settings.job_retries,
        wait=settings.job_retry_wait,
        linear_wait=settings.job_retry_wait,
        retry_exceptions=transient_errors(),
    )


def job_settings(context: JobContext) -> Settings:
    """The settings the worker was started with (``additional_context``), else the env's."""
    settings = context.additional_context.get("settings")
    return settings if isinstance(settings, Settings) else load_settings()


def harvest_task(context: JobContext) -> None:
    harvest_now(job_settings(context))


def embed_task(context: JobContext) -> None:
    embed_now(job_settings(context))


def harvest_tick_task(context: JobContext, timestamp: int) -> None:
    """Defer a harvest if the tick's scheduled time is a harvest time (once per tick: the
    periodic deferrer records each tick, so many workers defer it only once)."""
    if not is_due(job_settings(context), timestamp):
        return
    try:
        context.app.tasks[HARVEST].defer()
    except exceptions.AlreadyEnqueued:
        pass  # a harvest is already waiting: it will pick up everything


def embed_sweep_task(context: JobContext, timestamp: int) -> None:
    """Defer an embed job when some paper has no vector yet (cheap when none waits)."""
    from paperboy.embed.model import MODEL_NAME
    from paperboy.store import open_store

    store = open_store(job_settings(context).database_url, upgrade=False)
    try:
        waiting = store.count_papers_to_embed(MODEL_NAME)
    finally:
        store.close()
    if waiting:
        try:
            context.app.tasks[EMBED].defer()
        except exceptions.AlreadyEnqueued:
            pass


def send_outbox_task(context: JobContext, timestamp: int) -> None:
    """Send the due digests of the outbox for up to a minute (never raises)."""
    from paperboy.digest.jobs import send_outbox

    send_outbox(job_settings(context))


async def cleanup_task(context: JobContext, timestamp: int) -> None:
    """Forget finished jobs (succeeded, failed, cancelled) older than ``KEEP_JOBS_HOURS``."""
    await builtin_tasks.remove_old_jobs(
        context,
        max_hours=KEEP_JOBS_HOURS,
        remove_failed=True,
        remove_cancelled=True,
        remove_aborted=True,
    )


def build_app(settings: Settings, *, pool_size: int = 8) -> procrastinate.App:
    """A procrastinate app on the store's database, with Paperboy's tasks registered.

    Raises ``QueueNeedsPostgres`` on SQLite and ``PaperboyError`` for a bad harvest schedule.
    Open it (``with app.open():`` or ``async with app.open_async():``) before use.
    """
    connector = PsycopgConnector(
        conninfo=libpq_conninfo(settings.database_url), min_size=1, max_size=pool_size
    )
    app = procrastinate.App(connector=connector, periodic_defaults={"max_delay": MISSED_RUN_GRACE})
    retry = retry_strategy(settings) if settings.job_retries else False
    for name, func, queue, lock in (
        (HARVEST, harvest_task, "ingest", "harvest"),
        (EMBED, embed_task, "embed", "embed"),
    ):
        app.task(
            name=name, queue=queue, lock=lock, queueing_lock=lock, retry=retry, pass_context=True
        )(func)
    tick = app.task(name=HARVEST_TICK, queue="ingest", pass_context=True)(harvest_tick_task)
    app.periodic(cron=tick_cron(settings), periodic_id="harvest")(tick)
    sweep = app.task(name=EMBED_SWEEP, queue="embed", pass_context=True)(embed_sweep_task)
    app.periodic(cron="*/10 * * * *", periodic_id="embed")(sweep)
    mail = app.task(
        name=SEND_OUTBOX, queue="mail", lock="outbox", queueing_lock="outbox", pass_context=True
    )(send_outbox_task)
    app.periodic(cron="* * * * *", periodic_id="outbox")(mail)
    cleanup = app.task(name=CLEANUP, queue="ingest", pass_context=True)(cleanup_task)
    app.periodic(cron="17 4 * * *", periodic_id="cleanup")(cleanup)
    return app


def worker_options(
    settings: Settings,
    *,
    concurrency: int = 1,
    wait: bool = True,
    queues: list[str] | None = None,
    **more: Any,
) -> dict[str, Any]:
    """Keyword arguments of ``App.run_worker`` for Paperboy's tasks."""
    return {
        "concurrency": concurrency,
        "wait": wait,
        "queues": queues or None,
        "additional_context": {"settings": settings},
        "delete_jobs": "never",  # keep finished jobs for `paperboy jobs list`
        **more,
    }
