"""Submitting papers to the daily feed: the page, the API and every rule, with arXiv answered by
the local replay server (recorded responses; faults queued on it)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from arxiv_replay import ArxivReplay, Fault
from community import log_in, make_user
from conftest import DATA, shared_path
from paperboy.community.models import User
from paperboy.community.submit import SubmitRefused, submit_paper
from paperboy.errors import NotFound
from paperboy.models import FeedEntry, Paper, Record
from paperboy.settings import Settings
from paperboy.store import SQLStore
from paperboy.web.app import create_app

RECORDED = "1605.08386"  # a recorded arXiv answer; first version 2016-05-26
TODAY = date(2016, 5, 28)
ATOM = DATA / "arxiv-fixtures/atom_api"


@pytest.fixture
def replay() -> Iterator[ArxivReplay]:
    with ArxivReplay(ATOM if ATOM.exists() else None) as server:
        yield server


@pytest.fixture
def recorded(replay: ArxivReplay) -> ArxivReplay:
    """The replay server with arXiv's recorded answers (skips when they are absent)."""
    shared_path("data/arxiv-fixtures/atom_api/xml_bodies")
    return replay


def arxiv_settings(database_url: str, replay: ArxivReplay, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "arxiv_api_url": f"{replay.url}/api/query",
        "arxiv_min_interval": 0.0,
        "arxiv_backoff": 0.01,
        "arxiv_retries": 0,
        "arxiv_timeout": 5.0,
        **overrides,
    }
    return Settings(**values)


@pytest.fixture
def settings(database_url: str, replay: ArxivReplay) -> Settings:
    return arxiv_settings(database_url, replay)


@pytest.fixture
def web(make_app: Callable[..., FastAPI]) -> Iterator[TestClient]:
    with TestClient(make_app(today=TODAY), follow_redirects=False) as client:
        yield client


def fresh_paper(paper_id: str, days_old: int = 1) -> Paper:
    published = datetime.combine(TODAY - timedelta(days=days_old), datetime.min.time())
    return Paper(paper_id, f"Paper {paper_id}", "Abstract.", ("Ada",), ("cs.LG",), 1, published)


def submit(client: TestClient, headers: dict[str, str], ref: str) -> Any:
    return client.post("/submit", data={"ref": ref}, headers=headers)


def daily_entries(store: SQLStore, paper_id: str) -> list[FeedEntry]:
    return [e for e in store.feed_entries_for(paper_id) if e.source == "daily"]


def test_submission_enters_todays_feed_with_the_submitter(
    web: TestClient, store: SQLStore, recorded: ArxivReplay
) -> None:
    alice = make_user(store, "alice")
    headers = log_in(web, store, alice)
    form = web.get("/submit")
    assert form.status_code == 200 and 'name="csrf_token"' in form.text
    answer = submit(web, headers, f"https://arxiv.org/abs/{RECORDED}v1")
    assert answer.status_code == 200, answer.text
    assert "Submitted" in answer.text and f'href="/papers/{RECORDED}"' in answer.text
    assert [s.params["id_list"] for s in recorded.seen] == [RECORDED]
    entries = store.feed_entries_for(RECORDED)
    assert [(e.feed_date, e.source, e.submitted_by) for e in entries] == [(TODAY, "daily", "alice")]
    audit = store.activity.audit_entries(action="submit")
    assert [(a.actor, a.target_id) for a in audit] == [("alice", RECORDED)]
    feed = web.get(f"/papers?date={TODAY}").text
    card = feed[feed.index(f'data-paper-id="{RECORDED}"') :]
    assert "Submitted by alice" in card[: card.index("</article>")]
    page = web.get(f"/papers/{RECORDED}").text
    assert "Submitted by <strong>alice</strong>" in page
    items = web.get("/api/daily_papers", params={"date": str(TODAY)}).json()
    assert [(i["paper"]["id"], i["submittedBy"]["name"]) for i in items] == [(RECORDED, "alice")]


def test_already_submitted_names_the_day_and_the_submitter(
    web: TestClient, store: SQLStore, recorded: ArxivReplay
) -> None:
    store.upsert(
        [Record(fresh_paper(RECORDED), FeedEntry(RECORDED, TODAY, submitted_by="<b>alice</b>"))]
    )
    headers = log_in(web, store, make_user(store, "bob"))
    answer = submit(web, headers, f"arXiv:{RECORDED}")
    assert answer.status_code == 409
    assert (
        f"{RECORDED} is already in the daily feed: it was submitted on 2016-05-28 by "
        "&lt;b&gt;alice&lt;/b&gt;. Each paper can be submitted once." in answer.text
    )
    assert recorded.seen == []  # known papers are never looked up
    card = web.get(f"/papers?date={TODAY}").text
    assert "Submitted by &lt;b&gt;alice&lt;/b&gt;" in card and "<b>alice</b>" not in card
    page = web.get(f"/papers/{RECORDED}").text
    assert "Submitted by <strong>&lt;b&gt;alice&lt;/b&gt;</strong>" in page
    assert "<b>alice</b>" not in page


def test_imported_daily_entry_counts_as_submitted(web: TestClient, store: SQLStore) -> None:
    paper = fresh_paper("2405.00001")
    store.upsert([Record(paper, FeedEntry(paper.id, TODAY - timedelta(days=1), upvotes=3))])
    headers = log_in(web, store, make_user(store, "bob"))
    answer = submit(web, headers, paper.id)
    assert answer.status_code == 409
    assert "submitted on 2016-05-27 from the imported list" in answer.text


def test_an_arxiv_listing_entry_becomes_the_submission(web: TestClient, store: SQLStore) -> None:
    paper = fresh_paper("2405.00002")
    store.upsert([Record(paper, FeedEntry(paper.id, TODAY, source="arxiv", announce_type="new"))])
    headers = log_in(web, store, make_user(store, "alice"))
    assert submit(web, headers, paper.id).status_code == 200
    entries = store.feed_entries_for(paper.id)
    assert [(e.feed_date, e.source, e.submitted_by) for e in entries] == [(TODAY, "daily", "alice")]


def test_too_old_says_its_date_and_the_limit(
    store: SQLStore, recorded: ArxivReplay, make_app: Callable[..., FastAPI]
) -> None:
    with TestClient(make_app(today=date(2016, 6, 10))) as client:
        headers = log_in(client, store, make_user(store, "alice"))
        answer = submit(client, headers, RECORDED)
    assert answer.status_code == 400
    assert (
        "its first version is from 2016-05-26, 15 days ago, and papers can be submitted up to "
        "7 days after their first version" in answer.text
    )
    assert daily_entries(store, RECORDED) == []
    assert store.activity.audit_entries(action="submit") == []


def test_daily_cap(store: SQLStore, database_url: str, replay: ArxivReplay) -> None:
    papers = [fresh_paper(f"2405.0001{n}") for n in range(3)]
    store.upsert([Record(p) for p in papers])
    settings = arxiv_settings(database_url, replay, submit_daily_cap=2)
    with TestClient(create_app(settings, store=store, today=lambda: TODAY)) as client:
        headers = log_in(client, store, make_user(store, "alice"))
        assert [submit(client, headers, p.id).status_code for p in papers[:2]] == [200, 200]
        answer = submit(client, headers, papers[2].id)
        assert answer.status_code == 429
        assert "You have already submitted 2 papers today, the daily limit of 2" in answer.text
        other = log_in(client, store, make_user(store, "bob"))
        assert submit(client, other, papers[2].id).status_code == 200
    assert daily_entries(store, papers[2].id)[0].submitted_by == "bob"


def test_rate_limit(store: SQLStore, database_url: str, replay: ArxivReplay) -> None:
    settings = arxiv_settings(database_url, replay, rate_submit="2/hour")
    with TestClient(create_app(settings, store=store, today=lambda: TODAY)) as client:
        headers = log_in(client, store, make_user(store, "alice"))
        assert [submit(client, headers, "nonsense").status_code for _ in range(2)] == [400, 400]
        limited = submit(client, headers, "nonsense")
        assert limited.status_code == 429 and "Too many submissions" in limited.text
        assert "Retry-After" in limited.headers


def test_unverified_user_is_refused(web: TestClient, store: SQLStore, replay: ArxivReplay) -> None:
    headers = log_in(web, store, make_user(store, "carol", verified=False))
    assert "verify your email first" in web.get("/submit").text
    answer = submit(web, headers, RECORDED)
    assert answer.status_code == 403 and "verify your email first" in answer.text
    assert replay.seen == [] and store.get_paper(RECORDED) is None


def test_unknown_id_at_arxiv(web: TestClient, store: SQLStore, recorded: ArxivReplay) -> None:
    headers = log_in(web, store, make_user(store, "alice"))
    answer = submit(web, headers, "2301.99999")
    assert answer.status_code == 404 and "arXiv has no paper 2301.99999" in answer.text
    assert store.get_paper("2301.99999") is None and store.count_feed_entries() == 0


def test_arxiv_down_stores_nothing(web: TestClient, store: SQLStore, replay: ArxivReplay) -> None:
    replay.faults.append(Fault("status", 503, b"busy"))
    headers = log_in(web, store, make_user(store, "alice"))
    answer = submit(web, headers, RECORDED)
    assert answer.status_code == 503
    assert f"arXiv could not be reached to look up {RECORDED}" in answer.text
    assert "Nothing was submitted; please try again later." in answer.text
    assert len(replay.seen) == 1
    assert store.get_paper(RECORDED) is None and store.count_feed_entries() == 0
    assert store.activity.audit_entries(action="submit") == []


def test_not_an_arxiv_id(web: TestClient, store: SQLStore, replay: ArxivReplay) -> None:
    headers = log_in(web, store, make_user(store, "alice"))
    answer = submit(web, headers, "https://example.org/abs/1605.08386")
    assert answer.status_code == 400 and "not a valid arXiv id" in answer.text
    assert 'value="https://example.org/abs/1605.08386"' in answer.text  # the form keeps it
    assert replay.seen == []


def test_hidden_paper_is_refused(web: TestClient, store: SQLStore) -> None:
    paper = fresh_paper("2405.00003")
    store.upsert([Record(paper)])
    admin = make_user(store, "admin", admin=True)
    store.activity.set_paper_hidden(admin.id, paper.id, True, "spam")
    headers = log_in(web, store, make_user(store, "alice"))
    answer = submit(web, headers, paper.id)
    assert answer.status_code == 403 and "hidden by the moderators" in answer.text


def test_anonymous_is_sent_to_login(web: TestClient) -> None:
    answer = web.get("/submit")
    assert answer.status_code == 303 and answer.headers["location"] == "/login?next=%2Fsubmit"


def test_service_directly(store: SQLStore, settings: Settings) -> None:
    """The rules without the web: a fetch function that knows one paper."""
    alice: User = make_user(store, "alice")
    known = fresh_paper("2405.00004", days_old=3)
    asked: list[str] = []

    def fetch(paper_id: str) -> Paper | None:
        asked.append(paper_id)
        return known if paper_id == known.id else None

    result = submit_paper(
        store, settings, alice, f"https://arxiv.org/pdf/{known.id}v2", TODAY, fetch
    )
    assert (result.paper.id, result.feed_date, result.submitted_by, result.fetched) == (
        known.id,
        TODAY,
        "alice",
        True,
    )
    assert asked == [known.id] and store.get_paper(known.id) is not None
    with pytest.raises(SubmitRefused) as refused:
        submit_paper(store, settings, alice, "2405.00005", TODAY, fetch)
    assert isinstance(refused.value, NotFound)


# -- the API -------------------------------------------------------------------------------------


def test_api_submit_with_token(web: TestClient, store: SQLStore, recorded: ArxivReplay) -> None:
    alice = make_user(store, "alice")
    _, secret = store.accounts.create_api_token(alice.id, "script")
    auth = {"Authorization": f"Bearer {secret}"}
    answer = web.post("/api/papers/submit", json={"paperId": RECORDED}, headers=auth)
    assert answer.status_code == 200, answer.text
    item = answer.json()
    assert item["paper"]["id"] == RECORDED and item["submittedBy"]["name"] == "alice"
    assert item["publishedAt"] == "2016-05-28T00:00:00.000Z" and item["paper"]["upvotes"] == 0
    again = web.post("/api/papers/submit", json={"arxivId": f"arXiv:{RECORDED}"}, headers=auth)
    assert again.status_code == 409
    assert again.json() == {
        "error": f"{RECORDED} is already in the daily feed: it was submitted on 2016-05-28 by "
        "alice. Each paper can be submitted once.",
        "parameter": "paperId",
    }


def test_api_submit_errors(web: TestClient, store: SQLStore, recorded: ArxivReplay) -> None:
    headers = log_in(web, store, make_user(store, "alice"))
    bad = web.post("/api/papers/submit", content=b"{oops", headers=headers)
    assert bad.status_code == 400 and bad.json()["parameter"] == "body"
    empty = web.post("/api/papers/submit", json={"title": "x"}, headers=headers)
    assert empty.status_code == 400 and empty.json()["parameter"] == "paperId"
    invalid = web.post("/api/papers/submit", json={"paperId": "abc"}, headers=headers)
    assert invalid.status_code == 400 and "not a valid arXiv id" in invalid.json()["error"]
    unknown = web.post("/api/papers/submit", json={"paperId": "2301.99999"}, headers=headers)
    assert unknown.status_code == 404 and "arXiv has no paper" in unknown.json()["error"]
    no_csrf = web.post("/api/papers/submit", json={"paperId": RECORDED})
    assert no_csrf.status_code == 403
    carol = log_in(web, store, make_user(store, "carol", verified=False))
    refused = web.post("/api/papers/submit", json={"paperId": RECORDED}, headers=carol)
    assert refused.status_code == 403 and "verify your email first" in refused.json()["error"]
    assert store.count_feed_entries() == 0
    web.cookies.clear()
    anonymous = web.post(
        "/api/papers/submit", json={"paperId": RECORDED}, headers={"Authorization": "Bearer x"}
    )
    assert anonymous.status_code == 401


def test_api_submit_daily_cap_is_429(
    store: SQLStore, database_url: str, replay: ArxivReplay
) -> None:
    papers = [fresh_paper(f"2405.0002{n}") for n in range(2)]
    store.upsert([Record(p) for p in papers])
    settings = arxiv_settings(database_url, replay, submit_daily_cap=1)
    with TestClient(create_app(settings, store=store, today=lambda: TODAY)) as client:
        headers = log_in(client, store, make_user(store, "alice"))
        first = client.post("/api/papers/submit", json={"paperId": papers[0].id}, headers=headers)
        assert first.status_code == 200
        second = client.post("/api/papers/submit", json={"paperId": papers[1].id}, headers=headers)
        assert second.status_code == 429 and "daily limit of 1" in second.json()["error"]
