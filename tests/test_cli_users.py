"""``paperboy user create|list|set-admin``, run in-process with Typer's CliRunner."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from community import PASSWORD, make_user
from paperboy import cli
from paperboy.cli import app
from paperboy.community.accounts import Accounts, LoginPolicy, Signer
from paperboy.store import SQLStore

runner = CliRunner(env={"COLUMNS": "240", "NO_COLOR": "1"})


@pytest.fixture(autouse=True)
def wide_consoles(monkeypatch: pytest.MonkeyPatch) -> None:
    """Wide output, so rich does not wrap or truncate table cells (see test_cli.py)."""
    for console in (cli.err, cli.out):
        monkeypatch.setattr(console, "_width", 240)


def invoke(*args: str | Path, stdin: str | None = None) -> Result:
    return runner.invoke(app, [str(a) for a in args], input=stdin)


def create(
    database_url: str, email: str, username: str, *more: str, password: str = PASSWORD
) -> Result:
    return invoke(
        "user",
        "create",
        "--email",
        email,
        "--username",
        username,
        "--password-stdin",
        *more,
        "--database-url",
        database_url,
        stdin=password + "\n",
    )


def test_create_with_password_on_stdin(database_url: str, store: SQLStore) -> None:
    result = create(database_url, "Ada@Example.org", "ada", "--admin")
    assert result.exit_code == 0, result.output
    assert "Created administrator ada <ada@example.org>" in result.output
    user = store.accounts.user_by_name("ada")
    assert user is not None and user.is_admin and user.email_verified and user.can_write
    accounts = Accounts(store.accounts, Signer("x"), LoginPolicy())
    assert accounts.authenticate("ada", PASSWORD).id == user.id  # the password from stdin works
    assert [e.action for e in store.activity.audit_entries(action="user-create")] == ["user-create"]


def test_create_prompts_for_the_password_twice(database_url: str, store: SQLStore) -> None:
    result = invoke(
        "user",
        "create",
        "-e",
        "bob@example.org",
        "-u",
        "bob",
        "--database-url",
        database_url,
        stdin=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output  # hidden input is not echoed
    user = store.accounts.user_by_name("bob")
    assert user is not None and not user.is_admin and user.email_verified


@pytest.mark.parametrize(
    ("email", "username", "password", "message"),
    [
        ("ada@example.org", "other", PASSWORD, "An account with that email address exists"),
        ("new@example.org", "ADA", PASSWORD, "That user name is taken"),
        ("new@example.org", "new", "short", "at least 10 characters"),
        ("not-an-address", "new", PASSWORD, "does not look right"),
        ("\u0430lice@example.org", "new", PASSWORD, "CYRILLIC SMALL LETTER A"),
        ("new@example.org", "ev\u202eil", PASSWORD, "U+202E (RIGHT-TO-LEFT OVERRIDE)"),
        ("new@example.org", "ze\u200bro", PASSWORD, "invisible or control characters"),
    ],
)
def test_create_refusals_exit_1_with_the_reason(
    database_url: str, store: SQLStore, email: str, username: str, password: str, message: str
) -> None:
    make_user(store, "ada")
    result = create(database_url, email, username, password=password)
    assert result.exit_code == 1
    assert message in result.output
    assert store.accounts.count_users() == 1


def test_create_stores_the_nfkc_name_and_the_ascii_domain(
    database_url: str, store: SQLStore
) -> None:
    result = create(database_url, "Ada@B\u00fccher.de", "\uff41\uff44\uff41")  # full-width ada
    assert result.exit_code == 0, result.output
    user = store.accounts.user_by_name("ada")
    assert user is not None and user.username == "ada" and user.email == "ada@xn--bcher-kva.de"
    verified = invoke("user", "verify", "\uff41\uff44\uff41", "--database-url", database_url)
    assert verified.exit_code == 0 and "already had a confirmed address" in verified.output


def test_create_without_required_options_is_usage_error(database_url: str) -> None:
    result = invoke("user", "create", "--email", "x@example.org", "--database-url", database_url)
    assert result.exit_code == 2
    assert "--username" in result.output


def test_list_shows_users(database_url: str, store: SQLStore) -> None:
    empty = invoke("user", "list", "--database-url", database_url)
    assert empty.exit_code == 0 and "No accounts yet" in empty.output
    make_user(store, "ada", admin=True)
    make_user(store, "bob", verified=False)
    result = invoke("user", "list", "--database-url", database_url)
    assert result.exit_code == 0, result.output
    lines = {line.split("│")[2].strip(): line for line in result.output.splitlines() if "@" in line}
    assert set(lines) == {"ada", "bob"}
    assert "ada@example.org" in lines["ada"] and "yes" in lines["ada"]
    cells = [cell.strip() for cell in lines["bob"].split("│")[1:-1]]
    assert cells[1:6] == ["bob", "bob@example.org", "-", "-", "-"]
    for header in ("id", "user name", "email", "admin", "verified", "hidden", "created"):
        assert header in result.output


def test_list_pages(database_url: str, store: SQLStore) -> None:
    for name in ("ada", "bob", "cy"):
        make_user(store, name)
    first = invoke("user", "list", "--limit", "2", "--database-url", database_url)
    assert "ada@" in first.output and "bob@" in first.output and "cy@" not in first.output
    assert "Accounts 1-2 of 3" in first.output and "--page 2" in first.output
    second = invoke("user", "list", "--limit", "2", "--page", "2", "--database-url", database_url)
    assert "cy@" in second.output and "ada@" not in second.output
    past = invoke("user", "list", "--limit", "2", "--page", "3", "--database-url", database_url)
    assert past.exit_code == 1 and "empty" in past.output


def test_set_admin_on_and_off(database_url: str, store: SQLStore) -> None:
    user = make_user(store, "ada")
    on = invoke("user", "set-admin", "ADA", "--on", "--database-url", database_url)
    assert on.exit_code == 0 and "ada is now an administrator" in on.output
    assert store.accounts.get_user(user.id).is_admin  # type: ignore[union-attr]
    again = invoke("user", "set-admin", "ada", "--on", "--database-url", database_url)
    assert again.exit_code == 0 and "already" in again.output
    off = invoke("user", "set-admin", "ada", "--off", "--database-url", database_url)
    assert off.exit_code == 0 and "no longer" in off.output
    assert not store.accounts.get_user(user.id).is_admin  # type: ignore[union-attr]
    assert len(store.activity.audit_entries(action="set-admin")) == 2


def test_set_admin_refusals(database_url: str, store: SQLStore) -> None:
    make_user(store, "ada")
    missing = invoke("user", "set-admin", "nobody", "--on", "--database-url", database_url)
    assert missing.exit_code == 1 and "No user named 'nobody'" in missing.output
    neither = invoke("user", "set-admin", "ada", "--database-url", database_url)
    assert neither.exit_code == 2 and "--on" in neither.output


def test_verify_confirms_an_address_by_hand(database_url: str, store: SQLStore) -> None:
    user = make_user(store, "ada", verified=False)
    done = invoke("user", "verify", "Ada", "--database-url", database_url)
    assert done.exit_code == 0 and "is now confirmed" in done.output
    assert store.accounts.get_user(user.id).can_write  # type: ignore[union-attr]
    again = invoke("user", "verify", "ada", "--database-url", database_url)
    assert again.exit_code == 0 and "already" in again.output
    missing = invoke("user", "verify", "nobody", "--database-url", database_url)
    assert missing.exit_code == 1 and "No user named 'nobody'" in missing.output
    assert len(store.activity.audit_entries(action="verify-email")) == 1


@pytest.mark.parametrize("command", ["create", "list", "set-admin", "verify"])
def test_help_has_examples(command: str) -> None:
    result = invoke("user", command, "--help")
    assert result.exit_code == 0
    assert "Examples" in result.output and f"paperboy user {command}" in result.output
    assert "--database-url" in result.output
