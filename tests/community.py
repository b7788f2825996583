"""Helpers for tests of the community features: users, logged-in clients, CSRF tokens, and the
few papers of one feed day they vote on, comment on and hide. (The users ``alice``, ``bob``,
``admin`` and the admin's browser ``root`` are fixtures in conftest.py.)"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from paperboy.community.accounts import hash_password
from paperboy.community.models import User
from paperboy.models import FeedEntry, Paper, Record
from paperboy.store import SQLStore
from paperboy.web.auth import ANON_COOKIE, SESSION_COOKIE, csrf_for

PASSWORD = "correct horse battery staple"
_HASH = hash_password(PASSWORD)  # argon2 is slow on purpose: hash once for every test user


def make_user(
    store: SQLStore,
    name: str = "alice",
    *,
    admin: bool = False,
    verified: bool = True,
    email: str | None = None,
) -> User:
    """A user whose password is ``PASSWORD``, straight in the store."""
    return store.accounts.create_user(
        (email or f"{name.lower()}@example.org"), name, _HASH, is_admin=admin, verified=verified
    )


def log_in(client: TestClient, store: SQLStore, user: User) -> dict[str, str]:
    """Give ``client`` a session of ``user``; returns the headers a script would send with
    state-changing requests (the CSRF token of that session)."""
    token = store.accounts.create_session(user.id, timedelta(days=1))
    client.cookies.set(SESSION_COOKIE, token)
    return {"X-CSRF-Token": csrf_for(client.app.state.secret, token)}  # type: ignore[attr-defined]


def csrf_token(client: TestClient) -> str:
    """The CSRF token of ``client``'s session, or of its anonymous visitor cookie."""
    secret: str = client.app.state.secret  # type: ignore[attr-defined]
    seed = client.cookies.get(SESSION_COOKIE) or client.cookies.get(ANON_COOKIE)
    if seed is None:
        client.get("/login")  # a page with a form gives an anonymous visitor its cookie
        seed = client.cookies.get(ANON_COOKIE)
    assert seed is not None, "no session or visitor cookie to derive a CSRF token from"
    return csrf_for(secret, seed)


def form(client: TestClient, **fields: Any) -> dict[str, Any]:
    """Form fields plus the client's CSRF token."""
    return {**fields, "csrf_token": csrf_token(client)}


def day_records(
    day: date,
    titles: Mapping[str, str],
    *,
    abstract: str,
    upvotes: int,
    comments: Mapping[str, int] | None = None,
    published: datetime = datetime(2024, 1, 1, 12),
) -> list[Record]:
    """One paper per ``{id: title}`` on the feed of ``day`` (by Ada Lovelace, in cs.LG), each
    with ``upvotes`` and its number of ``comments`` (imported from Hugging Face; 0 if absent)."""
    counts = comments or {}
    return [
        Record(
            Paper(pid, title, abstract, ("Ada Lovelace",), ("cs.LG",), published=published),
            FeedEntry(pid, day, upvotes=upvotes, num_comments=counts.get(pid, 0)),
        )
        for pid, title in titles.items()
    ]
