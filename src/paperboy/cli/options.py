"""What every command module of the CLI shares: the consoles, the ``--database-url`` option,
settings and store opening, failing with a message, the arXiv error handler, progress bars.

Command modules import this module; nothing here imports a command module or the app.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from paperboy.settings import Settings, load_settings

if TYPE_CHECKING:
    from paperboy.store import SQLStore

err = Console(stderr=True)
out = Console()


def option(*names: str, help: str, **more: Any) -> Any:
    """A ``typer.Option`` whose default ``--help`` leaves out (the help text says it)."""
    return typer.Option(*names, help=help, show_default=False, **more)


def argument(*, help: str, **more: Any) -> Any:
    """A ``typer.Argument`` whose default ``--help`` leaves out."""
    return typer.Argument(help=help, show_default=False, **more)


DatabaseOpt = Annotated[
    str | None,
    option(
        "--database-url",
        "-d",
        help="SQLAlchemy URL of the store (default: $PAPERBOY_DATABASE_URL or ./paperboy.db).",
    ),
]

Command = Callable[..., Any]


@dataclass(frozen=True)
class Group:
    """A command group (``paperboy NAME ...``): its help line and its commands, in order."""

    name: str
    help: str
    commands: list[tuple[str, Command]] = field(default_factory=list)


def settings_for(database_url: str | None, **more: object) -> Settings:
    """The settings, with the command line's choices over the environment's."""
    return load_settings(database_url=database_url, **more)


def open_store(settings: Settings) -> SQLStore:
    """The store named by the settings, schema upgraded."""
    from paperboy.store import open_store as open_sql_store

    return open_sql_store(settings.database_url)


@contextmanager
def opened_store(settings: Settings) -> Iterator[SQLStore]:
    """The store for the length of a ``with`` block, closed however the block ends."""
    store = open_store(settings)
    try:
        yield store
    finally:
        store.close()


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``message`` in red on stderr; the exit to raise (status ``code``)."""
    err.print(f"[red]{message}[/]", highlight=False)
    return typer.Exit(code)


def problem(label: str, style: str, detail: object) -> None:
    """One ``label detail`` line on stderr, the label styled (``skipped ``, ``failed ``...)."""
    err.print(Text.assemble((label, style), str(detail)), highlight=False)


@contextmanager
def arxiv_errors(
    failed: str | None = None,
    *,
    unavailable: str = "arXiv unavailable: ",
    note: str | None = None,
) -> Iterator[None]:
    """Exit with status 2 and a one-line reason when talking to arXiv fails.

    arXiv being unavailable (after every retry) is reported with the ``unavailable`` label;
    any other :class:`~paperboy.errors.PaperboyError` with the ``failed`` label, or is left to
    propagate when ``failed`` is None. ``note`` is printed after the reason.
    """
    from paperboy.errors import PaperboyError
    from paperboy.ingest.http import ArxivUnavailable

    caught: tuple[type[Exception], ...] = (
        (ArxivUnavailable,) if failed is None else (PaperboyError,)
    )
    try:
        yield
    except caught as exc:
        label = unavailable if isinstance(exc, ArxivUnavailable) else failed
        problem(label or "", "bold red", exc)
        if note is not None:
            err.print(note)
        raise typer.Exit(2) from exc


def progress_bar(
    columns: Sequence[ProgressColumn] | None = None, *, label_width: int = 0
) -> Progress:
    """A progress display on stderr, off when stderr is not a terminal: the task's label, then
    ``columns`` (default: a bar, done of total, time elapsed and time left)."""
    label = (
        f"[bold]{{task.description:<{label_width}}}" if label_width else "[bold]{task.description}"
    )
    if columns is None:
        columns = (BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn())
    return Progress(TextColumn(label), *columns, console=err, disable=not err.is_terminal)


def human(size: int) -> str:
    """A byte count the way people read it (``1.5 MiB``)."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:,.1f} {unit}"
        value /= 1024
    return f"{value:,.1f} GiB"
