"""Comments under papers: the page section, the form routes (with and without htmx), the JSON API,
permissions, validation, XSS, the rate limit and the per-paper counter."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from community import csrf_token, day_records, form, log_in, make_user
from conftest import sql_rows
from paperboy.community.markdown import MAX_COMMENT_CHARS
from paperboy.community.models import User
from paperboy.models import Record
from paperboy.settings import Settings
from paperboy.store import SQLStore
from paperboy.store.comments import CommentStore
from paperboy.web.app import create_app

DAY = date(2024, 1, 2)
PAPER = "2401.00001"
OTHER = "2401.00002"
OLD_STYLE = "hep-th/9901001"
IMPORTED_COMMENTS = 2  # what the feed entry of PAPER brought from Hugging Face


def records() -> list[Record]:
    return day_records(
        DAY,
        {
            PAPER: "Frobnicating quantum widgets",
            OTHER: "Gardening robots",
            OLD_STYLE: "Strings before the new identifiers",
        },
        abstract="An abstract about widgets.",
        upvotes=1,
        comments={PAPER: IMPORTED_COMMENTS},
    )


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, semantic_search=False)


@pytest.fixture
def app(settings: Settings, store: SQLStore) -> FastAPI:
    """The app on these papers; ``alice`` and ``admin`` are conftest's."""
    store.upsert(records())
    return create_app(settings, store=store, today=lambda: DAY)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def other_client(app: FastAPI) -> TestClient:
    """A second browser (no cookies)."""
    return TestClient(app)


def post(client: TestClient, paper_id: str, body: str, **headers: str) -> httpx.Response:
    return client.post(
        f"/papers/{paper_id}/comments",
        data=form(client, body=body),
        headers=headers,
        follow_redirects=False,
    )


def comment_ids(store: SQLStore, paper_id: str = PAPER) -> list[int]:
    return [c.id for c in CommentStore(store.engine).for_paper(paper_id, include_hidden=True)]


def section(html: str) -> str:
    """The comments section of a paper page."""
    match = re.search(r'<section id="comments".*?</section>', html, re.S)
    assert match, "no comments section on the page"
    return match.group(0)


def card_comments(html: str, paper_id: str) -> int:
    match = re.search(
        rf'data-paper-id="{re.escape(paper_id)}".*?<span class="comments">(\d+) comments?</span>',
        html,
        re.S,
    )
    assert match, f"no card for {paper_id}"
    return int(match.group(1))


def counter_and_visible(settings: Settings, paper_id: str = PAPER) -> tuple[int, int]:
    url = settings.database_url
    counter = sql_rows(url, f"SELECT comments FROM paper_activity WHERE paper_id = '{paper_id}'")
    visible = sql_rows(
        url,
        "SELECT count(*) FROM comments WHERE paper_id = "
        f"'{paper_id}' AND deleted_at IS NULL AND hidden_at IS NULL",
    )
    return (int(counter[0][0]) if counter else 0), int(visible[0][0])


def audit_rows(settings: Settings, action: str) -> list[tuple[object, ...]]:
    return sql_rows(
        settings.database_url,
        "SELECT actor_id, at, target_type, target_id FROM audit_log "
        f"WHERE action = '{action}' ORDER BY id",
    )


# --------------------------------------------------------------------------- page flows


def test_post_edit_delete_round_trip(
    client: TestClient, store: SQLStore, settings: Settings, alice: User
) -> None:
    log_in(client, store, alice)
    answer = post(client, PAPER, "First *thoughts* on $x_i$")
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/papers/{PAPER}#comments"
    (comment_id,) = comment_ids(store)

    page = section(client.get(f"/papers/{PAPER}").text)
    assert '<span class="comment-author">alice</span>' in page
    assert '<span class="comment-count">1</span>' in page
    assert "<em>thoughts</em>" in page and "edited" not in page
    assert f'action="/comments/{comment_id}/edit"' in page
    assert f'action="/comments/{comment_id}/delete"' in page
    assert "/hide" not in page  # not an admin

    answer = client.post(
        f"/comments/{comment_id}/edit",
        data=form(client, body="Second **thoughts**"),
        follow_redirects=False,
    )
    assert answer.status_code == 303
    page = section(client.get(f"/papers/{PAPER}").text)
    assert "<strong>thoughts</strong>" in page and "First" not in page
    assert 'class="comment-edited"' in page

    answer = client.post(
        f"/comments/{comment_id}/delete", data=form(client), follow_redirects=False
    )
    assert answer.status_code == 303
    page = section(client.get(f"/papers/{PAPER}").text)
    assert "thoughts" not in page and "No comments yet." in page
    assert '<span class="comment-count">0</span>' in page
    # Soft delete: the row stays, marked deleted.
    stored = CommentStore(store.engine).get(comment_id)
    assert stored is not None and stored.deleted_at is not None

    for action in ("comment", "edit_comment", "delete_comment"):
        rows = audit_rows(settings, action)
        assert len(rows) == 1, action
        actor_id, at, target_type, target_id = rows[0]
        assert actor_id == alice.id and at is not None
        assert (target_type, target_id) == ("comment", str(comment_id))


def test_htmx_requests_get_the_section_back(
    client: TestClient, store: SQLStore, alice: User
) -> None:
    log_in(client, store, alice)
    hx = {"HX-Request": "true"}
    answer = post(client, PAPER, "Swapped in place", **hx)
    assert answer.status_code == 200
    text = answer.text
    assert text.lstrip().startswith('<section id="comments"') and "<html" not in text
    assert "Swapped in place" in text and 'class="comment-body tex"' in text
    # A refused post comes back as the section with the message and the draft kept.
    answer = post(client, PAPER, "x" * (MAX_COMMENT_CHARS + 1), **hx)
    assert answer.status_code == 200
    assert 'role="alert"' in answer.text and "at most" in answer.text
    assert "x" * (MAX_COMMENT_CHARS + 1) in answer.text
    (comment_id,) = comment_ids(store)
    answer = client.post(
        f"/comments/{comment_id}/delete", data=form(client), headers=hx, follow_redirects=False
    )
    assert answer.status_code == 200 and "No comments yet." in answer.text


def test_anonymous_and_unverified_users_cannot_comment(
    client: TestClient, app: FastAPI, store: SQLStore
) -> None:
    page = section(client.get(f"/papers/{PAPER}").text)
    assert "Log in to comment" in page and "<textarea" not in page
    answer = post(client, PAPER, "Hello")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=%2Fpapers%2F2401.00001"
    htmx = post(client, PAPER, "Hello", **{"HX-Request": "true"})
    assert htmx.status_code == 401
    assert htmx.headers["HX-Redirect"].startswith("/login?next=")

    carol = make_user(store, "carol", verified=False)
    log_in(client, store, carol)
    page = section(client.get(f"/papers/{PAPER}").text)
    assert "Verify your email address" in page and "<textarea" not in page
    answer = post(client, PAPER, "Hello")
    assert answer.status_code == 403
    assert "Verify your email" in answer.text
    assert comment_ids(store) == []


def test_empty_and_too_long_bodies_are_refused_with_a_message(
    client: TestClient, store: SQLStore, alice: User
) -> None:
    log_in(client, store, alice)
    for body in ("", "   \n\t  "):
        answer = post(client, PAPER, body)
        assert answer.status_code == 400
        assert "cannot be empty" in answer.text
    answer = post(client, PAPER, "y" * (MAX_COMMENT_CHARS + 1))
    assert answer.status_code == 400
    assert f"at most {MAX_COMMENT_CHARS:,} characters" in answer.text
    assert comment_ids(store) == []
    # The limit counts the stripped text: surrounding blanks do not count.
    assert post(client, PAPER, "  " + "y" * MAX_COMMENT_CHARS + "\n").status_code == 303
    (comment_id,) = comment_ids(store)
    answer = client.post(f"/comments/{comment_id}/edit", data=form(client, body=" "))
    assert answer.status_code == 400 and "cannot be empty" in answer.text
    stored = CommentStore(store.engine).get(comment_id)
    assert stored is not None and stored.body == "y" * MAX_COMMENT_CHARS


def test_only_the_author_edits_and_deletes_and_only_admins_hide(
    client: TestClient, app: FastAPI, store: SQLStore, settings: Settings, alice: User, admin: User
) -> None:
    log_in(client, store, alice)
    post(client, PAPER, "Alice was here")
    (comment_id,) = comment_ids(store)

    bob = make_user(store, "bob")
    with other_client(app) as bobs:
        log_in(bobs, store, bob)
        assert "/edit" not in section(bobs.get(f"/papers/{PAPER}").text)
        for action, data in (("edit", {"body": "Bob was here"}), ("delete", {})):
            answer = bobs.post(f"/comments/{comment_id}/{action}", data=form(bobs, **data))
            assert answer.status_code == 403, action
        for action in ("hide", "show"):
            assert bobs.post(f"/comments/{comment_id}/{action}", data=form(bobs)).status_code == 403
        assert bobs.post("/comments/999/edit", data=form(bobs, body="x")).status_code == 404

    with other_client(app) as root:
        log_in(root, store, admin)
        page = section(root.get(f"/papers/{PAPER}").text)
        assert f'action="/comments/{comment_id}/hide"' in page
        assert f'action="/comments/{comment_id}/edit"' not in page  # not the author
        answer = root.post(f"/comments/{comment_id}/hide", data=form(root), follow_redirects=False)
        assert answer.status_code == 303
        page = section(root.get(f"/papers/{PAPER}").text)
        assert "Alice was here" in page and "hidden by moderator" in page
        assert 'class="comment comment-hidden"' in page
        assert f'action="/comments/{comment_id}/show"' in page

        # Others no longer see it; the author cannot edit it any more.
        assert "Alice was here" not in section(client.get(f"/papers/{PAPER}").text)
        with other_client(app) as anonymous:
            assert "Alice was here" not in anonymous.get(f"/papers/{PAPER}").text
            assert anonymous.get(f"/api/papers/{PAPER}/comments").json() == []
        answer = client.post(f"/comments/{comment_id}/edit", data=form(client, body="Sneaky"))
        assert answer.status_code == 403
        # Admins get it in the JSON too, flagged.
        listed = root.get(f"/api/papers/{PAPER}/comments").json()
        assert [(c["id"], c["hidden"]) for c in listed] == [(comment_id, True)]

        assert root.post(f"/comments/{comment_id}/show", data=form(root)).status_code == 200
        assert "Alice was here" in section(client.get(f"/papers/{PAPER}").text)

    hide, show = audit_rows(settings, "hide_comment"), audit_rows(settings, "show_comment")
    assert [(r[0], r[3]) for r in hide] == [(admin.id, str(comment_id))]
    assert [(r[0], r[3]) for r in show] == [(admin.id, str(comment_id))]
    assert all(r[1] is not None for r in hide + show)


XSS_PAYLOADS = (
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[x](javascript:alert(1))",
)


def assert_inert(html: str) -> None:
    assert "<script>alert" not in html
    assert not re.search(r"<img\b", html)
    assert not re.search(r"<[^>]*\son\w+\s*=", html)  # no event handler attribute on any tag
    assert not re.search(r"(href|src)\s*=\s*[\"']?\s*javascript:", html, re.I)  # no such link


def test_hostile_comments_come_out_inert(
    client: TestClient, app: FastAPI, store: SQLStore, alice: User
) -> None:
    log_in(client, store, alice)
    for payload in XSS_PAYLOADS:
        assert post(client, PAPER, payload).status_code == 303
    with other_client(app) as anonymous:
        page = anonymous.get(f"/papers/{PAPER}").text
        comments = section(page)
        assert_inert(comments)
        assert "<script>alert(1)</script>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in comments  # shown as text
        listed = anonymous.get(f"/api/papers/{PAPER}/comments").json()
    assert [c["body"] for c in listed] == list(XSS_PAYLOADS)  # the source, as typed
    for item in listed:
        assert_inert(item["html"])
    # The javascript: link is no link at all: it stays as the text typed.
    assert "href" not in listed[2]["html"] and "[x](javascript:alert(1))" in listed[2]["html"]


def test_markdown_and_math_are_kept(client: TestClient, store: SQLStore, alice: User) -> None:
    log_in(client, store, alice)
    body = "Nice *result*: $x_i * y_j$ and `code` with [a link](https://example.org)."
    post(client, PAPER, body)
    comments = section(client.get(f"/papers/{PAPER}").text)
    match = re.search(r'<div class="comment-body tex">(.*?)</div>', comments, re.S)
    assert match
    rendered = match.group(1)
    assert "<em>result</em>" in rendered
    assert "$x_i * y_j$" in rendered  # untouched, for KaTeX in the browser
    assert "<code>code</code>" in rendered
    assert '<a href="https://example.org" rel="nofollow noopener noreferrer ugc">' in rendered
    listed = client.get(f"/api/papers/{PAPER}/comments").json()
    assert listed[0]["body"] == body and "$x_i * y_j$" in listed[0]["html"]


def test_counter_equals_visible_comments_after_mixed_actions(
    client: TestClient, app: FastAPI, store: SQLStore, settings: Settings, alice: User, admin: User
) -> None:
    bob = make_user(store, "bob")
    log_in(client, store, alice)
    for n in range(3):
        post(client, PAPER, f"alice {n}")
    with other_client(app) as bobs, other_client(app) as root:
        log_in(bobs, store, bob)
        log_in(root, store, admin)
        for n in range(2):
            post(bobs, PAPER, f"bob {n}")
        a0, a1, a2, b0, b1 = comment_ids(store)
        steps = [
            (client, f"/comments/{a0}/delete"),
            (client, f"/comments/{a0}/delete"),  # twice: no second decrement
            (root, f"/comments/{b0}/hide"),
            (root, f"/comments/{b0}/hide"),  # twice
            (bobs, f"/comments/{b0}/delete"),  # hidden, then deleted: already uncounted
            (root, f"/comments/{a1}/hide"),
            (root, f"/comments/{a1}/show"),
            (root, f"/comments/{a2}/hide"),
            (client, f"/comments/{a2}/delete"),
            (root, f"/comments/{a2}/show"),  # shown again but deleted: stays uncounted
        ]
        for who, path in steps:
            answer = who.post(path, data=form(who), follow_redirects=False)
            assert answer.status_code in (303, 404), (path, answer.status_code)
            counter, visible = counter_and_visible(settings)
            assert counter == visible, path
    assert counter_and_visible(settings) == (2, 2)  # a1 and b1
    assert CommentStore(store.engine).count_visible(PAPER) == 2
    assert [c.id for c in CommentStore(store.engine).for_paper(PAPER)] == [a1, b1]
    assert [c.body for c in CommentStore(store.engine).of_user(alice.id)] == ["alice 1"]


def test_card_count_on_the_feed_follows_comments(
    client: TestClient, app: FastAPI, store: SQLStore, alice: User, admin: User
) -> None:
    anonymous = other_client(app)  # cached pages: each write must make them stale

    def shown() -> int:
        return card_comments(anonymous.get("/").text, PAPER)

    assert shown() == IMPORTED_COMMENTS
    log_in(client, store, alice)
    post(client, PAPER, "one")
    post(client, PAPER, "two")
    assert shown() == IMPORTED_COMMENTS + 2
    first, second = comment_ids(store)
    client.post(f"/comments/{first}/delete", data=form(client))
    assert shown() == IMPORTED_COMMENTS + 1
    with other_client(app) as root:
        log_in(root, store, admin)
        root.post(f"/comments/{second}/hide", data=form(root))
        assert shown() == IMPORTED_COMMENTS
        root.post(f"/comments/{second}/show", data=form(root))
    assert shown() == IMPORTED_COMMENTS + 1
    assert card_comments(anonymous.get("/").text, OTHER) == 0


# --------------------------------------------------------------------------- JSON API


def test_comment_api_with_a_bearer_token(client: TestClient, store: SQLStore, alice: User) -> None:
    _, secret = store.accounts.create_api_token(alice.id, "script")
    bearer = {"Authorization": f"Bearer {secret}"}
    with TestClient(client.app) as script:  # no cookies at all: the token alone
        answer = script.post(
            f"/api/papers/{PAPER}/comments", json={"body": "From a *script*"}, headers=bearer
        )
        assert answer.status_code == 201, answer.text
        created = answer.json()
        assert created["author"] == "alice" and created["body"] == "From a *script*"
        assert created["html"] == "<p>From a <em>script</em></p>"
        assert created["createdAt"].endswith("Z") and created["editedAt"] is None
        listed = script.get(f"/api/papers/{PAPER}/comments").json()
        assert listed == [created]
        assert {"id", "author", "createdAt", "editedAt", "body", "html"} <= set(listed[0])
        answer = script.post(f"/api/papers/{PAPER}/comments", json={"body": ""}, headers=bearer)
        assert answer.status_code == 400 and answer.json()["parameter"] == "body"
        answer = script.post(f"/api/papers/{PAPER}/comments", json={}, headers=bearer)
        assert answer.status_code == 400
        missing = script.post("/api/papers/2101.99999/comments", json={"body": "x"}, headers=bearer)
        assert missing.status_code == 404
        assert script.get("/api/papers/not-an-id/comments").status_code == 400
        # Without credentials: 401 (with a valid visitor CSRF token, so the check is the login).
        answer = script.post(
            f"/api/papers/{PAPER}/comments",
            json={"body": "anonymous"},
            headers={"X-CSRF-Token": csrf_token(script)},
        )
        assert answer.status_code == 401
        bad = {"Authorization": "Bearer pb_not-a-token"}
        assert (
            script.post(
                f"/api/papers/{PAPER}/comments", json={"body": "x"}, headers=bad
            ).status_code
            == 401
        )


def test_comment_api_with_a_session_needs_the_csrf_header(
    client: TestClient, store: SQLStore, alice: User
) -> None:
    headers = log_in(client, store, alice)
    url = f"/api/papers/{PAPER}/comments"
    assert client.post(url, json={"body": "no token"}).status_code == 403
    answer = client.post(url, json={"body": "with token"}, headers=headers)
    assert answer.status_code == 201 and answer.json()["body"] == "with token"
    assert [c["body"] for c in client.get(url).json()] == ["with token"]


def test_comment_routes_are_not_swallowed_by_the_paper_route(
    client: TestClient, store: SQLStore, alice: User
) -> None:
    detail = client.get(f"/api/papers/{PAPER}").json()
    assert isinstance(detail, dict) and detail["id"] == PAPER
    assert client.get(f"/api/papers/{PAPER}/comments").json() == []
    # Old-style ids contain a slash: the converter must still split off /comments.
    headers = log_in(client, store, alice)
    answer = client.post(
        f"/api/papers/{OLD_STYLE}/comments", json={"body": "old but gold"}, headers=headers
    )
    assert answer.status_code == 201, answer.text
    assert [c["body"] for c in client.get(f"/api/papers/{OLD_STYLE}/comments").json()] == [
        "old but gold"
    ]
    assert post(client, OLD_STYLE, "and a form post").status_code == 303
    assert "and a form post" in client.get(f"/papers/{OLD_STYLE}").text
    assert client.get(f"/api/papers/{OLD_STYLE}").json()["id"] == OLD_STYLE


def test_hidden_papers_take_no_comments(
    client: TestClient, app: FastAPI, store: SQLStore, alice: User, admin: User
) -> None:
    log_in(client, store, alice)
    post(client, PAPER, "before hiding")
    (comment_id,) = comment_ids(store)
    store.activity.set_paper_hidden(admin.id, PAPER, True, "spam")
    assert post(client, PAPER, "after hiding").status_code == 404
    answer = client.post(f"/comments/{comment_id}/edit", data=form(client, body="edited"))
    assert answer.status_code == 404
    assert client.get(f"/api/papers/{PAPER}/comments").status_code == 404
    with other_client(app) as root:
        log_in(root, store, admin)
        assert [c["body"] for c in root.get(f"/api/papers/{PAPER}/comments").json()] == [
            "before hiding"
        ]
        page = section(root.get(f"/papers/{PAPER}").text)
        assert "Comments are closed" in page and '<textarea id="comment-body"' not in page


# --------------------------------------------------------------------------- CSRF and limits


def test_every_comment_route_refuses_a_missing_csrf_token(
    client: TestClient, store: SQLStore, settings: Settings, alice: User, admin: User
) -> None:
    headers = log_in(client, store, admin)
    client.post(f"/papers/{PAPER}/comments", data={"body": "mine"}, headers=headers)
    (comment_id,) = comment_ids(store)
    before = sql_rows(settings.database_url, "SELECT count(*) FROM audit_log")
    routes = [
        (f"/papers/{PAPER}/comments", {"body": "forged"}),
        (f"/comments/{comment_id}/edit", {"body": "forged"}),
        (f"/comments/{comment_id}/delete", {}),
        (f"/comments/{comment_id}/hide", {}),
        (f"/comments/{comment_id}/show", {}),
    ]
    for path, data in routes:
        assert client.post(path, data=data).status_code == 403, path
        assert client.post(path, data={**data, "csrf_token": "forged"}).status_code == 403, path
    api = client.post(f"/api/papers/{PAPER}/comments", json={"body": "forged"})
    assert api.status_code == 403
    assert sql_rows(settings.database_url, "SELECT count(*) FROM audit_log") == before
    stored = CommentStore(store.engine).get(comment_id)
    assert stored is not None and stored.body == "mine" and stored.visible


def test_rate_limit_gives_429(database_url: str, store: SQLStore, alice: User) -> None:
    store.upsert(records())
    limited = Settings(database_url=database_url, semantic_search=False, rate_comment="2/minute")
    with TestClient(create_app(limited, store=store)) as client:
        log_in(client, store, alice)
        assert post(client, PAPER, "one").status_code == 303
        (comment_id,) = comment_ids(store)
        # Edits share the counter with posts.
        answer = client.post(
            f"/comments/{comment_id}/edit",
            data=form(client, body="one, edited"),
            follow_redirects=False,
        )
        assert answer.status_code == 303
        answer = post(client, PAPER, "three")
        assert answer.status_code == 429
        assert int(answer.headers["Retry-After"]) >= 1
        assert "Too many comments" in answer.text
        headers = {"X-CSRF-Token": csrf_token(client)}
        api = client.post(f"/api/papers/{PAPER}/comments", json={"body": "four"}, headers=headers)
        assert api.status_code == 429 and "Too many comments" in api.json()["error"]
    assert len(comment_ids(store)) == 1
