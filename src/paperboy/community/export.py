"""A user's own data as one JSON-ready document (``/settings/export.json``).

It holds what the user made on the site: the account, votes, collections with their notes,
comments and API tokens. Secrets never leave: no password hash, no session, no token secret
or digest (a token is named by its prefix only).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from paperboy import __version__
from paperboy.clock import utc_now
from paperboy.community.models import User
from paperboy.store.sql import SQLStore

FORMAT = "paperboy-export/1"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _votes(store: SQLStore, user_id: int) -> list[dict[str, Any]]:
    return [
        {"paper_id": paper_id, "title": title, "voted": _iso(at)}
        for paper_id, title, at in store.activity.votes_with_titles(user_id)
    ]


def _comments(store: SQLStore, user_id: int) -> list[dict[str, Any]]:
    return [
        {
            "id": c.id,
            "paper_id": c.paper_id,
            "title": title,
            "body": c.body,
            "created": _iso(c.created_at),
            "edited": _iso(c.edited_at),
            "deleted": c.deleted_at is not None,
            "hidden": c.hidden_at is not None,
        }
        for c, title in store.comments.all_of_user(user_id)
    ]


def _collections(store: SQLStore, user_id: int) -> list[dict[str, Any]]:
    collection_store = store.collections
    mine = sorted(collection_store.of_user(user_id), key=lambda c: c.id)
    items = collection_store.notes_of([c.id for c in mine])
    return [
        {
            "id": c.id,
            "name": c.name,
            "description": c.description,
            "public": c.is_public,
            "created": _iso(c.created_at),
            "updated": _iso(c.updated_at),
            "items": [
                {"paper_id": paper_id, "title": title, "note": note, "added": _iso(added)}
                for paper_id, title, note, added in items.get(c.id, [])
            ],
        }
        for c in mine
    ]


def _tokens(store: SQLStore, user_id: int) -> list[dict[str, Any]]:
    return [
        {
            "name": t.name,
            "prefix": t.prefix,
            "created": _iso(t.created_at),
            "last_used": _iso(t.last_used_at),
            "revoked": _iso(t.revoked_at),
        }
        for t in store.accounts.api_tokens_of(user_id)
    ]


def export_user(store: SQLStore, user: User, *, now: datetime | None = None) -> dict[str, Any]:
    """Everything ``user`` made on the site, as plain JSON values."""
    return {
        "format": FORMAT,
        "generator": f"Paperboy {__version__}",
        "exported": _iso(now or utc_now()),
        "account": {
            "id": user.id,
            "username": user.username,
            "email": user.email,
            "created": _iso(user.created_at),
            "verified": user.email_verified,
            "admin": user.is_admin,
        },
        "votes": _votes(store, user.id),
        "collections": _collections(store, user.id),
        "comments": _comments(store, user.id),
        "api_tokens": _tokens(store, user.id),
        "ratings": _ratings(store, user.id),
        "following": _following(store, user.id),
    }


def _ratings(store: SQLStore, user_id: int) -> list[dict[str, Any]]:
    """The reader's private ratings, newest first (every one of them: ``MAX_RATINGS`` at most)."""
    return [
        {
            "paper": r.paper_id,
            "rating": "more like this" if r.value > 0 else "not for me",
            "value": r.value,
            "from": r.source,
            "at": _iso(r.created_at),
        }
        for r in store.ratings.ratings_of(user_id, limit=100_000)
    ]


def _following(store: SQLStore, user_id: int) -> dict[str, Any]:
    profile = store.ratings.profile(user_id)
    return {"categories": list(profile.categories), "authors": list(profile.authors)}
