"""``/for-you``, its cold start, the rating buttons' target, the ratings page, digest rating
links and the reader's Atom feed, through the web app."""

from __future__ import annotations

from datetime import date

import feedparser
import pytest
from fastapi.testclient import TestClient

from community import form, log_in  # tests/community.py
from paperboy.community.models import User
from paperboy.community.ratings import rating_token
from paperboy.models import FeedEntry, Paper, Record
from paperboy.store import SQLStore

DAY = date(2024, 5, 6)
TOPICS = {
    "2405.00001": ("Sparse attention for long documents", "attention transformers long context"),
    "2405.00002": ("Linear attention transformers at scale", "attention transformers kernels"),
    "2405.00003": ("Graph neural networks for molecules", "graphs molecules chemistry"),
    "2405.00004": ("Message passing on molecular graphs", "graphs molecules message passing"),
    "2405.00005": ("Protein folding with diffusion", "proteins diffusion biology"),
}


@pytest.fixture
def papers(store: SQLStore) -> None:
    store.upsert(
        [
            Record(
                Paper(pid, title, f"We study {words}. " * 3, ("Ada Lovelace",), ("cs.LG",)),
                FeedEntry(pid, DAY, upvotes=5 - i),
            )
            for i, (pid, (title, words)) in enumerate(TOPICS.items())
        ]
    )


def ids_in_order(html: str) -> list[str]:
    found = [(html.find(f'data-paper-id="{pid}"'), pid) for pid in TOPICS]
    return [pid for at, pid in sorted(found) if at >= 0]


def test_signed_out_visitors_are_invited(client: TestClient) -> None:
    page = client.get("/for-you")
    assert page.status_code == 200 and "Sign up" in page.text


def test_an_empty_profile_goes_to_the_cold_start(
    client: TestClient, store: SQLStore, alice: User, papers: None
) -> None:
    log_in(client, store, alice)
    page = client.get("/for-you", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/for-you/setup"
    setup = client.get("/for-you/setup")
    assert "Papers you like" in setup.text and 'enctype="multipart/form-data"' in setup.text


def test_rating_reranks_the_days_papers_and_says_why(
    client: TestClient, store: SQLStore, alice: User, papers: None
) -> None:
    log_in(client, store, alice)
    done = client.post(
        "/papers/2405.00003/rate", data=form(client, value="1", source="card", next="/for-you")
    )
    assert done.status_code == 200  # followed the 303 to /for-you
    order = ids_in_order(done.text)
    assert "2405.00003" not in order  # rated papers leave the list
    assert order[0] == "2405.00004"  # the other molecules paper comes first
    assert "Why for you" in done.text and "Graph neural networks for molecules" in done.text
    client.post("/papers/2405.00005/rate", data=form(client, value="-1", source="card"))
    order = ids_in_order(client.get("/for-you").text)
    assert "2405.00005" not in order
    assert store.ratings.values_for(alice.id, list(TOPICS)) == {"2405.00003": 1, "2405.00005": -1}


def test_htmx_rating_answers_the_buttons_and_undo_works(
    client: TestClient, store: SQLStore, alice: User, papers: None
) -> None:
    log_in(client, store, alice)
    headers = {"HX-Request": "true"}
    up = client.post(
        "/papers/2405.00001/rate", data=form(client, value="1", source="paper"), headers=headers
    )
    assert "more like this" in up.text and "Undo" in up.text and "<html" not in up.text
    undo = client.post(
        "/papers/2405.00001/rate", data=form(client, value="0", source="paper"), headers=headers
    )
    assert "Not for me" in undo.text
    assert store.ratings.values_for(alice.id, ["2405.00001"]) == {}


def test_bad_ratings_are_clear_400s(
    client: TestClient, store: SQLStore, alice: User, papers: None
) -> None:
    log_in(client, store, alice)
    assert client.post("/papers/2405.00001/rate", data=form(client, value="9")).status_code == 400
    bad_source = form(client, value="1", source="<b>")
    assert client.post("/papers/2405.00001/rate", data=bad_source).status_code == 400
    missing = client.post("/papers/2405.09999/rate", data=form(client, value="1"))
    assert missing.status_code == 404
    no_csrf = client.post("/papers/2405.00001/rate", data={"value": "1"})
    assert no_csrf.status_code == 403


def test_visitors_cannot_rate(client: TestClient, papers: None) -> None:
    answer = client.post(
        "/papers/2405.00001/rate", data=form(client, value="1"), follow_redirects=False
    )
    assert answer.status_code in (303, 401)


def test_seed_papers_and_follows(
    client: TestClient, store: SQLStore, alice: User, papers: None
) -> None:
    log_in(client, store, alice)
    text = "2405.00001\nhttps://arxiv.org/abs/2405.00002v1\n\n10.9999/nothing\nnot an id"
    page = client.post("/for-you/seeds", data=form(client, papers=text))
    assert page.status_code == 200
    assert "2 papers added" in page.text and "not found" in page.text
    assert store.ratings.values_for(alice.id, list(TOPICS)) == {"2405.00001": 1, "2405.00002": 1}
    follow = client.post(
        "/for-you/follow", data=form(client, categories="cs.CL, stat", authors="Grace Hopper\n")
    )
    assert follow.status_code == 200
    assert store.ratings.profile(alice.id).categories == ("cs.CL", "stat")
    bad = client.post("/for-you/follow", data=form(client, categories="<script>", authors=""))
    assert bad.status_code == 400


def test_library_upload(client: TestClient, store: SQLStore, alice: User, papers: None) -> None:
    log_in(client, store, alice)
    bib = (
        b"@article{a, title={Graph Neural Networks for Molecules}, year={2024}}\n"
        b"@misc{b, title={Something else}, eprint={2405.00005}, archivePrefix={arXiv}}\n"
    )
    token = form(client)["csrf_token"]
    page = client.post(
        "/for-you/library",
        data={"csrf_token": token},
        files={"file": ("library.bib", bib, "application/x-bibtex")},
    )
    assert page.status_code == 200, page.text
    matched = store.ratings.values_for(alice.id, list(TOPICS))
    assert matched == {"2405.00003": 1, "2405.00005": 1}  # by title, by arXiv id
    assert "matched by title to 2405.00003" in page.text
    broken = client.post(
        "/for-you/library",
        data={"csrf_token": token},
        files={"file": ("x.json", b"[{", "application/json")},
    )
    assert broken.status_code == 400
    forged = client.post(
        "/for-you/library",
        data={"csrf_token": "nope"},
        files={"file": ("library.bib", bib, "application/x-bibtex")},
    )
    assert forged.status_code == 403


def test_mailed_rating_links_need_a_button_and_no_login(
    client: TestClient, store: SQLStore, alice: User, papers: None
) -> None:
    token = rating_token(client.app.state.secret, alice.id, "2405.00002", -1)  # type: ignore[attr-defined]
    shown = client.get("/rate", params={"token": token})
    assert shown.status_code == 200 and "Not for you?" in shown.text
    assert store.ratings.values_for(alice.id, ["2405.00002"]) == {}  # a GET changes nothing
    done = client.post("/rate", data={"token": token})
    assert done.status_code == 200 and "noted" in done.text
    assert store.ratings.values_for(alice.id, ["2405.00002"]) == {"2405.00002": -1}
    assert client.post("/rate", data={"token": token}).status_code == 200  # twice is fine
    forged = client.get("/rate", params={"token": token[:-3] + "abc"})
    assert forged.status_code == 403


def test_ratings_page_and_delete(
    client: TestClient, store: SQLStore, alice: User, papers: None
) -> None:
    log_in(client, store, alice)
    client.post("/papers/2405.00001/rate", data=form(client, value="1"))
    page = client.get("/settings/ratings")
    assert "Sparse attention for long documents" in page.text and "1 rating" in page.text
    client.post("/settings/ratings/delete", data=form(client))
    assert store.ratings.values_for(alice.id, list(TOPICS)) == {}


def test_private_atom_feed(client: TestClient, store: SQLStore, alice: User, papers: None) -> None:
    log_in(client, store, alice)
    client.post("/papers/2405.00001/rate", data=form(client, value="1"))
    key = store.ratings.feed_key(alice.id)
    parsed = feedparser.parse(client.get(f"/for-you/{key}.atom").content)
    assert not parsed.bozo
    assert parsed.entries[0].link.endswith("/papers/2405.00002")
    assert client.get("/for-you/notthekey123.atom").status_code == 404


def test_rating_buttons_on_paper_and_search_pages_only_for_readers(
    client: TestClient, store: SQLStore, alice: User, papers: None
) -> None:
    anonymous = client.get("/papers/2405.00001")
    assert anonymous.status_code == 200 and "Not for me" not in anonymous.text
    log_in(client, store, alice)
    client.post("/papers/2405.00001/rate", data=form(client, value="-1", source="paper"))
    page = client.get("/papers/2405.00001")
    assert "Not for you: similar papers rank lower." in page.text and "Undo" in page.text
    found = client.get("/search", params={"q": "molecules", "mode": "keyword"})
    assert found.status_code == 200 and 'name="source" value="search"' in found.text


def test_the_day_sorted_for_you_with_reasons(
    client: TestClient, store: SQLStore, alice: User, papers: None
) -> None:
    log_in(client, store, alice)
    plain = ids_in_order(client.get("/papers", params={"date": DAY.isoformat()}).text)
    assert plain == list(TOPICS)  # by upvotes
    client.post("/papers/2405.00003/rate", data=form(client, value="1", source="card"))
    page = client.get("/papers", params={"date": DAY.isoformat(), "sort": "for-you"})
    assert "ranked for you" in page.text and "Why for you" in page.text
    order = ids_in_order(page.text)
    assert len(order) == len(TOPICS)  # every paper of the day, the rated one last
    assert order[0] == "2405.00004" and order[-1] == "2405.00003"  # the molecules paper first
    assert 'value="for-you"' in page.text  # the category form keeps the order


def test_api_daily_papers_for_you_and_categories(
    client: TestClient, store: SQLStore, alice: User, papers: None
) -> None:
    store.ratings.rate(alice.id, "2405.00003", 1, "api")
    _token, secret = store.accounts.create_api_token(alice.id, "script")
    bearer = {"Authorization": f"Bearer {secret}"}
    mine = client.get(
        "/api/daily_papers", params={"date": DAY.isoformat(), "sort": "for-you"}, headers=bearer
    )
    assert mine.status_code == 200
    ids = [item["paper"]["id"] for item in mine.json()]
    assert ids[0] == "2405.00004" and ids[-1] == "2405.00003"
    anonymous = client.get("/api/daily_papers", params={"sort": "for-you"})
    assert anonymous.status_code == 401
    none = client.get("/api/daily_papers", params={"date": DAY.isoformat(), "cat": "math"})
    assert none.status_code == 200 and none.json() == []
    some = client.get("/api/daily_papers", params={"date": DAY.isoformat(), "cat": "cs.LG"})
    assert len(some.json()) == len(TOPICS)
    assert client.get("/api/daily_papers", params={"cat": "<x>"}).status_code == 400
