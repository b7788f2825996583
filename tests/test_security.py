"""Security sweeps over every route the app declares, so a new route cannot slip past them.

- CSRF: every POST/PUT/PATCH/DELETE route refuses a logged-in browser request that carries no
  CSRF token, or a wrong one, with 403, and nothing in the store changes.
- SQL injection: classic payloads in every query parameter of every GET route and in the text
  fields of the forms change nothing, never give a 500, and are stored (when stored) literally.
- XSS: hostile titles, abstracts and author names come out escaped in pages, feeds and JSON.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from community import PASSWORD, log_in, make_user
from demo import demo_record, demo_rows
from paperboy.community.models import User
from paperboy.models import Record
from paperboy.settings import Settings
from paperboy.store import SQLStore
from paperboy.store.schema import metadata
from paperboy.web.app import CSRF_EXEMPT, create_app

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
SQLI = [
    "' OR '1'='1",
    "1; DROP TABLE papers; --",
    '" OR ""="',
    "%' UNION SELECT password_hash, email FROM users --",
    "2401.00001') OR 1=1 --",
    "\\'; DELETE FROM votes; --",
]
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def records() -> list[Record]:
    rows = [row for row in demo_rows() if row["daily_date"] == "2024-12-03"][:6]
    return [demo_record(row) for row in rows]


@pytest.fixture
def setup(
    store: SQLStore, settings: Settings, records: list[Record]
) -> Iterator[tuple[FastAPI, User, User, str]]:
    store.upsert(records)
    app = create_app(settings, store=store, today=lambda: records[0].feed.feed_date)  # type: ignore[union-attr]
    alice = make_user(store, "alice")
    admin = make_user(store, "root", admin=True)
    yield app, alice, admin, records[0].paper.id


def table_counts(store: SQLStore) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {
            t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in metadata.sorted_tables
            if t.name not in ("rate_counters", "store_state", "sessions", "site_secrets")
        }


def concrete_path(route: APIRoute, paper_id: str, username: str) -> str:
    """The route's path with each parameter filled by a value that exists in the store."""
    path = route.path
    for name in route.param_convertors:
        if "arxiv" in name or name == "paper_id":
            value = paper_id
        elif "user" in name and "id" not in name:
            value = username
        else:
            value = "1"
        path = re.sub(r"\{" + re.escape(name) + r"(:[a-z]+)?\}", value, path)
    return path


def all_routes(routes: list[Any]) -> list[APIRoute]:
    """Every APIRoute of the app, looking inside included routers (none has a prefix)."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):  # FastAPI's included router
            assert not getattr(getattr(route, "include_context", None), "prefix", "")
            found.extend(all_routes(route.original_router.routes))
    return found


def unsafe_routes(app: FastAPI) -> list[tuple[str, APIRoute]]:
    return [
        (method, route)
        for route in all_routes(app.routes)
        for method in sorted(route.methods & UNSAFE)
    ]


def test_every_state_changing_route_needs_a_csrf_token(
    setup: tuple[FastAPI, User, User, str], store: SQLStore
) -> None:
    app, _, admin, paper_id = setup
    routes = unsafe_routes(app)
    paths = {route.path for _, route in routes}
    # The community features are all there (the sweep is not vacuous).
    for expected in ("/login", "/logout", "/signup", "/submit", "/collections"):
        assert expected in paths, f"{expected} is missing: {sorted(paths)}"
    assert len(routes) >= 20, sorted(paths)
    with TestClient(app) as client:
        log_in(client, store, admin)
        before = table_counts(store)
        refused = []
        for method, route in routes:
            path = concrete_path(route, paper_id, admin.username)
            if any(path == p or path.startswith(p + "/") for p in CSRF_EXEMPT):
                continue
            for headers in ({}, {"X-CSRF-Token": "not-the-token"}):
                answer = client.request(
                    method,
                    path,
                    data={"body": "hello", "name": "x", "vote": "up", "csrf_token": "forged"}
                    if not headers
                    else {"body": "hello", "name": "x", "vote": "up"},
                    headers=headers,
                )
                assert answer.status_code == 403, (method, path, answer.status_code, answer.text)
                refused.append((method, path))
        assert table_counts(store) == before
        assert len(refused) >= 2 * 20


def test_exempt_routes_still_refuse_without_their_own_credentials(
    setup: tuple[FastAPI, User, User, str],
) -> None:
    app, *_ = setup
    with TestClient(app) as client:
        for path in CSRF_EXEMPT:
            assert client.post(path, json=[]).status_code in (401, 403)


def get_routes(app: FastAPI) -> list[APIRoute]:
    return [r for r in all_routes(app.routes) if "GET" in r.methods]


def test_sql_injection_in_query_parameters_changes_nothing(
    setup: tuple[FastAPI, User, User, str], store: SQLStore
) -> None:
    app, alice, _, paper_id = setup
    before = table_counts(store)
    with TestClient(app) as client:
        log_in(client, store, alice)
        tried = 0
        for route in get_routes(app):
            params = [p.alias or p.name for p in route.dependant.query_params]
            path = concrete_path(route, paper_id, alice.username)
            for name in params:
                for payload in SQLI:
                    answer = client.get(path, params={name: payload})
                    tried += 1
                    assert answer.status_code < 500, (path, name, payload, answer.text[:300])
                    assert "$argon2" not in answer.text
            for payload in SQLI[:2]:  # and in the path itself, where the route takes an id
                if route.param_convertors:
                    bad = re.sub(r"\{[^}]+\}", payload.replace("/", " "), route.path)
                    answer = client.get(bad)
                    assert answer.status_code < 500, (bad, answer.text[:300])
        assert tried > 50
    assert table_counts(store) == before


def test_sql_injection_in_form_fields_is_stored_literally(
    setup: tuple[FastAPI, User, User, str], store: SQLStore
) -> None:
    app, alice, _, paper_id = setup
    with TestClient(app) as client:
        # Login with an injection in the login field: refused like any wrong login.
        for payload in SQLI:
            answer = client.post(
                "/login",
                data={"login": payload, "password": payload, "csrf_token": _anon_token(client)},
            )
            assert answer.status_code in (200, 400, 401, 429), answer.text[:300]
            assert "pb_session" not in answer.headers.get("set-cookie", "")
        headers = log_in(client, store, alice)
        for payload in SQLI:
            answer = client.post(
                f"/papers/{paper_id}/comments", data={"body": payload}, headers=headers
            )
            assert answer.status_code in (200, 303), answer.text[:300]
            answer = client.post(
                "/collections", data={"name": payload, "description": payload}, headers=headers
            )
            assert answer.status_code in (200, 303), answer.text[:300]
    with store.engine.connect() as conn:
        stored_comments = {row.body for row in conn.execute(select(metadata.tables["comments"]))}
        names = {row.name for row in conn.execute(select(metadata.tables["collections"]))}
    assert set(SQLI) <= stored_comments
    assert {p.strip() for p in SQLI} <= names
    assert store.count_papers() == 6
    # The accounts are untouched: alice still logs in with her password.
    with TestClient(app) as client:
        answer = client.post(
            "/login",
            data={"login": "alice", "password": PASSWORD, "csrf_token": _anon_token(client)},
            follow_redirects=False,
        )
        assert answer.status_code == 303


def _anon_token(client: TestClient) -> str:
    from community import csrf_token

    return csrf_token(client)


def hostile_records(records: list[Record]) -> list[Record]:
    out = []
    for index, record in enumerate(records):
        paper = replace(
            record.paper,
            title=f"{XSS} title {index}",
            abstract=f"An abstract {XSS} with $x<y$ and & ampersands.",
            authors=(f"Mallory {XSS}", "Bob"),
        )
        out.append(Record(paper=paper, feed=replace(record.feed, submitted_by=f"eve{XSS}")))  # type: ignore[arg-type]
    return out


def strings(data: Any) -> str:
    """Every string inside a JSON document, joined."""
    if isinstance(data, str):
        return data
    if isinstance(data, dict):
        return "\n".join(strings(v) for v in data.values())
    if isinstance(data, list):
        return "\n".join(strings(v) for v in data)
    return ""


def assert_inert(html: str, where: str) -> None:
    assert "<script>alert" not in html, where
    assert "<img src=x onerror" not in html, where


def test_hostile_paper_text_is_escaped_everywhere(
    setup: tuple[FastAPI, User, User, str], store: SQLStore, records: list[Record]
) -> None:
    app, alice, _, paper_id = setup
    store.upsert(hostile_records(records))
    day = records[0].feed.feed_date.isoformat()  # type: ignore[union-attr]
    with TestClient(app) as client:
        pages = [
            "/",
            f"/papers?date={day}",
            f"/papers/{paper_id}",
            "/search?q=title",
            "/papers/trending?window=month",
        ]
        for path in pages:
            answer = client.get(path)
            assert answer.status_code == 200, (path, answer.text[:300])
            assert_inert(answer.text, path)
            assert "&lt;script&gt;" in answer.text, path
        for path in (f"/feeds/daily.rss?date={day}", f"/feeds/daily.atom?date={day}"):
            answer = client.get(path)
            assert answer.status_code == 200, path
            assert_inert(answer.text, path)
        log_in(client, store, alice)
        for path in ("/", f"/papers/{paper_id}"):
            assert_inert(client.get(path).text, path)
        for path in (
            f"/api/daily_papers?date={day}",
            f"/api/papers/{paper_id}",
            "/api/papers/search?q=title",
        ):
            answer = client.get(path)
            assert answer.status_code == 200, path
            assert answer.headers["content-type"].startswith("application/json"), path
            assert XSS in strings(answer.json()), path  # the text is kept, as JSON data
