"""Moving a store between databases: ``paperboy migrate-store``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from alembic.util import CommandError
from rich.progress import (
    TaskID,
)
from rich.table import Table
from rich.text import Text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

from paperboy.cli import app, err, out
from paperboy.cli_search import progress_bar
from paperboy.store.sql import SQLStore
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


def _open(url: str, side: str) -> SQLStore:
    from paperboy.store import open_store

    try:
        return open_store(url)
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
    source = _open(source_url, "source")
    try:
        target = _open(target_url, "target")
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
    with progress_bar(14) as progress:

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
    with progress_bar(14) as progress:
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


@app.command("migrate-store")
def migrate_store(
    source_url: Annotated[
        str,
        typer.Option("--from", help="SQLAlchemy URL of the store to copy.", show_default=False),
    ],
    target_url: Annotated[
        str,
        typer.Option(
            "--to",
            help="SQLAlchemy URL of the database to copy it into (created schema and all; "
            "it must be empty or hold an interrupted copy of the same source).",
            show_default=False,
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
