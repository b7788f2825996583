"""A reader's radar end to end in headless Chromium, against a real server: log in, the cold
start (categories, seed papers, a BibTeX file), the day ranked for them with reasons, "not for
me" from a card (htmx, no page load), and the re-ranked day. Every request to a host other
than loopback fails the test."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from community import PASSWORD, make_user  # tests/community.py
from conftest import LiveServer, free_port
from paperboy.models import FeedEntry, Paper, Record
from paperboy.settings import Settings
from paperboy.store import SQLStore
from paperboy.web.app import create_app
from test_browser import browser, watch  # noqa: F401  (the fixture)
from test_foryou_web import DAY
from test_foryou_web import TOPICS as WEB_TOPICS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TOPICS = {  # the web tests' day, and a near twin of its molecular-graphs paper
    **WEB_TOPICS,
    "2405.00006": (
        "Message passing on molecular graphs at scale",
        "graphs molecules message passing",
    ),
}
BIBTEX = "@article{gnn, title={Graph Neural Networks for Molecules}, year={2024}}\n"


def order(page: object) -> list[str]:
    cards = page.locator("ol.cards article.card")  # type: ignore[attr-defined]
    return [cards.nth(i).get_attribute("data-paper-id") for i in range(cards.count())]


def test_cold_start_rating_and_the_reranked_day(
    store: SQLStore,
    database_url: str,
    tmp_path: Path,
    browser: object,  # noqa: F811
) -> None:
    store.upsert(
        [
            Record(
                Paper(pid, title, f"We study {words}. " * 3, (f"Author {i}",), ("cs.LG",)),
                FeedEntry(pid, DAY, upvotes=10 - i),
            )
            for i, (pid, (title, words)) in enumerate(TOPICS.items())
        ]
    )
    make_user(store, "ada")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings(database_url=database_url, base_url=base, search_preload=False)
    library = tmp_path / "library.bib"
    library.write_text(BIBTEX, encoding="utf-8")
    with LiveServer(create_app(settings, store=store, today=lambda: DAY), port=port):
        context = browser.new_context()  # type: ignore[attr-defined]
        page = context.new_page()
        outside, errors = watch(page)
        page.goto(f"{base}/login?next=/for-you")
        page.fill("#f-login", "ada")
        page.fill("#f-password", PASSWORD)
        page.click("form.account-form button[type=submit]")
        page.wait_for_url(re.compile(r"/for-you/setup"))  # nothing rated yet: the cold start

        page.fill("#categories", "cs.LG")
        page.click("form[action='/for-you/follow'] button[type=submit]")
        assert page.input_value("#categories") == "cs.LG"
        page.fill("#papers", "https://arxiv.org/abs/2405.00001v1")
        page.click("form[action='/for-you/seeds'] button[type=submit]")
        assert "1 paper added" in page.content()
        page.set_input_files("#file", str(library))
        page.click("form[action='/for-you/library'] button[type=submit]")
        report = page.content()
        assert "matched by title to 2405.00003" in report, report

        page.goto(f"{base}/for-you?days=1")
        first = order(page)
        assert set(first[:3]) == {"2405.00002", "2405.00004", "2405.00006"}, first
        assert "2405.00001" not in first and "2405.00003" not in first  # rated: not listed
        page.locator("details.why").first.click()
        assert "Why for you" in page.content()

        # "Not for me" on the molecular-graphs paper, from its card: htmx swaps the buttons.
        item = page.locator("ol.cards > li", has=page.locator("[data-paper-id='2405.00004']"))
        item.locator("button.rate-down").click()
        item.locator(".rate-state").wait_for()
        assert "rank lower" in item.inner_text()
        assert page.url.endswith("/for-you?days=1")  # no page load

        page.reload()
        second = order(page)
        assert "2405.00004" not in second
        # its close neighbour is demoted, and says so
        near = page.locator("ol.cards > li", has=page.locator("[data-paper-id='2405.00006']"))
        near.locator("details.why summary").click()
        assert "which is not for you" in near.inner_text()
        assert second.index("2405.00006") >= first.index("2405.00006"), (first, second)
        assert store.ratings.count_of(1) == {1: 2, -1: 1}
        assert outside == [] and errors == []
        context.close()
