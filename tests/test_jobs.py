"""The PostgreSQL job queue (procrastinate): workers, locks, retries, the harvest schedule.

Queue tests run real workers in this process against the test's own PostgreSQL database; the
embed job runs the real packaged model on a handful of papers. Test-only tasks (a slow task, a
flaky one) are registered on the same app as Paperboy's tasks, with the same retry strategy.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import procrastinate
import pytest
from procrastinate.periodic import PeriodicDeferrer
from typer.testing import CliRunner

from demo import demo_record, demo_rows
from paperboy.cli import app as cli_app
from paperboy.jobs import (
    EMBED,
    HARVEST,
    TransientJobError,
    build_app,
    enqueue,
    ensure_queue_schema,
    libpq_conninfo,
    recent_jobs,
    worker_options,
)
from paperboy.jobs.app import (
    CLEANUP,
    EMBED_SWEEP,
    SEND_OUTBOX,
    embed_sweep_task,
    harvest_tick_task,
    retry_strategy,
)
from paperboy.jobs.schedule import is_due, tick_cron
from paperboy.settings import Settings
from paperboy.store import SQLStore

postgres_only = pytest.mark.postgres_only


def _fill(store: SQLStore, n: int) -> list[str]:
    rows = list(demo_rows()[:n])
    store.upsert([demo_record(row) for row in rows])
    return [row["id"] for row in rows]


def _run_until_empty(app: procrastinate.App, settings: Settings, **more: Any) -> None:
    app.run_worker(**worker_options(settings, wait=False, install_signal_handlers=False, **more))


TICK = "paperboy.harvest_tick"  # a worker's periodic deferrer may queue the latest tick
PERIODIC = {TICK, EMBED_SWEEP, CLEANUP, SEND_OUTBOX}


def _statuses(settings: Settings, *, ticks: bool = False) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for row in recent_jobs(settings, limit=100):
        if ticks or row.task not in PERIODIC:
            found.setdefault(row.task, []).append(row.status)
    return found


# -- no database needed ------------------------------------------------------------------------


def test_conninfo_from_sqlalchemy_url() -> None:
    info = libpq_conninfo("postgresql+psycopg://ann:s3cret@db.example:5433/papers?sslmode=require")
    parts = dict(part.split("=", 1) for part in info.split())
    assert parts == {
        "sslmode": "require",
        "host": "db.example",
        "port": "5433",
        "user": "ann",
        "password": "s3cret",
        "dbname": "papers",
    }


def test_harvest_schedule_becomes_a_utc_tick() -> None:
    schedule = "30 20 * * sun,mon,tue,wed,thu"
    new_york = Settings(harvest_schedule=schedule, harvest_timezone="America/New_York")
    assert tick_cron(new_york) == "30 * * * *"
    kolkata = Settings(harvest_schedule=schedule, harvest_timezone="Asia/Kolkata")  # +05:30
    assert tick_cron(kolkata) == "0 * * * *"
    utc = Settings(harvest_schedule=schedule, harvest_timezone="UTC")
    assert tick_cron(utc) == schedule


def test_ticks_harvest_only_at_the_local_schedule() -> None:
    settings = Settings(
        harvest_schedule="30 20 * * sun,mon,tue,wed,thu", harvest_timezone="America/New_York"
    )

    def at(text: str) -> int:
        return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())

    assert is_due(settings, at("2025-06-02T00:30"))  # Sunday 20:30 EDT
    assert is_due(settings, at("2025-01-06T01:30"))  # Sunday 20:30 EST
    assert not is_due(settings, at("2025-06-02T01:30"))  # 21:30 EDT
    assert not is_due(settings, at("2025-06-07T00:30"))  # Friday evening


# -- SQLite: no queue --------------------------------------------------------------------------


def test_worker_on_sqlite_says_to_use_the_daemon(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    result = CliRunner().invoke(cli_app, ["worker", "--database-url", url])
    assert result.exit_code == 1
    assert "the job queue needs PostgreSQL" in result.output
    assert "`paperboy daemon` runs jobs in-process" in result.output


def test_enqueue_embed_on_sqlite_runs_in_process(tmp_path: Path) -> None:
    from paperboy.embed.model import MODEL_NAME
    from paperboy.store import open_store

    url = f"sqlite:///{tmp_path / 'p.db'}"
    store = open_store(url)
    try:
        _fill(store, 4)
        result = CliRunner().invoke(cli_app, ["jobs", "enqueue", "embed", "-d", url])
        assert result.exit_code == 0, result.output
        assert "SQLite has no job queue: running the embed job here" in result.output
        assert "Embedded 4 papers" in result.output
        assert store.count_embeddings(MODEL_NAME) == 4
    finally:
        store.close()


# -- PostgreSQL: the queue ---------------------------------------------------------------------


@postgres_only
def test_queue_schema_is_applied_once(settings: Settings) -> None:
    assert ensure_queue_schema(settings) is True
    assert ensure_queue_schema(settings) is False
    assert recent_jobs(settings) == []


@postgres_only
def test_embed_job_runs_on_a_worker(settings: Settings, store: SQLStore) -> None:
    from paperboy.embed.model import MODEL_NAME

    _fill(store, 6)
    runner = CliRunner()
    queued = runner.invoke(cli_app, ["jobs", "enqueue", "embed", "-d", settings.database_url])
    assert queued.exit_code == 0, queued.output
    assert "Queued embed job #" in queued.output
    assert store.count_embeddings(MODEL_NAME) == 0  # deferred, not run
    ran = runner.invoke(cli_app, ["worker", "--until-empty", "-d", settings.database_url])
    assert ran.exit_code == 0, ran.output
    assert store.count_embeddings(MODEL_NAME) == 6
    assert _statuses(settings) == {EMBED: ["succeeded"]}
    listed = runner.invoke(cli_app, ["jobs", "list", "-d", settings.database_url])
    assert listed.exit_code == 0 and "embed" in listed.output and "succeeded" in listed.output


@postgres_only
def test_a_waiting_job_is_queued_once(settings: Settings) -> None:
    first = enqueue(settings, "embed")
    second = enqueue(settings, "embed")
    assert first.job_id is not None and second.job_id is None
    other = enqueue(settings, "harvest")  # another task has its own queueing lock
    assert other.job_id is not None
    assert _statuses(settings) == {EMBED: ["todo"], HARVEST: ["todo"]}
    result = CliRunner().invoke(cli_app, ["jobs", "enqueue", "embed", "-d", settings.database_url])
    assert result.exit_code == 0 and "already waiting" in result.output


def _workers_until(
    settings: Settings, count: int, setup: Callable[[procrastinate.App], None], done: Callable
) -> None:
    """Run ``count`` waiting workers in threads (each with its own app) until ``done()``."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def one(name: str) -> None:
        app = build_app(settings, pool_size=4)
        setup(app)

        async def main() -> None:
            async with app.open_async():
                options = worker_options(
                    settings, name=name, install_signal_handlers=False,
                    fetch_job_polling_interval=0.05, listen_notify=False,
                )  # fmt: skip
                running = asyncio.create_task(app.run_worker_async(**options))
                while not stop.is_set():
                    await asyncio.sleep(0.05)
                running.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await running

        try:
            asyncio.run(main())
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(f"w{i}",)) for i in range(count)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while not done() and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors


@postgres_only
def test_two_workers_never_run_a_locked_job_twice_at_once(settings: Settings) -> None:
    runs: list[tuple[str, str, float, float]] = []  # (lock, worker, start, end)
    guard = threading.Lock()

    def setup(app: procrastinate.App) -> None:
        def slow(context: procrastinate.JobContext, lock: str) -> None:
            start = time.monotonic()
            time.sleep(0.4)
            with guard:
                runs.append((lock, context.worker_name or "", start, time.monotonic()))

        app.task(name="test.slow", pass_context=True)(slow)

    ensure_queue_schema(settings)
    app = build_app(settings, pool_size=1)
    app.task(name="test.slow")(lambda lock: None)
    with app.open():
        for _ in range(3):
            app.tasks["test.slow"].configure(lock="shared").defer(lock="shared")
        for _ in range(2):
            app.tasks["test.slow"].defer(lock="")  # unlocked: may run in parallel
    _workers_until(settings, 2, setup, lambda: len(runs) == 5)
    assert len(runs) == 5
    locked = sorted((start, end) for lock, _w, start, end in runs if lock == "shared")
    assert len(locked) == 3
    for (_s1, end), (start, _e2) in zip(locked, locked[1:], strict=False):
        assert start >= end, "two jobs holding the same lock ran at the same time"
    assert {worker for _lock, worker, _s, _e in runs} == {"w0", "w1"}, "both took jobs"


@postgres_only
def test_transient_failure_is_retried_then_succeeds(settings: Settings) -> None:
    fast = settings.model_copy(update={"job_retry_wait": 0})
    calls: list[int] = []

    def flaky() -> None:
        calls.append(1)
        if len(calls) < 3:
            raise TransientJobError("arXiv is down for a moment")

    ensure_queue_schema(fast)
    app = build_app(fast)
    app.task(name="test.flaky", retry=retry_strategy(fast))(flaky)
    with app.open():
        app.tasks["test.flaky"].defer()
    _run_until_empty(app, fast)
    assert len(calls) == 3
    (row,) = [row for row in recent_jobs(fast) if row.task not in PERIODIC]
    assert (row.task, row.status, row.attempts) == ("test.flaky", "succeeded", 3)


@postgres_only
def test_permanent_error_fails_the_job_and_shows_in_the_list(settings: Settings) -> None:
    fast = settings.model_copy(update={"job_retry_wait": 0})
    calls: list[int] = []

    def broken() -> None:
        calls.append(1)
        raise ValueError("this paper cannot be parsed")

    ensure_queue_schema(fast)
    app = build_app(fast)
    app.task(name="test.broken", retry=retry_strategy(fast))(broken)
    with app.open():
        app.tasks["test.broken"].defer()
    _run_until_empty(app, fast)
    assert len(calls) == 1  # not a transient error: no retry
    assert _statuses(fast) == {"test.broken": ["failed"]}
    result = CliRunner().invoke(
        cli_app, ["jobs", "list", "--status", "failed", "-d", fast.database_url]
    )
    assert result.exit_code == 0, result.output
    assert "test.broken" in result.output and "failed" in result.output


@postgres_only
def test_scheduled_tick_is_deferred_once_and_queues_a_harvest(settings: Settings) -> None:
    utc = settings.model_copy(update={"harvest_schedule": "30 20 * * *", "harvest_timezone": "UTC"})
    ensure_queue_schema(utc)
    tick_at = int(datetime(2025, 6, 2, 20, 30, tzinfo=UTC).timestamp())
    for _worker in range(2):  # two workers' periodic deferrers see the same tick
        app = build_app(utc, pool_size=1)
        periodics = {p.periodic_id: p for p in app.periodic_registry.periodic_tasks.values()}
        assert set(periodics) == {"harvest", "embed", "cleanup", "outbox"}
        assert periodics["outbox"].cron == "* * * * *"
        periodic = periodics["harvest"]
        assert periodic.cron == "30 20 * * *"

        async def defer(app: procrastinate.App = app, periodic: Any = periodic) -> None:
            async with app.open_async():
                await PeriodicDeferrer(registry=app.periodic_registry).defer_jobs(
                    [(periodic, tick_at)]
                )

        asyncio.run(defer())
    assert _statuses(utc, ticks=True) == {TICK: ["todo"]}

    app = build_app(utc, pool_size=1)
    with app.open():
        context: Any = SimpleNamespace(app=app, additional_context={"settings": utc})
        harvest_tick_task(context, tick_at - 3600)  # 19:30: not a harvest time
        assert HARVEST not in _statuses(utc)
        harvest_tick_task(context, tick_at)
        harvest_tick_task(context, tick_at)  # the harvest already waits: not queued twice
    assert _statuses(utc)[HARVEST] == ["todo"]


@postgres_only
def test_embed_sweep_queues_an_embed_job_only_when_papers_wait(
    settings: Settings, store: SQLStore
) -> None:
    ensure_queue_schema(settings)
    app = build_app(settings, pool_size=1)
    with app.open():
        context: Any = SimpleNamespace(app=app, additional_context={"settings": settings})
        embed_sweep_task(context, 0)  # an empty store: nothing to embed, nothing queued
        assert EMBED not in _statuses(settings)
        _fill(store, 3)
        embed_sweep_task(context, 600)
        embed_sweep_task(context, 1200)  # the embed job already waits: not queued twice
    assert _statuses(settings)[EMBED] == ["todo"]
