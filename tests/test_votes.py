"""Upvotes through the pages (form and htmx) and the JSON API, on a small hand-made store."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from community import log_in, make_user
from conftest import sql_rows
from paperboy.models import FeedEntry, Paper, Record
from paperboy.settings import Settings
from paperboy.store import SQLStore
from paperboy.web.app import create_app
from paperboy.web.auth import ANON_COOKIE, SESSION_COOKIE, csrf_for
from test_browser import browser, watch  # noqa: F401  (the fixture)

DAY = date(2024, 5, 6)
HOT, COLD, OLD_STYLE = "2405.01234", "2405.04321", "hep-th/9901001"


@pytest.fixture
def papers(store: SQLStore) -> list[str]:
    records = [
        Record(
            Paper(HOT, "A hot paper", "Abstract.", ("Ada",), ("cs.LG",), 1, datetime(2024, 5, 3)),
            FeedEntry(HOT, DAY, upvotes=5),
        ),
        Record(
            Paper(COLD, "A cold paper", "Abstract.", ("Bo",), ("cs.CL",), 1, datetime(2024, 5, 4)),
            FeedEntry(COLD, DAY, upvotes=1),
        ),
        Record(
            Paper(OLD_STYLE, "An old-style id", "Abstract.", ("Cy",), ("hep-th",)),
            FeedEntry(OLD_STYLE, DAY, upvotes=0),
        ),
    ]
    store.upsert(records)
    return [HOT, COLD, OLD_STYLE]


@pytest.fixture
def web(make_app: object, papers: list[str]) -> Iterator[TestClient]:
    with TestClient(make_app(today=DAY), follow_redirects=False) as client:  # type: ignore[operator]
        yield client


def shown(store: SQLStore, paper_id: str) -> int:
    return store.vote_counts([paper_id])[paper_id][0]


def vote_count_in(html: str, paper_id: str) -> int:
    """The number in the vote box of ``paper_id``'s card (or the paper page's box)."""
    box = html[html.index(f'id="vote-{paper_id.replace("/", "-")}"') :]
    match = re.search(r'<span class="vote-count">(\d+)</span>', box)
    assert match is not None
    return int(match[1])


def test_vote_form_on_and_off_redirects_back(web: TestClient, store: SQLStore) -> None:
    alice = make_user(store, "alice")
    headers = log_in(web, store, alice)
    back = f"/papers?date={DAY}#vote-{HOT}"
    answer = web.post(f"/papers/{HOT}/vote", data={"vote": "up", "next": back}, headers=headers)
    assert answer.status_code == 303 and answer.headers["location"] == back
    assert shown(store, HOT) == 6 and store.activity.voted(alice.id, [HOT]) == {HOT}
    answer = web.post(f"/papers/{HOT}/vote", data={"vote": "none", "next": back}, headers=headers)
    assert answer.status_code == 303 and answer.headers["location"] == back
    assert shown(store, HOT) == 5 and store.activity.voted(alice.id, [HOT]) == set()


def test_form_with_csrf_field_and_unsafe_next(web: TestClient, store: SQLStore) -> None:
    alice = make_user(store, "alice")
    headers = log_in(web, store, alice)
    fields = {"vote": "up", "next": "//evil.example/", "csrf_token": headers["X-CSRF-Token"]}
    answer = web.post(f"/papers/{HOT}/vote", data=fields)
    assert answer.status_code == 303 and answer.headers["location"] == f"/papers/{HOT}"
    assert shown(store, HOT) == 6


def test_htmx_vote_returns_the_box_with_the_new_count(web: TestClient, store: SQLStore) -> None:
    alice = make_user(store, "alice")
    headers = {**log_in(web, store, alice), "HX-Request": "true"}
    answer = web.post(
        f"/papers/{HOT}/vote", data={"vote": "up", "next": "/?x=1#vote-a"}, headers=headers
    )
    assert answer.status_code == 200
    html = answer.text
    assert "<html" not in html and html.lstrip().startswith("<form")
    assert vote_count_in(html, HOT) == 6
    assert 'aria-pressed="true"' in html and 'name="vote" value="none"' in html
    assert f'hx-post="/papers/{HOT}/vote"' in html and 'hx-swap="outerHTML"' in html
    assert f'name="next" value="/?x=1#vote-{HOT}"' in html
    answer = web.post(f"/papers/{HOT}/vote", data={"vote": "none"}, headers=headers)
    assert vote_count_in(answer.text, HOT) == 5
    assert 'aria-pressed="false"' in answer.text and 'name="vote" value="up"' in answer.text


def test_double_post_counts_once(web: TestClient, store: SQLStore, database_url: str) -> None:
    alice = make_user(store, "alice")
    headers = log_in(web, store, alice)
    for _ in range(2):
        answer = web.post(f"/papers/{HOT}/vote", data={"vote": "up"}, headers=headers)
        assert answer.status_code == 303
    assert shown(store, HOT) == 6
    assert store.activity.count_votes(HOT) == 1
    assert sql_rows(database_url, f"SELECT votes FROM paper_activity WHERE paper_id = '{HOT}'") == [
        (1,)
    ]
    assert [e.action for e in store.activity.audit_entries(target=("paper", HOT))] == ["vote"]


def test_old_style_id_with_a_slash(web: TestClient, store: SQLStore) -> None:
    headers = log_in(web, store, make_user(store, "alice"))
    answer = web.post(f"/papers/{OLD_STYLE}/vote", data={"vote": "up"}, headers=headers)
    assert answer.status_code == 303 and answer.headers["location"] == f"/papers/{OLD_STYLE}"
    assert shown(store, OLD_STYLE) == 1


def test_anonymous_vote_goes_to_login(web: TestClient, store: SQLStore) -> None:
    web.cookies.set(ANON_COOKIE, "visitor-seed")
    token = csrf_for(web.app.state.secret, "visitor-seed")  # type: ignore[attr-defined]
    answer = web.post(f"/papers/{HOT}/vote", data={"vote": "up"}, headers={"X-CSRF-Token": token})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=" + f"%2Fpapers%2F{HOT}%2Fvote"
    htmx = web.post(
        f"/papers/{HOT}/vote",
        data={"vote": "up"},
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )
    assert htmx.status_code == 401 and htmx.headers["HX-Redirect"].startswith("/login?next=")
    assert shown(store, HOT) == 5


def test_anonymous_pages_show_count_and_login_link(web: TestClient) -> None:
    html = web.get(f"/papers?date={DAY}").text
    assert vote_count_in(html, HOT) == 5
    box = html[html.index(f'id="vote-{HOT}"') - 60 :]
    assert box.index('class="votes vote-login"') < box.index(f'id="vote-{HOT}"')
    assert f'href="/login?next=%2Fpapers%3Fdate%3D{DAY}"' in box[:300]
    assert f'action="/papers/{HOT}/vote"' not in html
    page = web.get(f"/papers/{HOT}").text
    assert vote_count_in(page, HOT) == 5
    assert f'href="/login?next=%2Fpapers%2F{HOT}"' in page


def test_unverified_user_is_refused(web: TestClient, store: SQLStore) -> None:
    bob = make_user(store, "bob", verified=False)
    headers = log_in(web, store, bob)
    answer = web.post(f"/papers/{HOT}/vote", data={"vote": "up"}, headers=headers)
    assert answer.status_code == 403 and "verify your email first" in answer.text
    api = web.post(f"/api/papers/{HOT}/upvote", headers=headers)
    assert api.status_code == 403 and "verify your email first" in api.json()["error"]
    assert shown(store, HOT) == 5


def test_missing_csrf_token_is_refused(web: TestClient, store: SQLStore) -> None:
    log_in(web, store, make_user(store, "alice"))
    answer = web.post(f"/papers/{HOT}/vote", data={"vote": "up"})
    assert answer.status_code == 403 and "CSRF" in answer.text
    wrong = web.post(f"/papers/{HOT}/vote", data={"vote": "up"}, headers={"X-CSRF-Token": "nope"})
    assert wrong.status_code == 403
    assert web.post(f"/api/papers/{HOT}/upvote").status_code == 403
    assert shown(store, HOT) == 5


def test_bad_vote_value_unknown_and_hidden_papers(web: TestClient, store: SQLStore) -> None:
    admin = make_user(store, "admin", admin=True)
    headers = log_in(web, store, make_user(store, "alice"))
    answer = web.post(f"/papers/{HOT}/vote", data={"vote": "down"}, headers=headers)
    assert answer.status_code == 400
    assert (
        web.post("/papers/2405.99999/vote", data={"vote": "up"}, headers=headers).status_code == 404
    )
    api = web.post("/api/papers/2405.99999/upvote", headers=headers)
    assert api.status_code == 404
    assert web.post("/api/papers/nonsense/upvote", headers=headers).status_code == 400
    store.activity.set_paper_hidden(admin.id, HOT, True, "spam")
    assert web.post(f"/papers/{HOT}/vote", data={"vote": "up"}, headers=headers).status_code == 404
    assert web.post(f"/api/papers/{HOT}/upvote", headers=headers).status_code == 404
    assert store.activity.count_votes(HOT) == 0


def test_api_upvote_with_bearer_token(web: TestClient, store: SQLStore) -> None:
    alice = make_user(store, "alice")
    _, secret = store.accounts.create_api_token(alice.id, "script")
    auth = {"Authorization": f"Bearer {secret}"}
    first = web.post(f"/api/papers/{HOT}/upvote", headers=auth)
    assert first.status_code == 200
    assert first.json() == {"id": HOT, "upvoted": True, "upvotes": 6}
    again = web.post(f"/api/papers/{HOT}/upvote", headers=auth)
    assert again.json() == {"id": HOT, "upvoted": True, "upvotes": 6}
    # a versioned id names the same paper
    removed = web.delete(f"/api/papers/{HOT}v2/upvote", headers=auth)
    assert removed.json() == {"id": HOT, "upvoted": False, "upvotes": 5}
    assert store.activity.count_votes(HOT) == 0


def test_api_upvote_with_session_needs_csrf_header(web: TestClient, store: SQLStore) -> None:
    anonymous = web.post(f"/api/papers/{HOT}/upvote", headers={"Authorization": "Bearer pb_no"})
    assert anonymous.status_code == 401
    headers = log_in(web, store, make_user(store, "alice"))
    answer = web.post(f"/api/papers/{HOT}/upvote", headers=headers)
    assert answer.status_code == 200 and answer.json()["upvotes"] == 6


def test_api_upvote_anonymous_is_401(web: TestClient) -> None:
    web.cookies.set(ANON_COOKIE, "visitor-seed")
    token = csrf_for(web.app.state.secret, "visitor-seed")  # type: ignore[attr-defined]
    answer = web.post(f"/api/papers/{HOT}/upvote", headers={"X-CSRF-Token": token})
    assert answer.status_code == 401 and answer.json() == {"error": "log in first"}


def test_rate_limit(store: SQLStore, database_url: str, papers: list[str]) -> None:
    settings = Settings(database_url=database_url, rate_vote="2/minute")
    app = create_app(settings, store=store, today=lambda: DAY)
    with TestClient(app, follow_redirects=False) as client:
        headers = log_in(client, store, make_user(store, "alice"))
        for choice in ("up", "none"):
            answer = client.post(f"/papers/{HOT}/vote", data={"vote": choice}, headers=headers)
            assert answer.status_code == 303
        limited = client.post(f"/papers/{HOT}/vote", data={"vote": "up"}, headers=headers)
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
        api = client.post(f"/api/papers/{COLD}/upvote", headers=headers)
        assert api.status_code == 429 and "Too many votes" in api.json()["error"]
        # another user has their own budget
        bob = log_in(client, store, make_user(store, "bob"))
        assert client.post(f"/api/papers/{COLD}/upvote", headers=bob).status_code == 200
    assert shown(store, HOT) == 5 and shown(store, COLD) == 2


def test_counts_everywhere_are_imported_plus_local(web: TestClient, store: SQLStore) -> None:
    for name in ("alice", "bob"):
        _, secret = store.accounts.create_api_token(make_user(store, name).id, "t")
        answer = web.post(
            f"/api/papers/{HOT}/upvote", headers={"Authorization": f"Bearer {secret}"}
        )
        assert answer.status_code == 200
    assert answer.json()["upvotes"] == 7
    feed = web.get(f"/papers?date={DAY}").text
    assert vote_count_in(feed, HOT) == 7 and vote_count_in(feed, COLD) == 1
    assert vote_count_in(web.get(f"/papers/{HOT}").text, HOT) == 7
    assert "7 upvotes (5 imported, 2 here)" in web.get(f"/papers/{HOT}").text
    items = web.get("/api/daily_papers", params={"date": str(DAY)}).json()
    assert {i["paper"]["id"]: i["paper"]["upvotes"] for i in items}[HOT] == 7
    assert web.get(f"/api/papers/{HOT}").json()["upvotes"] == 7


def test_the_voter_sees_their_votes(web: TestClient, store: SQLStore) -> None:
    headers = log_in(web, store, make_user(store, "alice"))
    web.post(f"/papers/{COLD}/vote", data={"vote": "up"}, headers=headers)
    feed = web.get(f"/papers?date={DAY}").text
    cold = feed[feed.index(f'id="vote-{COLD}"') - 80 :]
    hot = feed[feed.index(f'id="vote-{HOT}"') - 80 :]
    assert cold.index("vote-form voted") < cold.index(f'id="vote-{COLD}"')
    assert "voted" not in hot[: hot.index(f'id="vote-{HOT}"')]
    assert 'name="vote" value="none"' in cold[:800] and 'name="vote" value="up"' in hot[:800]
    assert f'name="next" value="/papers?date={DAY}#vote-{COLD}"' in cold[:800]
    page = web.get(f"/papers/{COLD}").text
    box = page[page.index(f'id="vote-{COLD}"') :]
    assert 'aria-pressed="true"' in box[:900] and vote_count_in(page, COLD) == 2


@pytest.mark.browser
@pytest.mark.slow
def test_htmx_vote_in_a_real_browser(
    store: SQLStore,
    make_app: object,
    papers: list[str],
    browser: object,  # noqa: F811
) -> None:
    """Clicking the box upvotes without a page load (htmx swaps the box); with JavaScript off,
    the same form posts and comes back to the page."""
    from conftest import LiveServer

    alice = make_user(store, "alice")
    session = store.accounts.create_session(alice.id, timedelta(days=1))
    with LiveServer(make_app(today=DAY)) as server:  # type: ignore[operator]
        for javascript in (True, False):
            context = browser.new_context(java_script_enabled=javascript)  # type: ignore[attr-defined]
            context.add_cookies([{"name": SESSION_COOKIE, "value": session, "url": server.url}])
            page = context.new_page()
            outside, errors = watch(page)
            loads: list[str] = []
            page.on("load", lambda _, seen=loads: seen.append("load"))
            page.goto(f"{server.url}/papers?date={DAY}")
            box = page.locator(f'[id="vote-{HOT}"]')
            expected = "6" if javascript else "5"
            box.locator("button").click()
            page.wait_for_function(
                f"() => document.querySelector('[id=\"vote-{HOT}\"] .vote-count').textContent === "
                f"'{expected}'"
            )
            if javascript:
                assert loads == ["load"]  # no page load: htmx swapped the box
                assert box.locator("button").get_attribute("aria-pressed") == "true"
            else:
                assert len(loads) == 2 and page.url.endswith(f"#vote-{HOT}")
                assert box.locator("button").get_attribute("aria-pressed") == "false"
            context.close()
            assert not outside and not errors, (outside, errors)
    assert shown(store, HOT) == 5


def test_search_results_carry_the_vote_box_for_signed_in_users(
    web: TestClient, store: SQLStore
) -> None:
    anonymous = web.get("/search", params={"q": "hot paper", "mode": "keyword"}).text
    assert 'class="upvotes"' in anonymous and "vote-form" not in anonymous
    headers = log_in(web, store, make_user(store, "alice"))
    web.post(f"/papers/{HOT}/vote", data={"vote": "up"}, headers=headers)
    page = web.get("/search", params={"q": "hot paper", "mode": "keyword"}).text
    assert vote_count_in(page, HOT) == 6
    box = page[page.index(f'id="vote-{HOT}"') - 80 :]
    assert "vote-form voted" in box[:200] and 'name="vote" value="none"' in box[:900]
    assert 'name="next" value="/search?' in box[:900]
