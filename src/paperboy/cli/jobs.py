"""The background side of the command line: ``daemon`` (the harvest schedule, any store),
``worker`` and ``jobs enqueue|list`` (the job queue, PostgreSQL stores)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table

from paperboy.cli.catchup import embedded_line
from paperboy.cli.options import (
    DatabaseOpt,
    Group,
    err,
    fail,
    open_store,
    option,
    out,
    settings_for,
)
from paperboy.clock import utc_now
from paperboy.errors import PaperboyError
from paperboy.jobs.conninfo import NEEDS_POSTGRES, is_postgres
from paperboy.settings import Settings


def _log_to_stderr() -> None:
    """Log lines with their time on stderr, as long-running commands do."""
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")


def daemon(
    now: Annotated[
        bool, typer.Option("--now", help="Also harvest once right away, then keep the schedule.")
    ] = False,
    show: Annotated[
        bool, typer.Option("--show", help="Print the next harvest times and exit.")
    ] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """Harvest arXiv on a schedule (default: 20:30 US Eastern, Sunday to Thursday).

    Sets, schedule and time zone come from PAPERBOY_HARVEST_SETS, PAPERBOY_HARVEST_SCHEDULE
    (a crontab line) and PAPERBOY_HARVEST_TIMEZONE. Run one daemon per store. Every run is in
    the ingest log; `paperboy status` shows what last succeeded and what failed.

    \b
    Examples:
      paperboy daemon --show
      paperboy daemon --now
      PAPERBOY_HARVEST_SETS=cs,stat paperboy daemon
    """
    from paperboy.daemon import run_daemon
    from paperboy.ingest.schedule import harvest_sets, next_runs

    settings = settings_for(database_url)
    try:
        upcoming = next_runs(settings, utc_now().replace(tzinfo=UTC), count=3)
    except PaperboyError as exc:
        raise fail(str(exc), 2) from exc
    sets = ", ".join(harvest_sets(settings)) or "(none)"
    err.print(f"Harvesting set(s) {sets} into {settings.database_url}")
    for when in upcoming:
        err.print(f"  next: {when:%a %Y-%m-%d %H:%M %Z}")
    if show:
        return
    open_store(settings).close()  # migrate once before the first run
    _log_to_stderr()
    _stop_on_signals()
    try:
        run_daemon(settings, run_now=now)
    except (KeyboardInterrupt, SystemExit):
        err.print("Daemon stopped.")


def _stop_on_signals() -> None:
    """Stop cleanly on SIGINT and SIGTERM (what systemd and `kill` send), even when started
    from a process that ignores SIGINT (a shell's background job inherits that): the job in
    hand finishes, then the daemon exits."""
    import signal

    def stop(_signum: int, _frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, stop)


class JobKind(StrEnum):
    harvest = "harvest"
    embed = "embed"


def worker(
    concurrency: Annotated[
        int, typer.Option(min=1, help="Jobs this worker runs at the same time.")
    ] = 1,
    until_empty: Annotated[
        bool,
        typer.Option(
            "--until-empty",
            "--once",
            help="Run the jobs that are due, then exit (default: keep waiting for new jobs).",
        ),
    ] = False,
    queues: Annotated[
        list[str] | None,
        option(
            "--queue",
            "-q",
            help="Only take jobs from this queue (repeatable): 'ingest' (harvests) or "
            "'embed'. Default: every queue.",
        ),
    ] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Run queued background jobs (PostgreSQL stores only; on SQLite use `paperboy daemon`).

    Takes harvest and embed jobs from the queue in the store's database, and queues the
    scheduled harvest (PAPERBOY_HARVEST_SCHEDULE, PAPERBOY_HARVEST_TIMEZONE).

    Start as many workers as you like, on any machine that reaches the database: each job runs
    once, and two jobs of the same kind never run at the same time.

    Jobs that fail because arXiv or the database was unavailable are retried, waiting longer
    each time (PAPERBOY_JOB_RETRIES, PAPERBOY_JOB_RETRY_WAIT). Ctrl+C lets running jobs finish.

    \b
    Examples:
      paperboy worker
      paperboy worker --concurrency 2 --queue embed
      paperboy worker --until-empty
    """
    from paperboy.jobs import build_app, ensure_queue_schema, worker_options

    settings = settings_for(database_url)
    if not is_postgres(settings.database_url):
        raise fail(NEEDS_POSTGRES)
    try:
        open_store(settings).close()  # migrate the store once before the first job
        ensure_queue_schema(settings)
        queue_app = build_app(settings, pool_size=concurrency + 2)
    except PaperboyError as exc:
        raise fail(str(exc), 2) from exc
    _log_to_stderr()
    err.print(f"Worker on {settings.database_url} (concurrency {concurrency}); Ctrl+C stops it.")
    options = worker_options(settings, concurrency=concurrency, wait=not until_empty, queues=queues)
    try:
        queue_app.run_worker(**options)
    except KeyboardInterrupt:
        pass
    err.print("Worker stopped.")


def _run_here(settings: Settings, kind: JobKind) -> None:
    from paperboy.jobs import embed_now, harvest_now

    err.print(f"SQLite has no job queue: running the {kind.value} job here, now.")
    try:
        if kind is JobKind.embed:
            report = embed_now(settings)
            err.print(embedded_line(report.embedded, report.unchanged))
        else:
            harvest_now(settings)
            err.print("Harvest done; `paperboy status` shows what each set did.")
    except PaperboyError as exc:
        raise fail(f"{kind.value} failed: {exc}", 2) from exc


def enqueue_command(
    kind: Annotated[
        JobKind,
        typer.Argument(
            help="harvest: the scheduled harvest run (every PAPERBOY_HARVEST_SETS set, the "
            "announcements, then embeddings and search indexes); embed: embed papers that "
            "have no vector yet."
        ),
    ],
    database_url: DatabaseOpt = None,
) -> None:
    """Queue a job for `paperboy worker` (on SQLite: run it here and now).

    A job that is already waiting is not queued twice.

    \b
    Examples:
      paperboy jobs enqueue embed
      paperboy jobs enqueue harvest
    """
    from paperboy.jobs import enqueue

    settings = settings_for(database_url)
    open_store(settings).close()
    if not is_postgres(settings.database_url):
        _run_here(settings, kind)
        return
    try:
        deferred = enqueue(settings, kind.value)
    except PaperboyError as exc:
        raise fail(str(exc), 2) from exc
    if deferred.job_id is None:
        err.print(f"A {kind.value} job is already waiting in the queue; not queued again.")
    else:
        err.print(f"Queued {kind.value} job #{deferred.job_id}; a `paperboy worker` runs it.")


def _when(moment: datetime | None) -> str:
    return f"{moment.astimezone(UTC):%m-%d %H:%M}" if moment is not None else "-"


def list_command(
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many jobs.")] = 20,
    status: Annotated[
        str | None,
        option(
            help="Only jobs in this state: todo, doing, succeeded, failed, cancelled, aborted.",
        ),
    ] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Show recent jobs of the queue, newest first, and how they ended (PostgreSQL stores).

    \b
    Examples:
      paperboy jobs list
      paperboy jobs list --status failed
    """
    from paperboy.jobs import recent_jobs

    settings = settings_for(database_url)
    if not is_postgres(settings.database_url):
        raise fail(NEEDS_POSTGRES)
    try:
        rows = recent_jobs(settings, limit=limit, status=status)
    except PaperboyError as exc:
        raise fail(str(exc), 2) from exc
    if not rows:
        out.print("No jobs yet: `paperboy jobs enqueue embed` queues one.")
        return
    table = Table(title="Recent jobs (times in UTC)")
    for column in ("id", "task", "status", "tries", "queued", "started", "ended"):
        table.add_column(column, no_wrap=column != "task")
    colours = {"succeeded": "green", "failed": "red", "doing": "yellow"}
    for row in rows:
        colour = colours.get(row.status)
        table.add_row(
            str(row.id),
            row.task.removeprefix("paperboy."),
            f"[{colour}]{row.status}[/]" if colour else row.status,
            str(row.attempts),
            _when(row.deferred_at),
            _when(row.started_at),
            _when(row.finished_at),
        )
    out.print(table)


JOBS = Group(
    "jobs",
    "Queue background jobs and see how they went (PostgreSQL: run by `paperboy worker`).",
    [("enqueue", enqueue_command), ("list", list_command)],
)
