"""A digest's list headers as the SMTP server receives them: RFC 2369 ``List-Unsubscribe`` is
the literal ``<https://...>`` (never RFC 2047 encoded-words) with RFC 8058's
``List-Unsubscribe-Post``, so mail providers offer one-click unsubscribe, and the URL read from
the wire unsubscribes. Composed and sent for real (outbox, sender, aiosmtpd sink), on the
backend under test."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import update

from paperboy.community.accounts import site_secret
from paperboy.digest.compose import compose_due
from paperboy.digest.links import subscription_id_from
from paperboy.digest.sender import SendReport, send_pending
from paperboy.mail import MAX_LINE
from paperboy.models import FeedEntry, Paper, Record
from paperboy.services import build
from paperboy.settings import Settings
from paperboy.store import SQLStore
from paperboy.store.schema import subscriptions
from paperboy.web.app import create_app
from smtp_sink import SmtpSink
from test_delivery import mail_settings
from test_mail import header_lines

FRIDAY = datetime(2026, 11, 27, 9, 0)  # naive UTC: Friday's daily digest is due
SITE = "Papierjunge – Übersicht"
BIG_ID = 2_147_483_000  # near the top of a 32-bit id: the longest token a subscription gets


def digest_on_the_wire(
    store: SQLStore, settings: Settings, smtp_sink: SmtpSink, *, big_id: bool = False
) -> tuple[bytes, int]:
    """Compose and send Friday's digest to one subscriber; the raw bytes the sink got and the
    subscription's id."""
    paper = Paper(
        "2611.00042", "Sparse attention", "We make attention sparse.", ("Ada",), ("cs.CL",)
    )
    store.upsert([Record(paper, FeedEntry(paper.id, FRIDAY.date(), "daily", upvotes=12))])
    sub, _ = store.subscriptions.create("reader@example.org", confirmed=True)
    sub_id = sub.id
    if big_id:
        with store.engine.begin() as conn:
            conn.execute(
                update(subscriptions).where(subscriptions.c.id == sub_id).values(id=BIG_ID)
            )
        sub_id = BIG_ID
    assert compose_due(build(settings, store), now=FRIDAY).queued == 1
    assert send_pending(store, settings) == SendReport(sent=1)
    smtp_sink.wait_for(1)
    return smtp_sink.raw[0], sub_id


def test_a_digest_carries_the_literal_one_click_unsubscribe_url_on_the_wire(
    store: SQLStore, database_url: str, smtp_sink: SmtpSink
) -> None:
    """The longest base URL the settings allow, the longest token, a non-ASCII site name in
    the subject and sender: ``List-Unsubscribe`` is still ``<url>`` on one line, byte for byte."""
    prefix = "https://papers.example.org/"
    long_base = prefix + "p" * (500 - len(prefix))
    settings = mail_settings(
        database_url,
        smtp_sink,
        base_url=long_base,
        site_name=SITE,
        mail_from=f"{SITE} <digest@papers.example.org>",
        semantic_search=False,
    )
    raw, sub_id = digest_on_the_wire(store, settings, smtp_sink, big_id=True)

    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    text = parsed.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    found = re.search(r"^Unsubscribe: (\S+)", text, re.M)
    assert found, text
    url = found.group(1)
    assert url.startswith(f"{long_base}/unsubscribe?token=") and len(url) > 500
    (field,) = header_lines(raw, "List-Unsubscribe")
    assert field == f"List-Unsubscribe: <{url}>".encode()
    assert b"=?" not in field and b"\r\n" not in field
    assert header_lines(raw, "List-Unsubscribe-Post") == [
        b"List-Unsubscribe-Post: List-Unsubscribe=One-Click"
    ]
    assert header_lines(raw, "List-Id") == [b"List-Id: <digest.papers.example.org>"]
    assert all(len(line) <= MAX_LINE for line in raw.split(b"\r\n"))

    assert str(parsed["List-Unsubscribe"]) == f"<{url}>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed["Subject"] == f"{SITE}: 1 trending paper for Nov 27"
    assert header_lines(raw, "Subject")[0].startswith(b"Subject: ") and b"=?utf-8?" in (
        b"".join(header_lines(raw, "Subject"))
    )
    assert parsed["From"] == f"{SITE} <digest@papers.example.org>"
    signed = parse_qs(urlsplit(url).query)["token"][0]
    secret = site_secret(settings, store)
    assert subscription_id_from(secret, "unsubscribe", signed, None) == sub_id


def test_the_one_click_url_read_from_the_wire_unsubscribes_without_a_cookie(
    store: SQLStore, database_url: str, smtp_sink: SmtpSink
) -> None:
    settings = mail_settings(
        database_url, smtp_sink, base_url="http://testserver", site_name=SITE, semantic_search=False
    )
    raw, sub_id = digest_on_the_wire(store, settings, smtp_sink)
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    value = str(parsed["List-Unsubscribe"])
    assert value.startswith("<http://testserver/unsubscribe?token=") and value.endswith(">")
    url = urlsplit(value[1:-1])
    with TestClient(create_app(settings, store=store)) as provider:  # RFC 8058: no cookie, CSRF
        answer = provider.post(
            f"{url.path}?{url.query}",
            content=str(parsed["List-Unsubscribe-Post"]).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert answer.status_code == 200 and "You are unsubscribed" in answer.text
        assert not provider.cookies
    gone = store.subscriptions.get(sub_id)
    assert gone is not None and gone.status == "unsubscribed"


@pytest.mark.parametrize(
    "base_url",
    ["https://papers.example.org/" + "p" * 480, "https://bücher.example", "https://a b.example"],
    ids=["over 500 characters", "not ASCII", "a space"],
)
def test_a_base_url_that_would_not_fit_a_list_header_is_refused_at_start(
    database_url: str, base_url: str
) -> None:
    with pytest.raises(ValidationError, match="base_url"):
        Settings(database_url=database_url, base_url=base_url)
