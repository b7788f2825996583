"""Hidden means hidden on every surface.

A paper the moderators hid is no source of similar papers (API and page, except for admins) and
no neighbour of any; a suspended user's public collections are answered, on every route that
serves one by id (page, JSON, BibTeX, RSS, Atom), exactly as a missing collection is, also right
after the suspension for a page the response cache held, and come back when the suspension is
lifted.
"""

from __future__ import annotations

from datetime import date

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from community import day_records, form, make_user
from paperboy.community.models import User
from paperboy.models import Record
from paperboy.settings import Settings
from paperboy.store import SQLStore
from paperboy.store.collections import CollectionStore
from paperboy.store.comments import CommentStore
from paperboy.web.app import create_app

DAY = date(2024, 1, 2)
KEEP = "2401.00001"
SPAM = "2401.00002"
OTHER = "2401.00003"
MISSING_ID = 987_654
COLLECTION_ROUTES = (
    "/collections/{}",
    "/api/collections/{}",
    "/collections/{}.bib",
    "/collections/{}/feed.atom",
    "/collections/{}/feed.rss",
)


def records() -> list[Record]:
    return day_records(
        DAY,
        {
            KEEP: "Frobnicating quantum widgets",
            SPAM: "Frobnicating quantum widgets, cheap pills inside",
            OTHER: "Frobnicating quantum gardens",
        },
        abstract="Widgets that frobnicate quantum states.",
        upvotes=5,
    )


@pytest.fixture
def settings(database_url: str) -> Settings:
    # response cache on: a cached anonymous page must not outlive a suspension
    return Settings(database_url=database_url, semantic_search=False, response_cache_seconds=0)


@pytest.fixture
def app(settings: Settings, store: SQLStore) -> FastAPI:
    """The app on these papers (conftest's ``admin`` and ``root`` use it)."""
    store.upsert(records())
    return create_app(settings, store=store, today=lambda: DAY)


def similar_ids(client: TestClient, paper_id: str) -> list[str]:
    answer = client.get(f"/api/papers/{paper_id}/similar")
    assert answer.status_code == 200, answer.text
    return [hit["paper"]["id"] for hit in answer.json()]


def test_a_hidden_paper_has_no_similar_papers_but_for_admins(
    app: FastAPI, root: TestClient, store: SQLStore, admin: User
) -> None:
    with TestClient(app) as anonymous:
        assert SPAM in similar_ids(anonymous, KEEP)
        assert similar_ids(anonymous, SPAM)  # neighbours while it is visible
        store.activity.set_paper_hidden(admin.id, SPAM, True, "spam")

        answer = anonymous.get(f"/api/papers/{SPAM}/similar")
        missing = anonymous.get("/api/papers/2401.09999/similar")
        assert answer.status_code == missing.status_code == 404
        assert answer.json()["error"] == f"{SPAM} has been hidden by the moderators"
        assert SPAM not in similar_ids(anonymous, KEEP)
        assert SPAM not in anonymous.get(f"/papers/{KEEP}").text
        assert anonymous.get(f"/papers/{SPAM}").status_code == 404

    # Admins still open the hidden paper, with its similar papers, in the API and on the page.
    assert set(similar_ids(root, SPAM)) >= {KEEP}
    page = root.get(f"/papers/{SPAM}")
    assert page.status_code == 200
    assert f'href="/papers/{KEEP}"' in page.text.split('id="similar-heading"')[1]


def same_as_missing(client: TestClient, cid: int) -> None:
    for route in COLLECTION_ROUTES:
        hidden = client.get(route.format(cid))
        missing = client.get(route.format(MISSING_ID))
        assert hidden.status_code == missing.status_code == 404, route
        assert hidden.headers["content-type"] == missing.headers["content-type"], route
        assert hidden.text == missing.text.replace(str(MISSING_ID), str(cid)), route


def test_a_suspended_users_public_collection_is_served_nowhere(
    app: FastAPI, root: TestClient, store: SQLStore, admin: User
) -> None:
    bob = make_user(store, "bob")
    collections = CollectionStore(store.engine)
    public = collections.create(bob.id, "Bob's reading", "Public notes", is_public=True)
    collections.add_item(bob.id, public.id, KEEP, "a note by bob")

    with TestClient(app) as anonymous:
        for route in COLLECTION_ROUTES:
            answer = anonymous.get(route.format(public.id))
            assert answer.status_code == 200, route
        assert "a note by bob" in anonymous.get(f"/collections/{public.id}").text
        assert anonymous.get("/users/bob/collections").status_code == 200

        suspended = root.post(f"/admin/users/{bob.id}/hide", data=form(root))
        assert suspended.status_code == 200

        same_as_missing(anonymous, public.id)
        same_as_missing(root, public.id)  # admins moderate from /admin, not through these
        assert anonymous.get("/users/bob/collections").status_code == 404

        lifted = root.post(f"/admin/users/{bob.id}/show", data=form(root))
        assert lifted.status_code == 200
        for route in COLLECTION_ROUTES:
            assert anonymous.get(route.format(public.id)).status_code == 200, route


def test_a_suspended_users_collections_leave_no_trace_in_lists(store: SQLStore) -> None:
    admin = make_user(store, "root", admin=True)
    bob = make_user(store, "bob")
    collections = CollectionStore(store.engine)
    public = collections.create(bob.id, "Visible", is_public=True)
    assert [c.id for c in collections.of_user(bob.id, public_only=True)] == [public.id]
    assert CommentStore(store.engine).set_user_hidden(admin.id, bob.id, True)
    assert collections.of_user(bob.id, public_only=True) == []
    assert collections.get(public.id) is None
    kept = collections.get(public.id, include_hidden_owner=True)
    assert kept is not None and kept.owner_hidden
    # the owner's own export still lists everything they made
    assert [c.id for c in collections.of_user(bob.id)] == [public.id]
