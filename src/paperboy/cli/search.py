"""The search side of the command line: ``embed``, ``index sync|rebuild`` and ``search``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from paperboy.cli.catchup import run_embed, run_index_sync
from paperboy.cli.options import (
    DatabaseOpt,
    Group,
    argument,
    err,
    opened_store,
    option,
    out,
    settings_for,
)
from paperboy.errors import PaperboyError

if TYPE_CHECKING:
    from paperboy.search.service import Results


def embed(
    limit: Annotated[
        int | None,
        option(help="Embed at most this many papers, then stop.", min=1),
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

    settings = settings_for(database_url, embed_batch_size=batch_size)
    with opened_store(settings) as store:
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


def index_sync(database_url: DatabaseOpt = None) -> None:
    """Bring the search indexes up to date with the store (ingest commands do this too)."""
    settings = settings_for(database_url)
    with opened_store(settings) as store:
        run_index_sync(settings, store)


def index_rebuild(database_url: DatabaseOpt = None) -> None:
    """Delete the search indexes and build them again from the store (always safe).

    On SQLite they are files beside the database; on PostgreSQL they are the database's own
    GIN and HNSW indexes (searches are slower while they are rebuilt)."""
    import shutil

    from paperboy.search import index_dir

    settings = settings_for(database_url)
    with opened_store(settings) as store:
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


def search(
    query: Annotated[
        str,
        argument(
            help='Words, "quoted phrases", -excluded, author:name, cat:cs.CL, since:2024-03, '
            "until:2025, year:2024.",
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
    from paperboy.search import open_search
    from paperboy.search.service import MODES

    if mode not in MODES:
        err.print(f"[red]Unknown --mode {mode!r}:[/] use one of {', '.join(MODES)}.")
        raise typer.Exit(2)
    settings = settings_for(database_url)
    with opened_store(settings) as store:
        service = open_search(settings, store)
        try:
            results = service.search(query, mode=mode, page=page, per_page=limit)  # type: ignore[arg-type]
        finally:
            service.index.close()
    for note in results.notes:
        err.print(f"[yellow]Note:[/] {note}", highlight=False)
    if as_json:
        _print_json(results)
        return
    if not results.hits:
        err.print("No papers match." if not results.query.is_empty else "Nothing to search for.")
        raise typer.Exit(1)
    out.print(_results_table(results))


def _print_json(results: Results) -> None:
    """One JSON object a line per hit (pretty on a terminal)."""
    import json

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


def _results_table(results: Results) -> Table:
    table = Table(title=f"{results.total:,} results for {results.query.describe()}")
    table.add_column("#", justify="right")
    table.add_column("arXiv id", no_wrap=True)
    table.add_column("Title")
    table.add_column("Why")
    first = (results.page - 1) * results.per_page + 1
    for n, hit in enumerate(results.hits, start=first):
        table.add_row(str(n), hit.paper.id, Text(hit.paper.title), Text(hit.why.summary()))
    return table


INDEX = Group(
    "index",
    "Inspect and rebuild the search indexes.",
    [("sync", index_sync), ("rebuild", index_rebuild)],
)
