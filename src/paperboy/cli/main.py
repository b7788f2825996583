"""The ``paperboy`` application: the Typer app, built in one place from every command module.

Every command and group is registered here, in the order ``paperboy --help`` lists them; no
command module registers itself when imported.
"""

from __future__ import annotations

import inspect
from typing import Annotated

import typer

from paperboy import __version__
from paperboy.cli.digest import DIGEST
from paperboy.cli.ingest import announcements, fetch, harvest, import_command
from paperboy.cli.jobs import JOBS, daemon, worker
from paperboy.cli.options import Command, Group, out
from paperboy.cli.recommend_cmd import recommend_command
from paperboy.cli.search import INDEX, embed, search
from paperboy.cli.serve import serve
from paperboy.cli.store import DB, migrate_store, stats, status
from paperboy.cli.users import USER

HELP = (
    "Paperboy: a self-hostable research-paper radar.\n\n"
    "Settings come from flags, then PAPERBOY_* environment variables, then a .env file."
)

COMMANDS: list[tuple[str, Command]] = [
    ("import", import_command),
    ("fetch", fetch),
    ("serve", serve),
    ("stats", stats),
    ("status", status),
    ("harvest", harvest),
    ("daemon", daemon),
    ("announcements", announcements),
    ("worker", worker),
    ("embed", embed),
    ("search", search),
    ("migrate-store", migrate_store),
    ("recommend", recommend_command),
]
"""The top-level commands, in the order of ``paperboy --help``."""

GROUPS: list[Group] = [DB, DIGEST, JOBS, INDEX, USER]
"""The command groups (``paperboy NAME COMMAND``), listed after the commands."""


def _version(value: bool) -> None:
    if value:
        out.print(f"paperboy {__version__}")
        raise typer.Exit()


def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Paperboy: a self-hostable research-paper radar."""


def reflow(doc: str | None) -> str | None:
    """A command's help text from its docstring, each paragraph's wrapped lines joined (Rich
    keeps single line breaks, which then break mid-sentence in the terminal); ``\\b`` blocks
    keep their lines."""
    if not doc:
        return doc
    paragraphs = inspect.cleandoc(doc).split("\n\n")
    return "\n\n".join(
        part if part.lstrip().startswith("\b") else " ".join(part.split("\n"))
        for part in paragraphs
    )


def _add_commands(parent: typer.Typer, commands: list[tuple[str, Command]]) -> None:
    for name, command in commands:
        parent.command(name, help=reflow(command.__doc__))(command)


def build_app() -> typer.Typer:
    """The ``paperboy`` command line with every command and group registered."""
    app = typer.Typer(
        help=HELP, no_args_is_help=True, rich_markup_mode="rich", add_completion=False
    )
    app.callback()(main)
    _add_commands(app, COMMANDS)
    for group in GROUPS:
        sub = typer.Typer(help=group.help, no_args_is_help=True)
        _add_commands(sub, group.commands)
        app.add_typer(sub, name=group.name)
    return app


app = build_app()
