"""Composing digests into the outbox: periods, content, filters, sections, headers, bodies.

Real store (SQLite or PostgreSQL), real search service for alerts, real embeddings rows for the
"for you" section (hand-made unit vectors, so which paper is similar to which is known).
"""

from __future__ import annotations

import email
import email.policy
import re
from datetime import date, datetime, timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from community import make_user
from conftest import free_port
from paperboy.community.accounts import AccountError, site_secret
from paperboy.digest.compose import Composer, as_email, compose_due, matches_categories
from paperboy.digest.links import subscription_id_from, token
from paperboy.digest.periods import current_period, due_periods, next_period
from paperboy.digest.preview import NoSubscription, preview_digest
from paperboy.embed.jobs import encode_vector
from paperboy.embed.model import MODEL_NAME
from paperboy.models import FeedEntry, Paper, Record
from paperboy.services import build
from paperboy.settings import Settings
from paperboy.store import SQLStore
from paperboy.store.collections import CollectionStore
from smtp_sink import SmtpSink

FRIDAY = datetime(2026, 11, 27, 9, 0)  # naive UTC
MONDAY = datetime(2026, 11, 30, 9, 0)
THU, FRI, MON = date(2026, 11, 26), date(2026, 11, 27), date(2026, 11, 30)
BASE = "https://papers.example.org"
DIM = 384


@pytest.fixture
def config(database_url: str) -> Settings:
    return Settings(database_url=database_url, semantic_search=False, base_url=BASE, digest_size=5)


def add(
    store: SQLStore,
    pid: str,
    *,
    title: str | None = None,
    categories: tuple[str, ...] = ("cs.CL",),
    upvotes: int = 0,
    day: date | None = FRI,
    published: datetime | None = None,
    abstract: str = "We study things. " * 20,
    authors: tuple[str, ...] = (
        "Ada Lovelace",
        "Charles Babbage",
        "Mary Somerville",
        "Alan Turing",
    ),
) -> None:
    paper = Paper(
        pid,
        title or f"Paper {pid}",
        abstract,
        authors,
        categories,
        published=published or datetime(2026, 1, 1),
    )
    feed = FeedEntry(pid, day, upvotes=upvotes) if day is not None else None
    store.upsert([Record(paper, feed)])


def subscribe(store: SQLStore, address: str, **options: object) -> int:
    sub, created = store.subscriptions.create(address, confirmed=True, **options)  # type: ignore[arg-type]
    assert created
    return sub.id


def outbox_of(store: SQLStore, sub_id: int) -> list:  # type: ignore[type-arg]
    return store.subscriptions.messages_of(sub_id)


def ids_in(text: str) -> list[str]:
    return re.findall(re.escape(BASE) + r"/papers/([\w.]+)", text)


def unit(seed: int, base: np.ndarray | None = None, noise: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = rng.standard_normal(DIM) if base is None else base + noise * rng.standard_normal(DIM)
    return (v / np.linalg.norm(v)).astype(np.float32)


def embed(store: SQLStore, vectors: dict[str, np.ndarray]) -> None:
    seqs = store.change_seqs(list(vectors))
    rows = [(pid, seqs[pid], f"hash-{pid}", encode_vector(v)) for pid, v in vectors.items()]
    assert store.save_embeddings(MODEL_NAME, rows) == len(rows)


# -- periods --------------------------------------------------------------------------------


def test_daily_digests_on_weekdays_and_weekly_on_its_day(database_url: str) -> None:
    config = Settings(database_url=database_url, digest_weekly_day="mon")
    friday = due_periods(config, FRIDAY)
    assert [p.key for p in friday] == ["daily:2026-11-27"]
    assert friday[0].start == datetime(2026, 11, 27) and friday[0].end == datetime(2026, 11, 28)
    assert due_periods(config, datetime(2026, 11, 28, 12)) == []  # Saturday
    assert due_periods(config, datetime(2026, 11, 29, 12)) == []  # Sunday
    monday = due_periods(config, MONDAY)
    assert [p.key for p in monday] == ["daily:2026-11-30", "weekly:2026-W49"]
    assert monday[1].start == datetime(2026, 11, 30) and monday[1].end == datetime(2026, 12, 7)
    assert monday[1].label == "the week of Nov 30" and friday[0].label == "Nov 27"
    wednesday = Settings(database_url=database_url, digest_weekly_day="wed")
    assert [p.key for p in due_periods(wednesday, datetime(2026, 12, 2, 8))] == [
        "daily:2026-12-02",
        "weekly:2026-W49",
    ]
    assert [p.key for p in due_periods(wednesday, MONDAY)] == ["daily:2026-11-30"]
    # a Sunday weekly day: the week keyed by that Sunday's ISO week
    sunday = Settings(database_url=database_url, digest_weekly_day="sun")
    assert [p.key for p in due_periods(sunday, datetime(2026, 11, 29, 8))] == ["weekly:2026-W48"]
    assert next_period("daily", config, FRIDAY).key == "daily:2026-11-30"
    assert next_period("weekly", config, FRIDAY).key == "weekly:2026-W49"
    assert current_period("weekly", config, FRIDAY).key == "weekly:2026-W48"


def test_periods_follow_the_site_time_zone(database_url: str) -> None:
    la = Settings(database_url=database_url, timezone="America/Los_Angeles")
    # 05:00 UTC on Saturday is still Friday evening in Los Angeles
    periods = due_periods(la, datetime(2026, 11, 28, 5, 0))
    assert [p.key for p in periods] == ["daily:2026-11-27"]
    assert periods[0].start == datetime(2026, 11, 27, 8, 0)  # PST midnight, as naive UTC
    assert periods[0].end == datetime(2026, 11, 28, 8, 0)
    tokyo = Settings(database_url=database_url, timezone="Asia/Tokyo")
    # 20:00 UTC on Friday is already Saturday in Tokyo: nothing due
    assert due_periods(tokyo, datetime(2026, 11, 27, 20, 0)) == []
    # 20:00 UTC on Sunday is Monday in Tokyo
    monday = due_periods(tokyo, datetime(2026, 11, 29, 20, 0))
    assert [p.key for p in monday] == ["daily:2026-11-30", "weekly:2026-W49"]
    assert monday[0].start == datetime(2026, 11, 29, 15, 0)
    # an aware "now" is the same moment as its naive UTC
    aware = datetime(2026, 11, 28, 5, 0, tzinfo=ZoneInfo("Europe/Paris"))  # 04:00 UTC
    assert due_periods(la, aware) == due_periods(la, datetime(2026, 11, 28, 4, 0))


# -- composing --------------------------------------------------------------------------------


def test_composing_twice_in_a_period_writes_one_digest(store: SQLStore, config: Settings) -> None:
    for n in range(3):
        add(store, f"2611.0000{n}", upvotes=10 + n)
    first = subscribe(store, "a@example.org")
    second = subscribe(store, "b@example.org")
    report = compose_due(build(config, store), now=FRIDAY)
    assert (report.periods, report.due, report.queued) == (["daily:2026-11-27"], 2, 2)
    again = compose_due(build(config, store), now=FRIDAY + timedelta(hours=3))
    assert (again.due, again.queued) == (0, 0)
    for sub_id in (first, second):
        rows = outbox_of(store, sub_id)
        assert [(m.period, m.status) for m in rows] == [("daily:2026-11-27", "pending")]
        sub = store.subscriptions.get(sub_id)
        assert sub is not None and sub.last_digest_at == FRIDAY
    # two composers racing for the same subscriber and period: the second finds it done
    store.subscriptions.update(first, last_digest_at=None)
    sub = store.subscriptions.get(first)
    assert sub is not None
    composer = Composer(build(config, store), now=FRIDAY)
    period = due_periods(config, FRIDAY)[0]
    assert composer.enqueue(composer.build(sub, period)) == "existing"
    assert len(outbox_of(store, first)) == 1
    assert store.subscriptions.outbox_counts() == {"pending": 2}


def test_inactive_and_off_subscriptions_get_nothing(store: SQLStore, config: Settings) -> None:
    add(store, "2611.00001", upvotes=5)
    store.subscriptions.create("pending@example.org")
    off = subscribe(store, "off@example.org", frequency="off")
    gone = subscribe(store, "gone@example.org")
    store.subscriptions.unsubscribe(gone)
    weekly = subscribe(store, "weekly@example.org", frequency="weekly")
    report = compose_due(build(config, store), now=FRIDAY)
    assert report.due == 0 and store.subscriptions.outbox_counts() == {}
    assert outbox_of(store, off) == [] and outbox_of(store, weekly) == []
    monday = compose_due(build(config, store), now=MONDAY)
    assert monday.due == 1 and [m.period for m in outbox_of(store, weekly)] == ["weekly:2026-W49"]


def test_categories_and_min_upvotes_filter_trending(store: SQLStore, config: Settings) -> None:
    add(store, "2611.00001", categories=("cs.CL",), upvotes=50)
    add(store, "2611.00002", categories=("cs.LG", "stat.ML"), upvotes=40)
    add(store, "2611.00003", categories=("math.AG",), upvotes=30)
    add(store, "2611.00004", categories=("stat.ML",), upvotes=20)
    add(store, "2611.00005", categories=("cs.CL",), upvotes=5)
    add(store, "2611.00006", categories=("csx.XX",), upvotes=60)  # "cs" is not a prefix of it
    add(store, "2611.00007", categories=("physics.optics",), upvotes=1)
    add(store, "2611.00008", categories=("cs.CV",), upvotes=0)  # no points: not trending
    everything = subscribe(store, "all@example.org")
    cs = subscribe(store, "cs@example.org", categories=["cs"])
    cl = subscribe(store, "cl@example.org", categories=["cs.CL"], min_upvotes=10)
    stat = subscribe(store, "stat@example.org", categories=["stat", "math.AG"], min_upvotes=25)
    compose_due(build(config, store), now=FRIDAY)

    def got(sub_id: int) -> list[str]:
        (message,) = outbox_of(store, sub_id)
        return ids_in(message.body_text)

    # trending order, at most digest_size (5)
    assert got(everything) == ["2611.00006", "2611.00001", "2611.00002", "2611.00003", "2611.00004"]
    assert got(cs) == ["2611.00001", "2611.00002", "2611.00005"]
    assert got(cl) == ["2611.00001"]
    assert got(stat) == ["2611.00002", "2611.00003"]
    assert matches_categories(("cs.CL",), ["cs."]) and not matches_categories(("cs.CL",), ["cs.C"])


def test_never_the_same_paper_twice(store: SQLStore, config: Settings) -> None:
    for n in range(1, 8):
        add(store, f"2611.0000{n}", upvotes=10 * n, day=THU if n % 2 else FRI)
    sub_id = subscribe(store, "a@example.org")
    compose_due(build(config, store), now=FRIDAY)
    friday = ids_in(outbox_of(store, sub_id)[0].body_text)
    assert len(friday) == 5
    assert store.subscriptions.sent_paper_ids(sub_id) == set(friday)
    # Monday: new papers, and the ones sent on Friday got even more upvotes
    for n in range(1, 4):
        add(store, f"2611.1000{n}", upvotes=n, day=MON)
    for pid in friday:
        add(store, pid, upvotes=500, day=MON)
    compose_due(build(config, store), now=MONDAY)
    monday = ids_in(outbox_of(store, sub_id)[1].body_text)
    assert monday and not set(monday) & set(friday)
    assert {"2611.10001", "2611.10002", "2611.10003"} <= set(monday)
    assert len(monday) == len(set(monday))


def test_for_you_section_explains_each_paper(store: SQLStore, config: Settings) -> None:
    liked, collected = "2610.00001", "2610.00002"
    papers = {  # each its own words and authors: only the embeddings relate them
        liked: ("Attention for parsing", date(2026, 10, 1), None),
        collected: ("Graph kernels revisited", date(2026, 10, 1), None),
        "2611.00001": ("Near the upvoted one", FRI, None),
        "2611.00002": ("Near the collected one", None, THU),
        "2611.00003": ("Unrelated", FRI, None),
        "2609.00009": ("Old and similar", date(2026, 9, 1), None),
    }
    for n, (pid, (title, day, published)) in enumerate(papers.items()):
        words = f"{title} zq{n}a zq{n}b zq{n}c."
        add(
            store,
            pid,
            title=title,
            day=day,
            published=published,
            abstract=words,
            authors=(f"Author {n}",),
        )
    a, b = unit(1), unit(2)
    embed(
        store,
        {
            liked: a,
            collected: b,
            "2611.00001": unit(3, a, 0.02),
            "2611.00002": unit(4, b, 0.03),
            "2611.00003": unit(5),
            "2609.00009": unit(6, a, 0.01),
        },
    )
    user = make_user(store, "reader")
    store.activity.set_vote(user.id, liked, True)
    shelf = CollectionStore(store.engine).create(user.id, "To read")
    CollectionStore(store.engine).add_item(user.id, shelf.id, collected)
    sub_id = subscribe(store, "reader@example.org", user_id=user.id, include_trending=False)
    anonymous = subscribe(store, "anon@example.org", include_trending=False)
    compose_due(build(config, store), now=FRIDAY)
    (message,) = outbox_of(store, sub_id)
    text = message.body_text
    assert "For you" in text
    assert ids_in(text) == ["2611.00001", "2611.00002"]  # most similar first
    assert "Like “Attention for parsing”" in text  # upvoted
    assert "Like “Graph kernels revisited”" in text  # collected
    assert "Unrelated" not in text and "Old and similar" not in text
    assert "Like “Attention for parsing”" in (message.body_html or "")
    assert "More like this: http" in text and "/rate?token=" in text  # one-click rating links
    # without an account there is no "for you": nothing new, skipped
    assert [m.status for m in outbox_of(store, anonymous)] == ["skipped"]


def test_alert_section_lists_new_matching_papers(store: SQLStore, config: Settings) -> None:
    add(store, "2611.00001", title="Measuring gender bias in language models", upvotes=0)
    add(store, "2611.00002", title="Bias in ranking", day=None, published=datetime(2026, 11, 26))
    add(store, "2501.00003", title="An old paper on bias", day=date(2025, 1, 5))
    add(store, "2611.00004", title="Nothing to do with it", upvotes=3)
    sub_id = subscribe(store, "a@example.org", include_trending=False)
    store.subscriptions.add_alert(sub_id, "bias", "keyword")
    compose_due(build(config, store), now=FRIDAY)
    (message,) = outbox_of(store, sub_id)
    assert "New for your alert “bias”" in message.body_text
    assert sorted(ids_in(message.body_text)) == ["2611.00001", "2611.00002"]
    assert "Matches your alert 'bias'" in message.body_text
    assert "Matches your alert 'bias'" in (message.body_html or "")


def test_hidden_papers_never_appear(store: SQLStore, config: Settings) -> None:
    add(store, "2611.00001", title="Spam about bias", upvotes=100)
    add(store, "2611.00002", title="Fine paper about bias", upvotes=10)
    admin = make_user(store, "admin", admin=True)
    store.activity.set_paper_hidden(admin.id, "2611.00001", True, "spam")
    sub_id = subscribe(store, "a@example.org")
    store.subscriptions.add_alert(sub_id, "bias", "keyword")
    compose_due(build(config, store), now=FRIDAY)
    (message,) = outbox_of(store, sub_id)
    assert ids_in(message.body_text) == ["2611.00002"]  # once: trending takes it first
    assert "Spam" not in message.body_text and "Spam" not in (message.body_html or "")


@pytest.mark.parametrize("when_empty", ["skip", "note"])
def test_nothing_new(store: SQLStore, database_url: str, when_empty: str) -> None:
    config = Settings(
        database_url=database_url,
        semantic_search=False,
        base_url=BASE,
        digest_when_empty=when_empty,  # type: ignore[arg-type]
    )
    add(store, "2611.00001", categories=("cs.CL",), upvotes=10)
    sub_id = subscribe(store, "bio@example.org", categories=["q-bio"])
    report = compose_due(build(config, store), now=FRIDAY)
    (message,) = outbox_of(store, sub_id)
    sub = store.subscriptions.get(sub_id)
    assert sub is not None and sub.last_digest_at == FRIDAY  # the period is done either way
    assert store.subscriptions.sent_paper_ids(sub_id) == set()
    if when_empty == "skip":
        assert (report.skipped, report.queued, report.notes) == (1, 0, 0)
        assert message.status == "skipped" and message.body_html is None
    else:
        assert (report.skipped, report.queued, report.notes) == (0, 0, 1)
        assert message.status == "pending"
        assert message.subject == "Paperboy: nothing new for Nov 27"
        assert "Nothing new for you" in message.body_text
        assert "Your next digest comes on Monday, Nov 30." in message.body_text
        assert "next digest comes on Monday, Nov 30" in (message.body_html or "")
    assert compose_due(build(config, store), now=FRIDAY + timedelta(hours=1)).due == 0


# -- the message --------------------------------------------------------------------------------


def test_headers_and_signed_unsubscribe_link(store: SQLStore, config: Settings) -> None:
    for n in range(7):
        add(store, f"2611.0000{n}", upvotes=n + 1)
    sub_id = subscribe(store, "a@example.org")
    compose_due(build(config, store), now=FRIDAY)
    (message,) = outbox_of(store, sub_id)
    assert re.fullmatch(
        rf"<digest\.{sub_id}\.daily\.2026-11-27\.[0-9a-f]{{16}}@papers\.example\.org>",
        message.message_id,
    )
    assert message.subject == "Paperboy: 5 trending papers for Nov 27"
    headers = message.headers
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert headers["List-Id"] == "<digest.papers.example.org>"
    assert headers["Auto-Submitted"] == "auto-generated"
    assert headers["Precedence"] == "bulk"
    link = headers["List-Unsubscribe"]
    assert link.startswith(f"<{BASE}/unsubscribe?token=") and link.endswith(">")
    signed = parse_qs(urlsplit(link[1:-1]).query)["token"][0]
    # the key the web app signs with (app.state.secret) is the one site_secret gives
    from paperboy.web.app import create_app

    app = create_app(config, store=store)
    assert app.state.secret == site_secret(config, store)
    assert subscription_id_from(app.state.secret, "unsubscribe", signed, None) == sub_id
    with pytest.raises(AccountError):
        subscription_id_from(app.state.secret, "subscription-manage", signed, None)
    with pytest.raises(AccountError):
        subscription_id_from("another key", "unsubscribe", signed, None)
    forged = token(app.state.secret, "unsubscribe", sub_id)[:-2] + "xx"
    with pytest.raises(AccountError):
        subscription_id_from(app.state.secret, "unsubscribe", forged, None)
    # "Change what you get" opens the page that mails a fresh manage link: the digest itself
    # carries only the unsubscribe token, never one that manages the subscription.
    manage = re.search(re.escape(BASE) + r"/subscription/link\?token=([\w.-]+)", message.body_text)
    assert manage is not None
    assert subscription_id_from(app.state.secret, "unsubscribe", manage[1], None) == sub_id
    assert f"{BASE}/subscription?token=" not in message.body_text + (message.body_html or "")
    # as a whole message, the way the sender builds it
    digest = preview_digest(build(config, store), "A@Example.org ", now=FRIDAY)
    parsed = email.message_from_bytes(
        as_email(digest, config).as_bytes(), policy=email.policy.default
    )
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed["Message-ID"] == digest.message_id and parsed["Date"]


def test_html_escapes_and_inlines_and_matches_the_text(store: SQLStore, config: Settings) -> None:
    hostile = '<script>alert("x")</script> & <b>bold</b> claims'
    add(store, "2611.00001", title=hostile, upvotes=30, abstract="<img src=x onerror=alert(1)>")
    add(store, "2611.00002", title="A plain title", upvotes=20)
    add(store, "2611.00003", title="Another title", upvotes=10)
    sub_id = subscribe(store, "a@example.org")
    compose_due(build(config, store), now=FRIDAY)
    (message,) = outbox_of(store, sub_id)
    html, text = message.body_html or "", message.body_text
    assert "<script" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;script&gt;" in html and "&lt;img" in html and "&amp;" in html
    assert "<style" not in html and 'style="' in html  # the CSS is inlined
    assert "max-width: 600px" in html
    assert ids_in(html) == ids_in(text) == ["2611.00001", "2611.00002", "2611.00003"]
    # the text part alone: every title and every full URL, and the unsubscribe link
    for pid, title in (("2611.00001", hostile), ("2611.00002", "A plain title")):
        assert title in text and f"{BASE}/papers/{pid}" in text
    assert f"{BASE}/unsubscribe?token=" in text and f"{BASE}/subscription/link?token=" in text
    assert "<" not in text.replace(hostile, "").replace("<img src=x onerror=alert(1)>", "")


def test_preview_writes_nothing(store: SQLStore, config: Settings) -> None:
    add(store, "2611.00001", upvotes=3)
    sub_id = subscribe(store, "a@example.org")
    digest = preview_digest(build(config, store), "a@example.org", now=FRIDAY)
    assert digest.paper_ids == ["2611.00001"] and not digest.empty
    assert store.subscriptions.outbox_counts() == {}
    assert store.subscriptions.sent_paper_ids(sub_id) == set()
    sub = store.subscriptions.get(sub_id)
    assert sub is not None and sub.last_digest_at is None
    with pytest.raises(NoSubscription):
        preview_digest(build(config, store), "nobody@example.org", now=FRIDAY)


# -- the scheduler hook ---------------------------------------------------------------------------


def test_run_digests_composes_sends_and_never_raises(
    store: SQLStore, database_url: str, smtp_sink: SmtpSink
) -> None:
    from paperboy.digest.jobs import run_digests

    add(store, "2611.00001", upvotes=4)
    sub_id = subscribe(store, "a@example.org")
    down = Settings(
        database_url=database_url,
        semantic_search=False,
        base_url=BASE,
        smtp_host="127.0.0.1",
        smtp_port=free_port(),  # nothing listens: sending stops, nothing is lost or raised
        mail_rate_per_minute=100_000,
    )
    first = run_digests(down, store, now=FRIDAY)
    assert first.composed is not None and first.composed.queued == 1
    assert first.sent is not None and first.sent.error and first.sent.sent == 0
    assert [m.status for m in outbox_of(store, sub_id)] == ["pending"]
    up = Settings(
        database_url=database_url,
        semantic_search=False,
        base_url=BASE,
        smtp_host=smtp_sink.host,
        smtp_port=smtp_sink.port,
        mail_rate_per_minute=100_000,
    )
    second = run_digests(up, now=FRIDAY + timedelta(hours=1))  # opens its own store
    assert second.composed is not None and second.composed.due == 0
    assert second.sent is not None and second.sent.sent == 1
    (message,) = smtp_sink.wait_for(1)
    assert message["Message-ID"] == outbox_of(store, sub_id)[0].message_id
    assert message["Subject"] == "Paperboy: 1 trending paper for Nov 27"
