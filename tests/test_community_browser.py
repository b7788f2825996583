"""The community end to end in headless Chromium, against a real server, SMTP sink and arXiv replay.

A visitor signs up, reads the verification mail from the local SMTP sink and clicks its link,
upvotes a paper, submits a paper by arXiv URL, comments on it, saves it into a new public
collection, and subscribes to that collection's Atom feed (the URL the page advertises, parsed
with feedparser). Every request to a host other than loopback fails the test.
"""

from __future__ import annotations

import re
from datetime import date

import feedparser
import pytest

from arxiv_replay import ArxivReplay
from conftest import LiveServer, free_port, shared_path
from paperboy.models import FeedEntry, Paper, Record
from paperboy.settings import Settings
from paperboy.store import SQLStore
from paperboy.web.app import create_app
from smtp_sink import SmtpSink
from test_browser import browser, watch  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TODAY = date(2016, 5, 28)
RECORDED = "1605.08386"  # a recorded arXiv API answer; first version 2016-05-26
ON_FEED = "1605.00001"


def test_sign_up_verify_vote_submit_comment_collect_subscribe(
    store: SQLStore,
    database_url: str,
    replay: ArxivReplay,
    smtp_sink: SmtpSink,
    browser: object,  # noqa: F811
) -> None:
    shared_path("data/arxiv-fixtures/atom_api/xml_bodies")
    on_feed = Paper(ON_FEED, "A paper already on the feed", "Its abstract.", ("Ada",), ("cs.LG",))
    store.upsert([Record(on_feed, FeedEntry(ON_FEED, TODAY, "daily", upvotes=4))])
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings(
        database_url=database_url,
        base_url=base,
        smtp_host=smtp_sink.host,
        smtp_port=smtp_sink.port,
        arxiv_api_url=f"{replay.url}/api/query",
        arxiv_min_interval=0.0,
        arxiv_retries=0,
        search_preload=False,
    )
    server = LiveServer(create_app(settings, store=store, today=lambda: TODAY), port=port)

    with server:
        context = browser.new_context()  # type: ignore[attr-defined]
        page = context.new_page()
        outside, errors = watch(page)

        # Sign up, then open the link from the verification mail.
        page.goto(f"{base}/signup")
        page.fill("#f-email", "ada@example.org")
        page.fill("#f-username", "ada")
        page.fill("#f-password", "a long enough password")
        page.fill("#f-password2", "a long enough password")
        page.click("form.account-form button[type=submit]")
        page.wait_for_url(re.compile(r"/verify/pending"))
        (mail,) = smtp_sink.wait_for(1)
        assert mail["To"].addresses[0].addr_spec == "ada@example.org"
        text = mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
        link = re.search(r"(http://\S+/verify\?token=\S+)", text)
        assert link, text
        page.goto(link.group(1))
        assert "Address confirmed" in page.content()
        assert store.accounts.user_by_name("ada").email_verified  # type: ignore[union-attr]

        # Upvote a paper on today's feed: htmx swaps the box, no page load.
        page.goto(f"{base}/papers?date={TODAY}")
        box = page.locator(f'[id="vote-{ON_FEED}"]')
        assert box.locator(".vote-count").text_content() == "4"
        box.locator("button").click()
        # a function, not an expression string: Playwright evals a string in the page, which
        # the site's CSP (no 'unsafe-eval') refuses
        page.wait_for_function(
            f"() => document.querySelector('[id=\"vote-{ON_FEED}\"] .vote-count')"
            ".textContent === '5'"
        )
        assert store.activity.count_votes(ON_FEED) == 1

        # Submit a paper by its arXiv URL: it enters today's feed with the submitter.
        page.goto(f"{base}/submit")
        page.fill("#submit-ref", f"https://arxiv.org/abs/{RECORDED}v1")
        page.click("form.submit-form button[type=submit]")
        page.wait_for_load_state()
        assert "Submitted" in page.content()
        page.goto(f"{base}/papers/{RECORDED}")
        assert "Submitted by" in page.content() and "ada" in page.content()

        # Comment on it (Markdown), with htmx.
        page.fill("#comment-body", "Worth reading: **clear** proofs.")
        page.click("form.comment-form button[type=submit]")
        page.wait_for_selector(".comment strong")
        assert page.locator(".comment strong").first.text_content() == "clear"

        # Save it into a new collection, make the collection public, follow its feed.
        page.fill("form.collect-form input[name=new_name]", "Reading group")
        page.fill("form.collect-form input[name=note]", "for Thursday")
        page.click("form.collect-form button[type=submit]")
        page.wait_for_load_state()
        page.goto(f"{base}/collections")
        page.click("text=Reading group")
        page.wait_for_url(re.compile(r"/collections/\d+"))
        collection_url = page.url
        assert "for Thursday" in page.content()
        public = page.locator("form input[name=public]")
        if public.count() and not public.first.is_checked():
            public.first.check()
            public.first.locator("xpath=ancestor::form").locator("button[type=submit]").click()
            page.wait_for_load_state()
        page.goto(collection_url)
        feed_href = page.locator(
            'link[rel="alternate"][type="application/atom+xml"]'
        ).get_attribute("href")
        assert feed_href
        answer = page.request.get(base + feed_href if feed_href.startswith("/") else feed_href)
        assert answer.status == 200
        parsed = feedparser.parse(answer.body())
        assert not parsed.bozo, parsed.bozo_exception
        assert [e.link for e in parsed.entries] == [f"{base}/papers/{RECORDED}"]
        assert "for Thursday" in parsed.entries[0].summary

        # The same feed is public: a visitor without a session reads it too.
        anonymous = browser.new_context()  # type: ignore[attr-defined]
        assert anonymous.request.get(base + feed_href).status == 200
        anonymous.close()
        context.close()
    assert not outside, outside
    assert not errors, errors
