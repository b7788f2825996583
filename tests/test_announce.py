"""arXiv daily announcements from its RSS listing feeds (``rss.arxiv.org/rss/<category>``).

No recorded RSS response exists in ../shared yet, so the feeds here are built in the envelope
arXiv documents (https://info.arxiv.org/help/rss.html; RSS 2.0 with ``arxiv:announce_type``,
``dc:creator``, ``dc:rights``, channel ``pubDate`` in US Eastern time), filled with real paper
metadata (ids, titles, abstracts, authors) from the shipped demo data. The store side runs
through a real local server (:mod:`arxiv_replay`) and the production HTTP client.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import date
from typing import Any
from xml.sax.saxutils import escape

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from arxiv_replay import ArxivReplay, recording_http, replay_settings
from paperboy.ingest import demo_data_path, import_files
from paperboy.ingest.announce import RssError, fetch_announcements, parse_rss
from paperboy.ingest.http import ArxivHttp
from paperboy.store import SQLStore

MONDAY = "Mon, 30 Sep 2024 00:00:00 -0400"


def _demo(count: int = 6) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with gzip.open(demo_data_path(), "rt", encoding="utf-8") as lines:
        for line in lines:
            rows.append(json.loads(line))
            if len(rows) == count:
                break
    return rows


DEMO = _demo()


def item(
    paper: dict[str, Any],
    kind: str,
    *,
    version: int = 1,
    categories: tuple[str, ...] = ("cs.CL", "cs.AI"),
    with_id: bool = True,
    pub_date: str = MONDAY,
) -> str:
    ref = f"arXiv:{paper['id']}v{version} " if with_id else ""
    link = f"https://arxiv.org/abs/{paper['id']}" if with_id else ""
    guid = f"oai:arXiv.org:{paper['id']}v{version}" if with_id else ""
    cats = "".join(f"<category>{c}</category>" for c in categories)
    return (
        f"<item><title>{escape(paper['title'])}</title><link>{link}</link>"
        f"<description>{escape(ref)}Announce Type: {kind} \n"
        f"Abstract: {escape(paper['abstract'])}</description>"
        f'<guid isPermaLink="false">{guid}</guid>{cats}<pubDate>{pub_date}</pubDate>'
        f"<arxiv:announce_type>{kind}</arxiv:announce_type>"
        "<dc:rights>http://creativecommons.org/licenses/by/4.0/</dc:rights>"
        f"<dc:creator>{escape(', '.join(paper['authors']))}</dc:creator></item>"
    )


def feed(items: list[str], pub_date: str = MONDAY, category: str = "cs.CL") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:arxiv="http://arxiv.org/schemas/atom" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:atom="http://www.w3.org/2005/Atom"><channel>'
        f"<title>{category} updates on arXiv.org</title>"
        f"<link>http://rss.arxiv.org/rss/{category}</link>"
        f"<description>{category} updates on the arXiv.org e-print archive.</description>"
        f'<atom:link href="http://rss.arxiv.org/rss/{category}" rel="self" '
        'type="application/rss+xml"/>'
        "<docs>http://www.rssboard.org/rss-specification</docs><language>en-us</language>"
        f"<lastBuildDate>{pub_date}</lastBuildDate>"
        f"<managingEditor>rss-help@arxiv.org</managingEditor><pubDate>{pub_date}</pubDate>"
        "<skipDays><day>Saturday</day><day>Sunday</day></skipDays>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def mixed() -> bytes:
    return feed(
        [
            item(DEMO[0], "new"),
            item(DEMO[1], "cross", categories=("cs.CV", "cs.CL")),
            item(DEMO[2], "replace", version=3),
            item(DEMO[3], "replace-cross", version=2, categories=("cs.LG", "cs.CL")),
        ]
    )


# -- parsing --------------------------------------------------------------------------------


def test_parse_types_ids_versions_authors_categories() -> None:
    day, found, problems = parse_rss(mixed())
    assert day == date(2024, 9, 30) and problems == []
    assert [(a.paper.id, a.announce_type, a.paper.version) for a in found] == [
        (DEMO[0]["id"], "new", 1),
        (DEMO[1]["id"], "cross", 1),
        (DEMO[2]["id"], "replace", 3),
        (DEMO[3]["id"], "replace-cross", 2),
    ]
    first = found[0].paper
    assert first.title == DEMO[0]["title"]
    assert first.authors == tuple(DEMO[0]["authors"])
    assert first.abstract == DEMO[0]["abstract"].replace("\n", " ")
    assert first.categories == ("cs.CL", "cs.AI") and first.primary_category == "cs.CL"
    assert first.license == "http://creativecommons.org/licenses/by/4.0/"
    assert found[1].paper.primary_category == "cs.CV"
    assert all(a.day == date(2024, 9, 30) for a in found)


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("Mon, 30 Sep 2024 00:00:00 -0400", date(2024, 9, 30)),  # EDT
        ("Mon, 02 Dec 2024 00:00:00 -0500", date(2024, 12, 2)),  # EST
        ("Mon, 02 Dec 2024 04:30:00 +0000", date(2024, 12, 1)),  # UTC, still Sunday in New York
    ],
)
def test_channel_day_is_the_us_eastern_date(stamp: str, expected: date) -> None:
    day, found, _ = parse_rss(feed([item(DEMO[0], "new", pub_date=stamp)], pub_date=stamp))
    assert day == expected and found[0].day == expected


def test_same_id_twice_keeps_the_first() -> None:
    body = feed([item(DEMO[0], "new"), item(DEMO[0], "replace", version=2)])
    _, found, problems = parse_rss(body)
    assert [(a.announce_type, a.paper.version) for a in found] == [("new", 1)]
    assert problems == []


def test_empty_channel() -> None:
    assert parse_rss(feed([])) == (date(2024, 9, 30), [], [])


def test_item_without_id_is_a_problem() -> None:
    _, found, problems = parse_rss(
        feed([item(DEMO[0], "new", with_id=False), item(DEMO[1], "new")])
    )
    assert [a.paper.id for a in found] == [DEMO[1]["id"]]
    assert problems == [(1, "item has no arXiv id")]


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<rss><channel><item>",
        b"<!DOCTYPE html><html><body><h1>503 Service Unavailable</h1></body></html>",
        b"<html><body>Not Found</body></html>",
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x "y">]><rss><channel/></rss>',
        b"<rss/>",
    ],
)
def test_unusable_bodies_raise(body: bytes) -> None:
    with pytest.raises(RssError):
        parse_rss(body)


def _mutations() -> st.SearchStrategy[bytes]:
    base = mixed()
    cut = st.integers(0, len(base)).map(lambda n: base[:n])
    flip = st.tuples(st.integers(0, len(base) - 1), st.binary(min_size=1, max_size=8)).map(
        lambda t: base[: t[0]] + t[1] + base[t[0] + len(t[1]) :]
    )
    splice = st.tuples(
        st.integers(0, len(base)),
        st.sampled_from(
            [b"<item>", b"</item>", b"&amp;", b"<![CDATA[", b"<pubDate>x</pubDate>", b"\x00"]
        ),
    ).map(lambda t: base[: t[0]] + t[1] + base[t[0] :])
    return st.one_of(cut, flip, splice, st.binary(max_size=200))


@hsettings(max_examples=100, deadline=None, derandomize=True)
@given(_mutations())
def test_fuzz_only_rss_error_escapes(body: bytes) -> None:
    try:
        day, found, problems = parse_rss(body)
    except RssError:
        return
    assert day is None or isinstance(day, date)
    assert all(a.announce_type in ("new", "cross", "replace", "replace-cross") for a in found)
    assert all(isinstance(i, int) and why for i, why in problems)


# -- fetching into the store ----------------------------------------------------------------


@pytest.fixture
def replay() -> Iterator[ArxivReplay]:
    with ArxivReplay() as server:
        yield server


def client_for(replay: ArxivReplay, database_url: str, store: SQLStore) -> ArxivHttp:
    settings = replay_settings(
        replay,
        database_url,
        arxiv_min_interval=0.0,
        arxiv_backoff=0.01,
        arxiv_timeout=2.0,
        arxiv_retries=1,
    )
    http, _waits = recording_http(settings, store, longest_sleep=0.05)
    return http


def test_fetch_stores_new_and_cross_not_replacements(
    replay: ArxivReplay, store: SQLStore, database_url: str
) -> None:
    replay.rss["cs.CL"] = mixed()
    with client_for(replay, database_url, store) as http:
        report = fetch_announcements(store, http, ["cs.CL"])
    assert replay.seen[0].path == "/rss/cs.CL"
    assert report.types == {"new": 1, "cross": 1, "replace": 1, "replace-cross": 1}
    assert report.counts.inserted == 4 and report.counts.feed_added == 2
    monday = date(2024, 9, 30)
    for row, kind in ((DEMO[0], "new"), (DEMO[1], "cross")):
        [entry] = store.feed_entries_for(row["id"])
        assert (entry.feed_date, entry.source, entry.announce_type, entry.upvotes) == (
            monday,
            "arxiv",
            kind,
            0,
        )
    for row, version in ((DEMO[2], 3), (DEMO[3], 2)):
        assert store.feed_entries_for(row["id"]) == []
        paper = store.get_paper(row["id"])
        assert paper is not None and paper.version == version
    run = store.ingest_runs(1)[0]
    assert (run.source, run.status, run.inserted, run.detail) == ("rss", "ok", 4, "cs.CL")

    with client_for(replay, database_url, store) as http:  # idempotent
        again = fetch_announcements(store, http, ["cs.CL"])
    assert again.counts.inserted == again.counts.updated == 0
    assert again.counts.feed_added == again.counts.feed_updated == 0
    assert store.count_feed_entries() == 2


def test_fetch_empty_channel(replay: ArxivReplay, store: SQLStore, database_url: str) -> None:
    replay.rss["cs.CL"] = feed([])
    with client_for(replay, database_url, store) as http:
        report = fetch_announcements(store, http, ["cs.CL"])
    assert report.categories[0].error is None and report.types["new"] == 0
    assert store.count_feed_entries() == 0
    assert store.ingest_runs(1)[0].status == "ok"


@pytest.mark.parametrize("body", [b"<rss><channel><item>", b"<html><body>Oops</body></html>"])
def test_fetch_unusable_feed_stores_nothing(
    replay: ArxivReplay, store: SQLStore, database_url: str, body: bytes
) -> None:
    replay.rss["cs.CL"] = body
    with client_for(replay, database_url, store) as http:
        report = fetch_announcements(store, http, ["cs.CL", "cs.XX"])
    assert [c.error is not None for c in report.categories] == [True, True]
    assert "HTTP 404" in (report.categories[1].error or "")
    assert store.count_papers() == 0 and store.count_feed_entries() == 0
    assert store.ingest_runs(1)[0].status == "failed"
    with pytest.raises(RssError):
        parse_rss(body)


def test_fetch_item_without_id_keeps_the_rest(
    replay: ArxivReplay, store: SQLStore, database_url: str
) -> None:
    replay.rss["cs.CL"] = feed([item(DEMO[0], "new", with_id=False), item(DEMO[1], "new")])
    with client_for(replay, database_url, store) as http:
        report = fetch_announcements(store, http, ["cs.CL"])
    assert report.problems == ["cs.CL: item 1: item has no arXiv id"]
    assert store.get_paper(DEMO[1]["id"]) is not None and store.count_papers() == 1
    run = store.ingest_runs(1)[0]
    assert (run.status, run.errors) == ("partial", 1)


def test_announcement_of_a_demo_paper_merges(
    replay: ArxivReplay, store: SQLStore, database_url: str
) -> None:
    import_files(store, [demo_data_path()])
    row = DEMO[0]
    [daily] = store.feed_entries_for(row["id"])
    assert daily.source == "daily" and daily.announce_type is None
    papers = store.count_papers()
    replay.rss["cs.CL"] = feed([item(row, "new")])
    with client_for(replay, database_url, store) as http:
        report = fetch_announcements(store, http, ["cs.CL"])
    assert report.counts.inserted == 0 and report.counts.feed_added == 1
    assert store.count_papers() == papers
    entries = sorted(store.feed_entries_for(row["id"]), key=lambda e: e.feed_date)
    assert [(e.feed_date, e.source, e.announce_type) for e in entries] == [
        (daily.feed_date, "daily", None),
        (date(2024, 9, 30), "arxiv", "new"),
    ]
    paper = store.get_paper(row["id"])
    assert paper is not None and paper.categories == ("cs.CL", "cs.AI") and paper.version == 1


def test_cli_announcements(replay: ArxivReplay, database_url: str) -> None:
    from typer.testing import CliRunner

    from paperboy.cli import app

    runner = CliRunner(env={"COLUMNS": "240", "NO_COLOR": "1"})
    replay.rss["cs.CL"] = mixed()
    env = {
        "PAPERBOY_DATABASE_URL": database_url,
        "PAPERBOY_ARXIV_RSS_URL": f"{replay.url}/rss",
        "PAPERBOY_ARXIV_MIN_INTERVAL": "0",
        "PAPERBOY_ARXIV_RETRIES": "0",
    }
    result = runner.invoke(app, ["announcements", "cs.CL"], env=env)
    assert result.exit_code == 0, result.output
    assert "cs.CL" in result.output and "2024-09-30" in result.output
    result = runner.invoke(app, ["announcements", "cs.CL", "cs.XX"], env=env)
    assert result.exit_code == 1
    help_text = runner.invoke(app, ["announcements", "--help"]).output
    assert "paperboy announcements cs.CL" in help_text
