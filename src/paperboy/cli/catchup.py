"""The catch-up step every ingest command runs last: embed new papers, then bring the search
indexes up to date (``paperboy embed`` and ``paperboy index`` run the same steps).

The steps themselves are :mod:`paperboy.pipeline`'s, shared with the daemon and the job queue;
this module only shows them in a terminal (:class:`TerminalObserver`: progress bars and one
line per step on stderr). Ingest commands compose no digests: the daemon and the worker do."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING

from paperboy.cli.options import err, progress_bar
from paperboy.errors import PaperboyError
from paperboy.pipeline import Observer, Progress, embed_missing, sync_search
from paperboy.pipeline import after_ingest as run_pipeline

if TYPE_CHECKING:
    from paperboy.embed.jobs import EmbedReport
    from paperboy.search.index import SyncReport
    from paperboy.settings import Settings
    from paperboy.store import SQLStore


def embedded_line(embedded: int, unchanged: int) -> str:
    """``Embedded N papers (M kept their vectors).``"""
    kept = f" ({unchanged:,} kept their vectors)" if unchanged else ""
    return f"Embedded {embedded:,} papers{kept}."


@contextmanager
def _bar(label: str, total: int | None) -> Iterator[Progress]:
    with progress_bar() as progress:
        task = progress.add_task(label, total=total)
        yield lambda n: progress.advance(task, n)


class TerminalObserver(Observer):
    """The pipeline's steps as progress bars and short lines on stderr. ``strict``: a step
    that fails or is interrupted raises (``paperboy embed`` and ``paperboy index`` fail with
    it), instead of being reported while the rest goes on (what ingest commands want)."""

    def __init__(self, *, strict: bool = False) -> None:
        self.strict = strict

    def progress(self, label: str, total: int | None) -> AbstractContextManager[Progress | None]:
        return _bar(label, total)

    def embedded(self, report: EmbedReport) -> None:
        if report.pending:
            err.print(embedded_line(report.embedded, report.unchanged))

    def embed_failed(self, exc: PaperboyError) -> None:
        if self.strict:
            raise exc
        err.print(f"[yellow]Papers were not embedded:[/] {exc}")

    def embed_interrupted(self, exc: KeyboardInterrupt) -> None:
        if self.strict:
            raise exc
        err.print("[yellow]Embedding interrupted;[/] `paperboy embed` carries on later.")

    def indexed(self, report: SyncReport) -> None:
        if report.keyword_busy:
            err.print(
                "[yellow]The keyword index is being updated by another process;[/] it will "
                "catch up on its own."
            )
        elif report.keyword_docs or report.vectors:
            err.print(
                f"Search index: {report.keyword_docs:,} papers indexed, "
                f"{report.vectors:,} vectors loaded."
            )

    def index_failed(self, exc: OSError | ValueError) -> None:
        if self.strict:
            raise exc
        err.print(f"[yellow]Search index not updated:[/] {exc} (run `paperboy index rebuild`).")


def run_embed(settings: Settings, store: SQLStore, *, limit: int | None = None) -> None:
    """Embed what needs it (at most ``limit`` papers), with a progress bar; raises
    PaperboyError (EmbedderUnavailable) when the model cannot load, and KeyboardInterrupt."""
    embed_missing(settings, store, TerminalObserver(strict=True), limit=limit)


def run_index_sync(settings: Settings, store: SQLStore) -> None:
    """Bring the keyword and vector indexes up to date with the store, with a progress bar
    (an index that cannot be opened raises, as ``paperboy index`` wants)."""
    sync_search(settings, store, TerminalObserver(strict=True))


def after_ingest(settings: Settings, store: SQLStore, *, embed: bool | None = None) -> None:
    """What every ingest command runs last: the pipeline's embed and index steps, shown in the
    terminal. Neither can lose data (both are derived and resumable), so a failure is reported
    and does not fail the ingest itself."""
    run_pipeline(settings, store, embed=embed, digests=False, observer=TerminalObserver())
