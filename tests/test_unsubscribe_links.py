"""Unsubscribe links only unsubscribe; managing a subscription without an account takes a fresh
link mailed to its address on request, which expires and is limited per recipient. Real app,
real mail through the aiosmtpd sink, on the backend under test.

Also here: the subscription mails' ``List-Unsubscribe`` as it comes over the wire, and
addresses that are not ASCII on the subscription forms."""

from __future__ import annotations

import email
import email.policy
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from urllib.parse import parse_qs, urlsplit

import httpx
import itsdangerous.timed
import pytest
from fastapi.testclient import TestClient

from community import form
from paperboy.digest import links
from paperboy.store import SQLStore
from smtp_sink import SmtpSink
from test_mail import header_lines
from test_subscriptions_web import (  # noqa: F401  (the fixtures make_client and web)
    BASE,
    ClientFactory,
    confirmed,
    link_in,
    main_text,
    make_client_fixture,
    secret_of,
    subscribe,
    text_of,
    unsubscribe_header,
    web_fixture,
)

LOOKALIKE = "\u0430lice@example.org"  # a Cyrillic "а" first
SITE = "Papierjunge – Übersicht"


@contextmanager
def signed_ago(monkeypatch: pytest.MonkeyPatch, seconds: int) -> Iterator[None]:
    """Tokens made inside carry a signing time ``seconds`` in the past."""
    signed_at = int(time.time()) - seconds
    with monkeypatch.context() as patch:
        patch.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp", lambda self: signed_at)
        yield


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def ask_for_link(client: TestClient, *, email: str = "", token: str = "") -> httpx.Response:
    params = {"token": token} if token else {}
    data = form(client) if token else form(client, email=email)
    return client.post("/subscription/link", params=params, data=data)


def manage_mail_to(smtp_sink: SmtpSink, count: int, address: str) -> EmailMessage:
    mails = smtp_sink.wait_for(count)
    mail = mails[count - 1]
    assert mail["To"].addresses[0].addr_spec == address
    return mail


# -- the unsubscribe link ----------------------------------------------------------------------


def test_the_unsubscribe_link_only_unsubscribes_and_grants_no_managing(
    web: TestClient, make_client: ClientFactory, store: SQLStore, smtp_sink: SmtpSink
) -> None:
    sub_id = confirmed(web, smtp_sink, "ann@example.org")
    unsubscribe = unsubscribe_header(smtp_sink.messages[0])
    token = parse_qs(urlsplit(unsubscribe).query)["token"][0]
    holder = make_client()  # whoever has the mail (or a forwarded copy)

    page = holder.get(path_of(unsubscribe))
    assert page.status_code == 200 and "ann@example.org" in page.text
    assert "/subscription?token=" not in page.text  # no manage link handed out
    assert f'href="/subscription/link?token={token}"' in page.text

    # The unsubscribe token opens no manage page and changes nothing there.
    assert holder.get("/subscription", params={"token": token}).status_code == 400
    for path, data in (
        ("/subscription", {"frequency": "off", "categories": "math", "min_upvotes": "9"}),
        ("/subscription/alerts", {"query": "planted alert"}),
        ("/subscription/resume", {}),
    ):
        refused = holder.post(path, params={"token": token}, data=form(holder, **data))
        assert refused.status_code == 400, path
    kept = store.subscriptions.get(sub_id)
    assert kept is not None and (kept.status, kept.frequency, kept.categories) == (
        "active",
        "daily",
        (),
    )
    assert store.subscriptions.alerts_of(sub_id) == []

    done = holder.post(path_of(unsubscribe), data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and "You are unsubscribed" in done.text
    assert "/subscription?token=" not in done.text
    assert store.subscriptions.get(sub_id).status == "unsubscribed"  # type: ignore[union-attr]


def test_an_unsubscribe_link_from_a_mail_sent_years_ago_still_unsubscribes(
    web: TestClient,
    make_client: ClientFactory,
    store: SQLStore,
    smtp_sink: SmtpSink,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sub_id = confirmed(web, smtp_sink, "ben@example.org")
    with signed_ago(monkeypatch, 5 * 365 * 86400):
        old = links.token(secret_of(web), links.UNSUBSCRIBE, sub_id)
    provider = make_client()
    page = provider.get("/unsubscribe", params={"token": old})
    assert page.status_code == 200 and ">Unsubscribe</button>" in page.text
    body = b"List-Unsubscribe=One-Click"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    for _ in range(2):  # RFC 8058 one-click, no cookie or CSRF token; repeating is harmless
        answer = provider.post("/unsubscribe", params={"token": old}, content=body, headers=headers)
        assert answer.status_code == 200 and "You are unsubscribed" in answer.text
    assert not provider.cookies
    assert store.subscriptions.get(sub_id).status == "unsubscribed"  # type: ignore[union-attr]


def test_subscription_mails_carry_the_literal_list_unsubscribe_on_the_wire(
    make_client: ClientFactory, store: SQLStore, smtp_sink: SmtpSink
) -> None:
    client = make_client(site_name=SITE)
    subscribe(client, "cat@example.org")
    smtp_sink.wait_for(1)
    raw = smtp_sink.raw[0]
    (field,) = header_lines(raw, "List-Unsubscribe")
    found = re.fullmatch(
        rb"List-Unsubscribe: <(http://testserver/unsubscribe\?token=[\w.%-]+)>", field
    )
    assert found, field
    assert header_lines(raw, "List-Unsubscribe-Post") == [
        b"List-Unsubscribe-Post: List-Unsubscribe=One-Click"
    ]
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert str(parsed["List-Unsubscribe"]) == f"<{found.group(1).decode()}>"
    assert parsed["Subject"] == f"Confirm your subscription to {SITE}"
    sub = store.subscriptions.by_email("cat@example.org")
    signed = parse_qs(urlsplit(found.group(1).decode()).query)["token"][0]
    assert sub is not None
    assert links.subscription_id_from(secret_of(client), links.UNSUBSCRIBE, signed, None) == sub.id


# -- asking for a manage link ------------------------------------------------------------------


def test_the_change_link_of_a_digest_mails_a_fresh_manage_link_to_the_subscriber(
    web: TestClient, make_client: ClientFactory, store: SQLStore, smtp_sink: SmtpSink
) -> None:
    sub_id = confirmed(web, smtp_sink, "dan@example.org")
    # What a digest's "Change what you get" links to: the page, identified by the unsubscribe
    # token. Opening it sends nothing and hands out no manage token.
    request_url = links.manage_request_url(web.app.state.settings, secret_of(web), sub_id)
    assert request_url.startswith(f"{BASE}/subscription/link?token=")
    reader = make_client()
    page = reader.get(path_of(request_url))
    assert page.status_code == 200 and "dan@example.org" in page.text
    assert "Email me a link to manage my subscription" in page.text
    assert "/subscription?token=" not in page.text
    time.sleep(0.2)
    assert len(smtp_sink.messages) == 1  # the confirmation only

    token = parse_qs(urlsplit(request_url).query)["token"][0]
    sent = ask_for_link(reader, token=token)
    assert sent.status_code == 200 and "Check your inbox" in sent.text
    mail = manage_mail_to(smtp_sink, 2, "dan@example.org")
    assert "asked for a link to change the subscription" in text_of(mail)
    assert "works for 24 hours" in text_of(mail)
    manage = link_in(mail, "/subscription")
    assert (
        links.subscription_id_from(
            secret_of(web), links.MANAGE, parse_qs(urlsplit(manage).query)["token"][0], 86400
        )
        == sub_id
    )

    owner = make_client()
    opened = owner.get(manage)
    assert opened.status_code == 200 and "dan@example.org" in opened.text
    saved = owner.post(
        path_of(manage),
        data=form(owner, frequency="weekly", categories="cs.CL", min_upvotes="2", trending="on"),
        follow_redirects=False,
    )
    assert saved.status_code == 303
    changed = store.subscriptions.get(sub_id)
    assert changed is not None and (changed.frequency, changed.categories) == ("weekly", ("cs.CL",))


def test_a_manage_link_can_be_asked_for_by_address_and_says_nothing_about_it(
    web: TestClient, make_client: ClientFactory, store: SQLStore, smtp_sink: SmtpSink
) -> None:
    confirmed(web, smtp_sink, "eva@example.org")
    form_page = make_client().get("/subscription/link")
    assert form_page.status_code == 200 and 'name="email"' in form_page.text
    known = ask_for_link(make_client(), email="Eva@Example.org ")
    unknown = ask_for_link(make_client(), email="nobody@example.org")
    assert known.status_code == unknown.status_code == 200
    assert main_text(known.text).replace("eva@", "X@") == main_text(unknown.text).replace(
        "nobody@", "X@"
    )
    manage_mail_to(smtp_sink, 2, "eva@example.org")
    time.sleep(0.2)
    assert len(smtp_sink.messages) == 2  # nothing for the unknown address
    assert store.subscriptions.by_email("nobody@example.org") is None

    bad = ask_for_link(make_client(), email="not an address")
    assert bad.status_code == 400 and 'id="e-email"' in bad.text
    stranger = make_client()
    no_csrf = stranger.post("/subscription/link", data={"email": "eva@example.org"})
    assert no_csrf.status_code == 403
    time.sleep(0.2)
    assert len(smtp_sink.messages) == 2


def test_manage_link_mails_are_limited_per_recipient_whatever_the_source(
    make_client: ClientFactory, store: SQLStore, smtp_sink: SmtpSink
) -> None:
    """Three a recipient an hour (``rate_mail``), counted with the confirmation and manage
    mails of ``/subscribe``, from any number of client addresses."""
    store.subscriptions.create("fay@example.org", confirmed=True)
    sources = [make_client(rate_mail="3/hour", ip=f"198.51.100.{n}") for n in range(1, 5)]
    for client in sources[:3]:
        assert ask_for_link(client, email="fay@example.org").status_code == 200
    limited = ask_for_link(sources[3], email="fay@example.org")
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert "to this address" in limited.text
    sub = store.subscriptions.by_email("fay@example.org")
    assert sub is not None
    by_token = ask_for_link(
        sources[3], token=links.token(secret_of(sources[3]), links.UNSUBSCRIBE, sub.id)
    )
    assert by_token.status_code == 429
    assert subscribe(sources[3], "fay@example.org").status_code == 429  # one count for both
    smtp_sink.wait_for(3)
    time.sleep(0.2)
    assert len(smtp_sink.messages) == 3

    # And per client: one source asking for many addresses is stopped too.
    busy = make_client(rate_mail="3/hour", ip="203.0.113.9")
    for n in range(3):
        assert ask_for_link(busy, email=f"someone{n}@example.org").status_code == 200
    refused = ask_for_link(busy, email="someone9@example.org")
    assert refused.status_code == 429 and "from your network address" in refused.text


def test_a_manage_link_expires_after_the_configured_hours(
    make_client: ClientFactory,
    store: SQLStore,
    smtp_sink: SmtpSink,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = make_client(manage_link_hours=2)
    sub, _ = store.subscriptions.create("gus@example.org", confirmed=True)
    secret = secret_of(client)
    with signed_ago(monkeypatch, 3600):
        fresh = links.token(secret, links.MANAGE, sub.id)
    with signed_ago(monkeypatch, 3 * 3600):
        stale = links.token(secret, links.MANAGE, sub.id)
    assert client.get("/subscription", params={"token": fresh}).status_code == 200

    expired = client.get("/subscription", params={"token": stale})
    assert expired.status_code == 400 and "expired" in expired.text
    assert "they work for 2 hours" in expired.text
    # It offers a fresh link for that subscription (by its unsubscribe token), no manage token.
    assert re.search(r'<form method="post" action="/subscription/link\?token=[^"]+"', expired.text)
    assert "gus@example.org" in expired.text and "/subscription?token=" not in expired.text
    refused = client.post(
        "/subscription", params={"token": stale}, data=form(client, frequency="off")
    )
    assert refused.status_code == 400
    assert store.subscriptions.get(sub.id).frequency == "daily"  # type: ignore[union-attr]

    default = make_client()  # 24 hours unless configured
    with signed_ago(monkeypatch, 23 * 3600):
        day_old = links.token(secret, links.MANAGE, sub.id)
    with signed_ago(monkeypatch, 25 * 3600):
        too_old = links.token(secret, links.MANAGE, sub.id)
    assert default.get("/subscription", params={"token": day_old}).status_code == 200
    assert default.get("/subscription", params={"token": too_old}).status_code == 400


def test_never_expiring_manage_links_of_older_digests_no_longer_manage(
    web: TestClient, make_client: ClientFactory, store: SQLStore, smtp_sink: SmtpSink
) -> None:
    sub_id = confirmed(web, smtp_sink, "hal@example.org")
    legacy = links.token(secret_of(web), links.LEGACY_MANAGE, sub_id)  # what digests carried
    holder = make_client()
    page = holder.get("/subscription", params={"token": legacy})
    assert page.status_code == 400 and "hal@example.org" in page.text
    assert "Email me a link to manage my subscription" in page.text
    changed = holder.post(
        "/subscription", params={"token": legacy}, data=form(holder, frequency="off")
    )
    assert changed.status_code == 400
    assert store.subscriptions.get(sub_id).frequency == "daily"  # type: ignore[union-attr]

    action = re.search(r'<form method="post" action="([^"]+)"', page.text)
    assert action and action.group(1).startswith("/subscription/link?token=")
    holder.post(action.group(1).replace("&amp;", "&"), data=form(holder))
    mail = manage_mail_to(smtp_sink, 2, "hal@example.org")  # the owner's mailbox, not the holder
    assert make_client().get(link_in(mail, "/subscription")).status_code == 200


# -- addresses that are not ASCII ------------------------------------------------------------------


def test_subscribing_refuses_a_non_ascii_local_part_with_a_clear_message(
    web: TestClient, store: SQLStore, smtp_sink: SmtpSink
) -> None:
    for answer in (subscribe(web, LOOKALIKE), ask_for_link(web, email=LOOKALIKE)):
        assert answer.status_code == 400
        text = main_text(answer.text)
        assert "ASCII" in text and "CYRILLIC SMALL LETTER A" in text and 'id="e-email"' in text
    assert store.subscriptions.list() == []
    time.sleep(0.2)
    assert smtp_sink.messages == []


def test_subscribing_keeps_an_internationalised_domain_in_its_ascii_form(
    web: TestClient, store: SQLStore, smtp_sink: SmtpSink
) -> None:
    assert subscribe(web, "Zoe@Bücher.de").status_code == 200
    sub = store.subscriptions.by_email("zoe@xn--bcher-kva.de")
    assert sub is not None and sub.status == "pending"
    (mail,) = smtp_sink.wait_for(1)
    assert smtp_sink.envelopes[0].rcpt_tos == ("zoe@xn--bcher-kva.de",)
    assert web.get(link_in(mail, "/subscribe/confirm")).status_code == 200


def test_a_stored_non_ascii_address_gets_clean_answers_never_a_crash(
    web: TestClient, make_client: ClientFactory, store: SQLStore, smtp_sink: SmtpSink
) -> None:
    """A subscription made before such addresses were refused: its links still work, a manage
    link asked for it is refused by the mailer (said on the page), nothing reaches the server."""
    sub, _ = store.subscriptions.create(LOOKALIKE, confirmed=True)
    token = links.token(secret_of(web), links.UNSUBSCRIBE, sub.id)
    client = make_client()
    asked = ask_for_link(client, token=token)
    assert asked.status_code == 200 and "could not send" in asked.text
    assert client.get("/unsubscribe", params={"token": token}).status_code == 200
    done = client.post("/unsubscribe", params={"token": token})
    assert done.status_code == 200 and "You are unsubscribed" in done.text
    time.sleep(0.2)
    assert smtp_sink.messages == []
