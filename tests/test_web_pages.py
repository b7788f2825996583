"""HTML pages through TestClient, on a real SQLite store filled with real papers."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import paperboy
from demo import demo_record, demo_rows, rows_between
from paperboy.models import FeedEntry, Record
from paperboy.settings import Settings
from paperboy.store import SQLStore

DEMO = Path(paperboy.__file__).parent / "demo" / "daily_papers.jsonl.gz"
PAGE_SIZE = 10
XSS_SCRIPT = "<script>alert(1)</script>"
XSS_IMG = "<img src=x onerror=alert(1)>"


def demo_day(day: str) -> list[dict[str, Any]]:
    return rows_between(day, day)


def to_record(line: dict[str, Any], **changes: Any) -> Record:
    return demo_record(line, **changes)


def load_days(store: SQLStore, days: Iterable[str]) -> list[Record]:
    records = [to_record(line) for day in days for line in demo_day(day)]
    store.upsert(records)
    return records


def card_ids(html: str) -> list[str]:
    return re.findall(r'data-paper-id="([^"]+)"', html)


def expected_order(records: list[Record], day: str | None = None) -> list[str]:
    chosen = [r for r in records if r.feed and (day is None or r.feed.feed_date.isoformat() == day)]
    # the store's order: upvotes, then newer feed day, then id, all descending
    chosen.sort(key=lambda r: (r.feed.upvotes or 0, r.feed.feed_date, r.paper.id), reverse=True)  # type: ignore[union-attr]
    return [r.paper.id for r in chosen]


def upvotes_in_order(html: str) -> list[int]:
    return [int(v) for v in re.findall(r'<span class="vote-count">(\d+)</span>', html)]


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, page_size=PAGE_SIZE)


@pytest.fixture
def days_store(store: SQLStore) -> list[Record]:
    """Real papers on 2024-12-02 (15), 2024-12-04 (15) and 2024-12-10; nothing in between."""
    return load_days(store, ["2024-12-02", "2024-12-04", "2024-12-10"])


def links(html: str, cls: str) -> list[str]:
    return re.findall(rf'<a class="{cls}" rel="\w+" href="([^"]+)"', html)


# --------------------------------------------------------------------------- feed pages


def test_empty_store_shows_friendly_empty_state(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert "No papers yet" in response.text
    assert "paperboy import FILE" in response.text
    assert "make run" in response.text


def test_home_shows_latest_day_sorted_by_upvotes(
    client: TestClient, days_store: list[Record]
) -> None:
    response = client.get("/")
    assert response.status_code == 200
    html = response.text
    assert "Tuesday, December 10, 2024" in html
    ids = card_ids(html)
    day_ids = [r.paper.id for r in days_store if r.feed and str(r.feed.feed_date) == "2024-12-10"]
    assert set(ids) <= set(day_ids)
    assert len(ids) == min(PAGE_SIZE, len(day_ids))
    votes = upvotes_in_order(html)
    assert votes == sorted(votes, reverse=True)
    assert links(html, "prev") == ["/papers?date=2024-12-04"]
    assert links(html, "next") == []


def test_day_page_lists_that_day_sorted(client: TestClient, store: SQLStore) -> None:
    records = load_days(store, ["2024-12-03", "2024-12-04"])
    html = client.get("/papers?date=2024-12-04").text
    assert card_ids(html) == expected_order(records, "2024-12-04")[:PAGE_SIZE]
    assert "15 papers" in html


def test_week_and_month_pages(client: TestClient, days_store: list[Record]) -> None:
    week = client.get("/papers?week=2024-W49")  # Dec 2 to Dec 8
    assert week.status_code == 200
    in_week = [r for r in days_store if r.feed and r.feed.feed_date <= date(2024, 12, 8)]
    assert card_ids(week.text) == expected_order(in_week)[:PAGE_SIZE]
    assert f"{len(in_week)} papers" in week.text
    assert links(week.text, "next") == ["/papers?week=2024-W50"]
    assert links(week.text, "prev") == []

    month = client.get("/papers?month=2024-12")
    assert month.status_code == 200
    assert f"{len(days_store)} papers" in month.text
    assert card_ids(month.text) == expected_order(days_store)[:PAGE_SIZE]
    # the view switch offers the same stretch of time as day, week and month
    assert 'href="/papers?date=2024-12-10"' in month.text
    assert 'href="/papers?week=2024-W50"' in month.text
    assert 'aria-current="page" class="current">Month<' in month.text


def test_previous_and_next_skip_empty_days(client: TestClient, days_store: list[Record]) -> None:
    html = client.get("/papers?date=2024-12-04").text
    assert links(html, "prev") == ["/papers?date=2024-12-02"]
    assert links(html, "next") == ["/papers?date=2024-12-10"]


def test_empty_day_is_friendly_with_navigation(
    client: TestClient, days_store: list[Record]
) -> None:
    response = client.get("/papers?date=2024-12-03")
    assert response.status_code == 200
    assert "No papers on this day" in response.text
    assert card_ids(response.text) == []
    assert links(response.text, "prev") == ["/papers?date=2024-12-02"]
    assert links(response.text, "next") == ["/papers?date=2024-12-04"]


def test_date_picker_works_without_js(client: TestClient, days_store: list[Record]) -> None:
    html = client.get("/").text
    assert '<form class="date-picker" method="get" action="/papers">' in html
    assert 'type="date" name="date"' in html
    # an empty submission falls back to the latest day rather than failing
    assert client.get("/papers?date=").status_code == 200


def test_pagination(client: TestClient, store: SQLStore) -> None:
    records = load_days(store, ["2024-12-03"])  # 25 papers, 3 pages of 10
    order = expected_order(records)
    first = client.get("/papers?date=2024-12-03").text
    assert card_ids(first) == order[:10]
    assert 'href="/papers?date=2024-12-03&amp;page=2"' in first
    assert 'href="/papers?date=2024-12-03&amp;page=3"' in first
    second = client.get("/papers?date=2024-12-03&page=2").text
    assert card_ids(second) == order[10:20]
    assert '<span aria-current="page" class="current">2</span>' in second
    third = client.get("/papers?date=2024-12-03&page=3").text
    assert card_ids(third) == order[20:]
    assert "&amp;page=4" not in third
    beyond = client.get("/papers?date=2024-12-03&page=9")
    assert beyond.status_code == 200 and "No papers on this page" in beyond.text


def test_no_pagination_when_it_fits(client: TestClient, store: SQLStore) -> None:
    store.upsert([to_record(line) for line in demo_day("2024-12-03")[:5]])
    assert 'class="pagination"' not in client.get("/").text


@pytest.mark.parametrize(
    "query",
    [
        "date=2024-13-45",
        "date=yesterday",
        "week=2024-W60",
        "month=2024-13",
        "date=2024-12-03&page=0",
    ],
)
def test_bad_parameters_give_400_page(client: TestClient, query: str) -> None:
    response = client.get(f"/papers?{query}")
    assert response.status_code == 400
    assert "text/html" in response.headers["content-type"]
    assert 'href="/"' in response.text


# --------------------------------------------------------------------------- paper pages


def test_paper_page_shows_everything(make_app: Callable[..., FastAPI], store: SQLStore) -> None:
    line = next(line for line in demo_rows() if line["id"] == "2411.19477")
    record = to_record(
        line,
        categories=("cs.LG", "cs.AI"),
        comments="12 pages, 3 figures",
        journal_ref="NeurIPS 2025",
        doi="10.1000/xyz_123",
        license="http://creativecommons.org/licenses/by/4.0/",
        github_repo="https://github.com/example/repo",
        project_page="https://example.org/project",
    )
    store.upsert([record])
    store.upsert([Record(record.paper, FeedEntry(record.paper.id, date(2024, 12, 9), upvotes=7))])
    with TestClient(make_app(today=date(2024, 12, 9))) as client:
        response = client.get("/papers/2411.19477")
    assert response.status_code == 200
    html = response.text
    assert "A Simple and Provable Scaling Law" in html
    for author in record.paper.authors:
        assert author in html
    assert '<li class="primary" title="Primary category">cs.LG</li>' in html
    assert '<section class="abstract tex"' in html
    assert "$P(final output is incorrect)" in html
    assert "November 29, 2024" in html
    assert '<a href="/papers?date=2024-12-03">' in html
    assert '<a href="/papers?date=2024-12-09">' in html
    assert "7 upvotes" in html
    assert "12 pages, 3 figures" in html and "NeurIPS 2025" in html
    assert 'href="https://doi.org/10.1000/xyz_123"' in html
    assert 'href="https://arxiv.org/abs/2411.19477"' in html
    assert 'href="https://arxiv.org/pdf/2411.19477"' in html
    assert (
        '<a class="button" href="https://github.com/example/repo" rel="noopener noreferrer"' in html
    )
    assert 'href="https://example.org/project" rel="noopener noreferrer"' in html
    # BibTeX readable without JS, copy button revealed by JS
    assert '<pre id="bibtex-block" class="bibtex"><code>@misc{chen2024simple,' in html
    assert "eprint        = {2411.19477}" in html
    assert 'data-copy="bibtex-block" hidden' in html


def test_paper_abstract_paragraphs(client: TestClient, store: SQLStore) -> None:
    line = demo_day("2024-12-03")[0]
    store.upsert([to_record(line, abstract="First paragraph.\n\nSecond paragraph.")])
    html = client.get(f"/papers/{line['id']}").text
    assert "<p>First paragraph.</p>" in html and "<p>Second paragraph.</p>" in html


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ("/papers/2411.19477v2", "/papers/2411.19477"),
        ("/papers/arXiv:2411.19477", "/papers/2411.19477"),
        ("/papers/math.GT/0309136v1", "/papers/math/0309136"),
    ],
)
def test_non_canonical_ids_redirect(client: TestClient, path: str, target: str) -> None:
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 301
    assert response.headers["location"] == target


def test_old_style_id_page(client: TestClient, store: SQLStore) -> None:
    line = demo_day("2024-12-03")[0]
    store.upsert([to_record(line, id="hep-th/9901001", title="Old scheme paper")])
    response = client.get("/papers/hep-th/9901001")
    assert response.status_code == 200
    assert "Old scheme paper" in response.text
    assert 'href="https://arxiv.org/abs/hep-th/9901001"' in response.text
    assert (
        client.get("/papers/hep-th/9901001v2", follow_redirects=False).headers["location"]
        == "/papers/hep-th/9901001"
    )


@pytest.mark.parametrize("path", ["/papers/2401.99999", "/papers/not-an-id", "/papers/"])
def test_unknown_paper_is_404_with_navigation(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert "text/html" in response.headers["content-type"]
    assert 'href="/"' in response.text and "Back to the latest papers" in response.text


# --------------------------------------------------------------------------- safety


def test_paper_text_is_escaped(client: TestClient, store: SQLStore) -> None:
    line = demo_day("2024-12-04")[0]
    evil = f"Evil {XSS_SCRIPT} {XSS_IMG}"
    store.upsert(
        [
            to_record(
                line,
                title=evil,
                authors=(f"Mallory {XSS_SCRIPT}", XSS_IMG),
                abstract=f"Abstract {XSS_SCRIPT} and {XSS_IMG} end.",
                comments=XSS_IMG,
                categories=(XSS_SCRIPT,),
            )
        ]
    )
    for path in ("/", "/papers?date=2024-12-04", f"/papers/{line['id']}"):
        html = client.get(path).text
        assert XSS_SCRIPT not in html, path
        assert XSS_IMG not in html, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path
        assert "&lt;img src=x onerror=alert(1)&gt;" in html, path
    bib = client.get(f"/papers/{line['id']}").text.split('id="bibtex-block"')[1]
    assert "<script>" not in bib


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", " JavaScript:alert(1)", "data:text/html,<b>x</b>", "//evil.example/x"],
)
def test_unsafe_urls_are_not_links(client: TestClient, store: SQLStore, url: str) -> None:
    line = demo_day("2024-12-04")[0]
    store.upsert([to_record(line, project_page=url, github_repo=url)])
    for path in ("/", f"/papers/{line['id']}"):
        html = client.get(path).text
        assert "javascript:" not in html.lower(), path
        assert "Project page" not in html, path
        assert ">Code<" not in html, path
        assert 'href="data:' not in html and 'href="//evil' not in html


def test_external_links_have_rel(client: TestClient, store: SQLStore) -> None:
    line = demo_day("2024-12-04")[0]
    store.upsert(
        [to_record(line, github_repo="https://github.com/a/b", project_page="http://x.org")]
    )
    for path in ("/", f"/papers/{line['id']}"):
        html = client.get(path).text
        for tag in re.findall(r'<a [^>]*href="https?://[^"]*"[^>]*>', html):
            assert 'rel="noopener noreferrer"' in tag, tag
        assert ">Code<" in html and ">Project page<" in html


def test_no_external_resources(client: TestClient, days_store: list[Record]) -> None:
    """No CDN: every script, stylesheet and font comes from /static."""
    paper_id = days_store[0].paper.id
    for path in ("/", f"/papers/{paper_id}", "/papers?date=2024-13-45"):
        html = client.get(path).text
        for src in re.findall(r'<(?:script|link|img)[^>]*(?:src|href)="([^"]+)"', html):
            assert src.startswith(("/static/", "/feeds/")), (path, src)  # feeds: rel=alternate
    css = client.get("/static/vendor/katex/katex.min.css")
    assert css.status_code == 200 and "http" not in css.text
    for asset in (
        "/static/style.css",
        "/static/app.js",
        "/static/vendor/katex/katex.min.js",
        "/static/vendor/katex/contrib/auto-render.min.js",
        "/static/vendor/katex/fonts/KaTeX_Main-Regular.woff2",
    ):
        assert client.get(asset).status_code == 200, asset


# --------------------------------------------------------------------------- "New" badge


def test_new_badge_only_for_todays_entries(
    make_app: Callable[..., FastAPI], days_store: list[Record]
) -> None:
    with TestClient(make_app(today=date(2024, 12, 10))) as client:
        today_html = client.get("/papers?date=2024-12-10").text
        older_html = client.get("/papers?date=2024-12-04").text
        week_html = client.get("/papers?week=2024-W50").text
        month_html = client.get("/papers?month=2024-12&page=1").text
    assert today_html.count('class="badge badge-new"') == len(card_ids(today_html)) > 0
    assert "badge-new" not in older_html
    assert week_html.count("badge-new") == len(card_ids(week_html))
    new_on_month = month_html.count('class="badge badge-new"')
    tenth = {r.paper.id for r in days_store if r.feed and str(r.feed.feed_date) == "2024-12-10"}
    assert new_on_month == len([i for i in card_ids(month_html) if i in tenth])

    with TestClient(make_app(today=date(2024, 12, 11))) as client:
        assert "badge-new" not in client.get("/").text


# --------------------------------------------------------------------------- layout


def test_layout_header_footer(client: TestClient, days_store: list[Record]) -> None:
    html = client.get("/").text
    assert '<meta name="viewport"' in html
    assert '<a class="brand" href="/">Paperboy</a>' in html
    assert '<form class="search" action="/search" method="get"' in html and 'name="q"' in html
    assert 'href="/papers?week=2024-W50"' in html and 'href="/papers?month=2024-12"' in html
    assert 'href="/api/docs"' in html and 'href="/openapi.json"' in html


def test_header_box_opens_a_paper_by_id_or_url(
    client: TestClient, days_store: list[Record]
) -> None:
    paper_id = days_store[0].paper.id
    response = client.get(
        "/open", params={"id": f"https://arxiv.org/abs/{paper_id}v2"}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/papers/{paper_id}"
    assert (
        client.get("/open", params={"id": "  "}, follow_redirects=False).headers["location"] == "/"
    )
    bad = client.get("/open", params={"id": "<script>x</script>"})
    assert bad.status_code == 404
    assert "<script>x</script>" not in bad.text and "&lt;script&gt;" in bad.text


def test_cross_listed_announcements_are_marked(client: TestClient, store: SQLStore) -> None:
    line = demo_day("2024-12-03")[0]
    other = demo_day("2024-12-03")[1]
    record = to_record(line)
    cross = to_record(other)
    assert record.feed is not None and cross.feed is not None
    store.upsert(
        [
            Record(record.paper, replace(record.feed, source="arxiv", announce_type="new")),
            Record(cross.paper, replace(cross.feed, source="arxiv", announce_type="cross")),
        ]
    )
    html = client.get("/papers?date=2024-12-03").text
    assert html.count('class="badge badge-cross"') == 1
    card = html[html.index(f'data-paper-id="{cross.paper.id}"') :]
    assert card.index("badge-cross") < card.index("</article>")
