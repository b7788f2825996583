"""The store side of the command line: ``stats``, ``status``, ``db upgrade`` and
``migrate-store`` (moving a store between databases)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer
from alembic.util import CommandError
from rich.progress import TaskID
from rich.table import Table
from rich.text import Text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

from paperboy.cli.options import (
    DatabaseOpt,
    Group,
    err,
    human,
    opened_store,
    option,
    out,
    progress_bar,
    settings_for,
)
from paperboy.store import SQLStore
from paperboy.store.transfer import (
    DEFAULT_BATCH,
    TableCheck,
    TransferRefused,
    check_schemas,
    copy_store,
    missing_sqlite_file,
    same_database,
    verify,
)

if TYPE_CHECKING:
    from paperboy.ingest.runs import SourceHealth
    from paperboy.models import IngestRun
    from paperboy.settings import Settings


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
    settings = settings_for(database_url)
    with opened_store(settings) as store:
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
        out.print(f"Size on disk: {human(store.size_bytes())}")
        _print_search_state(settings, store)


def _print_search_state(settings: Settings, store: SQLStore) -> None:
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

    settings = settings_for(database_url)
    with opened_store(settings) as store:
        reap_interrupted(store)
        health = source_health(store)
        if health:
            out.print(_sources_table(health))
        for set_spec in harvest_sets(settings):
            state = store.harvest_state(set_spec)
            if state is not None and state.resumption_token:
                out.print(
                    f"Harvest of set {set_spec!r} stopped after {state.pages_done} pages "
                    f"({state.records_done:,} records); "
                    f"`paperboy harvest --set {set_spec}` resumes it."
                )
        runs = store.ingest_runs(limit)
        if runs:
            out.print(_runs_table(runs))
        else:
            out.print("No ingest runs yet: `paperboy import --demo` loads the demo data.")
        for section in outbox_tables(store):
            out.print(section)


def _sources_table(health: list[SourceHealth]) -> Table:
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
    return sources


RUN_COLUMNS = (
    "Run",
    "Source",
    "Started (UTC)",
    "Status",
    "Inserted",
    "Updated",
    "Skipped",
    "Errors",
    "Detail",
)


def _runs_table(runs: list[IngestRun]) -> Table:
    table = Table(title="Ingest log")
    for name in RUN_COLUMNS:
        table.add_column(name)
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
    return table


def outbox_tables(store: SQLStore) -> list[Table]:
    """The "Outbox" section of ``paperboy status``: digests by status, subscriptions by
    status."""
    subs = store.subscriptions.counts()
    box = store.subscriptions.outbox_counts()
    outbox = Table(title="Outbox")
    statuses = ("pending", "sending", "sent", "failed", "skipped")
    for name in statuses:
        outbox.add_column(name.capitalize(), justify="right")
    outbox.add_row(*(f"{box.get(name, 0):,}" for name in statuses))
    people = Table(title="Subscriptions")
    kinds = ("active", "pending", "paused", "unsubscribed")
    for name in kinds:
        people.add_column(name.capitalize(), justify="right")
    people.add_row(*(f"{subs.get(name, 0):,}" for name in kinds))
    return [outbox, people]


def db_upgrade(database_url: DatabaseOpt = None) -> None:
    """Apply pending schema migrations (every command also does this on start).

    \b
    Examples:
      paperboy db upgrade
      paperboy db upgrade --database-url sqlite:////srv/paperboy/paperboy.db
    """
    settings = settings_for(database_url)
    with opened_store(settings):
        out.print(f"Schema is up to date in {settings.database_url}")


DB = Group("db", "Inspect and upgrade the store's schema.", [("upgrade", db_upgrade)])


def _shown(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def _fail(message: str, cause: BaseException | None = None) -> typer.Exit:
    err.print(Text.assemble(("migrate-store: ", "bold red"), message), highlight=False)
    if cause is not None:
        first = str(getattr(cause, "orig", None) or cause).strip().splitlines()
        if first:
            err.print(Text(f"  {first[0]}"), highlight=False)
    return typer.Exit(1)


def _open_side(url: str, side: str) -> SQLStore:
    from paperboy.store import open_store as open_url

    try:
        return open_url(url)
    except OperationalError as exc:
        raise _fail(f"cannot reach the {side} database {_shown(url)}", exc) from exc
    except (ArgumentError, NoSuchModuleError) as exc:
        raise _fail(f"the {side} URL {_shown(url)} is not a database URL", exc) from exc
    except CommandError as exc:
        raise _fail(
            f"the {side} database {_shown(url)} has a schema this Paperboy does not know", exc
        ) from exc


@contextmanager
def _stores(source_url: str, target_url: str) -> Iterator[tuple[SQLStore, SQLStore]]:
    try:
        same = same_database(source_url, target_url)
    except ArgumentError as exc:
        raise _fail("--from and --to must be SQLAlchemy database URLs", exc) from exc
    if same:
        raise _fail(f"--from and --to name the same database ({_shown(source_url)}).")
    missing = missing_sqlite_file(source_url)
    if missing is not None:
        raise _fail(f"the source database {missing} does not exist.")
    source = _open_side(source_url, "source")
    try:
        target = _open_side(target_url, "target")
    except typer.Exit:
        source.close()
        raise
    try:
        yield source, target
    finally:
        target.close()
        source.close()


def _copy(source: SQLStore, target: SQLStore, batch_size: int) -> None:
    tasks: dict[str, TaskID] = {}
    with progress_bar(label_width=14) as progress:

        def on_table(name: str, done: int, total: int) -> None:
            tasks[name] = progress.add_task(name, total=total, completed=done)

        def on_batch(name: str, done: int, total: int) -> None:
            progress.update(tasks[name], completed=done, total=total)

        report = copy_store(
            source, target, batch_size=batch_size, progress=on_batch, on_table=on_table
        )
    copied = sum(t.copied for t in report if t.name != "store_state")
    resumed = sum(t.already for t in report)
    err.print(
        f"Copied {copied:,} rows"
        + (f" ({resumed:,} were already there from an earlier run)" if resumed else "")
        + "."
    )


def _verify(source: SQLStore, target: SQLStore, batch_size: int) -> bool:
    with progress_bar(label_width=14) as progress:
        task = progress.add_task("verifying", total=None)
        checks = verify(
            source,
            target,
            batch=batch_size,
            on_table=lambda n: progress.update(task, description=n),
        )
    out.print(_checks_table(checks))
    return all(check.ok for check in checks)


def _checks_table(checks: list[TableCheck]) -> Table:
    table = Table(title="Verification")
    for name, justify in (("table", "left"), ("rows", "right"), ("checksum", "left")):
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    table.add_column("ok")
    for check in checks:
        rows = f"{check.source_rows:,}"
        digest = check.source_checksum[:16]
        if not check.ok:
            rows = f"{check.source_rows:,} / {check.target_rows:,}"
            digest = f"{check.source_checksum[:16]} / {check.target_checksum[:16]}"
        mark = Text("yes", style="green") if check.ok else Text("NO", style="bold red")
        table.add_row(check.name, rows, digest, mark)
    return table


def migrate_store(
    source_url: Annotated[
        str,
        option("--from", help="SQLAlchemy URL of the store to copy."),
    ],
    target_url: Annotated[
        str,
        option(
            "--to",
            help="SQLAlchemy URL of the database to copy it into (created schema and all; "
            "it must be empty or hold an interrupted copy of the same source).",
        ),
    ],
    batch_size: Annotated[
        int, typer.Option(help="Rows per read and per committed insert.", min=1)
    ] = DEFAULT_BATCH,
    verify_only: Annotated[
        bool,
        typer.Option("--verify-only", help="Only compare the two stores; copy nothing."),
    ] = False,
) -> None:
    """Copy a whole store into another database, e.g. from SQLite to PostgreSQL.

    Every table is copied in key order, in batches that are committed one by one: stop it at
    any time and run the same command again to go on where it stopped. The target gets the
    schema on its own; it must be empty or hold an interrupted copy of the same source
    (anything else is refused before a single write). Then every table's row count and
    checksum are compared on both sides. The source is only read (its schema is upgraded
    first, as every command does). Point PAPERBOY_DATABASE_URL at the target afterwards.

    \b
    Examples:
      paperboy migrate-store --from sqlite:///paperboy.db \\
          --to postgresql+psycopg://paperboy:secret@localhost/paperboy
      paperboy migrate-store --from sqlite:///paperboy.db --to sqlite:///copy.db --verify-only
    Exit codes: 0 copied and verified, 1 refused, unreachable or a table differs.
    """
    with _stores(source_url, target_url) as (source, target):
        try:
            check_schemas(source, target)
            if not verify_only:
                _copy(source, target, batch_size)
            ok = _verify(source, target, batch_size)
        except TransferRefused as exc:
            raise _fail(f"refused: {exc}") from exc
        except OperationalError as exc:
            raise _fail(
                "lost the connection to a database; run the same command again to go on", exc
            ) from exc
        except KeyboardInterrupt:
            err.print("[yellow]Interrupted.[/] Run the same command again to go on.")
            raise typer.Exit(130) from None
    if not ok:
        raise _fail("the stores differ (see the table above).")
    err.print(f"{_shown(target_url)} holds the same store as {_shown(source_url)}.")
