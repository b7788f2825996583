"""Moderation: admin-only pages, hiding users and papers (everywhere they could show up), and
the audit log of every action."""

from __future__ import annotations

import re
from datetime import date

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from community import PASSWORD, day_records, form, log_in
from conftest import sql_rows
from paperboy.community.accounts import AccountError
from paperboy.community.models import User
from paperboy.models import Record
from paperboy.settings import Settings
from paperboy.store import SQLStore
from paperboy.web.app import create_app

DAY = date(2024, 1, 2)
KEEP = "2401.00001"
SPAM = "2401.00002"
WORD = "frobnicating"  # in both titles: search and similar papers find both


def records() -> list[Record]:
    return day_records(
        DAY,
        {
            KEEP: "Frobnicating quantum widgets",
            SPAM: "Frobnicating quantum widgets, cheap pills inside",
            "2401.00003": "Gardening robots",
        },
        abstract="Widgets that frobnicate quantum states.",
        upvotes=5,
    )


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, semantic_search=False)


@pytest.fixture
def app(settings: Settings, store: SQLStore) -> FastAPI:
    """The app on these papers (conftest's ``admin`` and ``root`` use it)."""
    store.upsert(records())
    return create_app(settings, store=store, today=lambda: DAY)


def audit(settings: Settings, action: str) -> list[tuple[object, ...]]:
    return sql_rows(
        settings.database_url,
        "SELECT actor_id, at, target_type, target_id FROM audit_log "
        f"WHERE action = '{action}' ORDER BY id",
    )


def card_ids(html: str) -> list[str]:
    return re.findall(r'data-paper-id="([^"]+)"', html)


# --------------------------------------------------------------------------- access


ADMIN_PAGES = ("/admin", "/admin/audit", "/admin/users", "/admin/audit?action=comment&page=2")


def test_admin_pages_are_for_admins_only(app: FastAPI, store: SQLStore, bob: User) -> None:
    with TestClient(app) as anonymous:
        for path in ADMIN_PAGES:
            answer = anonymous.get(path, follow_redirects=False)
            assert answer.status_code == 303, path
            assert answer.headers["location"].startswith("/login?next=%2Fadmin"), path
    with TestClient(app) as client:
        log_in(client, store, bob)
        for path in ADMIN_PAGES:
            assert client.get(path).status_code == 403, path
        assert "/admin" not in client.get("/").text.split("</header>")[0]
        for path, data in (
            (f"/admin/users/{bob.id}/hide", {}),
            (f"/admin/users/{bob.id}/show", {}),
            (f"/papers/{SPAM}/hide", {"reason": "mine"}),
            (f"/papers/{SPAM}/show", {}),
        ):
            assert client.post(path, data=form(client, **data)).status_code == 403, path
    assert store.activity.hidden_papers() == set()
    found = store.accounts.get_user(bob.id)
    assert found is not None and not found.hidden


def test_dashboard_counts_and_recent_activity(
    root: TestClient, store: SQLStore, admin: User, bob: User
) -> None:
    with TestClient(root.app) as bobs:
        log_in(bobs, store, bob)
        for text in ("first", "second"):
            bobs.post(f"/papers/{KEEP}/comments", data=form(bobs, body=text))
    page = root.get("/admin").text
    assert re.search(r"<dt>Users</dt><dd>2</dd>", page)
    assert re.search(r"<dt>Comments</dt><dd>2</dd>", page)
    assert re.search(r"<dt>Hidden papers</dt><dd>0</dd>", page)
    assert "<code>comment</code>" in page and ">bob</a>" in page
    root.post(f"/papers/{SPAM}/hide", data=form(root))
    page = root.get("/admin").text
    assert re.search(r"<dt>Hidden papers</dt><dd>1</dd>", page)
    assert f'<a href="/papers/{SPAM}">{SPAM}</a>' in page
    assert 'aria-current="page">Dashboard' in page


# --------------------------------------------------------------------------- users


def test_hiding_a_user_ends_their_sessions_and_logins(
    app: FastAPI, root: TestClient, store: SQLStore, settings: Settings, admin: User, bob: User
) -> None:
    _, secret = store.accounts.create_api_token(bob.id, "script")
    bearer = {"Authorization": f"Bearer {secret}"}
    with TestClient(app) as bobs:
        log_in(bobs, store, bob)
        log_in(TestClient(app), store, bob)  # a second browser
        bobs.post(f"/papers/{KEEP}/comments", data=form(bobs, body="still here"))
        count = f"SELECT count(*) FROM sessions WHERE user_id = {bob.id}"
        assert sql_rows(settings.database_url, count) == [(2,)]

        users = root.get("/admin/users").text
        assert f'action="/admin/users/{bob.id}/hide"' in users
        assert f'action="/admin/users/{admin.id}/hide"' not in users  # not yourself
        answer = root.post(
            f"/admin/users/{bob.id}/hide",
            data=form(root, next="/admin/users"),
            follow_redirects=False,
        )
        assert answer.status_code == 303 and answer.headers["location"] == "/admin/users"

        assert sql_rows(settings.database_url, count) == [(0,)]
        hidden = store.accounts.get_user(bob.id)
        assert hidden is not None and hidden.hidden
        assert "Log in" in bobs.get("/").text  # the old cookie is worthless now
        with pytest.raises(AccountError, match="suspended"):
            app.state.accounts.authenticate("bob", PASSWORD)
        # The API token is not revoked, but it does nothing while the user is hidden.
        revoked = (
            f"SELECT count(*) FROM api_tokens WHERE revoked_at IS NOT NULL AND user_id = {bob.id}"
        )
        assert sql_rows(settings.database_url, revoked) == [(0,)]
        assert bobs.get(f"/api/papers/{KEEP}/comments", headers=bearer).status_code == 401
        # Their comments stay.
        assert "still here" in bobs.get(f"/papers/{KEEP}").text

        users = root.get("/admin/users").text
        assert f'action="/admin/users/{bob.id}/show"' in users and "badge-hidden" in users
        assert root.post(f"/admin/users/{bob.id}/show", data=form(root)).status_code == 200
        shown = store.accounts.get_user(bob.id)
        assert shown is not None and not shown.hidden
        assert app.state.accounts.authenticate("bob", PASSWORD).id == bob.id
        assert bobs.get(f"/api/papers/{KEEP}/comments", headers=bearer).status_code == 200

    (hide,) = audit(settings, "hide_user")
    (show,) = audit(settings, "show_user")
    assert hide[0] == admin.id and hide[1] is not None and hide[2:] == ("user", str(bob.id))
    assert show[0] == admin.id and show[2:] == ("user", str(bob.id))


def test_an_admin_cannot_hide_themselves(
    root: TestClient, store: SQLStore, settings: Settings, admin: User
) -> None:
    answer = root.post(f"/admin/users/{admin.id}/hide", data=form(root))
    assert answer.status_code == 400 and "your own account" in answer.text
    found = store.accounts.get_user(admin.id)
    assert found is not None and not found.hidden
    assert audit(settings, "hide_user") == []
    assert root.post("/admin/users/9999/hide", data=form(root)).status_code == 404


# --------------------------------------------------------------------------- papers


def visible_everywhere(client: TestClient, paper_id: str) -> dict[str, bool]:
    """Where ``paper_id`` shows up for this client."""
    search = client.get("/api/papers/search", params={"q": WORD}).json()
    similar_api = client.get(f"/api/papers/{KEEP}/similar").json()
    similar_page = client.get(f"/papers/{KEEP}").text.split('id="similar-heading"')[1]
    return {
        "feed": paper_id in card_ids(client.get("/").text),
        "search": paper_id in [hit["paper"]["id"] for hit in search],
        "search page": f'href="/papers/{paper_id}"'
        in client.get("/search", params={"q": WORD}).text,
        "similar": paper_id in [hit["paper"]["id"] for hit in similar_api],
        "similar on page": f'href="/papers/{paper_id}"' in similar_page,
        "api": client.get(f"/api/papers/{paper_id}").status_code == 200,
        "page": client.get(f"/papers/{paper_id}").status_code == 200,
    }


def test_a_hidden_paper_vanishes_for_everyone_but_admins(
    app: FastAPI, root: TestClient, store: SQLStore, settings: Settings, admin: User, bob: User
) -> None:
    with TestClient(app) as anonymous, TestClient(app) as bobs:
        log_in(bobs, store, bob)
        everywhere = dict.fromkeys(
            ("feed", "search", "search page", "similar", "similar on page", "api", "page"), True
        )
        assert visible_everywhere(anonymous, SPAM) == everywhere

        page = root.get(f"/papers/{SPAM}").text
        assert f'action="/papers/{SPAM}/hide"' in page and "Show again" not in page
        answer = root.post(
            f"/papers/{SPAM}/hide",
            data=form(root, reason="Spam <b>pills</b>"),
            follow_redirects=False,
        )
        assert answer.status_code == 303 and answer.headers["location"] == f"/papers/{SPAM}"

        nowhere = dict.fromkeys(everywhere, False)
        assert visible_everywhere(anonymous, SPAM) == nowhere
        assert visible_everywhere(bobs, SPAM) == nowhere
        assert anonymous.get(f"/api/papers/{SPAM}").status_code == 404
        # The paper that stays is untouched.
        assert visible_everywhere(anonymous, KEEP)["feed"]

        # Admins still open it, with the banner, the reason (escaped) and the way back.
        page = root.get(f"/papers/{SPAM}").text
        assert "<strong>Hidden</strong>" in page and "Spam &lt;b&gt;pills&lt;/b&gt;" in page
        assert f'action="/papers/{SPAM}/show"' in page and "Show again" in page
        assert root.get(f"/api/papers/{SPAM}").status_code == 200

        assert root.post(f"/papers/{SPAM}/show", data=form(root)).status_code == 200
        assert visible_everywhere(anonymous, SPAM) == everywhere

    (hide,) = sql_rows(
        settings.database_url,
        "SELECT actor_id, at, target_type, target_id, detail FROM audit_log "
        "WHERE action = 'hide_paper'",
    )
    assert hide[0] == admin.id and hide[1] is not None and hide[2:4] == ("paper", SPAM)
    assert "Spam <b>pills</b>" in str(hide[4])
    (show,) = audit(settings, "show_paper")
    assert show[0] == admin.id and show[2:] == ("paper", SPAM)


def test_hiding_an_unknown_paper_is_404(root: TestClient) -> None:
    assert root.post("/papers/2101.99999/hide", data=form(root)).status_code == 404
    assert root.post("/papers/not-an-id/hide", data=form(root)).status_code == 404
    answer = root.post(f"/papers/{SPAM}/hide", data=form(root, reason="x" * 501))
    assert answer.status_code == 400


# --------------------------------------------------------------------------- audit log


def test_audit_log_lists_every_moderation_action_with_filters_and_pages(
    app: FastAPI, root: TestClient, store: SQLStore, admin: User, bob: User
) -> None:
    with TestClient(app) as bobs:
        log_in(bobs, store, bob)
        bobs.post(f"/papers/{KEEP}/comments", data=form(bobs, body="a comment"))
        (comment,) = [c["id"] for c in bobs.get(f"/api/papers/{KEEP}/comments").json()]
        bobs.post(f"/comments/{comment}/edit", data=form(bobs, body="an edit"))
    root.post(f"/comments/{comment}/hide", data=form(root))
    root.post(f"/papers/{SPAM}/hide", data=form(root, reason="spam"))
    root.post(f"/admin/users/{bob.id}/hide", data=form(root))

    page = root.get("/admin/audit").text
    rows = re.findall(
        r"<tr>\s*<td><time datetime=\"[^\"]+\">([^<]+)</time></td>(.*?)</tr>", page, re.S
    )
    actions = [re.search(r"<code>(\w+)</code>", cells).group(1) for _, cells in rows]  # type: ignore[union-attr]
    assert actions == ["hide_user", "hide_paper", "hide_comment", "edit_comment", "comment"]
    assert all(re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", at) for at, _ in rows)
    assert f'<a href="/papers/{SPAM}">paper {SPAM}</a>' in page
    assert f'<a href="/papers/{KEEP}#comment-{comment}">comment {comment} on {KEEP}</a>' in page
    assert '<a href="/admin/audit?actor=bob">user bob</a>' in page
    assert "reason: spam" in page

    only_root = root.get("/admin/audit", params={"actor": "root"}).text
    assert only_root.count("<code>") == 3 and "<code>comment</code>" not in only_root
    only_edits = root.get("/admin/audit", params={"action": "edit_comment"}).text
    assert (
        only_edits.count("<code>") == 1 and '<a href="/admin/audit?actor=bob">bob</a>' in only_edits
    )
    assert "No user named nobody" in root.get("/admin/audit", params={"actor": "nobody"}).text

    for n in range(60):
        store.activity.record(admin.id, "note", "paper", KEEP, {"n": n})
    first = root.get("/admin/audit").text
    assert first.count("<code>") == 50 and 'href="/admin/audit?page=2"' in first
    second = root.get("/admin/audit", params={"page": 2}).text
    assert second.count("<code>") == 15 and 'rel="prev" href="/admin/audit"' in second
    assert 'rel="next"' not in second


def test_every_moderation_route_refuses_a_missing_csrf_token(
    root: TestClient, store: SQLStore, settings: Settings, bob: User
) -> None:
    store.activity.set_paper_hidden(bob.id, KEEP, True)  # something to show again
    before = sql_rows(settings.database_url, "SELECT count(*) FROM audit_log")
    for path in (
        f"/admin/users/{bob.id}/hide",
        f"/admin/users/{bob.id}/show",
        f"/papers/{SPAM}/hide",
        f"/papers/{KEEP}/show",
    ):
        assert root.post(path, data={"reason": "x"}).status_code == 403, path
        assert root.post(path, data={"csrf_token": "forged"}).status_code == 403, path
    assert sql_rows(settings.database_url, "SELECT count(*) FROM audit_log") == before
    assert store.activity.hidden_papers() == {KEEP}
    found = store.accounts.get_user(bob.id)
    assert found is not None and not found.hidden
