"""End to end in headless Chromium: feed, previous-day navigation, paper page, KaTeX.

Needs ``/usr/bin/chromium`` (the Makefile installs it; ``apt-get install -y chromium``).
Any request to a host other than the loopback server fails the test: no CDN, no telemetry.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import paperboy
from demo import demo_record, demo_rows
from paperboy.models import Record
from paperboy.store import SQLStore

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DEMO = Path(paperboy.__file__).parent / "demo" / "daily_papers.jsonl.gz"
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
TEX_PAPER = "2411.19477"


def watch(page: object) -> tuple[list[str], list[str]]:
    """Record the page's requests to other hosts than loopback, and its JavaScript errors and
    Content-Security-Policy violations; both lists must stay empty."""
    outside: list[str] = []
    errors: list[str] = []

    def request(request: object) -> None:
        url: str = request.url  # type: ignore[attr-defined]
        parts = urlsplit(url)
        if parts.scheme not in ("data", "blob", "about") and parts.hostname not in LOOPBACK:
            outside.append(url)

    def console(message: object) -> None:
        text: str = message.text  # type: ignore[attr-defined]
        if "Content Security Policy" in text:  # Chromium's report of a CSP violation
            errors.append(text)

    page.on("request", request)  # type: ignore[attr-defined]
    page.on("pageerror", lambda error: errors.append(str(error)))  # type: ignore[attr-defined]
    page.on("console", console)  # type: ignore[attr-defined]
    return outside, errors


def real_records(days: set[str]) -> list[Record]:
    return [demo_record(row) for row in demo_rows() if row["daily_date"] in days]


@pytest.fixture
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        message = (
            f"{CHROMIUM} is missing: install Chromium (`make test` installs it, or "
            "`apt-get install -y chromium`) to run the browser tests"
        )
        if os.environ.get("PAPERBOY_REQUIRE_BROWSER") == "1":  # set by `make test`
            pytest.fail(message)
        pytest.skip(message)
    from playwright import sync_api

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def test_feed_navigation_and_katex(store: SQLStore, live_server: object, browser: object) -> None:
    records = real_records({"2024-12-03", "2024-12-04"})
    assert any(r.paper.id == TEX_PAPER for r in records)
    store.upsert(records)
    base = live_server.url  # type: ignore[attr-defined]

    context = browser.new_context(java_script_enabled=True)  # type: ignore[attr-defined]
    page = context.new_page()
    outside, page_errors = watch(page)

    try:
        page.goto(f"{base}/", wait_until="load")
        assert "December 4, 2024" in page.locator("h1").inner_text()
        assert page.locator("article.card").count() == 15

        page.locator("a.prev").click()
        page.wait_for_url("**/papers?date=2024-12-03")
        assert "December 3, 2024" in page.locator("h1").inner_text()
        assert urlsplit(page.url).query == "date=2024-12-03"

        card = page.locator(f'article.card[data-paper-id="{TEX_PAPER}"]')
        card.locator("h2 a").click()
        page.wait_for_url(f"**/papers/{TEX_PAPER}")
        assert "Scaling Law" in page.locator("h1").inner_text()

        abstract = page.locator("section.abstract")
        abstract.locator(".katex").first.wait_for(state="attached", timeout=10_000)
        assert abstract.locator(".katex").count() >= 1
        assert abstract.locator(".katex-error").count() == 0

        # the copy button is revealed by JS; the BibTeX block is readable either way
        assert page.locator("button[data-copy]").is_visible()
        assert page.locator("#bibtex-block").inner_text().startswith("@misc{chen2024simple,")
        page.wait_for_load_state("networkidle")
    finally:
        context.close()

    assert outside == [], f"requests left the machine: {outside}"
    assert page_errors == [], page_errors


def test_search_from_the_header_box(store: SQLStore, live_server: object, browser: object) -> None:
    from paperboy.embed.jobs import load_embeddings
    from paperboy.ingest import demo_embeddings_path

    store.upsert([demo_record(row) for row in demo_rows()[:600]])
    load_embeddings(store, demo_embeddings_path())
    base = live_server.url  # type: ignore[attr-defined]
    context = browser.new_context(java_script_enabled=True)  # type: ignore[attr-defined]
    page = context.new_page()
    outside, page_errors = watch(page)
    try:
        page.goto(f"{base}/", wait_until="load")
        page.locator("header form.search input[name=q]").fill("video generation")
        page.locator("header form.search button").click()
        page.wait_for_url("**/search?q=video+generation*")
        results = page.locator("li.result")
        assert results.count() == 20
        assert page.locator("li.result mark").count() > 0
        assert "Why:" in results.first.inner_text()
        shots = Path(os.environ.get("PAPERBOY_SCREENSHOTS", "/tmp"))
        page.screenshot(path=str(shots / "search.png"))

        page.locator("nav.pager a[rel=next]").click()
        page.wait_for_url("**page=2*")
        assert page.locator("ol.results").get_attribute("start") == "21"

        page.locator("details.search-filters summary").click()
        page.locator("input[name=since]").fill("2099")
        page.locator("form.search-form button[type=submit]").click()
        page.wait_for_url("**since=2099*")
        assert "No papers match" in page.locator("main").inner_text()

        first = demo_rows()[0]
        page.locator("header form.search input[name=q]").fill(f"arXiv:{first['id']}")
        page.locator("header form.search button").click()
        page.wait_for_url(f"**/papers/{first['id']}")
        assert page.locator("section.similar li").count() > 0
    finally:
        context.close()
    assert outside == [], f"requests left the machine: {outside}"
    assert page_errors == [], page_errors
