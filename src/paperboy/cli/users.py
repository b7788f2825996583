"""The accounts side of the command line: ``paperboy user create|list|set-admin``.

For the site's operator: make the first admin, create accounts when sign-ups are closed, see
who has an account. Accounts made here are confirmed (no mail is sent).
"""

from __future__ import annotations

import sys
import unicodedata
from typing import Annotated

import typer
from rich.table import Table

from paperboy.cli.options import DatabaseOpt, Group, fail, opened_store, option, out, settings_for
from paperboy.clock import utc_now
from paperboy.community.accounts import AccountError, Accounts
from paperboy.models import User
from paperboy.services import build
from paperboy.settings import Settings
from paperboy.store import SQLStore


def _accounts(settings: Settings, store: SQLStore) -> Accounts:
    """The accounts service as the web app has it (same signing key, same login limits)."""
    return build(settings, store).accounts


def _name(username: str) -> str:
    """A user name as typed on the command line, in the form names are stored (NFKC)."""
    return unicodedata.normalize("NFKC", username).strip()


def _user_named(store: SQLStore, username: str) -> User:
    """The account called ``username`` (any letter case); exits with status 1 when none is."""
    user = store.accounts.user_by_name(_name(username))
    if user is None:
        raise fail(f"No user named {username!r}: `paperboy user list` shows them.")
    return user


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        text = sys.stdin.readline()
        return text.removesuffix("\n").removesuffix("\r")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    return password


def create_command(
    email: Annotated[str, option("--email", "-e", help="The account's email address.")],
    username: Annotated[
        str,
        option(
            "--username",
            "-u",
            help="The user name: 2 to 32 letters, digits, '-' or '_'.",
        ),
    ],
    admin: Annotated[
        bool, typer.Option("--admin", help="Make the user an administrator (moderation).")
    ] = False,
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin",
            help="Read the password from the first line of standard input instead of "
            "asking for it (for scripts).",
        ),
    ] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """Create an account, with its address already confirmed.

    Asks for the password twice (hidden) unless --password-stdin is given. Works whether or not
    sign-ups are open (PAPERBOY_SIGNUP_OPEN).

    \b
    Examples:
      paperboy user create --email ada@example.org --username ada --admin
      echo "$PASSWORD" | paperboy user create -e bob@example.org -u bob --password-stdin
    Exit codes: 0 created, 1 refused (address or name taken, weak password), 2 bad usage.
    """
    password = _read_password(password_stdin)
    settings = settings_for(database_url)
    with opened_store(settings) as store:
        try:
            user = _accounts(settings, store).sign_up(
                email, username, password, is_admin=admin, verified=True
            )
        except AccountError as exc:
            raise fail(str(exc)) from exc
        store.activity.record(
            None, "user-create", "user", str(user.id), {"via": "cli", "admin": admin}
        )
    role = "administrator" if user.is_admin else "user"
    out.print(f"Created {role} {user.username} <{user.email}> (id {user.id}).", highlight=False)


def _yes(flag: bool) -> str:
    return "yes" if flag else "-"


def list_command(
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Users per page.")] = 50,
    page: Annotated[int, typer.Option(min=1, help="Which page, from 1 (oldest users first).")] = 1,
    database_url: DatabaseOpt = None,
) -> None:
    """List accounts, oldest first: id, user name, email, admin, confirmed, hidden, created.

    \b
    Examples:
      paperboy user list
      paperboy user list --limit 100 --page 2
    """
    with opened_store(settings_for(database_url)) as store:
        total = store.accounts.count_users()
        users = store.accounts.list_users(offset=(page - 1) * limit, limit=limit)
    if total == 0:
        out.print("No accounts yet: `paperboy user create` makes the first one.")
        return
    if not users:
        raise fail(f"Page {page} is empty: there are {total:,} accounts, {limit} per page.")
    first = (page - 1) * limit + 1
    table = Table(title=f"Accounts {first:,}-{first + len(users) - 1:,} of {total:,}")
    for column in ("id", "user name", "email", "admin", "verified", "hidden", "created (UTC)"):
        table.add_column(column, no_wrap=True, justify="right" if column == "id" else "left")
    for user in users:
        table.add_row(
            str(user.id),
            user.username,
            user.email,
            _yes(user.is_admin),
            _yes(user.email_verified),
            _yes(user.hidden),
            f"{user.created_at:%Y-%m-%d %H:%M}",
        )
    out.print(table)
    if first + len(users) - 1 < total:
        out.print(f"More: paperboy user list --page {page + 1} --limit {limit}", highlight=False)


def set_admin_command(
    username: Annotated[str, typer.Argument(help="The user name (any letter case).")],
    on: Annotated[
        bool | None,
        option(
            "--on/--off",
            help="--on makes the user an administrator, --off takes it back.",
        ),
    ] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Grant (--on) or take back (--off) administrator rights.

    \b
    Examples:
      paperboy user set-admin ada --on
      paperboy user set-admin bob --off
    Exit codes: 0 done, 1 no such user, 2 bad usage (neither --on nor --off).
    """
    if on is None:
        raise fail("Say --on (make an administrator) or --off (take it back).", 2)
    with opened_store(settings_for(database_url)) as store:
        user = _user_named(store, username)
        if user.is_admin != on:
            store.accounts.update_user(user.id, is_admin=on)
            store.activity.record(
                None, "set-admin", "user", str(user.id), {"via": "cli", "admin": on}
            )
    state = "is now an administrator" if on else "is no longer an administrator"
    if user.is_admin == on:
        state = "already was an administrator" if on else "already was not an administrator"
    out.print(f"{user.username} {state}.", highlight=False)


def verify_command(
    username: Annotated[str, typer.Argument(help="The user name (any letter case).")],
    database_url: DatabaseOpt = None,
) -> None:
    """Confirm a user's email address by hand (for sites without a working mail server).

    \b
    Examples:
      paperboy user verify ada
    Exit codes: 0 done, 1 no such user.
    """
    with opened_store(settings_for(database_url)) as store:
        user = _user_named(store, username)
        if not user.email_verified:
            store.accounts.update_user(user.id, email_verified_at=utc_now())
            store.activity.record(None, "verify-email", "user", str(user.id), {"via": "cli"})
    state = "already had a confirmed address" if user.email_verified else "is now confirmed"
    out.print(f"{user.username} ({user.email}) {state}.", highlight=False)


USER = Group(
    "user",
    "Manage accounts: create users (the first admin), list them, grant or take admin rights.",
    [
        ("create", create_command),
        ("list", list_command),
        ("set-admin", set_admin_command),
        ("verify", verify_command),
    ],
)
