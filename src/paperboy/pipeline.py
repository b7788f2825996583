"""What runs after new papers arrived: embed what is missing, catch the search index up, compose
the due email digests.

One function, :func:`after_ingest`, shared by the daemon (``paperboy.daemon``), the job queue
(``paperboy.jobs``) and the CLI's ingest commands. It sits above the sources, the indexes and the
services (it may import ``ingest``, ``embed``, ``search`` and ``digest``; none of them imports
it). No step can lose data (all are derived and resumable), so a failing step is reported to the
:class:`Observer` and does not stop the others. The default observer logs, as the daemon and the
job queue want; the CLI passes one that draws progress bars and prints to the terminal.

:func:`harvest_job` is one scheduled run: harvest the configured sets, read the day's
announcements, then :func:`after_ingest`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING

from paperboy.errors import PaperboyError
from paperboy.settings import Settings

if TYPE_CHECKING:
    from paperboy.embed.jobs import EmbedReport
    from paperboy.search.index import SyncReport
    from paperboy.store.sql import SQLStore

log = logging.getLogger(__name__)

Progress = Callable[[int], None]


class Observer:
    """What the pipeline reports as it goes. This default logs; subclass it to show progress."""

    def progress(self, label: str, total: int | None) -> AbstractContextManager[Progress | None]:
        """A context giving a callback that advances a progress display by ``n`` (or None)."""
        return nullcontext(None)

    def embedded(self, report: EmbedReport) -> None:
        log.info("embedded %d papers", report.embedded)

    def embed_failed(self, exc: PaperboyError) -> None:
        log.error("papers were not embedded: %s", exc)

    def embed_interrupted(self, exc: KeyboardInterrupt) -> None:
        raise exc

    def indexed(self, report: SyncReport) -> None:
        log.info("search index: %d papers, %d vectors", report.keyword_docs, report.vectors)

    def index_failed(self, exc: OSError | ValueError) -> None:
        log.error("search index not updated: %s", exc)


def embed_missing(
    settings: Settings, store: SQLStore, observer: Observer, *, limit: int | None = None
) -> None:
    """Embed every paper with no vector (or a changed text), at most ``limit`` of them;
    failures go to ``observer``."""
    from paperboy.embed.jobs import EmbedReport, embed_pending
    from paperboy.embed.model import MODEL_NAME, load_embedder

    try:
        pending = store.count_papers_to_embed(MODEL_NAME)
        if limit is not None:
            pending = min(pending, limit)
        if pending == 0:
            observer.embedded(EmbedReport())
            return
        encoder = load_embedder(max_tokens=settings.embed_max_tokens)
        with observer.progress("embedding papers", pending) as advance:
            report = embed_pending(
                store, encoder, batch_size=settings.embed_batch_size, limit=limit, progress=advance
            )
        observer.embedded(report)
    except PaperboyError as exc:
        observer.embed_failed(exc)
    except KeyboardInterrupt as exc:
        observer.embed_interrupted(exc)


def sync_search(settings: Settings, store: SQLStore, observer: Observer) -> None:
    """Bring the keyword and vector indexes up to date with the store."""
    from paperboy.search import open_search

    try:
        service = open_search(settings, store)
        try:
            with observer.progress("indexing for search", None) as advance:
                report = service.index.sync(progress=advance)
        finally:
            service.index.close()
    except (OSError, ValueError) as exc:
        observer.index_failed(exc)
        return
    observer.indexed(report)


def after_ingest(
    settings: Settings,
    store: SQLStore,
    *,
    embed: bool | None = None,
    digests: bool = True,
    observer: Observer | None = None,
) -> None:
    """After new papers arrived: embed what is missing (when ``embed``, by default
    ``settings.embed_after_ingest``), bring the search index up to date, then (when
    ``digests``) compose the due digests and send the outbox. Never raises for a failing step
    (except ``KeyboardInterrupt``, unless the observer takes it)."""
    observer = observer or Observer()
    if settings.embed_after_ingest if embed is None else embed:
        embed_missing(settings, store, observer)
    sync_search(settings, store, observer)
    if digests:
        from paperboy.digest.jobs import run_digests

        run_digests(settings, store)  # compose the due digests, send the outbox; never raises


def harvest_job(settings: Settings) -> list[str]:
    """One scheduled run: harvest each set, read the day's announcements, then
    :func:`after_ingest` (embed, index, compose the due digests and send the outbox).

    A failing set is logged (it is in the ingest log too) and does not stop the others; nothing
    is raised. Returns the sets for which arXiv was unavailable, so a job queue can retry the
    run later (harvests are incremental and resume where they stopped).
    """
    from paperboy.ingest.schedule import harvest_configured
    from paperboy.store import open_store

    store = open_store(settings.database_url)
    try:
        unavailable = harvest_configured(settings, store)
        after_ingest(settings, store)
    finally:
        store.close()
    return unavailable
