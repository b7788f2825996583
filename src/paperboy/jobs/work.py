"""What the jobs do, without the queue: callable in-process (SQLite) or from a worker.

Job bodies raise ``TRANSIENT`` errors for failures worth retrying later (arXiv down, the
database connection lost); anything else is permanent and ends the job as failed.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import OperationalError

from paperboy.embed.jobs import EmbedReport
from paperboy.errors import PaperboyError
from paperboy.settings import Settings

log = logging.getLogger(__name__)


class TransientJobError(PaperboyError):
    """A job failed for a reason that may go away: retry it later."""


def transient_errors() -> tuple[type[Exception], ...]:
    """Exception types a job is retried on (with backoff); others fail the job at once."""
    import psycopg

    from paperboy.ingest.http import ArxivUnavailable

    return (TransientJobError, ArxivUnavailable, OperationalError, psycopg.OperationalError)


def harvest_now(settings: Settings) -> None:
    """The daemon's harvest run (``paperboy.pipeline.harvest_job``). When arXiv was
    unavailable for some set, ``TransientJobError`` is raised at the end (after the other sets
    were harvested), so the queue retries the run."""
    from paperboy.pipeline import harvest_job

    unavailable = harvest_job(settings)
    if unavailable:
        raise TransientJobError(f"arXiv was unavailable for set(s) {', '.join(unavailable)}")


def embed_now(settings: Settings) -> EmbedReport:
    """Embed every paper that has no vector or whose text changed; nothing else."""
    from paperboy.embed.jobs import embed_pending
    from paperboy.embed.model import load_embedder
    from paperboy.store import open_store

    store = open_store(settings.database_url, upgrade=False)
    try:
        encoder = load_embedder(max_tokens=settings.embed_max_tokens)
        report = embed_pending(store, encoder, batch_size=settings.embed_batch_size)
    finally:
        store.close()
    log.info("embedded %d papers (%d kept their vectors)", report.embedded, report.unchanged)
    return report
