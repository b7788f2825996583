"""Digest subscriptions on the web, with real mail through a local SMTP sink: double opt-in,
confirmation links, one-click unsubscribe (RFC 8058) without cookies, the manage page with and
without an account, saved-search alerts, the cacheable subscribe box, rate limits, escaping."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import date
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import itsdangerous.timed
import pytest
from fastapi.testclient import TestClient

from account_web import app_clients, mail_settings, web_fixture  # noqa: F401  (`web`)
from community import csrf_token, form, log_in, make_user
from paperboy.community.models import User
from paperboy.digest import links
from paperboy.digest.subscribe import CONFIRM_MAX_AGE
from paperboy.models import FeedEntry, Paper, Record
from paperboy.store import SQLStore
from smtp_sink import SmtpSink

BASE = "http://testserver"  # the TestClient's host: links in mails open in the client as-is
TODAY = date(2024, 12, 4)

ClientFactory = Callable[..., TestClient]


@pytest.fixture(name="make_client")
def make_client_fixture(
    database_url: str, store: SQLStore, smtp_sink: SmtpSink
) -> Iterator[ClientFactory]:
    """Clients of one app whose mail goes to the sink (keyword arguments override settings);
    every client starts with no cookies. (Named apart from its fixture, so other test modules
    can import it without shadowing their test arguments.)"""
    values = {
        **mail_settings(database_url, smtp_sink, BASE),
        "rate_mail": "100/hour",
        "semantic_search": False,  # no embedding model: alerts are saved, not run, here
    }
    with app_clients(store, values, today=TODAY, share_apps=True) as clients:

        def make(*, ip: str = "testclient", **overrides: Any) -> TestClient:
            return clients(peer=ip, **overrides)

        yield make


def subscribe(client: TestClient, email: str, **fields: Any) -> Any:
    data = {"frequency": "daily", "categories": "", "min_upvotes": "0", "trending": "on"}
    data.update(fields)
    return client.post("/subscribe", data=form(client, email=email, **data))


def text_of(mail: EmailMessage) -> str:
    return mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]


def html_of(mail: EmailMessage) -> str:
    return mail.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]


def link_in(mail: EmailMessage, path: str) -> str:
    found = re.search(rf"({re.escape(BASE)}{re.escape(path)}\?token=[\w.\-%]+)", text_of(mail))
    assert found, f"no {path} link in:\n{text_of(mail)}"
    return found.group(1)


def unsubscribe_header(mail: EmailMessage) -> str:
    value = str(mail["List-Unsubscribe"])
    assert value.startswith("<") and value.endswith(">"), value
    return value[1:-1]


def main_text(html: str) -> str:
    """The page's <main>, whitespace collapsed."""
    inner = html[html.index("<main") : html.index("</main>")]
    return " ".join(inner.split())


def confirmed(web: TestClient, smtp_sink: SmtpSink, email: str, **fields: Any) -> int:
    """Subscribe ``email`` and open the confirmation link; the subscription's id."""
    before = len(smtp_sink.messages)
    assert subscribe(web, email, **fields).status_code == 200
    mail = smtp_sink.wait_for(before + 1)[-1]
    assert web.get(link_in(mail, "/subscribe/confirm")).status_code == 200
    found = web.app.state.store.subscriptions.by_email(email)  # type: ignore[attr-defined]
    assert found is not None and found.status == "active"
    return int(found.id)


def secret_of(client: TestClient) -> str:
    return str(client.app.state.secret)  # type: ignore[attr-defined]


# -- double opt-in ------------------------------------------------------------------------------


def test_subscribe_mails_a_signed_link_that_activates(
    web: TestClient, store: SQLStore, smtp_sink: SmtpSink
) -> None:
    page = web.get("/subscribe", params={"email": "ada@example.org"})
    assert page.status_code == 200 and 'value="ada@example.org"' in page.text
    assert 'name="csrf_token"' in page.text

    answer = subscribe(
        web, "Ada@Example.org", frequency="weekly", categories="cs.cl, stat  cs.LG", min_upvotes="5"
    )
    assert answer.status_code == 200 and "Check your inbox" in answer.text
    pending = store.subscriptions.by_email("ada@example.org")
    assert pending is not None and pending.status == "pending"
    assert (pending.frequency, pending.categories, pending.min_upvotes) == (
        "weekly",
        ("cs.CL", "stat", "cs.LG"),
        5,
    )

    (mail,) = smtp_sink.wait_for(1)
    assert mail["To"].addresses[0].addr_spec == "ada@example.org"
    assert mail["Message-ID"] and mail["Date"] and "robot@paperboy.test" in str(mail["From"])
    assert mail.get_content_type() == "multipart/alternative"
    link = link_in(mail, "/subscribe/confirm")
    assert link.replace("&", "&amp;") in html_of(mail) or link in html_of(mail)
    assert "weekly" in text_of(mail) and "cs.CL, stat, cs.LG" in text_of(mail)
    assert unsubscribe_header(mail).startswith(f"{BASE}/unsubscribe?token=")
    assert str(mail["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"

    token = link.split("token=", 1)[1]
    assert links.subscription_id_from(secret_of(web), links.CONFIRM, token, None) == pending.id

    done = web.get(link)
    assert done.status_code == 200 and "Subscription confirmed" in done.text
    assert "ada@example.org" in done.text and "/subscription?token=" in done.text
    active = store.subscriptions.get(pending.id)
    assert active is not None and active.status == "active" and active.confirmed_at is not None

    again = web.get(link)  # idempotent: the same page, still active
    assert again.status_code == 200 and "already confirmed" in again.text
    assert store.subscriptions.get(pending.id).status == "active"  # type: ignore[union-attr]


def test_tampered_foreign_or_expired_confirmation_links_are_refused(
    web: TestClient, store: SQLStore, smtp_sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    subscribe(web, "bob@example.org")
    link = link_in(smtp_sink.wait_for(1)[0], "/subscribe/confirm")
    sub = store.subscriptions.by_email("bob@example.org")
    assert sub is not None
    secret = secret_of(web)

    tampered = link[:-2] + ("A" if link[-2] != "A" else "B") + link[-1]
    for bad in (tampered, f"{BASE}/subscribe/confirm", f"{BASE}/subscribe/confirm?token=x.y.z"):
        answer = web.get(bad)
        assert answer.status_code == 400, bad
        assert "This confirmation link does not work" in answer.text
    # A token signed for another purpose (the never-expiring unsubscribe one) is no confirmation.
    other = links.token(secret, links.UNSUBSCRIBE, sub.id)
    assert web.get("/subscribe/confirm", params={"token": other}).status_code == 400
    # One older than seven days has expired.
    signed_at = int(time.time()) - CONFIRM_MAX_AGE - 60
    with monkeypatch.context() as patch:
        patch.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp", lambda self: signed_at)
        old = links.token(secret, links.CONFIRM, sub.id)
    expired = web.get("/subscribe/confirm", params={"token": old})
    assert expired.status_code == 400 and "expired" in expired.text
    assert store.subscriptions.get(sub.id).status == "pending"  # type: ignore[union-attr]
    assert web.get(link).status_code == 200  # the real one still works


def test_resubscribing_an_active_address_changes_nothing_and_mails_a_manage_link(
    web: TestClient, make_client: ClientFactory, store: SQLStore, smtp_sink: SmtpSink
) -> None:
    sub_id = confirmed(web, smtp_sink, "cy@example.org", categories="cs.CL", min_upvotes="3")
    stranger = make_client()
    answer = subscribe(
        stranger, "cy@example.org", frequency="weekly", categories="math", trending=""
    )
    fresh = subscribe(stranger, "new@example.org")
    # The same answer as for an unknown address: nothing tells the stranger it was subscribed.
    assert answer.status_code == fresh.status_code == 200
    assert main_text(answer.text).replace("cy@", "X@") == main_text(fresh.text).replace(
        "new@", "X@"
    )

    kept = store.subscriptions.get(sub_id)
    assert kept is not None and kept.status == "active"
    assert (kept.frequency, kept.categories, kept.min_upvotes, kept.include_trending) == (
        "daily",
        ("cs.CL",),
        3,
        True,
    )
    mails = smtp_sink.wait_for(3)
    manage_mail = next(m for m in mails[1:] if m["To"].addresses[0].addr_spec == "cy@example.org")
    assert "/subscribe/confirm" not in text_of(manage_mail)
    assert "nothing has changed" in text_of(manage_mail)
    manage = link_in(manage_mail, "/subscription")
    assert str(manage_mail["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    page = make_client().get(manage)
    assert page.status_code == 200 and "cy@example.org" in page.text
    assert 'value="cs.CL"' in page.text


def test_an_unsubscribed_address_gets_a_new_confirmation(
    web: TestClient, make_client: ClientFactory, store: SQLStore, smtp_sink: SmtpSink
) -> None:
    sub_id = confirmed(web, smtp_sink, "dee@example.org")
    assert store.subscriptions.unsubscribe(sub_id)
    subscribe(make_client(), "dee@example.org", frequency="weekly")
    mail = smtp_sink.wait_for(2)[1]
    again = store.subscriptions.get(sub_id)
    assert again is not None and again.status == "unsubscribed"  # until the new link is opened
    assert web.get(link_in(mail, "/subscribe/confirm")).status_code == 200
    active = store.subscriptions.get(sub_id)
    assert active is not None and active.status == "active" and active.frequency == "weekly"


def test_a_signed_in_owner_subscribes_at_once_others_confirm_by_mail(
    web: TestClient, make_client: ClientFactory, store: SQLStore, smtp_sink: SmtpSink
) -> None:
    ada = make_user(store, "ada")
    log_in(web, store, ada)
    form_page = web.get("/subscribe")
    assert 'value="ada@example.org"' in form_page.text  # prefilled with the account's address
    answer = subscribe(web, "ada@example.org", categories="cs.AI")
    assert answer.status_code == 200 and "You are subscribed" in answer.text
    sub = store.subscriptions.by_email("ada@example.org")
    assert sub is not None and sub.status == "active" and sub.user_id == ada.id
    assert sub.categories == ("cs.AI",)
    time.sleep(0.2)
    assert smtp_sink.messages == []  # no mail: the verified account proves the address

    # Another address of hers: a confirmation mail like anyone's, not linked to her account.
    subscribe(web, "ada.work@example.org")
    (mail,) = smtp_sink.wait_for(1)
    work = store.subscriptions.by_email("ada.work@example.org")
    assert work is not None and work.status == "pending" and work.user_id is None
    assert mail["To"].addresses[0].addr_spec == "ada.work@example.org"

    # An unverified account proves nothing.
    bea = make_user(store, "bea", verified=False)
    bea_client = make_client()
    log_in(bea_client, store, bea)
    subscribe(bea_client, "bea@example.org")
    smtp_sink.wait_for(2)
    assert store.subscriptions.by_email("bea@example.org").status == "pending"  # type: ignore[union-attr]


def test_confirming_links_the_account_with_that_verified_address(
    web: TestClient, store: SQLStore, smtp_sink: SmtpSink
) -> None:
    cy = make_user(store, "cy")
    sub_id = confirmed(web, smtp_sink, "cy@example.org")  # anonymously, by mail
    assert store.subscriptions.get(sub_id).user_id == cy.id  # type: ignore[union-attr]


def test_a_mail_the_server_refuses_is_said_and_nothing_is_active(
    web: TestClient, store: SQLStore, smtp_sink: SmtpSink
) -> None:
    smtp_sink.fail_next("554 5.7.1 no thanks")
    answer = subscribe(web, "eve@example.org")
    assert answer.status_code == 200 and "could not send" in answer.text
    assert store.subscriptions.by_email("eve@example.org").status == "pending"  # type: ignore[union-attr]


def test_subscribe_form_errors_name_the_field(web: TestClient, store: SQLStore) -> None:
    cases = {
        "email": {"email": "not-an-address"},
        "frequency": {"email": "f@example.org", "frequency": "hourly"},
        "categories": {"email": "f@example.org", "categories": "cs.CL, cs CL!"},
        "min_upvotes": {"email": "f@example.org", "min_upvotes": "10001"},
    }
    for field, values in cases.items():
        answer = subscribe(web, **values)
        assert answer.status_code == 400, field
        assert f'id="e-{field}"' in answer.text or "field-error" in answer.text
    assert subscribe(web, "f@example.org", min_upvotes="-1").status_code == 400
    assert subscribe(web, "f@example.org", min_upvotes="many").status_code == 400
    assert store.subscriptions.list() == []


# -- one-click unsubscribe (RFC 8058) -------------------------------------------------------------


def test_one_click_unsubscribe_needs_no_cookie_and_is_idempotent(
    web: TestClient, make_client: ClientFactory, store: SQLStore, smtp_sink: SmtpSink
) -> None:
    sub_id = confirmed(web, smtp_sink, "gil@example.org")
    url = unsubscribe_header(smtp_sink.messages[0])
    path = urlsplit(url).path + "?" + urlsplit(url).query

    reader = make_client()  # a browser without cookies opens the link: a page with a button
    page = reader.get(path)
    assert page.status_code == 200 and "gil@example.org" in page.text
    assert re.search(r'<form method="post" action="/unsubscribe\?token=[^"]+"', page.text)
    assert "<button" in page.text and ">Unsubscribe</button>" in page.text
    assert "set-cookie" not in page.headers
    assert store.subscriptions.get(sub_id).status == "active"  # type: ignore[union-attr]

    provider = make_client()  # the mail provider's one-click POST: no cookie, no CSRF token
    body = b"List-Unsubscribe=One-Click"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    first = provider.post(path, content=body, headers=headers)
    assert first.status_code == 200 and "unsubscribed" in first.text
    assert "set-cookie" not in first.headers and not provider.cookies
    gone = store.subscriptions.get(sub_id)
    assert gone is not None and gone.status == "unsubscribed" and gone.unsubscribed_at
    second = provider.post(path, content=body, headers=headers)
    assert second.status_code == 200
    assert store.subscriptions.get(sub_id).status == "unsubscribed"  # type: ignore[union-attr]

    after = reader.get(path)
    assert after.status_code == 200 and "You are unsubscribed" in after.text, main_text(after.text)


def test_only_a_valid_token_authorises_the_unsubscribe_post(
    web: TestClient, make_client: ClientFactory, store: SQLStore, smtp_sink: SmtpSink
) -> None:
    sub_id = confirmed(web, smtp_sink, "hal@example.org")
    secret = secret_of(web)
    body = {"List-Unsubscribe": "One-Click"}
    anonymous = make_client()
    assert anonymous.post("/unsubscribe", data=body).status_code == 403  # no credential at all
    assert anonymous.post("/unsubscribe?token=forged.token.here", data=body).status_code == 400
    manage = links.token(secret, links.MANAGE, sub_id)  # signed, but for another purpose
    assert anonymous.post("/unsubscribe", params={"token": manage}, data=body).status_code == 400
    # A session authorises nothing here either: the owner, logged in, still needs the token.
    hal = make_user(store, "hal")
    log_in(anonymous, store, hal)
    assert anonymous.post("/unsubscribe", data=body).status_code == 403
    assert store.subscriptions.get(sub_id).status == "active"  # type: ignore[union-attr]

    # Every other form of the feature needs the CSRF token.
    stranger = make_client()
    assert stranger.post("/subscribe", data={"email": "x@example.org"}).status_code == 403
    manage_post = stranger.post(
        "/subscription", params={"token": manage}, data={"frequency": "off"}
    )
    assert manage_post.status_code == 403
    assert store.subscriptions.get(sub_id).frequency == "daily"  # type: ignore[union-attr]
    assert store.subscriptions.by_email("x@example.org") is None

    good = links.token(secret, links.UNSUBSCRIBE, sub_id)
    assert stranger.post("/unsubscribe", params={"token": good}, data=body).status_code == 200
    assert store.subscriptions.get(sub_id).status == "unsubscribed"  # type: ignore[union-attr]


# -- managing -------------------------------------------------------------------------------------


def test_manage_page_changes_choices_and_alerts_with_its_link(
    web: TestClient, make_client: ClientFactory, store: SQLStore, smtp_sink: SmtpSink
) -> None:
    sub_id = confirmed(web, smtp_sink, "ivy@example.org")
    token = links.token(secret_of(web), links.MANAGE, sub_id)
    owner = make_client()  # no account, no cookie: the link is the proof
    page = owner.get("/subscription", params={"token": token})
    assert page.status_code == 200 and "ivy@example.org" in page.text
    assert page.headers["cache-control"] == "no-store"

    saved = owner.post(
        "/subscription",
        params={"token": token},
        data=form(
            owner, frequency="weekly", categories="astro-ph.ga cond-mat.mes-hall", min_upvotes="7"
        ),
        follow_redirects=False,
    )
    assert saved.status_code == 303
    shown = owner.get(saved.headers["location"])
    assert "Your choices are saved." in shown.text
    sub = store.subscriptions.get(sub_id)
    assert sub is not None
    assert (sub.frequency, sub.categories, sub.min_upvotes, sub.include_trending) == (
        "weekly",
        ("astro-ph.GA", "cond-mat.mes-hall"),
        7,
        False,  # the box was not ticked
    )

    wrong = owner.post(
        "/subscription",
        params={"token": token},
        data=form(owner, frequency="weekly", categories="", min_upvotes="lots", trending="on"),
    )
    assert wrong.status_code == 400 and "whole number" in wrong.text
    assert store.subscriptions.get(sub_id).min_upvotes == 7  # type: ignore[union-attr]

    added = owner.post(
        "/subscription/alerts",
        params={"token": token},
        data=form(owner, query="  diffusion   models ", mode="keyword"),
    )
    assert added.status_code == 200 and "The alert is saved" in added.text
    (alert,) = store.subscriptions.alerts_of(sub_id)
    assert (alert.query, alert.mode) == ("diffusion models", "keyword")
    # Another subscriber's link cannot delete it.
    other_id = confirmed(web, smtp_sink, "jon@example.org")
    other = links.token(secret_of(web), links.MANAGE, other_id)
    owner.post(f"/subscription/alerts/{alert.id}/delete", params={"token": other}, data=form(owner))
    assert len(store.subscriptions.alerts_of(sub_id)) == 1
    deleted = owner.post(
        f"/subscription/alerts/{alert.id}/delete", params={"token": token}, data=form(owner)
    )
    assert deleted.status_code == 200 and "The alert is deleted." in deleted.text
    assert store.subscriptions.alerts_of(sub_id) == []

    for bad in ("", token[:-3], links.token(secret_of(web), links.CONFIRM, sub_id)):
        assert owner.get("/subscription", params={"token": bad}).status_code == 400
        refused = owner.post(
            "/subscription", params={"token": bad}, data=form(owner, frequency="off")
        )
        assert refused.status_code == 400
    assert store.subscriptions.get(sub_id).frequency == "weekly"  # type: ignore[union-attr]


def test_the_manage_page_can_start_an_unsubscribed_digest_again(
    web: TestClient, store: SQLStore, smtp_sink: SmtpSink
) -> None:
    sub_id = confirmed(web, smtp_sink, "kim@example.org")
    store.subscriptions.unsubscribe(sub_id)
    token = links.token(secret_of(web), links.MANAGE, sub_id)
    page = web.get("/subscription", params={"token": token})
    assert "unsubscribed" in page.text and "Start my digests" in page.text
    web.post("/subscription/resume", params={"token": token}, data=form(web))
    assert store.subscriptions.get(sub_id).status == "active"  # type: ignore[union-attr]


def test_signed_in_users_manage_their_digest_from_settings(
    web: TestClient, store: SQLStore, smtp_sink: SmtpSink
) -> None:
    lee = make_user(store, "lee")
    headers = log_in(web, store, lee)
    settings = web.get("/settings")
    assert "Email digest" in settings.text and 'action="/subscribe"' in settings.text
    assert web.get("/settings/digest").text.count('value="lee@example.org"') == 1

    subscribe(web, "lee@example.org")
    settings = web.get("/settings")
    assert 'href="/settings/digest"' in settings.text and "active" in settings.text
    page = web.get("/settings/digest")
    assert page.status_code == 200 and 'action="/settings/digest"' in page.text
    saved = web.post(
        "/settings/digest",
        data={"frequency": "weekly", "categories": "q-bio", "min_upvotes": "2", "trending": "on"},
        headers=headers,
    )
    assert saved.status_code == 200 and "Your choices are saved." in saved.text
    sub = store.subscriptions.by_email("lee@example.org")
    assert sub is not None and (sub.frequency, sub.categories) == ("weekly", ("q-bio",))

    visitor = TestClient(web.app)
    assert visitor.get("/settings/digest", follow_redirects=False).status_code == 303


# -- alerts ---------------------------------------------------------------------------------------


def test_a_signed_in_user_saves_a_search_as_an_alert(web: TestClient, store: SQLStore) -> None:
    mia = make_user(store, "mia")
    headers = log_in(web, store, mia)
    results = web.get("/search", params={"q": "graph networks", "cat": "cs.LG"})
    assert results.status_code == 200
    assert re.search(r'<form method="post" action="/alerts"', results.text)

    saved = web.post(
        "/alerts",
        data={"q": "graph networks", "mode": "keyword", "cat": "cs.LG"},
        headers=headers,
    )
    assert saved.status_code == 200 and "You are now subscribed" in saved.text
    sub = store.subscriptions.by_email("mia@example.org")
    assert sub is not None and sub.status == "active" and sub.user_id == mia.id
    (alert,) = store.subscriptions.alerts_of(sub.id)
    assert (alert.query, alert.mode) == ("graph networks cat:cs.LG", "keyword")

    again = web.post("/alerts", data={"q": "transformers"}, headers=headers, follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"].startswith("/settings/digest")
    assert [a.query for a in store.subscriptions.alerts_of(sub.id)] == [
        "graph networks cat:cs.LG",
        "transformers",
    ]
    assert web.post("/alerts", data={"q": "   "}, headers=headers).status_code == 400


def test_an_anonymous_alert_waits_for_the_confirmation(
    web: TestClient, store: SQLStore, smtp_sink: SmtpSink
) -> None:
    results = web.get("/search", params={"q": "protein folding", "mode": "semantic"})
    box = re.search(r'<form method="get" action="/subscribe".*?</form>', results.text, re.S)
    assert box and 'name="alert" value="protein folding"' in box.group(0)
    assert "set-cookie" not in results.headers

    page = web.get("/subscribe", params={"alert": "protein folding", "mode": "semantic"})
    assert 'name="alert" value="protein folding"' in page.text
    subscribe(web, "nia@example.org", alert="protein folding", alert_mode="semantic")
    sub = store.subscriptions.by_email("nia@example.org")
    assert sub is not None and sub.status == "pending"
    (alert,) = store.subscriptions.alerts_of(sub.id)  # stored with the pending subscription
    assert (alert.query, alert.mode) == ("protein folding", "semantic")
    (mail,) = smtp_sink.wait_for(1)
    assert "protein folding" in text_of(mail)
    done = web.get(link_in(mail, "/subscribe/confirm"))
    assert "protein folding" in done.text
    assert store.subscriptions.get(sub.id).status == "active"  # type: ignore[union-attr]

    # The POST form (e.g. from a page that had the CSRF token) sends visitors the same way.
    sent = web.post("/alerts", data=form(web, q="x rays"), follow_redirects=False)
    assert sent.status_code == 303
    assert sent.headers["location"] == "/subscribe?alert=x+rays&mode=hybrid"


def test_an_alert_for_an_active_address_needs_the_manage_link(
    web: TestClient, make_client: ClientFactory, store: SQLStore, smtp_sink: SmtpSink
) -> None:
    sub_id = confirmed(web, smtp_sink, "oli@example.org")
    subscribe(make_client(), "oli@example.org", alert="sparse attention")
    assert store.subscriptions.alerts_of(sub_id) == []  # no proof of ownership yet
    manage = link_in(smtp_sink.wait_for(2)[1], "/subscription")
    owner = make_client()
    page = owner.get(manage + "&alert=sparse+attention&mode=hybrid")
    assert 'value="sparse attention"' in page.text  # prefilled; one click adds it
    token = manage.split("token=", 1)[1]
    owner.post(
        "/subscription/alerts", params={"token": token}, data=form(owner, query="sparse attention")
    )
    assert [a.query for a in store.subscriptions.alerts_of(sub_id)] == ["sparse attention"]


def test_alerts_api_with_a_bearer_token(web: TestClient, store: SQLStore) -> None:
    pia = make_user(store, "pia")
    _, secret = store.accounts.create_api_token(pia.id, "script")
    api = TestClient(web.app, headers={"Authorization": f"Bearer {secret}"})
    created = api.post("/api/alerts", json={"query": "quantum error correction"})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["query"] == "quantum error correction" and body["mode"] == "hybrid"
    assert body["subscriptionStatus"] == "active"
    assert [a["id"] for a in api.get("/api/alerts").json()] == [body["id"]]
    assert api.post("/api/alerts", json={"query": ""}).status_code == 400
    assert api.delete(f"/api/alerts/{body['id']}").status_code == 204
    assert api.delete(f"/api/alerts/{body['id']}").status_code == 404
    assert TestClient(web.app).get("/api/alerts").status_code == 401

    quinn = make_user(store, "quinn", verified=False)
    _, unverified = store.accounts.create_api_token(quinn.id, "script")
    refused = TestClient(web.app, headers={"Authorization": f"Bearer {unverified}"}).post(
        "/api/alerts", json={"query": "anything"}
    )
    assert refused.status_code == 403 and "error" in refused.json()


# -- the subscribe box, rate limits, escaping ------------------------------------------------------


def test_the_daily_page_has_get_forms_to_subscribe_and_sets_no_cookie(
    web: TestClient, store: SQLStore
) -> None:
    paper = Paper("2412.00001", "A paper of the day", "Its abstract.", ("Ada",), ("cs.CL",))
    store.upsert([Record(paper, FeedEntry(paper.id, TODAY, "daily", upvotes=3))])
    visitor = TestClient(web.app)
    page = visitor.get("/")
    assert page.status_code == 200 and "A paper of the day" in page.text
    assert "set-cookie" not in page.headers and not visitor.cookies
    assert "csrf_token" not in page.text
    boxes = re.findall(
        r'<form class="subscribe-box[^"]*" method="get" action="/subscribe"', page.text
    )
    assert len(boxes) == 2  # one on the daily page, one in the footer
    assert "Get trending papers in your email inbox" in page.text
    assert re.search(r'<input id="subscribe-footer-email" type="email" name="email"', page.text)

    # Submitting the box is a GET that opens the full form, email prefilled.
    full = visitor.get("/subscribe", params={"email": "rue@example.org"})
    assert 'value="rue@example.org"' in full.text and 'name="frequency"' in full.text


def test_confirmation_mails_are_rate_limited_per_address_and_per_client(
    make_client: ClientFactory, store: SQLStore, smtp_sink: SmtpSink
) -> None:
    home = make_client(rate_mail="2/hour", ip="192.0.2.1")
    cafe = make_client(rate_mail="2/hour", ip="198.51.100.7")
    assert subscribe(home, "sam@example.org").status_code == 200
    assert subscribe(home, "sam@example.org").status_code == 200
    # The address has had its two mails, whoever asks now.
    limited = subscribe(cafe, "sam@example.org")
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert "confirmation mails to this address" in limited.text
    assert subscribe(cafe, "tom@example.org").status_code == 200
    # The first client has asked twice: no mail to any other address either.
    refused = subscribe(home, "uma@example.org")
    assert refused.status_code == 429 and "from your network address" in refused.text
    assert store.subscriptions.by_email("uma@example.org") is None
    time.sleep(0.2)
    assert len(smtp_sink.messages) == 3


def test_alert_queries_and_categories_are_escaped(
    web: TestClient, store: SQLStore, smtp_sink: SmtpSink
) -> None:
    evil = '<script>alert("x")</script> <img src=x onerror=alert(1)>'
    sub_id = confirmed(web, smtp_sink, "uma@example.org", alert=evil)
    store.subscriptions.update(sub_id, categories=["<b>bold</b>"])  # past any validation
    token = links.token(secret_of(web), links.MANAGE, sub_id)
    page = web.get("/subscription", params={"token": token, "alert": evil})
    assert page.status_code == 200
    assert "<script>alert" not in page.text and "<img src=x" not in page.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text
    assert "<b>bold</b>" not in page.text and "&lt;b&gt;bold&lt;/b&gt;" in page.text

    html = html_of(smtp_sink.messages[0])
    assert "<script>" not in html and "&lt;script&gt;" in html

    refused = subscribe(web, "vic@example.org", categories='"><script>x()</script>')
    assert refused.status_code == 400 and "<script>x()" not in refused.text


def test_confirm_page_and_unsubscribe_page_use_the_subscribers_own_user(
    web: TestClient, store: SQLStore, smtp_sink: SmtpSink
) -> None:
    """A signed-in visitor opening someone else's unsubscribe link sees that address, and their
    own session changes nothing about whose subscription the token names."""
    sub_id = confirmed(web, smtp_sink, "wes@example.org")
    xia: User = make_user(store, "xia")
    log_in(web, store, xia)
    token = links.token(secret_of(web), links.UNSUBSCRIBE, sub_id)
    page = web.get("/unsubscribe", params={"token": token})
    assert "wes@example.org" in page.text and "xia@example.org" not in main_text(page.text)
    web.post("/unsubscribe", params={"token": token})
    assert store.subscriptions.get(sub_id).status == "unsubscribed"  # type: ignore[union-attr]
    assert store.subscriptions.by_email("xia@example.org") is None
    assert csrf_token(web)  # the session is untouched
