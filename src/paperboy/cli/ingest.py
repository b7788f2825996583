"""The ingest side of the command line: ``import``, ``fetch``, ``harvest`` and
``announcements``. Each one stores what it read, then runs the catch-up step (embeddings,
search indexes)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from paperboy.cli.catchup import after_ingest
from paperboy.cli.options import (
    DatabaseOpt,
    argument,
    arxiv_errors,
    err,
    opened_store,
    option,
    out,
    problem,
    progress_bar,
    settings_for,
)

if TYPE_CHECKING:
    from paperboy.ingest.announce import AnnounceReport
    from paperboy.ingest.arxiv_api import FetchReport
    from paperboy.ingest.harvest import HarvestReport
    from paperboy.models import ImportReport
    from paperboy.store import SQLStore

SHOWN_PROBLEMS = 20
"""How many skipped records an ingest command lists; `paperboy status` has the rest."""


def import_command(
    files: Annotated[
        list[Path] | None,
        argument(
            help="JSON, JSON Lines or .gz files: Daily Papers API responses or records, "
            "arXiv bulk metadata snapshot lines, or arXiv daily listings.",
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
        option(help="Records per transaction (default 5000).", min=1),
    ] = None,
    embed: Annotated[
        bool | None,
        option(
            "--embed/--no-embed",
            help="Embed new papers for search by meaning afterwards "
            "(default: $PAPERBOY_EMBED_AFTER_INGEST, on). Slow on a CPU for large files; "
            "`paperboy embed` can do it later.",
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
    settings = settings_for(database_url, import_batch_size=batch_size)
    with opened_store(settings) as store:
        if if_empty and store.count_papers() > 0:
            err.print(f"The store already holds {store.count_papers():,} papers; nothing imported.")
            return
        progress, on_progress = _file_progress()
        with progress:
            report = import_files(
                store, paths, batch_size=settings.import_batch_size, progress=on_progress
            )
        if demo and demo_embeddings_path().exists():
            from paperboy.embed.jobs import load_embeddings

            loaded, _skipped = load_embeddings(store, demo_embeddings_path())
            err.print(f"Loaded {loaded:,} precomputed demo embeddings.")
        _print_import(report)
        after_ingest(settings, store, embed=embed)
    if report.problems:
        raise typer.Exit(1)


def _file_progress() -> tuple[Progress, Callable[[str, int, int], None]]:
    """A progress bar per file read (bytes done of total), and the callback that moves it."""
    progress = progress_bar(
        (BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
    )
    tasks: dict[str, int] = {}

    def on_progress(path: str, done: int, total: int) -> None:
        if path not in tasks:
            tasks[path] = progress.add_task(Path(path).name, total=total)
        progress.update(tasks[path], completed=done)

    return progress, on_progress


def _print_summary(title: str, rows: list[tuple[str, str]]) -> None:
    """A two-column table of (what, how many) on stderr."""
    table = Table(title=title, show_header=False)
    for row in rows:
        table.add_row(*row)
    err.print(table)


def _print_import(report: ImportReport) -> None:
    c = report.counts
    _print_summary(
        "Import summary",
        [
            ("records read", f"{report.records:,}"),
            ("papers inserted", f"{c.inserted:,}"),
            ("papers updated", f"{c.updated:,}"),
            ("skipped (unchanged)", f"{c.unchanged:,}"),
            ("skipped (older version)", f"{c.older:,}"),
            ("skipped (malformed)", f"{report.malformed:,}"),
            ("feed entries added / updated", f"{c.feed_added:,} / {c.feed_updated:,}"),
        ],
    )
    for line in report.problems[:SHOWN_PROBLEMS]:
        label = ("skipped ", "yellow") if line.line is not None else ("failed ", "bold red")
        problem(*label, line)
    if len(report.problems) > SHOWN_PROBLEMS:
        more = len(report.problems) - SHOWN_PROBLEMS
        err.print(f"... and {more} more problems (see `paperboy status`).")


def fetch(
    ids: Annotated[
        list[str] | None,
        argument(
            help="arXiv ids (2104.12255, 2104.12255v1, astro-ph/0601001), arXiv: references "
            "or arxiv.org abs/pdf URLs.",
        ),
    ] = None,
    file: Annotated[
        Path | None,
        option(
            "--file",
            "-f",
            help="A text file with one id per line (blank lines and # comments are ignored).",
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
    from paperboy.ingest.arxiv_api import fetch_papers
    from paperboy.ingest.http import ArxivHttp

    wanted = list(ids or []) + (_ids_in(file) if file is not None else [])
    if not wanted:
        err.print("[red]Nothing to fetch:[/] give arXiv ids or --file FILE.")
        raise typer.Exit(2)
    settings = settings_for(database_url)
    with opened_store(settings) as store:
        with arxiv_errors("fetch failed: "), ArxivHttp(settings, store) as http:
            report = fetch_papers(store, http, wanted)
        _print_fetch(store, report)
        after_ingest(settings, store)
    if report.missing or report.invalid:
        raise typer.Exit(1)


def _ids_in(file: Path) -> list[str]:
    """The ids listed in a file, one a line (blank lines and # comments left out)."""
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        err.print(f"[red]Cannot read {file}:[/] {exc}", highlight=False)
        raise typer.Exit(2) from exc
    return [s for s in (line.split("#", 1)[0].strip() for line in lines) if s]


def _print_fetch(store: SQLStore, report: FetchReport) -> None:
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
        problem("missing ", "yellow", f"{raw}: arXiv has no such paper")
    for raw, why in report.invalid:
        problem("invalid ", "bold red", f"{raw}: {why}")
    for line in report.problems:
        problem("skipped ", "yellow", line)


def harvest(
    set_spec: Annotated[
        str, typer.Option("--set", help="OAI-PMH set to harvest (cs, math, stat, ...).")
    ] = "cs",
    from_date: Annotated[
        str | None,
        option(
            "--from",
            help="First datestamp, YYYY-MM-DD (default: where the last harvest ended).",
        ),
    ] = None,
    until: Annotated[
        str | None,
        option("--until", help="Last datestamp, YYYY-MM-DD."),
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
    from paperboy.ingest.harvest import harvest as run_harvest
    from paperboy.ingest.http import ArxivHttp

    _check_dates(("--from", from_date), ("--until", until))
    settings = settings_for(database_url)
    with opened_store(settings) as store:
        progress = progress_bar(())
        task = progress.add_task(f"harvesting {set_spec}")

        def on_progress(pages: int, records: int, total: int | None) -> None:
            of = f" of {total:,}" if total else ""
            progress.update(task, description=f"{set_spec}: {pages} pages, {records:,}{of} records")

        failed = arxiv_errors(
            "harvest failed: ",
            unavailable="harvest failed: ",
            note="Pages stored so far are kept; run it again to resume.",
        )
        with failed, progress, ArxivHttp(settings, store) as http:
            report = run_harvest(
                store, http, set_spec=set_spec, from_date=from_date, until=until,
                progress=on_progress,
            )  # fmt: skip
        _print_harvest(set_spec, report)
        after_ingest(settings, store)
    if report.problems:
        raise typer.Exit(1)


def _check_dates(*options: tuple[str, str | None]) -> None:
    """Exit with status 2 unless every given option's value is a YYYY-MM-DD date."""
    from datetime import date

    for name, value in options:
        if value is not None:
            try:
                date.fromisoformat(value)
            except ValueError:
                err.print(f"[red]{name} must be a date as YYYY-MM-DD, got {value!r}[/]")
                raise typer.Exit(2) from None


def _print_harvest(set_spec: str, report: HarvestReport) -> None:
    resumed = [("resumed", "yes, from the last stored page")] if report.resumed else []
    _print_summary(
        f"Harvest summary (set {set_spec})",
        [
            ("from", report.from_date or "the beginning"),
            *resumed,
            ("pages / records", f"{report.pages:,} / {report.records:,}"),
            ("papers inserted", f"{report.inserted:,}"),
            ("papers updated", f"{report.updated:,}"),
            ("skipped (unchanged)", f"{report.unchanged:,}"),
            ("deleted (marked withdrawn)", f"{report.deleted:,}"),
            ("skipped (malformed)", f"{len(report.problems):,}"),
            ("datestamp for next run", report.last_datestamp or "-"),
        ],
    )
    err.print(report.message, highlight=False)
    for what, why in report.problems[:SHOWN_PROBLEMS]:
        problem("skipped ", "yellow", f"{what}: {why}")


def announcements(
    categories: Annotated[
        list[str],
        argument(
            help="arXiv categories or archives whose daily RSS listing to read (cs.CL, cs).",
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
    from paperboy.ingest.http import ArxivHttp

    wanted = [c.strip() for c in categories if c.strip()]
    if not wanted:
        err.print("[red]Nothing to fetch:[/] give arXiv categories such as cs.CL.")
        raise typer.Exit(2)
    settings = settings_for(database_url)
    with opened_store(settings) as store:
        with arxiv_errors(), ArxivHttp(settings, store) as http:
            report = fetch_announcements(store, http, wanted)
        _print_announcements(report)
        after_ingest(settings, store)
    if report.failed or report.problems:
        raise typer.Exit(1)


def _print_announcements(report: AnnounceReport) -> None:
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
        problem("failed ", "bold red", f"{cat.category}: {cat.error}")
    for line in report.problems:
        problem("skipped ", "yellow", line)
