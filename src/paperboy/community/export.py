"""A user's own data as one JSON-ready document (``/settings/export.json``).

It holds what the user made on the site: the account, votes, collections with their notes,
comments and API tokens. Secrets never leave: no password hash, no session, no token secret
or digest (a token is named by its prefix only).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from paperboy import __version__
from paperboy.community.models import User
from paperboy.store.collections import CollectionStore
from paperboy.store.schema import comments, papers, votes
from paperboy.store.sql import SQLStore

FORMAT = "paperboy-export/1"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _votes(store: SQLStore, user_id: int) -> list[dict[str, Any]]:
    query = (
        select(votes.c.paper_id, votes.c.created_at, papers.c.title)
        .join(papers, papers.c.id == votes.c.paper_id)
        .where(votes.c.user_id == user_id)
        .order_by(votes.c.created_at.desc(), votes.c.paper_id)
    )
    with store.engine.connect() as conn:
        return [
            {"paper_id": r.paper_id, "title": r.title, "voted": _iso(r.created_at)}
            for r in conn.execute(query)
        ]


def _comments(store: SQLStore, user_id: int) -> list[dict[str, Any]]:
    query = (
        select(comments, papers.c.title)
        .join(papers, papers.c.id == comments.c.paper_id)
        .where(comments.c.user_id == user_id)
        .order_by(comments.c.created_at, comments.c.id)
    )
    with store.engine.connect() as conn:
        return [
            {
                "id": r.id,
                "paper_id": r.paper_id,
                "title": r.title,
                "body": r.body,
                "created": _iso(r.created_at),
                "edited": _iso(r.edited_at),
                "deleted": r.deleted_at is not None,
                "hidden": r.hidden_at is not None,
            }
            for r in conn.execute(query)
        ]


def _collections(store: SQLStore, user_id: int) -> list[dict[str, Any]]:
    collection_store = CollectionStore(store.engine)
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
        "exported": _iso(now or datetime.now(UTC).replace(tzinfo=None)),
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
    }
