"""The ``paperboy`` command line: thin commands over the library."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from rich.text import Text

from paperboy import __version__
from paperboy.settings import Settings, load_settings

app = typer.Typer(
    help="Paperboy: a self-hostable research-paper radar.\n\n"
    "Settings come from flags, then PAPERBOY_* environment variables, then a .env file.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    add_completion=False,
)
db_app = typer.Typer(help="Inspect and upgrade the store's schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")

err = Console(stderr=True)
out = Console()

DatabaseOpt = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        "-d",
        help="SQLAlchemy URL of the store (default: $PAPERBOY_DATABASE_URL or ./paperboy.db).",
        show_default=False,
    ),
]


def _settings(database_url: str | None, **more: object) -> Settings:
    return load_settings(database_url=database_url, **more)


def _open(settings: Settings):  # noqa: ANN202 - returns the concrete store
    from paperboy.store import open_store

    return open_store(settings.database_url)


def _after_ingest(settings: Settings, store: object, *, embed: bool | None = None) -> None:
    from paperboy.cli_search import after_ingest

    after_ingest(settings, store, embed=embed)  # type: ignore[arg-type]


def _version(value: bool) -> None:
    if value:
        out.print(f"paperboy {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Paperboy: a self-hostable research-paper radar."""


@app.command("import")
def import_command(
    files: Annotated[
        list[Path] | None,
        typer.Argument(
            help="JSON, JSON Lines or .gz files: Daily Papers API responses or records, "
            "arXiv bulk metadata snapshot lines, or arXiv daily listings.",
            show_default=False,
        ),
    ] = None,
    demo: Annotated[
        bool, typer.Option("--demo", help="Import the demo data set shipped with Paperboy.")
    ] = False,
    if_empty: Annotated[
        bool,
        typer.Option("--if-empty", help="Do nothing when the store already holds papers."),
    ] = False,
    batch_size: Annotated[
        int | None,
        typer.Option(help="Records per transaction (default 5000).", min=1, show_default=False),
    ] = None,
    embed: Annotated[
        bool | None,
        typer.Option(
            "--embed/--no-embed",
            help="Embed new papers for search by meaning afterwards "
            "(default: $PAPERBOY_EMBED_AFTER_INGEST, on). Slow on a CPU for large files; "
            "`paperboy embed` can do it later.",
            show_default=False,
        ),
    ] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Import papers (and their daily-feed entries) from files. Safe to re-run: it upserts.

    \b
    Examples:
      paperboy import --demo
      paperboy import arxiv-metadata-oai-snapshot.json.gz
      paperboy import 2025-06-10.json daily.jsonl
    Exit codes: 0 all imported, 1 some records or files were skipped, 2 bad usage.
    """
    from paperboy.ingest import demo_data_path, demo_embeddings_path, import_files

    paths: list[str | Path] = list(files or [])
    if demo:
        paths.insert(0, demo_data_path())
    if not paths:
        err.print("[red]Nothing to import:[/] give FILE arguments or --demo.")
        raise typer.Exit(2)
    settings = _settings(database_url, import_batch_size=batch_size)
    store = _open(settings)
    if if_empty and store.count_papers() > 0:
        err.print(f"The store already holds {store.count_papers():,} papers; nothing imported.")
        return
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=not err.is_terminal,
    )
    tasks: dict[str, int] = {}

    def on_progress(path: str, done: int, total: int) -> None:
        if path not in tasks:
            tasks[path] = progress.add_task(Path(path).name, total=total)
        progress.update(tasks[path], completed=done)

    with progress:
        report = import_files(
            store, paths, batch_size=settings.import_batch_size, progress=on_progress
        )
    if demo and demo_embeddings_path().exists():
        from paperboy.embed.jobs import load_embeddings

        loaded, _skipped = load_embeddings(store, demo_embeddings_path())
        err.print(f"Loaded {loaded:,} precomputed demo embeddings.")
    c = report.counts
    table = Table(title="Import summary", show_header=False)
    table.add_row("records read", f"{report.records:,}")
    table.add_row("papers inserted", f"{c.inserted:,}")
    table.add_row("papers updated", f"{c.updated:,}")
    table.add_row("skipped (unchanged)", f"{c.unchanged:,}")
    table.add_row("skipped (older version)", f"{c.older:,}")
    table.add_row("skipped (malformed)", f"{report.malformed:,}")
    table.add_row("feed entries added / updated", f"{c.feed_added:,} / {c.feed_updated:,}")
    err.print(table)
    for problem in report.problems[:20]:
        label = ("skipped ", "yellow") if problem.line is not None else ("failed ", "bold red")
        err.print(Text.assemble(label, str(problem)), highlight=False)
    if len(report.problems) > 20:
        err.print(f"... and {len(report.problems) - 20} more problems (see `paperboy status`).")
    _after_ingest(settings, store, embed=embed)
    store.close()
    if report.problems:
        raise typer.Exit(1)


@app.command()
def fetch(
    ids: Annotated[
        list[str] | None,
        typer.Argument(
            help="arXiv ids (2104.12255, 2104.12255v1, astro-ph/0601001), arXiv: references "
            "or arxiv.org abs/pdf URLs.",
            show_default=False,
        ),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            "-f",
            help="A text file with one id per line (blank lines and # comments are ignored).",
            show_default=False,
        ),
    ] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Fetch papers by arXiv id from arXiv's API and store them. Safe to re-run: it upserts.

    \b
    Examples:
      paperboy fetch 1605.08386
      paperboy fetch 2104.12255v1 astro-ph/0601001
      paperboy fetch --file ids.txt
    Exit codes: 0 all found, 1 some ids missing or invalid, 2 arXiv unavailable or bad usage.
    """
    from paperboy.errors import PaperboyError
    from paperboy.ingest.arxiv_api import fetch_papers
    from paperboy.ingest.http import ArxivHttp, ArxivUnavailable

    wanted = list(ids or [])
    if file is not None:
        try:
            lines = file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            err.print(f"[red]Cannot read {file}:[/] {exc}", highlight=False)
            raise typer.Exit(2) from exc
        wanted += [s for s in (line.split("#", 1)[0].strip() for line in lines) if s]
    if not wanted:
        err.print("[red]Nothing to fetch:[/] give arXiv ids or --file FILE.")
        raise typer.Exit(2)
    settings = _settings(database_url)
    store = _open(settings)
    try:
        with ArxivHttp(settings, store) as http:
            report = fetch_papers(store, http, wanted)
    except ArxivUnavailable as exc:
        err.print(Text.assemble(("arXiv unavailable: ", "bold red"), str(exc)), highlight=False)
        store.close()
        raise typer.Exit(2) from exc
    except PaperboyError as exc:
        err.print(Text.assemble(("fetch failed: ", "bold red"), str(exc)), highlight=False)
        store.close()
        raise typer.Exit(2) from exc
    if report.found:
        table = Table(title="Fetched from arXiv")
        for name in ("Id", "Version", "Title", "Category"):
            table.add_column(name)
        for paper_id in report.found:
            paper = store.get_paper(paper_id)
            if paper is None:  # pragma: no cover - just upserted
                continue
            version = f"v{paper.version}" if paper.version else ""
            table.add_row(paper.id, version, paper.title, paper.primary_category or "")
        err.print(table)
    c = report.counts
    err.print(
        f"{len(report.found)} found: {c.inserted} inserted, {c.updated} updated, "
        f"{c.unchanged + c.older} unchanged."
    )
    for raw in report.missing:
        err.print(
            Text.assemble(("missing ", "yellow"), f"{raw}: arXiv has no such paper"),
            highlight=False,
        )
    for raw, why in report.invalid:
        err.print(Text.assemble(("invalid ", "bold red"), f"{raw}: {why}"), highlight=False)
    for problem in report.problems:
        err.print(Text.assemble(("skipped ", "yellow"), problem), highlight=False)
    _after_ingest(settings, store)
    store.close()
    if report.missing or report.invalid:
        raise typer.Exit(1)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (default 8000).")] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=64,
            help="Web processes sharing the port and the database (default 1; "
            "PAPERBOY_WORKERS). Use several on PostgreSQL.",
        ),
    ] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Serve the web pages and the JSON API, under a supervisor that restarts workers.

    Every worker runs under uvicorn's process supervisor, the default single one included: a
    worker that dies (a crash, an abort in native code, a kill) or stops answering is replaced
    at once, so one bad request cannot take the site down. If a worker fails before it starts
    serving (say, the database cannot be opened), the supervisor stops and the exit status is 3.

    With --workers N, N processes answer on the same port. They keep no state of their own
    that matters: the store (and on PostgreSQL the search indexes) live in the database, and
    each process's response cache is keyed on the store's revision, so a write made through one
    process is seen by all.

    \b
    Examples:
      paperboy serve
      paperboy serve --port 8001
      PAPERBOY_DATABASE_URL=postgresql+psycopg://paperboy@db/paperboy paperboy serve --workers 4
    """
    from paperboy.cli_serve import run_supervised, supervision

    settings = _settings(database_url, host=host, port=port)
    if workers is not None:
        settings = settings.model_copy(update={"workers": workers})
    store = _open(settings)
    count = store.count_papers()
    plural = f" with {settings.workers} workers" if settings.workers > 1 else ""
    err.print(
        f"Serving {count:,} papers from {settings.database_url} "
        f"on http://{settings.host}:{settings.port}{plural}"
    )
    err.print(supervision(settings.workers))
    if count == 0:
        err.print("The store is empty: run `paperboy import --demo` to load the demo data.")
    if settings.workers > 1 and store.backend == "sqlite":
        err.print(
            "Note: on SQLite every write waits for the one writer; several workers help "
            "reads only. PostgreSQL is the backend for many workers."
        )
    store.close()
    status = run_supervised(settings)
    if status:
        raise typer.Exit(status)


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:,.1f} {unit}"
        value /= 1024
    return f"{value:,.1f} GiB"


@app.command()
def stats(
    by: Annotated[str, typer.Option(help="Group feed counts by 'day' or 'month'.")] = "month",
    last: Annotated[int, typer.Option(help="Show only the last N periods (0: all).", min=0)] = 24,
    database_url: DatabaseOpt = None,
) -> None:
    """Show what the store holds: papers, feed entries per day or month, size on disk.

    \b
    Examples:
      paperboy stats
      paperboy stats --by day --last 14
    """
    if by not in ("day", "month"):
        err.print(f"[red]--by must be 'day' or 'month', got {by!r}[/]")
        raise typer.Exit(2)
    settings = _settings(database_url)
    store = _open(settings)
    counts = store.feed_counts(by)  # type: ignore[arg-type]
    shown = counts[-last:] if last else counts
    table = Table(title=f"Daily feed by {by}")
    table.add_column(by.capitalize())
    table.add_column("Papers", justify="right")
    table.add_column("Upvotes", justify="right")
    for row in shown:
        table.add_row(row.period, f"{row.entries:,}", f"{row.upvotes:,}")
    out.print(table)
    if len(shown) < len(counts):
        out.print(f"({len(counts) - len(shown)} earlier {by}s not shown; use --last 0)")
    out.print(f"Papers: {store.count_papers():,}")
    out.print(f"Feed entries: {store.count_feed_entries():,}")
    out.print(f"Store: {store.engine.url.render_as_string(hide_password=True)}")
    out.print(f"Size on disk: {_human(store.size_bytes())}")
    from paperboy.embed.model import MODEL_NAME
    from paperboy.search import index_dir

    embedded = store.count_embeddings(MODEL_NAME)
    out.print(f"Embedded for search by meaning: {embedded:,} of {store.count_papers():,}")
    if embedded < store.count_papers():
        out.print("  (run `paperboy embed` to embed the rest)")
    if store.backend == "postgresql":
        out.print("Search indexes: inside PostgreSQL (tsvector GIN, pgvector HNSW)")
    else:
        out.print(f"Search indexes: {index_dir(settings)}")
    store.close()


@app.command()
def status(
    limit: Annotated[int, typer.Option(help="How many recent runs to show.", min=1)] = 10,
    database_url: DatabaseOpt = None,
) -> None:
    """Show the latest ingest runs from the ingest log, with their counts and errors.

    \b
    Examples:
      paperboy status
      paperboy status --limit 50
    """
    from paperboy.ingest.runs import reap_interrupted, source_health
    from paperboy.ingest.schedule import harvest_sets

    settings = _settings(database_url)
    store = _open(settings)
    reap_interrupted(store)
    health = source_health(store)
    if health:
        sources = Table(title="Sources")
        for name in ("Source", "Last success (UTC)", "Last failure (UTC)", "Failure"):
            sources.add_column(name)
        for line in health:
            ok, bad = line.last_success, line.last_failure
            sources.add_row(
                Text(line.source, style="bold red" if line.failing else ""),
                f"{ok.finished_at or ok.started_at:%Y-%m-%d %H:%M}" if ok else "never",
                f"{bad.started_at:%Y-%m-%d %H:%M} ({bad.status})" if bad else "-",
                ((bad.message or "") if bad else "")[:70],
            )
        out.print(sources)
    for set_spec in harvest_sets(settings):
        state = store.harvest_state(set_spec)
        if state is not None and state.resumption_token:
            out.print(
                f"Harvest of set {set_spec!r} stopped after {state.pages_done} pages "
                f"({state.records_done:,} records); `paperboy harvest --set {set_spec}` resumes it."
            )
    table = Table(title="Ingest log")
    for name in (
        "Run",
        "Source",
        "Started (UTC)",
        "Status",
        "Inserted",
        "Updated",
        "Skipped",
        "Errors",
        "Detail",
    ):
        table.add_column(name)
    runs = store.ingest_runs(limit)
    for run in runs:
        table.add_row(
            str(run.id),
            run.source,
            f"{run.started_at:%Y-%m-%d %H:%M}",
            run.status,
            f"{run.inserted:,}",
            f"{run.updated:,}",
            f"{run.skipped:,}",
            str(run.errors),
            (run.message or run.detail)[:80],
        )
    if runs:
        out.print(table)
    else:
        out.print("No ingest runs yet: `paperboy import --demo` loads the demo data.")
    from paperboy.cli_digest import outbox_tables

    for section in outbox_tables(store):
        out.print(section)
    store.close()


@app.command()
def harvest(
    set_spec: Annotated[
        str, typer.Option("--set", help="OAI-PMH set to harvest (cs, math, stat, ...).")
    ] = "cs",
    from_date: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="First datestamp, YYYY-MM-DD (default: where the last harvest ended).",
            show_default=False,
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option("--until", help="Last datestamp, YYYY-MM-DD.", show_default=False),
    ] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Harvest new and changed papers from arXiv's OAI-PMH endpoint. Safe to interrupt.

    Incremental: starts from the last harvest's datestamp; resumes an interrupted harvest.

    \b
    Examples:
      paperboy harvest
      paperboy harvest --set math --from 2025-06-01
      paperboy harvest --from 2025-06-01 --until 2025-06-07
    Exit codes: 0 harvested, 1 some records were skipped,
      2 arXiv unavailable, an OAI-PMH error, or bad usage.
    """
    from datetime import date

    from paperboy.errors import PaperboyError
    from paperboy.ingest.harvest import harvest as run_harvest
    from paperboy.ingest.http import ArxivHttp

    for name, value in (("--from", from_date), ("--until", until)):
        if value is not None:
            try:
                date.fromisoformat(value)
            except ValueError:
                err.print(f"[red]{name} must be a date as YYYY-MM-DD, got {value!r}[/]")
                raise typer.Exit(2) from None
    settings = _settings(database_url)
    store = _open(settings)
    progress = Progress(
        TextColumn("[bold]{task.description}"), console=err, disable=not err.is_terminal
    )
    task = progress.add_task(f"harvesting {set_spec}")

    def on_progress(pages: int, records: int, total: int | None) -> None:
        of = f" of {total:,}" if total else ""
        progress.update(task, description=f"{set_spec}: {pages} pages, {records:,}{of} records")

    try:
        with progress, ArxivHttp(settings, store) as http:
            report = run_harvest(
                store, http, set_spec=set_spec, from_date=from_date, until=until,
                progress=on_progress,
            )  # fmt: skip
    except PaperboyError as exc:
        err.print(Text.assemble(("harvest failed: ", "bold red"), str(exc)), highlight=False)
        err.print("Pages stored so far are kept; run it again to resume.")
        store.close()
        raise typer.Exit(2) from None
    table = Table(title=f"Harvest summary (set {set_spec})", show_header=False)
    table.add_row("from", report.from_date or "the beginning")
    if report.resumed:
        table.add_row("resumed", "yes, from the last stored page")
    table.add_row("pages / records", f"{report.pages:,} / {report.records:,}")
    table.add_row("papers inserted", f"{report.inserted:,}")
    table.add_row("papers updated", f"{report.updated:,}")
    table.add_row("skipped (unchanged)", f"{report.unchanged:,}")
    table.add_row("deleted (marked withdrawn)", f"{report.deleted:,}")
    table.add_row("skipped (malformed)", f"{len(report.problems):,}")
    table.add_row("datestamp for next run", report.last_datestamp or "-")
    err.print(table)
    err.print(report.message, highlight=False)
    for what, why in report.problems[:20]:
        err.print(Text.assemble(("skipped ", "yellow"), f"{what}: {why}"), highlight=False)
    _after_ingest(settings, store)
    store.close()
    if report.problems:
        raise typer.Exit(1)


@app.command()
def daemon(
    now: Annotated[
        bool, typer.Option("--now", help="Also harvest once right away, then keep the schedule.")
    ] = False,
    show: Annotated[
        bool, typer.Option("--show", help="Print the next harvest times and exit.")
    ] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """Harvest arXiv on a schedule (default: 20:30 US Eastern, Sunday to Thursday).

    Sets, schedule and time zone come from PAPERBOY_HARVEST_SETS, PAPERBOY_HARVEST_SCHEDULE
    (a crontab line) and PAPERBOY_HARVEST_TIMEZONE. Run one daemon per store. Every run is in
    the ingest log; `paperboy status` shows what last succeeded and what failed.

    \b
    Examples:
      paperboy daemon --show
      paperboy daemon --now
      PAPERBOY_HARVEST_SETS=cs,stat paperboy daemon
    """
    import logging
    from datetime import UTC, datetime

    from paperboy.errors import PaperboyError
    from paperboy.ingest.schedule import harvest_sets, next_runs, run_daemon

    settings = _settings(database_url)
    try:
        upcoming = next_runs(settings, datetime.now(UTC), count=3)
    except PaperboyError as exc:
        err.print(f"[red]{exc}[/]", highlight=False)
        raise typer.Exit(2) from exc
    sets = ", ".join(harvest_sets(settings)) or "(none)"
    err.print(f"Harvesting set(s) {sets} into {settings.database_url}")
    for when in upcoming:
        err.print(f"  next: {when:%a %Y-%m-%d %H:%M %Z}")
    if show:
        return
    _open(settings).close()  # migrate once before the first run
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    _stop_on_signals()
    try:
        run_daemon(settings, run_now=now)
    except (KeyboardInterrupt, SystemExit):
        err.print("Daemon stopped.")


def _stop_on_signals() -> None:
    """Stop cleanly on SIGINT and SIGTERM (what systemd and `kill` send), even when started
    from a process that ignores SIGINT (a shell's background job inherits that): the job in
    hand finishes, then the daemon exits."""
    import signal

    def stop(_signum: int, _frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, stop)


@db_app.command("upgrade")
def db_upgrade(database_url: DatabaseOpt = None) -> None:
    """Apply pending schema migrations (every command also does this on start).

    \b
    Examples:
      paperboy db upgrade
      paperboy db upgrade --database-url sqlite:////srv/paperboy/paperboy.db
    """
    from paperboy.store import open_store

    settings = _settings(database_url)
    store = open_store(settings.database_url)
    out.print(f"Schema is up to date in {settings.database_url}")
    store.close()


@app.command()
def announcements(
    categories: Annotated[
        list[str],
        typer.Argument(
            help="arXiv categories or archives whose daily RSS listing to read (cs.CL, cs).",
            show_default=False,
        ),
    ],
    database_url: DatabaseOpt = None,
) -> None:
    """Store what arXiv newly announced today per category, from its RSS listing feeds.

    New papers and cross-lists get a feed entry on the announcement day; replacements only
    update the paper. Safe to re-run: it upserts.

    \b
    Examples:
      paperboy announcements cs.CL
      paperboy announcements cs.CL cs.LG stat.ML
    Exit codes: 0 all feeds read, 1 some feeds or items unusable, 2 arXiv unavailable or bad usage.
    """
    from paperboy.ingest.announce import fetch_announcements
    from paperboy.ingest.http import ArxivHttp, ArxivUnavailable

    wanted = [c.strip() for c in categories if c.strip()]
    if not wanted:
        err.print("[red]Nothing to fetch:[/] give arXiv categories such as cs.CL.")
        raise typer.Exit(2)
    settings = _settings(database_url)
    store = _open(settings)
    try:
        with ArxivHttp(settings, store) as http:
            report = fetch_announcements(store, http, wanted)
    except ArxivUnavailable as exc:
        err.print(Text.assemble(("arXiv unavailable: ", "bold red"), str(exc)), highlight=False)
        store.close()
        raise typer.Exit(2) from exc
    table = Table(title="Announced on arXiv")
    for name in ("Category", "Day", "New", "Cross-lists", "Replacements"):
        table.add_column(name)
    for cat in report.categories:
        replaced = cat.types.get("replace", 0) + cat.types.get("replace-cross", 0)
        table.add_row(
            cat.category,
            cat.day.isoformat() if cat.day else "",
            str(cat.types.get("new", 0)),
            str(cat.types.get("cross", 0)),
            str(replaced),
        )
    out.print(table)
    c = report.counts
    err.print(
        f"{c.inserted} papers inserted, {c.updated} updated; {c.feed_added} feed entries added."
    )
    for cat in report.failed:
        err.print(Text.assemble(("failed ", "bold red"), f"{cat.category}: {cat.error}"))
    for problem in report.problems:
        err.print(Text.assemble(("skipped ", "yellow"), problem), highlight=False)
    _after_ingest(settings, store)
    store.close()
    if report.failed or report.problems:
        raise typer.Exit(1)


import paperboy.cli_digest  # noqa: E402,F401  (registers digest preview|compose|send|list)
import paperboy.cli_jobs  # noqa: E402,F401  (registers worker, jobs)
import paperboy.cli_store  # noqa: E402,F401  (registers migrate-store)
import paperboy.cli_users  # noqa: E402,F401  (registers user create|list|set-admin)
from paperboy import cli_search  # noqa: E402,F401  (registers embed, index, search)


def _reflow(doc: str | None) -> str | None:
    """Join the wrapped lines of each help paragraph (Rich keeps single line breaks, which
    then break mid-sentence in the terminal); ``\\b`` blocks keep their lines."""
    if not doc:
        return doc
    import inspect

    paragraphs = inspect.cleandoc(doc).split("\n\n")
    return "\n\n".join(
        part if part.lstrip().startswith("\b") else " ".join(part.split("\n"))
        for part in paragraphs
    )


def _reflow_help(typer_app: typer.Typer) -> None:
    for command in typer_app.registered_commands:
        if command.callback is not None:
            command.callback.__doc__ = _reflow(command.callback.__doc__)
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            _reflow_help(group.typer_instance)


_reflow_help(app)
