"""Account mails: limited per recipient whatever the source address (and per asking client),
and only ever to addresses the site can mail: an internationalised local part is refused at the
form with a clear message and leaves no account; an IDN domain is kept in its ASCII form; an
old account whose address cannot be mailed gets a clear refusal, never a 500."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from account_web import (  # noqa: F401  (make_client and web are fixtures)
    ClientFactory,
    log_in_form,
    make_client_fixture,
    page_error,
    sign_up,
    web_fixture,
    whoami,
)
from community import PASSWORD, form, make_user
from paperboy.community import mailer
from paperboy.community.addresses import AddressError, normalise_address
from paperboy.store import SQLStore
from paperboy.web.auth import SESSION_COOKIE
from smtp_sink import SmtpSink

CYRILLIC_ALICE = "\u0430lice@example.org"  # the first letter is CYRILLIC SMALL LETTER A


def wait_for_a_fresh_hour() -> None:
    """The limits count in fixed windows: keep one test's requests inside one of them."""
    left = 3600 - time.time() % 3600
    if left < 10:
        time.sleep(left)


def settle(sink: SmtpSink, count: int) -> None:
    """Wait for ``count`` mails, then a moment more, so a mail that should not come would."""
    if count:
        sink.wait_for(count)
    time.sleep(0.3)


# -- limits per recipient ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/password/forgot", "/login/link"])
def test_account_mail_is_limited_per_recipient_whatever_the_source(
    make_client: ClientFactory, store: SQLStore, smtp_sink: SmtpSink, path: str
) -> None:
    wait_for_a_fresh_hour()
    make_user(store, "alice")
    answers = []
    for number in range(4):  # four source addresses, three requests each, in seconds
        client = make_client(peer=f"203.0.113.{number}", rate_mail="3/hour")
        for _ in range(3):
            answers.append(client.post(path, data=form(client, email="alice@example.org")))
    assert [a.status_code for a in answers] == [200] * 3 + [429] * 9
    assert all(int(a.headers["Retry-After"]) > 0 for a in answers[3:])
    assert "Too many mails to this address" in answers[3].text
    settle(smtp_sink, 3)
    assert len(smtp_sink.messages) == 3


def test_password_reset_and_sign_in_links_share_the_recipients_limit(
    make_client: ClientFactory, store: SQLStore, smtp_sink: SmtpSink
) -> None:
    wait_for_a_fresh_hour()
    make_user(store, "alice")
    web = make_client(rate_mail="2/hour")
    assert web.post("/password/forgot", data=form(web, email="alice@example.org")).is_success
    assert web.post("/login/link", data=form(web, email="ALICE@example.org")).is_success
    other = make_client(peer="198.51.100.3", rate_mail="2/hour")
    limited = other.post("/password/forgot", data=form(other, email="alice@example.org"))
    assert limited.status_code == 429
    settle(smtp_sink, 2)
    assert len(smtp_sink.messages) == 2


def test_confirmation_resend_is_limited_per_recipient_whatever_the_source(
    make_client: ClientFactory, store: SQLStore, smtp_sink: SmtpSink
) -> None:
    wait_for_a_fresh_hour()
    user = make_user(store, "alice", verified=False)
    statuses = []
    for number in range(3):  # sessions of the same account on three networks
        client = make_client(peer=f"203.0.113.{number}", rate_mail="2/hour")
        client.cookies.set(SESSION_COOKIE, store.accounts.create_session(user.id, timedelta(1)))
        statuses.append(client.post("/verify/resend", data=form(client)).status_code)
    assert statuses == [200, 200, 429]
    settle(smtp_sink, 2)
    assert len(smtp_sink.messages) == 2


def test_mail_requests_are_limited_per_client_address(
    make_client: ClientFactory, smtp_sink: SmtpSink
) -> None:
    wait_for_a_fresh_hour()
    web = make_client(rate_mail_client="2/hour")
    statuses = [
        web.post("/password/forgot", data=form(web, email=f"{name}@example.org")).status_code
        for name in ("a", "b", "c")
    ]
    assert statuses == [200, 200, 429]
    other = make_client(peer="198.51.100.3", rate_mail_client="2/hour")
    assert other.post("/password/forgot", data=form(other, email="c@example.org")).is_success


# -- which addresses -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("  Alice@Example.ORG ", "alice@example.org"),
        ("ada@b\u00fccher.de", "ada@xn--bcher-kva.de"),
        ("ada@XN--BCHER-KVA.de", "ada@xn--bcher-kva.de"),
    ],
)
def test_addresses_are_stored_in_one_ascii_form(typed: str, stored: str) -> None:
    assert normalise_address(typed) == stored


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        (CYRILLIC_ALICE, "CYRILLIC SMALL LETTER A"),
        ("a\u200blice@example.org", "ZERO WIDTH SPACE"),
        ("alice@exam\u202eple.org", "RIGHT-TO-LEFT OVERRIDE"),
        ("", "Enter an email address"),
        ("x" * 250 + "@example.org", "at most 254 characters"),
        ("not an address", "does not look right"),
    ],
)
def test_unusable_addresses_are_refused_with_a_message(typed: str, message: str) -> None:
    with pytest.raises(AddressError, match=message) as caught:
        normalise_address(typed)
    assert caught.value.field == "email"


def test_an_internationalised_local_part_is_refused_at_sign_up_and_leaves_no_account(
    web: TestClient, store: SQLStore, smtp_sink: SmtpSink
) -> None:
    refused = sign_up(web, email=CYRILLIC_ALICE, username="alice")
    assert refused.status_code == 400
    assert "CYRILLIC SMALL LETTER A" in page_error(refused)
    assert "plain ASCII before the @" in page_error(refused)
    assert store.accounts.count_users() == 0 and whoami(web).status_code == 401
    # Nothing half-made blocks the name or the (real) address.
    assert sign_up(web, email="alice@example.org", username="alice").status_code == 200
    settle(smtp_sink, 1)
    assert [m["To"] for m in smtp_sink.messages] == ["alice <alice@example.org>"]


def test_an_idn_domain_is_stored_and_mailed_in_its_ascii_form(
    web: TestClient, make_client: ClientFactory, store: SQLStore, smtp_sink: SmtpSink
) -> None:
    assert sign_up(web, email="Ada@B\u00fccher.de").status_code == 200
    user = store.accounts.user_by_name("ada")
    assert user is not None and user.email == "ada@xn--bcher-kva.de"
    assert smtp_sink.wait_for(1)[0]["To"] == "ada <ada@xn--bcher-kva.de>"
    assert smtp_sink.envelopes[0].rcpt_tos == ("ada@xn--bcher-kva.de",)
    # Either spelling of the domain finds the account.
    fresh = make_client()
    assert log_in_form(fresh, "ada@b\u00fccher.de", PASSWORD).status_code == 303
    sent = fresh.post("/password/forgot", data=form(fresh, email="ada@B\u00fccher.de"))
    assert sent.status_code == 200 and "ada@xn--bcher-kva.de" in sent.text
    assert len(smtp_sink.wait_for(2)) == 2


def test_a_refused_recipient_at_sign_up_leaves_no_account(
    web: TestClient, store: SQLStore, smtp_sink: SmtpSink
) -> None:
    smtp_sink.fail_next("550 5.1.1 no such mailbox", stage="rcpt")
    refused = sign_up(web, email="ada@example.org")
    assert refused.status_code == 400 and "no account was made" in page_error(refused)
    assert 'value="ada@example.org"' in refused.text  # kept, to correct it
    assert store.accounts.count_users() == 0 and whoami(web).status_code == 401
    assert sign_up(web, email="ada@example.org").status_code == 200  # nothing blocks it
    assert store.accounts.user_by_name("ada") is not None


def test_an_old_account_whose_address_cannot_be_mailed_gets_no_500(
    make_client: ClientFactory, store: SQLStore, smtp_sink: SmtpSink
) -> None:
    # Made before addresses had to be ASCII before the @ (straight in the store, as then).
    user = make_user(store, "alice", verified=False, email=CYRILLIC_ALICE)
    web = make_client()
    assert log_in_form(web, CYRILLIC_ALICE, PASSWORD).status_code == 303  # still logs in
    resent = web.post("/verify/resend", data=form(web))
    assert resent.status_code == 200 and "cannot send mail to" in resent.text
    forgot = web.post("/password/forgot", data=form(web, email=CYRILLIC_ALICE))
    assert forgot.status_code == 400 and "CYRILLIC SMALL LETTER A" in page_error(forgot)
    token = web.app.state.accounts.reset_token(user)  # type: ignore[attr-defined]
    with pytest.raises(mailer.AddressRefused, match="CYRILLIC"):
        mailer.send_password_reset(web.app.state.settings, user, token)  # type: ignore[attr-defined]
    settle(smtp_sink, 0)
    assert smtp_sink.messages == []
