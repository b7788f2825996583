"""Wrong passwords are bounded without handing out lockouts: per client address (then 429 with
Retry-After), and per account from every address together (then no password works for a while,
but the owner still gets in with a sign-in link mailed to the account's address)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import itsdangerous.timed
import pytest
from fastapi.testclient import TestClient

from account_web import (  # noqa: F401  (make_client and web are fixtures)
    ClientFactory,
    link_token,
    log_in_form,
    mail_link,
    make_client_fixture,
    page_error,
    web_fixture,
    whoami,
)
from community import PASSWORD, form, make_user
from paperboy.community.accounts import SIGNIN_MAX_AGE
from paperboy.store import SQLStore
from smtp_sink import SmtpSink


def inside_one_window(seconds: int) -> None:
    """Wait for a fresh fixed window when the current one ends within five seconds, so the
    attempts that follow are counted together."""
    left = seconds - time.time() % seconds
    if left < 5:
        time.sleep(left)


def ask_for_link(client: TestClient, email: str) -> Any:
    return client.post("/login/link", data=form(client, email=email))


def use_link(client: TestClient, link: str) -> Any:
    page = client.get(link)
    assert page.status_code == 200 and "Log me in" in page.text  # a button: scanners spend nothing
    return client.post(
        "/login/link/use", data=form(client, token=link_token(link)), follow_redirects=False
    )


def test_wrong_passwords_from_anywhere_never_lock_the_owner_out_of_a_sign_in_link(
    make_client: ClientFactory, store: SQLStore, smtp_sink: SmtpSink
) -> None:
    inside_one_window(3600)
    limits = {"login_failures_per_account": "3/hour", "login_failures_per_client": "100/hour"}
    make_user(store, "alice")
    for number in range(3):  # three attackers, one guess each: the public user name suffices
        attacker = make_client(peer=f"203.0.113.{number}", **limits)
        assert log_in_form(attacker, "alice", f"guess {number}").status_code == 400
    owner = make_client(peer="198.51.100.7", **limits)
    refused = log_in_form(owner, "alice@example.org", PASSWORD)
    assert refused.status_code == 400 and "takes no password" in page_error(refused)
    assert 'action="/login/link"' in refused.text and "Email me a sign-in link" in refused.text
    assert whoami(owner).status_code == 401

    sent = ask_for_link(owner, "alice@example.org")
    assert sent.status_code == 200 and "a mail with a sign-in link" in sent.text
    message = smtp_sink.wait_for(1)[0]
    text = message.get_body(preferencelist=("plain",))
    assert text is not None and "works once, for 15 minutes" in text.get_content()
    assert "alice@example.org" in message["To"]
    link = mail_link(message, "/login/link")
    done = use_link(owner, link)
    assert done.status_code == 303
    assert whoami(owner).json()["name"] == "alice"
    again = owner.post("/login/link/use", data=form(owner, token=link_token(link)))
    assert again.status_code == 400 and "used already" in again.text
    # The owner proved the mailbox: passwords work again for the account.
    fresh = make_client(peer="198.51.100.8", **limits)
    assert log_in_form(fresh, "alice", PASSWORD).status_code == 303


def test_wrong_passwords_are_limited_per_client_address(
    make_client: ClientFactory, store: SQLStore
) -> None:
    inside_one_window(15 * 60)
    limits = {"login_failures_per_client": "3/15minutes", "login_failures_per_account": "50/hour"}
    make_user(store, "alice")
    make_user(store, "bob")
    guesser = make_client(peer="203.0.113.9", **limits)
    # Wrong passwords for any name, known or not, count for the address they come from.
    for login in ("alice", "bob", "nobody"):
        assert "Wrong" in page_error(log_in_form(guesser, login, "a guess"))
    limited = log_in_form(guesser, "bob", PASSWORD)  # even the right password, from there
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 15 * 60 + 1
    assert "Too many wrong passwords from your network address" in page_error(limited)
    # A forged X-Forwarded-For changes nothing: the app counts the connection's peer.
    forged = guesser.post(
        "/login",
        data=form(guesser, login="bob", password=PASSWORD),
        headers={"X-Forwarded-For": "192.0.2.44"},
        follow_redirects=False,
    )
    assert forged.status_code == 429
    # Nobody else is locked out: the owners log in from their own addresses.
    for name in ("alice", "bob"):
        owner = make_client(peer="198.51.100.1", **limits)
        assert log_in_form(owner, name, PASSWORD).status_code == 303


def test_the_login_page_offers_a_sign_in_link(web: TestClient) -> None:
    page = web.get("/login")
    assert 'href="/login/link"' in page.text and "Email me a sign-in link" in page.text
    form_page = web.get("/login/link", params={"email": "ada@example.org"})
    assert form_page.status_code == 200 and 'value="ada@example.org"' in form_page.text


def test_a_sign_in_link_works_once_and_not_after_a_later_login(
    web: TestClient, make_client: ClientFactory, store: SQLStore, smtp_sink: SmtpSink
) -> None:
    make_user(store, "alice", verified=False)
    ask_for_link(web, "Alice@Example.org")
    first = mail_link(smtp_sink.wait_for(1)[0], "/login/link")
    ask_for_link(web, "alice@example.org")
    second = mail_link(smtp_sink.wait_for(2)[1], "/login/link")
    assert use_link(web, first).status_code == 303
    user = store.accounts.user_by_name("alice")
    assert user is not None and user.email_verified  # the link came by mail
    # Logging in moved the time both links hold: the second one is spent too.
    other = make_client()
    spent = other.get(second)
    assert spent.status_code == 400 and "used already" in spent.text
    actions = [e.action for e in store.activity.audit_entries(actor_id=user.id)]
    assert actions == ["login-link"]


def test_an_expired_or_forged_sign_in_link_is_refused(
    web: TestClient, store: SQLStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = make_user(store, "alice")
    signed_at = int(time.time()) - SIGNIN_MAX_AGE - 60
    with monkeypatch.context() as patch:
        patch.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp", lambda self: signed_at)
        old = web.app.state.accounts.sign_in_token(user)
    expired = web.post("/login/link/use", data=form(web, token=old))
    assert expired.status_code == 400 and "expired" in expired.text
    reset = web.app.state.accounts.reset_token(user)
    other_purpose = web.post("/login/link/use", data=form(web, token=reset))
    assert other_purpose.status_code == 400 and "not valid" in other_purpose.text
    assert whoami(web).status_code == 401


def test_no_sign_in_link_for_unknown_or_suspended_accounts(
    web: TestClient, store: SQLStore, smtp_sink: SmtpSink
) -> None:
    user = make_user(store, "alice")
    unknown = ask_for_link(web, "nobody@example.org")
    store.accounts.update_user(user.id, hidden_at=datetime.now(UTC).replace(tzinfo=None))
    hidden = ask_for_link(web, "alice@example.org")
    assert unknown.status_code == hidden.status_code == 200
    time.sleep(0.2)  # the mails would go after the answer
    assert smtp_sink.messages == []
