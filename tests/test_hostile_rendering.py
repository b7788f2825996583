"""Hostile text in headless Chromium, under the site's real Content-Security-Policy.

- KaTeX runs with capped sizes: ``\\rule{3000em}{3000em}`` in a comment, an imported title or an
  abstract draws a small block, not a 50,000-pixel one that buries the page.
- Bidi overrides in user names and comments stay inside them: text after a name is not reordered.
- The API docs (Swagger UI from the package) load with no request leaving loopback.

Each page is watched (``test_browser.watch``): any request off loopback, JavaScript error or CSP
violation fails the test.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from community import make_user
from paperboy.models import FeedEntry, Paper, Record
from paperboy.store import SQLStore
from paperboy.store.comments import CommentStore
from test_browser import browser, watch  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DAY = date(2024, 12, 4)
RULE = r"\rule{3000em}{3000em}"
BIG = "2412.00001"
BIDI = "2412.00002"
RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE
ZWSP = "\u200b"  # ZERO WIDTH SPACE
SMALL_PX = 300


def hostile_records() -> list[Record]:
    big = Paper(
        BIG,
        f"Scaling walls ${RULE}$ in titles",
        f"An abstract with a wall: $${RULE}$$ and more text after it.",
        ("Ada Lovelace",),
        ("cs.LG",),
        published=datetime(2024, 12, 3, 12),
    )
    plain = Paper(
        BIDI,
        "A paper submitted by someone with an odd name",
        "Nothing to see.",
        ("Grace Hopper",),
        ("cs.LG",),
        published=datetime(2024, 12, 3, 12),
    )
    return [
        Record(big, FeedEntry(BIG, DAY, upvotes=3)),
        Record(plain, FeedEntry(BIDI, DAY, upvotes=2, submitted_by=f"{RLO}mallory")),
    ]


def height(page: object, selector: str) -> float:
    box = page.locator(selector).first.bounding_box()  # type: ignore[attr-defined]
    assert box is not None, selector
    return float(box["height"])


def test_katex_caps_rule_sizes_in_comments_titles_and_abstracts(
    store: SQLStore,
    live_server: object,
    browser: object,  # noqa: F811
) -> None:
    store.upsert(hostile_records())
    author = make_user(store, "ada")
    CommentStore(store.engine).add(author.id, BIG, f"Look: $${RULE}$$ says it all.")
    base = live_server.url  # type: ignore[attr-defined]
    context = browser.new_context()  # type: ignore[attr-defined]
    page = context.new_page()
    outside, errors = watch(page)
    try:
        page.goto(f"{base}/papers?date={DAY}", wait_until="load")
        card = f'article.card[data-paper-id="{BIG}"]'
        page.locator(f"{card} .katex").first.wait_for(state="attached", timeout=10_000)
        assert page.locator(f"{card} .katex-error").count() == 0
        assert page.locator(f"{card} .katex-rule").count() >= 1  # KaTeX drew the rule, small
        assert height(page, card) < SMALL_PX * 2  # title and excerpt together
        assert height(page, f"{card} h2") < SMALL_PX

        page.goto(f"{base}/papers/{BIG}", wait_until="load")
        page.locator(".comment-body .katex").first.wait_for(state="attached", timeout=10_000)
        for selector in ("h1", "section.abstract", ".comment-body"):
            assert page.locator(f"{selector} .katex-rule").count() == 1, selector
            assert height(page, selector) < SMALL_PX, selector
        page.wait_for_load_state("networkidle")
    finally:
        context.close()
    assert outside == [], outside
    assert errors == [], errors


def test_bidi_overrides_in_names_and_comments_reorder_nothing_outside(
    store: SQLStore,
    live_server: object,
    browser: object,  # noqa: F811
) -> None:
    store.upsert(hostile_records())
    eve = make_user(store, f"{RLO}eve{ZWSP}", email="eve@example.org")
    CommentStore(store.engine).add(eve.id, BIDI, f"{RLO}reversed inside the comment only")
    base = live_server.url  # type: ignore[attr-defined]
    context = browser.new_context()  # type: ignore[attr-defined]
    page = context.new_page()
    outside, errors = watch(page)
    try:
        page.goto(f"{base}/papers/{BIDI}", wait_until="load")
        # "Submitted by <strong>NAME</strong> on <time>": the date stays after the name.
        name = page.locator(".submitted-by strong").bounding_box()
        when = page.locator(".submitted-by time").bounding_box()
        assert name is not None and when is not None
        assert when["x"] >= name["x"] + name["width"] - 1, (name, when)
        assert page.locator(".submitted-by strong").inner_text() == f"{RLO}mallory"

        isolation = page.evaluate(
            """() => [".comment-author", ".comment-body", ".submitted-by strong"].map(
                s => getComputedStyle(document.querySelector(s)).unicodeBidi)"""
        )
        assert isolation == ["isolate", "isolate", "isolate"]
        author = page.locator(".comment-author").bounding_box()
        stamp = page.locator(".comment-time").bounding_box()
        assert author is not None and stamp is not None
        assert stamp["x"] >= author["x"] + author["width"] - 1, (author, stamp)
    finally:
        context.close()
    assert outside == [], outside
    assert errors == [], errors


def test_api_docs_load_swagger_ui_from_the_site_only(
    live_server: object,
    browser: object,  # noqa: F811
) -> None:
    base = live_server.url  # type: ignore[attr-defined]
    context = browser.new_context()  # type: ignore[attr-defined]
    page = context.new_page()
    outside, errors = watch(page)
    loaded: list[str] = []
    page.on("response", lambda r: loaded.append(f"{r.status} {r.url}"))
    try:
        page.goto(f"{base}/api/docs", wait_until="load")
        page.locator(".swagger-ui .opblock").first.wait_for(state="visible", timeout=20_000)
        assert page.locator(".swagger-ui .opblock").count() >= 5
        assert "/api/daily_papers" in page.locator(".swagger-ui").inner_text()
        page.wait_for_load_state("networkidle")
    finally:
        context.close()
    assert outside == [], f"requests left the machine: {outside}"
    assert errors == [], errors
    assets = [
        line for line in loaded if "/static/vendor/swagger-ui/" in line or "swagger-init" in line
    ]
    assert assets and all(line.startswith("200 ") for line in assets), loaded
