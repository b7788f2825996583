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
    """The daemon's harvest run (``harvest_job``): every set, the day's announcements, then
    embeddings and search indexes. A set that fails for good is logged and skipped; when arXiv
    was unavailable for some set, ``TransientJobError`` is raised at the end (after the other
    sets were harvested), so the queue retries the run: harvests are incremental and resume."""
    from paperboy.ingest.announce import fetch_announcements
    from paperboy.ingest.harvest import harvest
    from paperboy.ingest.http import ArxivHttp, ArxivUnavailable
    from paperboy.ingest.schedule import harvest_sets
    from paperboy.search import refresh_search
    from paperboy.store import open_store

    unavailable: list[str] = []
    store = open_store(settings.database_url, upgrade=False)
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
            try:
                fetch_announcements(store, http, sets)
            except PaperboyError as exc:
                log.error("announcements failed: %s", exc)
        refresh_search(settings, store)
    finally:
        store.close()
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
