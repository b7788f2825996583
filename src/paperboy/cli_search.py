"""The search side of the command line: ``embed``, ``index`` and ``search``, and the catch-up
step every ingest command runs (embed new papers, bring the search indexes up to date)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from paperboy.cli import DatabaseOpt, _open, _settings, app, err, out
from paperboy.errors import PaperboyError
from paperboy.settings import Settings
from paperboy.store.sql import SQLStore

index_app = typer.Typer(help="Inspect and rebuild the search indexes.", no_args_is_help=True)
app.add_typer(index_app, name="index")


LABEL = "[bold]{task.description}"


def progress_bar(label_width: int = 0) -> Progress:
    """The progress bar of long CLI jobs, on stderr, off when stderr is not a terminal."""
    return Progress(
        TextColumn(
            f"[bold]{{task.description:<{label_width}}}"
            if label_width
            else "[bold]{task.description}"
        ),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=not err.is_terminal,
    )


def run_embed(
    settings: Settings, store: SQLStore, *, limit: int | None = None, quiet: bool = False
) -> int:
    """Embed what needs it, with a progress bar. Returns vectors written; raises PaperboyError
    (EmbedderUnavailable) when the model cannot load."""
    from paperboy.embed.jobs import embed_pending
    from paperboy.embed.model import MODEL_NAME, load_embedder

    pending = store.count_papers_to_embed(MODEL_NAME)
    if limit is not None:
        pending = min(pending, limit)
    if pending == 0:
        return 0
    encoder = load_embedder(max_tokens=settings.embed_max_tokens)
    with progress_bar() as progress:
        task = progress.add_task("embedding papers", total=pending)
        report = embed_pending(
            store,
            encoder,
            batch_size=settings.embed_batch_size,
            limit=limit,
            progress=lambda n: progress.advance(task, n),
        )
    if not quiet:
        err.print(
            f"Embedded {report.embedded:,} papers"
            + (f" ({report.unchanged:,} kept their vectors)" if report.unchanged else "")
            + "."
        )
    return report.embedded


def run_index_sync(settings: Settings, store: SQLStore, *, quiet: bool = False) -> None:
    """Bring the keyword and vector indexes up to date with the store, with a progress bar."""
    from paperboy.search import open_search

    service = open_search(settings, store)
    with progress_bar() as progress:
        task = progress.add_task("indexing for search", total=None)
        report = service.index.sync(progress=lambda n: progress.advance(task, n))
    service.index.close()
    if report.keyword_busy:
        err.print(
            "[yellow]The keyword index is being updated by another process;[/] it will "
            "catch up on its own."
        )
    elif not quiet and (report.keyword_docs or report.vectors):
        err.print(
            f"Search index: {report.keyword_docs:,} papers indexed, "
            f"{report.vectors:,} vectors loaded."
        )


def after_ingest(settings: Settings, store: SQLStore, *, embed: bool | None = None) -> None:
    """What every ingest command runs last: embed new papers, then update the indexes.

    Neither step can lose data (both are derived and resumable), so a failure here is reported
    and does not fail the ingest itself.
    """
    if settings.embed_after_ingest if embed is None else embed:
        try:
            run_embed(settings, store)
        except PaperboyError as exc:
            err.print(f"[yellow]Papers were not embedded:[/] {exc}")
        except KeyboardInterrupt:
            err.print("[yellow]Embedding interrupted;[/] `paperboy embed` carries on later.")
    try:
        run_index_sync(settings, store)
    except (OSError, ValueError) as exc:
        err.print(f"[yellow]Search index not updated:[/] {exc} (run `paperboy index rebuild`).")


@app.command()
def embed(
    limit: Annotated[
        int | None,
        typer.Option(help="Embed at most this many papers, then stop.", min=1, show_default=False),
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option(help="Texts per model batch (default 32).", min=1)
    ] = None,
    export: Annotated[
        Path | None,
        typer.Option(
            help="Write every stored vector to this .npz file, then stop.", dir_okay=False
        ),
    ] = None,
    load: Annotated[
        Path | None,
        typer.Option(
            help="Store the vectors of an exported .npz file (for papers whose text still "
            "matches), then embed the rest.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Compute sentence embeddings for papers that have none or whose text changed.

    Runs in chunks that are committed one by one: stop it at any time and run it again to go
    on. New papers are embedded after every import and harvest too (PAPERBOY_EMBED_AFTER_INGEST).

    \b
    Examples:
      paperboy embed
      paperboy embed --limit 1000
      paperboy embed --export vectors.npz
    """
    from paperboy.embed.jobs import export_embeddings, load_embeddings
    from paperboy.embed.model import MODEL_NAME

    settings = _settings(database_url, embed_batch_size=batch_size)
    store = _open(settings)
    try:
        if export is not None:
            count = export_embeddings(store, MODEL_NAME, export)
            err.print(f"Wrote {count:,} vectors to {export}.")
            return
        if load is not None:
            loaded, skipped = load_embeddings(store, load)
            err.print(f"Loaded {loaded:,} vectors from {load} ({skipped:,} skipped).")
        try:
            run_embed(settings, store, limit=limit)
        except PaperboyError as exc:
            err.print(f"[red]Cannot embed:[/] {exc}")
            raise typer.Exit(1) from exc
        except KeyboardInterrupt:
            err.print("[yellow]Interrupted.[/] Run `paperboy embed` again to go on.")
            raise typer.Exit(130) from None
        run_index_sync(settings, store)
        err.print(
            f"{store.count_embeddings(MODEL_NAME):,} of {store.count_papers():,} papers "
            "have embeddings."
        )
    finally:
        store.close()


@index_app.command("sync")
def index_sync(database_url: DatabaseOpt = None) -> None:
    """Bring the search indexes up to date with the store (ingest commands do this too)."""
    settings = _settings(database_url)
    store = _open(settings)
    try:
        run_index_sync(settings, store)
    finally:
        store.close()


@index_app.command("rebuild")
def index_rebuild(database_url: DatabaseOpt = None) -> None:
    """Delete the search indexes and build them again from the store (always safe).

    On SQLite they are files beside the database; on PostgreSQL they are the database's own
    GIN and HNSW indexes (searches are slower while they are rebuilt)."""
    import shutil

    from paperboy.search import index_dir

    settings = _settings(database_url)
    store = _open(settings)
    try:
        if store.backend == "postgresql":
            from paperboy.store.bulk import deferred_indexes

            with deferred_indexes(store):  # drop, then build again (full text and HNSW)
                pass
            run_index_sync(settings, store)
            err.print("Rebuilt the search indexes inside PostgreSQL.")
            return
        directory = index_dir(settings)
        if directory.exists():
            shutil.rmtree(directory)
        run_index_sync(settings, store)
        err.print(f"Rebuilt the search indexes in {directory}.")
    finally:
        store.close()


@app.command()
def search(
    query: Annotated[
        str,
        typer.Argument(
            help='Words, "quoted phrases", -excluded, author:name, cat:cs.CL, since:2024-03, '
            "until:2025, year:2024.",
            show_default=False,
        ),
    ],
    limit: Annotated[int, typer.Option("--limit", "-n", help="Results to show.", min=1)] = 10,
    page: Annotated[int, typer.Option(help="Page of results (1 first).", min=1)] = 1,
    mode: Annotated[
        str, typer.Option(help="hybrid (words and meaning), keyword or semantic.")
    ] = "hybrid",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines instead.")] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """Search the papers in the store and print a table with why each one matched.

    \b
    Examples:
      paperboy search "bias"
      paperboy search '"diffusion model" cat:cs.CV since:2025'
      paperboy search "author:lecun self-supervised" --json
    """
    import json

    from paperboy.search import open_search
    from paperboy.search.service import MODES

    if mode not in MODES:
        err.print(f"[red]Unknown --mode {mode!r}:[/] use one of {', '.join(MODES)}.")
        raise typer.Exit(2)
    settings = _settings(database_url)
    store = _open(settings)
    service = open_search(settings, store)
    try:
        results = service.search(query, mode=mode, page=page, per_page=limit)  # type: ignore[arg-type]
    finally:
        service.index.close()
        store.close()
    for note in results.notes:
        err.print(f"[yellow]Note:[/] {note}", highlight=False)
    if as_json:
        for hit in results.hits:
            row = {
                "id": hit.paper.id,
                "title": hit.paper.title,
                "score": round(hit.score, 6),
                "why": hit.why.summary(),
                "keyword_rank": hit.why.keyword_rank,
                "semantic_rank": hit.why.semantic_rank,
                "similarity": hit.why.similarity,
            }
            out.print_json(json.dumps(row)) if out.is_terminal else print(json.dumps(row))
        return
    if not results.hits:
        err.print("No papers match." if not results.query.is_empty else "Nothing to search for.")
        raise typer.Exit(1)
    table = Table(title=f"{results.total:,} results for {results.query.describe()}")
    table.add_column("#", justify="right")
    table.add_column("arXiv id", no_wrap=True)
    table.add_column("Title")
    table.add_column("Why")
    first = (results.page - 1) * results.per_page + 1
    for n, hit in enumerate(results.hits, start=first):
        table.add_row(str(n), hit.paper.id, Text(hit.paper.title), Text(hit.why.summary()))
    out.print(table)
