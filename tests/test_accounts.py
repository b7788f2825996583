"""Account pages end to end: sign-up with a real mail over SMTP, verification links, login with
lockout and rate limits, safe redirects, cookies, logout, password reset, API tokens, CSRF."""

from __future__ import annotations

import email
import email.policy
import re
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import itsdangerous.timed
import pytest
from fastapi.testclient import TestClient

from account_web import (  # noqa: F401  (make_client and web are fixtures)
    BASE,
    NEW_PASSWORD,
    ClientFactory,
    link_token,
    log_in_form,
    mail_link,
    make_client_fixture,
    page_error,
    sign_up,
    web_fixture,
    whoami,
)
from community import PASSWORD, csrf_token, form, log_in, make_user
from conftest import free_port
from paperboy.community.accounts import VERIFY_MAX_AGE
from paperboy.store import SQLStore
from paperboy.web.auth import SESSION_COOKIE
from smtp_sink import SmtpSink

# -- sign-up and verification -------------------------------------------------------------------


def test_signup_mails_a_signed_link_that_verifies(
    web: TestClient, store: SQLStore, smtp_sink: SmtpSink
) -> None:
    response = sign_up(web)
    assert response.status_code == 200
    assert response.url.path == "/verify/pending"
    assert "Check your inbox" in response.text and 'action="/verify/resend"' in response.text
    user = store.accounts.user_by_email("ada@example.org")
    assert user is not None and not user.email_verified and not user.can_write
    assert whoami(web).json()["name"] == "ada"  # logged in straight away
    assert [e.action for e in store.activity.audit_entries(actor_id=user.id)] == ["signup"]

    smtp_sink.wait_for(1)
    raw = smtp_sink.raw[0]
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    assert "ada@example.org" in message["To"]
    assert message["From"] == "Paperboy <robot@paperboy.test>"
    assert re.fullmatch(r"<[^@<>]+@paperboy\.test>", message["Message-ID"])
    assert message.get_content_type() == "multipart/alternative"
    kinds = [part.get_content_type() for part in message.iter_parts()]
    assert kinds == ["text/plain", "text/html"]
    link = mail_link(smtp_sink.messages[0], "/verify")
    html = message.get_body(preferencelist=("html",))
    assert html is not None
    assert f'href="{BASE}{link}"' in html.get_content()

    token = link_token(link)
    # Change the signature's first character: all its six bits count (the last character of a
    # base64 signature also carries padding bits, so changing it may change nothing).
    at = token.rindex(".") + 1
    tampered = token[:at] + ("A" if token[at] != "A" else "B") + token[at + 1 :]
    bad = web.get("/verify", params={"token": tampered})
    assert bad.status_code == 400 and "not valid" in bad.text
    assert not store.accounts.get_user(user.id).email_verified  # type: ignore[union-attr]

    done = web.get(link)
    assert done.status_code == 200 and "Address confirmed" in done.text
    verified = store.accounts.get_user(user.id)
    assert verified is not None and verified.email_verified and verified.can_write
    assert whoami(web).json()["emailVerified"] is True


def test_an_expired_verification_link_is_refused(
    web: TestClient, store: SQLStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = make_user(store, "bea", verified=False)
    signed_at = int(time.time()) - VERIFY_MAX_AGE - 60
    with monkeypatch.context() as patch:
        patch.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp", lambda self: signed_at)
        token = web.app.state.accounts.verification_token(user)  # type: ignore[attr-defined]
    response = web.get("/verify", params={"token": token})
    assert response.status_code == 400 and "expired" in response.text
    assert not store.accounts.get_user(user.id).email_verified  # type: ignore[union-attr]
    # The same token signed now works: only its age was wrong.
    fresh = web.app.state.accounts.verification_token(user)  # type: ignore[attr-defined]
    assert web.get("/verify", params={"token": fresh}).status_code == 200


def test_a_failed_mail_keeps_the_account_and_offers_a_resend(
    web: TestClient, store: SQLStore, smtp_sink: SmtpSink
) -> None:
    smtp_sink.fail_next("554 5.7.1 no thanks")
    response = sign_up(web)
    assert response.status_code == 200
    assert "could not send" in response.text and 'action="/verify/resend"' in response.text
    assert store.accounts.user_by_email("ada@example.org") is not None
    assert smtp_sink.messages == []

    again = web.post("/verify/resend", data=form(web))
    assert again.status_code == 200 and "We sent a link" in again.text
    link = mail_link(smtp_sink.wait_for(1)[0], "/verify")
    assert web.get(link).status_code == 200
    assert web.get("/settings").text.count("badge-ok") == 1  # shown as confirmed


def test_resending_is_rate_limited_per_address(make_client: ClientFactory) -> None:
    web = make_client(rate_mail="2/hour")
    sign_up(web)
    assert web.post("/verify/resend", data=form(web)).status_code == 200
    assert web.post("/verify/resend", data=form(web)).status_code == 200
    limited = web.post("/verify/resend", data=form(web))
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0


def test_signup_with_an_unreachable_mail_server_still_creates_the_account(
    make_client: ClientFactory, store: SQLStore
) -> None:
    web = make_client(smtp_port=free_port())
    response = sign_up(web)
    assert "could not send" in response.text
    assert store.accounts.user_by_name("ada") is not None


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"email": "ADA@example.org"}, "email", "An account with that email address exists"),
        ({"username": "ADA"}, "username", "That user name is taken"),
        ({"password": "short", "password2": "short"}, "password", "at least 10 characters"),
        ({"password2": PASSWORD + "!"}, "password2", "The two passwords differ"),
        ({"email": "not an address"}, "email", "does not look right"),
        ({"username": "a b"}, "username", "2 to 32 letters"),
    ],
)
def test_signup_refusals_name_the_field_and_keep_what_was_typed(
    web: TestClient,
    store: SQLStore,
    smtp_sink: SmtpSink,
    fields: dict[str, str],
    field: str,
    message: str,
) -> None:
    make_user(store, "ada")
    values = {"email": "new@example.org", "username": "newbie", **fields}
    response = sign_up(web, **values)
    assert response.status_code == 400
    assert message in response.text
    assert f'id="e-{field}"' in response.text  # the message sits under its field
    assert f'value="{values["email"]}"' in response.text
    assert f'value="{values["username"]}"' in response.text
    for typed in (values.get("password", PASSWORD), values.get("password2", PASSWORD)):
        assert f'value="{typed}"' not in response.text  # passwords are never sent back
    assert store.accounts.count_users() == 1 and smtp_sink.messages == []
    assert whoami(web).status_code == 401


@pytest.mark.parametrize(
    ("username", "shown"),
    [
        ("ada\u202enimda", "U+202E (RIGHT-TO-LEFT OVERRIDE)"),
        ("ada\u2066x", "U+2066 (LEFT-TO-RIGHT ISOLATE)"),
        ("a\u200bda", "U+200B (ZERO WIDTH SPACE)"),
        ("a\u200dda", "U+200D (ZERO WIDTH JOINER)"),
        ("\ufeffada", "U+FEFF (ZERO WIDTH NO-BREAK SPACE)"),
        ("ada\x07", "U+0007"),
    ],
)
def test_user_names_refuse_control_and_format_characters(
    web: TestClient, store: SQLStore, username: str, shown: str
) -> None:
    response = sign_up(web, username=username)
    assert response.status_code == 400
    assert "invisible or control characters" in page_error(response)
    assert shown in page_error(response)
    assert store.accounts.count_users() == 0


def test_user_names_are_stored_in_nfkc(web: TestClient, store: SQLStore) -> None:
    assert sign_up(web, username="\uff41\uff44\uff41").status_code == 200  # full-width ada
    user = store.accounts.user_by_name("ada")
    assert user is not None and user.username == "ada"
    taken = sign_up(web, email="other@example.org", username="ＡＤＡ")
    assert taken.status_code == 400 and "That user name is taken" in page_error(taken)


def test_closed_signup_says_so_and_creates_nothing(
    make_client: ClientFactory, store: SQLStore
) -> None:
    web = make_client(signup_open=False)
    assert "Sign-ups are closed" in web.get("/signup").text
    response = sign_up(web)
    assert response.status_code == 403 and "Sign-ups are closed" in response.text
    assert store.accounts.count_users() == 0


# -- login, redirects, cookies (limits of wrong passwords: test_login_limits.py) -------------


@pytest.mark.parametrize("login", ["alice@example.org", "ALICE@Example.org", "alice", "Alice"])
def test_login_with_email_or_user_name(web: TestClient, store: SQLStore, login: str) -> None:
    make_user(store, "alice")
    response = log_in_form(web, login, PASSWORD)
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert whoami(web).json()["name"] == "alice"


def test_wrong_password_is_refused_with_a_message(web: TestClient, store: SQLStore) -> None:
    make_user(store, "alice")
    response = log_in_form(web, "alice", "not the password")
    assert response.status_code == 400
    assert "Wrong email, user name or password." in page_error(response)
    assert 'value="alice"' in response.text and "not the password" not in response.text
    unknown = log_in_form(web, "nobody", "not the password")
    assert page_error(unknown) == page_error(response)  # no hint that "nobody" does not exist
    assert whoami(web).status_code == 401


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
        "http:/evil",
        "",
    ],
)
def test_login_never_redirects_off_site(web: TestClient, store: SQLStore, target: str) -> None:
    make_user(store, "alice")
    page = web.get("/login", params={"next": target})
    assert 'name="next"' not in page.text  # the form does not carry it along
    response = log_in_form(web, "alice", PASSWORD, next=target)
    assert response.status_code == 303 and response.headers["location"] == "/"


def test_login_keeps_a_local_next_through_the_form(web: TestClient, store: SQLStore) -> None:
    make_user(store, "alice")
    target = "/papers?date=2025-01-01"
    page = web.get("/login", params={"next": target})
    assert 'name="next" value="/papers?date=2025-01-01"' in page.text
    failed = log_in_form(web, "alice", "wrong password", next=target)
    assert 'name="next" value="/papers?date=2025-01-01"' in failed.text
    response = log_in_form(web, "alice", PASSWORD, next=target)
    assert response.status_code == 303 and response.headers["location"] == target


def test_settings_sends_visitors_to_login_and_back(web: TestClient, store: SQLStore) -> None:
    make_user(store, "alice")
    response = web.get("/settings", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fsettings"
    page = web.get(response.headers["location"])
    assert 'name="next" value="/settings"' in page.text


def session_cookie(response: Any) -> str:
    cookies = [v for v in response.headers.get_list("set-cookie") if v.startswith(SESSION_COOKIE)]
    assert len(cookies) == 1, cookies
    return cookies[0]


@pytest.mark.parametrize(("base_url", "secure"), [(BASE, False), ("https://paperboy.test", True)])
def test_session_cookie_flags(
    make_client: ClientFactory, store: SQLStore, base_url: str, secure: bool
) -> None:
    # Secure cookies only travel over https, so the client speaks it too.
    web = make_client(base_url=base_url, client_url=base_url.replace("paperboy.test", "testserver"))
    make_user(store, "alice")
    cookie = session_cookie(log_in_form(web, "alice", PASSWORD))
    flags = {part.strip().split("=")[0].lower(): part.strip() for part in cookie.split(";")}
    assert "httponly" in flags
    assert flags["samesite"].lower() == "samesite=lax"
    assert flags["path"] == "Path=/"
    assert ("secure" in flags) is secure


def test_a_new_login_replaces_the_session(web: TestClient, store: SQLStore) -> None:
    make_user(store, "alice")
    first = log_in_form(web, "alice", PASSWORD).cookies[SESSION_COOKIE]
    second = log_in_form(web, "alice", PASSWORD).cookies.get(SESSION_COOKIE)
    # Logged in already: /login's POST still logs in again, with a fresh session id.
    assert second and second != first
    assert store.accounts.session_user(first) is None


def test_logout_deletes_the_server_side_session(
    web: TestClient, make_client: ClientFactory, store: SQLStore
) -> None:
    make_user(store, "alice")
    token = log_in_form(web, "alice", PASSWORD).cookies[SESSION_COOKIE]
    assert store.accounts.session_user(token) is not None
    response = web.post("/logout", data=form(web), follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert store.accounts.session_user(token) is None
    replay = make_client()
    replay.cookies.set(SESSION_COOKIE, token)
    assert whoami(replay).status_code == 401


def test_a_hidden_user_cannot_log_in(web: TestClient, store: SQLStore) -> None:
    user = make_user(store, "alice")
    store.accounts.update_user(user.id, hidden_at=datetime.now(UTC).replace(tzinfo=None))
    response = log_in_form(web, "alice", PASSWORD)
    assert response.status_code == 400 and "suspended" in page_error(response)
    assert SESSION_COOKIE not in response.cookies
    assert whoami(web).status_code == 401


# -- password reset -------------------------------------------------------------------------------


def test_password_reset_by_mail(
    web: TestClient, make_client: ClientFactory, store: SQLStore, smtp_sink: SmtpSink
) -> None:
    user = make_user(store, "alice")
    other = make_client()
    log_in(other, store, user)  # a session elsewhere, which the reset must end
    old_session = other.cookies[SESSION_COOKIE]
    assert whoami(other).status_code == 200

    sent = web.post("/password/forgot", data=form(web, email="Alice@Example.org"))
    assert sent.status_code == 200 and "is on its way" in sent.text
    message = smtp_sink.wait_for(1)[0]
    assert "alice@example.org" in message["To"]
    assert message.get_body(preferencelist=("html",)) is not None
    link = mail_link(message, "/password/reset")
    page = web.get(link)
    assert page.status_code == 200 and "Choose a new password" in page.text
    token = link_token(link)

    mismatch = web.post(
        "/password/reset",
        data=form(web, token=token, password=NEW_PASSWORD, password2="something else entirely"),
    )
    assert mismatch.status_code == 400 and "differ" in page_error(mismatch)

    done = web.post(
        "/password/reset",
        data=form(web, token=token, password=NEW_PASSWORD, password2=NEW_PASSWORD),
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"].startswith("/settings")
    assert whoami(web).json()["name"] == "alice"  # logged in with a fresh session
    assert store.accounts.session_user(old_session) is None
    assert whoami(other).status_code == 401

    used = web.get(link)
    assert used.status_code == 400 and "used already" in used.text
    again = web.post(
        "/password/reset",
        data=form(
            web, token=token, password="yet another password", password2="yet another password"
        ),
    )
    assert again.status_code == 400

    fresh = make_client()
    assert "Wrong" in page_error(log_in_form(fresh, "alice", PASSWORD))
    assert log_in_form(fresh, "alice", NEW_PASSWORD).status_code == 303


def test_forgot_password_answers_the_same_for_unknown_addresses(
    web: TestClient, store: SQLStore, smtp_sink: SmtpSink
) -> None:
    make_user(store, "alice")
    unknown = web.post("/password/forgot", data=form(web, email="nobody@example.org"))
    assert smtp_sink.messages == []
    known = web.post("/password/forgot", data=form(web, email="alice@example.org"))
    assert unknown.status_code == known.status_code == 200
    assert unknown.text.replace("nobody@", "X@") == known.text.replace("alice@", "X@")
    smtp_sink.wait_for(1)
    time.sleep(0.1)  # nothing else is on its way
    assert [m["To"] for m in smtp_sink.messages] == ["alice <alice@example.org>"]


def test_forgot_password_is_rate_limited(make_client: ClientFactory, store: SQLStore) -> None:
    web = make_client(rate_mail="2/hour")
    for _ in range(2):
        assert (
            web.post("/password/forgot", data=form(web, email="x@example.org")).status_code == 200
        )
    limited = web.post("/password/forgot", data=form(web, email="x@example.org"))
    assert limited.status_code == 429 and "Retry-After" in limited.headers
    # Another address is counted apart.
    assert web.post("/password/forgot", data=form(web, email="y@example.org")).status_code == 200


def test_a_tampered_reset_link_is_refused(web: TestClient) -> None:
    response = web.get("/password/reset", params={"token": "eyJ1IjoxfQ.bogus.signature"})
    assert response.status_code == 400 and "not valid" in response.text


# -- settings -------------------------------------------------------------------------------------


def test_whoami_without_credentials_is_401_json(web: TestClient) -> None:
    response = whoami(web)
    assert response.status_code == 401 and "error" in response.json()
    bad = whoami(web, Authorization="Bearer pb_not-a-real-token")
    assert bad.status_code == 401


def test_change_password_checks_the_current_one(
    web: TestClient, make_client: ClientFactory, store: SQLStore
) -> None:
    user = make_user(store, "alice")
    log_in(web, store, user)
    other = make_client()
    log_in(other, store, user)
    wrong = web.post(
        "/settings/password",
        data=form(web, current="not it at all", password=NEW_PASSWORD, password2=NEW_PASSWORD),
    )
    assert wrong.status_code == 400 and "not your current password" in page_error(wrong)
    done = web.post(
        "/settings/password",
        data=form(web, current=PASSWORD, password=NEW_PASSWORD, password2=NEW_PASSWORD),
    )
    assert done.status_code == 200 and "Your password has been changed" in done.text
    assert whoami(web).status_code == 200 and whoami(other).status_code == 401
    fresh = make_client()
    assert log_in_form(fresh, "alice", NEW_PASSWORD).status_code == 303


# -- CSRF ------------------------------------------------------------------------------------------

POST_ROUTES = [
    ("/signup", {"email": "x@example.org", "username": "x1", "password": PASSWORD}),
    ("/login", {"login": "alice", "password": PASSWORD}),
    ("/logout", {}),
    ("/verify/resend", {}),
    ("/password/forgot", {"email": "alice@example.org"}),
    ("/password/reset", {"token": "t", "password": PASSWORD, "password2": PASSWORD}),
    ("/login/link", {"email": "alice@example.org"}),
    ("/login/link/use", {"token": "t"}),
    ("/settings/tokens", {"name": "sneaky"}),
    ("/settings/tokens/1/revoke", {}),
    ("/settings/password", {"current": PASSWORD, "password": PASSWORD, "password2": PASSWORD}),
]


@pytest.mark.parametrize(("path", "fields"), POST_ROUTES, ids=[p for p, _ in POST_ROUTES])
def test_posts_without_csrf_token_are_refused(
    web: TestClient, store: SQLStore, smtp_sink: SmtpSink, path: str, fields: dict[str, str]
) -> None:
    user = make_user(store, "alice", verified=False)
    store.accounts.create_api_token(user.id, "existing")
    log_in(web, store, user)
    session = web.cookies[SESSION_COOKIE]
    response = web.post(path, data=fields, follow_redirects=False)
    assert response.status_code == 403
    wrong = web.post(path, data={**fields, "csrf_token": "0" * 64}, follow_redirects=False)
    assert wrong.status_code == 403
    assert store.accounts.session_user(session) is not None  # logout did not happen
    assert len(store.accounts.api_tokens_of(user.id)) == 1
    assert store.accounts.api_tokens_of(user.id)[0].revoked_at is None
    assert store.accounts.count_users() == 1 and smtp_sink.messages == []
    # The same request with the token goes through the CSRF check.
    assert web.post(path, data={**fields, "csrf_token": csrf_token(web)}).status_code != 403
