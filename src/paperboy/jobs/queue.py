"""Using the queue from short-lived processes: create its tables, defer jobs, list jobs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from procrastinate import exceptions
from procrastinate.schema import SchemaManager

from paperboy.jobs.app import TASKS, build_app
from paperboy.jobs.conninfo import libpq_conninfo
from paperboy.settings import Settings

_SCHEMA_LOCK = 0x70726F63  # advisory lock key: one process creates the tables at a time


def ensure_queue_schema(settings: Settings) -> bool:
    """Create procrastinate's tables in the store's database unless they exist; idempotent and
    safe when several processes start at once. Returns whether the schema was applied now."""
    with psycopg.connect(libpq_conninfo(settings.database_url)) as conn:  # one transaction
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        row = conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL").fetchone()
        if row is not None and row[0]:
            return False
        conn.execute(SchemaManager.get_schema())  # procrastinate's own schema.sql
    return True


@dataclass(frozen=True, slots=True)
class Deferred:
    task: str
    job_id: int | None  # None: a job of this task was already waiting, none was added


def enqueue(settings: Settings, what: str) -> Deferred:
    """Defer a ``harvest`` or ``embed`` job (its queueing lock keeps one waiting at most)."""
    ensure_queue_schema(settings)
    app = build_app(settings, pool_size=1)
    with app.open():
        try:
            job_id = app.tasks[TASKS[what]].defer()
        except exceptions.AlreadyEnqueued:
            return Deferred(TASKS[what], None)
    return Deferred(TASKS[what], job_id)


@dataclass(frozen=True, slots=True)
class JobRow:
    id: int
    task: str
    queue: str
    status: str
    attempts: int
    deferred_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None


_RECENT = """
SELECT j.id, j.task_name, j.queue_name, j.status::text, j.attempts,
       min(e.at) FILTER (WHERE e.type = 'deferred'),
       max(e.at) FILTER (WHERE e.type = 'started'),
       max(e.at) FILTER (WHERE e.type IN ('succeeded', 'failed', 'cancelled', 'aborted'))
FROM procrastinate_jobs j LEFT JOIN procrastinate_events e ON e.job_id = j.id
WHERE %(status)s::text IS NULL OR j.status::text = %(status)s
GROUP BY j.id ORDER BY j.id DESC LIMIT %(limit)s
"""


def recent_jobs(settings: Settings, *, limit: int = 20, status: str | None = None) -> list[JobRow]:
    """The latest jobs, newest first, from procrastinate's tables."""
    ensure_queue_schema(settings)
    with psycopg.connect(libpq_conninfo(settings.database_url)) as conn:
        rows = conn.execute(_RECENT, {"status": status, "limit": limit}).fetchall()
    return [JobRow(*row) for row in rows]
