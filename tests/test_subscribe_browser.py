"""Email digests end to end in headless Chromium, against a real server and SMTP sink.

A visitor subscribes from the box on the daily page, opens the confirmation mail from the sink
and clicks its link; a digest is composed and sent to them through the outbox; they follow its
"Change what you get" link, which only offers to mail a manage link, ask for it, open the mail
that arrives and change their frequency on the page it opens; then they click the digest's
unsubscribe link and the button on that page, and the subscription is unsubscribed. Every
request to a host other than loopback fails the test.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from email.message import EmailMessage
from typing import Any

import pytest

from conftest import LiveServer, free_port
from paperboy.digest.compose import compose_due
from paperboy.digest.sender import send_pending
from paperboy.models import FeedEntry, Paper, Record
from paperboy.services import build
from paperboy.settings import Settings
from paperboy.store import SQLStore
from paperboy.web.app import create_app
from smtp_sink import SmtpSink
from test_browser import browser, watch  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FRIDAY = date(2026, 11, 27)
COMPOSE_AT = datetime(2026, 11, 27, 9, 0)  # naive UTC: Friday's daily digest is due
PAPER = "2611.00042"


def html_of(mail: EmailMessage) -> str:
    return mail.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]


def open_mail(page: Any, mail: EmailMessage) -> None:
    """Show ``mail``'s HTML as a mail client would: in a blank document, not inside one of the
    site's pages (whose Content-Security-Policy would apply to the mail's inline styles)."""
    page.goto("about:blank")
    page.set_content(html_of(mail))


def text_of(mail: EmailMessage) -> str:
    return mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]


def test_subscribe_confirm_receive_a_digest_and_unsubscribe(
    store: SQLStore,
    database_url: str,
    smtp_sink: SmtpSink,
    browser: object,  # noqa: F811
) -> None:
    paper = Paper(
        PAPER,
        "Sparse attention for long documents",
        "We make attention sparse.",
        ("Ada Lovelace",),
        ("cs.CL",),
    )
    store.upsert([Record(paper, FeedEntry(PAPER, FRIDAY, "daily", upvotes=12))])
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings(
        database_url=database_url,
        base_url=base,
        smtp_host=smtp_sink.host,
        smtp_port=smtp_sink.port,
        search_preload=False,
        semantic_search=False,
        mail_rate_per_minute=6000,
    )
    server = LiveServer(create_app(settings, store=store, today=lambda: FRIDAY), port=port)

    with server:
        context = browser.new_context()  # type: ignore[attr-defined]
        page = context.new_page()
        outside, errors = watch(page)

        # The box on the daily page: a GET form that opens the full form, email prefilled.
        page.goto(f"{base}/")
        assert "Sparse attention for long documents" in page.content()
        assert context.cookies() == []  # the daily page set no cookie
        page.fill("#subscribe-feed-email", "reader@example.org")
        page.click("#subscribe-feed-email ~ button[type=submit]")
        page.wait_for_url(re.compile(r"/subscribe\?email=reader%40example\.org"))
        assert page.input_value("#f-email") == "reader@example.org"
        page.fill("#f-categories", "cs.CL")
        page.check("input[name=frequency][value=daily]")
        page.click("form.subscribe-form button[type=submit]")
        page.wait_for_load_state()
        assert "Check your inbox" in page.content()
        pending = store.subscriptions.by_email("reader@example.org")
        assert pending is not None and pending.status == "pending"
        assert pending.categories == ("cs.CL",)

        # The confirmation mail, opened as HTML; click its button.
        (confirmation,) = smtp_sink.wait_for(1)
        assert confirmation["To"].addresses[0].addr_spec == "reader@example.org"
        open_mail(page, confirmation)
        page.click("text=Confirm my subscription")
        page.wait_for_url(re.compile(r"/subscribe/confirm\?token="))
        assert "Subscription confirmed" in page.content()
        active = store.subscriptions.get(pending.id)
        assert active is not None and active.status == "active"

        # A digest goes out through the outbox.
        composed = compose_due(build(settings, store), now=COMPOSE_AT)
        assert composed.queued == 1, composed
        sent = send_pending(store, settings)
        assert sent.sent == 1, sent
        digest = smtp_sink.wait_for(2)[1]
        assert digest["To"].addresses[0].addr_spec == "reader@example.org"
        assert "Sparse attention for long documents" in text_of(digest)
        assert str(digest["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
        one_click = str(digest["List-Unsubscribe"]).strip("<>")
        assert one_click.startswith(f"{base}/unsubscribe?token=")
        assert one_click in text_of(digest)

        # "Change what you get" opens a page that only offers to mail a manage link.
        open_mail(page, digest)
        page.click("a:text('Change what you get')")
        page.wait_for_url(re.compile(r"/subscription/link\?token="))
        assert "reader@example.org" in page.content()
        assert "/subscription?token=" not in page.content()
        page.click("form.manage-link-form button[type=submit]")
        page.wait_for_load_state()
        assert "Check your inbox" in page.content()
        manage_mail = smtp_sink.wait_for(3)[2]
        assert manage_mail["To"].addresses[0].addr_spec == "reader@example.org"
        assert str(manage_mail["List-Unsubscribe"]).startswith(f"<{base}/unsubscribe?token=")
        open_mail(page, manage_mail)
        page.click("text=Change my subscription")
        page.wait_for_url(re.compile(r"/subscription\?token="))
        page.check("input[name=frequency][value=weekly]")
        page.click("form.subscription-form button[type=submit]")
        page.wait_for_load_state()
        assert "Your choices are saved." in page.content()
        weekly = store.subscriptions.get(pending.id)
        assert weekly is not None and (weekly.status, weekly.frequency) == ("active", "weekly")

        # Open the digest, click its unsubscribe link, then the page's button.
        open_mail(page, digest)
        page.click("a:text('Unsubscribe')")
        page.wait_for_url(re.compile(r"/unsubscribe\?token="))
        assert "reader@example.org" in page.content()
        assert store.subscriptions.get(pending.id).status == "active"  # type: ignore[union-attr]
        page.click("form.unsubscribe-form button[type=submit]")
        page.wait_for_load_state()
        assert "You are unsubscribed" in page.content()
        gone = store.subscriptions.get(pending.id)
        assert gone is not None and gone.status == "unsubscribed"

        assert outside == [], f"requests left the machine: {outside}"
        assert errors == [], f"JavaScript errors: {errors}"
        context.close()
