"""The job-queue side of the command line: ``worker`` and ``jobs enqueue|list``."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table

from paperboy.cli import DatabaseOpt, _open, _settings, app, err, out
from paperboy.errors import PaperboyError
from paperboy.jobs.conninfo import NEEDS_POSTGRES, is_postgres
from paperboy.settings import Settings

jobs_app = typer.Typer(
    help="Queue background jobs and see how they went (PostgreSQL: run by `paperboy worker`).",
    no_args_is_help=True,
)
app.add_typer(jobs_app, name="jobs")


class JobKind(StrEnum):
    harvest = "harvest"
    embed = "embed"


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]{message}[/]", highlight=False)
    return typer.Exit(code)


@app.command()
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
        typer.Option(
            "--queue",
            "-q",
            help="Only take jobs from this queue (repeatable): 'ingest' (harvests) or "
            "'embed'. Default: every queue.",
            show_default=False,
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
    import logging

    from paperboy.jobs import build_app, ensure_queue_schema, worker_options

    settings = _settings(database_url)
    if not is_postgres(settings.database_url):
        raise _fail(NEEDS_POSTGRES)
    try:
        _open(settings).close()  # migrate the store once before the first job
        ensure_queue_schema(settings)
        queue_app = build_app(settings, pool_size=concurrency + 2)
    except PaperboyError as exc:
        raise _fail(str(exc), 2) from exc
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
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
            err.print(
                f"Embedded {report.embedded:,} papers"
                + (f" ({report.unchanged:,} kept their vectors)" if report.unchanged else "")
                + "."
            )
        else:
            harvest_now(settings)
            err.print("Harvest done; `paperboy status` shows what each set did.")
    except PaperboyError as exc:
        raise _fail(f"{kind.value} failed: {exc}", 2) from exc


@jobs_app.command("enqueue")
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

    settings = _settings(database_url)
    _open(settings).close()
    if not is_postgres(settings.database_url):
        _run_here(settings, kind)
        return
    try:
        deferred = enqueue(settings, kind.value)
    except PaperboyError as exc:
        raise _fail(str(exc), 2) from exc
    if deferred.job_id is None:
        err.print(f"A {kind.value} job is already waiting in the queue; not queued again.")
    else:
        err.print(f"Queued {kind.value} job #{deferred.job_id}; a `paperboy worker` runs it.")


def _when(moment: datetime | None) -> str:
    return f"{moment.astimezone(UTC):%m-%d %H:%M}" if moment is not None else "-"


@jobs_app.command("list")
def list_command(
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many jobs.")] = 20,
    status: Annotated[
        str | None,
        typer.Option(
            help="Only jobs in this state: todo, doing, succeeded, failed, cancelled, aborted.",
            show_default=False,
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

    settings = _settings(database_url)
    if not is_postgres(settings.database_url):
        raise _fail(NEEDS_POSTGRES)
    try:
        rows = recent_jobs(settings, limit=limit, status=status)
    except PaperboyError as exc:
        raise _fail(str(exc), 2) from exc
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
