"""Background jobs through a PostgreSQL job queue (procrastinate) in the store's database.

On PostgreSQL, ``paperboy worker`` processes (any number, on any machine) run the jobs that
``paperboy jobs enqueue`` and the harvest schedule defer; on SQLite there is no queue and
``paperboy daemon`` runs the same work in-process.
"""

from __future__ import annotations

from paperboy.jobs.app import EMBED, HARVEST, TASKS, build_app, worker_options
from paperboy.jobs.conninfo import NEEDS_POSTGRES, QueueNeedsPostgres, is_postgres, libpq_conninfo
from paperboy.jobs.queue import Deferred, JobRow, enqueue, ensure_queue_schema, recent_jobs
from paperboy.jobs.work import TransientJobError, embed_now, harvest_now

__all__ = [
    "EMBED",
    "HARVEST",
    "NEEDS_POSTGRES",
    "TASKS",
    "Deferred",
    "JobRow",
    "QueueNeedsPostgres",
    "TransientJobError",
    "build_app",
    "embed_now",
    "enqueue",
    "ensure_queue_schema",
    "harvest_now",
    "is_postgres",
    "libpq_conninfo",
    "recent_jobs",
    "worker_options",
]
