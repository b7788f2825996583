"""A crawler that sends boundary values to every HTML route: no 5xx, and the server lives on.

The routes come from ``app.routes`` (every route the OpenAPI schema leaves out: the pages, their
forms, feeds and exports; the JSON API has its own fuzzing in ``test_fuzz_api.py``), so a new
route is crawled without anyone listing it. Each route is first called with ordinary values,
then with every parameter (path, query or form) set in turn to each hostile value of its type:
integers past 64 bits and below zero, dates in year 1 and 9999, 20,000 characters, NUL, bidi
overrides, zero-width characters, JSON brackets; then every POST gets a 100,000-deep JSON body.
That runs anonymously, as a verified user and as a moderator, with a fresh session and its CSRF
token each time, so each POST reaches its route instead of the CSRF refusal. Every answer must
be below 500, and an HTML error must be the friendly page. Last, the hostile requests go over
real HTTP to a real uvicorn server, which must still answer afterwards.
"""

from __future__ import annotations

import re
import socket
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from community import make_user
from conftest import LiveServer, NewDatabaseUrl
from demo import demo_record, rows_between
from paperboy.settings import Settings
from paperboy.store import SQLStore, open_store
from paperboy.web.app import create_app
from paperboy.web.auth import ANON_COOKIE, CSRF_FIELD, SESSION_COOKIE, csrf_for

pytestmark = pytest.mark.slow

HOSTILE_INTS: tuple[str, ...] = (str(2**31), str(2**63), str(10**30), "-1", "x")
HOSTILE_TEXT: tuple[str, ...] = (
    "x" * 20_000,
    "a\x00b",
    "\u202eevil\u202c\u200b",
    "[" * 500,
    str(2**63),
)
HOSTILE_DATES: tuple[str, ...] = ("0001-01-01", "9999-12-31", "9999-W52", "9999-12", "9999")
DATE_NAMES = frozenset({"date", "week", "month", "since", "until"})
DEEP_JSON = "[" * 100_000 + "]" * 100_000
_PLACEHOLDER = re.compile(r"\{(\w+)(?::(\w+))?\}")


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    where: str  # "path", "query" or "form"
    integer: bool
    converter: str | None = None  # the path converter (int, path) when ``where`` is "path"


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    params: tuple[Param, ...]

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


def _is_int(annotation: Any) -> bool:
    return annotation is int or int in getattr(annotation, "__args__", ())


def html_routes(app: FastAPI) -> list[Route]:
    """Every route of ``app`` outside the OpenAPI schema, with its parameters."""
    routes = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or route.include_in_schema or context.path is None:
            continue
        converters = {m[1]: m[2] for m in _PLACEHOLDER.finditer(context.path)}
        dependant = route.dependant
        params = [
            Param(f.alias, "path", _is_int(f.field_info.annotation), converters.get(f.alias))
            for f in dependant.path_params
        ]
        params += [
            Param(f.alias, "query", _is_int(f.field_info.annotation))
            for f in dependant.query_params
        ]
        params += [
            Param(f.alias, "form", _is_int(f.field_info.annotation)) for f in dependant.body_params
        ]
        for method in sorted(route.methods or ()):
            if method != "HEAD":
                routes.append(Route(method, context.path, tuple(params)))
    return routes


@dataclass
class Site:
    app: FastAPI
    store: SQLStore
    ordinary: dict[str, str]  # an ordinary value per parameter name
    users: dict[str, int]  # identity -> user id


@pytest.fixture(scope="module")
def site(module_database_url: NewDatabaseUrl) -> Iterator[Site]:
    settings = Settings(database_url=module_database_url("fuzzpages"), arxiv_retries=0)
    store = open_store(settings.database_url)
    try:
        rows = rows_between("2025-03-03", "2025-03-09")
        store.upsert([demo_record(row) for row in rows])
        alice = make_user(store, "alice")
        root = make_user(store, "root", admin=True)
        target = make_user(store, "mallory")
        app = create_app(settings, store=store)
        paper = rows[0]["id"]
        with TestClient(app, follow_redirects=False) as client:
            _sign_in(client, store, alice.id)
            made = client.post(
                "/collections", data=_with_csrf(client, {"name": "Fuzz", "public": "on"})
            )
            collection = made.headers["location"].rsplit("/", 1)[1]
            client.post(f"/papers/{paper}/comments", data=_with_csrf(client, {"body": "Hi"}))
        token, _ = store.accounts.create_api_token(alice.id, "fuzz")
        ordinary = {
            "arxiv_id": paper,
            "paper_id": paper,
            "id": paper,
            "ref": paper,
            "ids": paper,
            "collection_id": collection,
            "comment_id": "1",
            "user_id": str(target.id),
            "token_id": str(token.id),
            "alert_id": "1",
            "username": "alice",
            "date": "2025-03-03",
            "week": "2025-W10",
            "month": "2025-03",
            "fmt": "rss",
            "window": "week",
            "mode": "hybrid",
            "q": "language model",
            "page": "1",
            "body": "A comment",
            "vote": "up",
            "next": "/",
        }
        yield Site(app, store, ordinary, {"alice": alice.id, "root": root.id})
    finally:
        store.close()


def _sign_in(client: TestClient, store: SQLStore, user_id: int | None) -> str:
    """A fresh session for ``user_id`` (none: an anonymous visitor); its CSRF token."""
    client.cookies.clear()
    secret: str = client.app.state.secret  # type: ignore[attr-defined]
    if user_id is None:
        client.cookies.set(ANON_COOKIE, "fuzz-visitor")
        return csrf_for(secret, "fuzz-visitor")
    session = store.accounts.create_session(user_id, timedelta(hours=1))
    client.cookies.set(SESSION_COOKIE, session)
    return csrf_for(secret, session)


def _with_csrf(client: TestClient, fields: dict[str, str]) -> dict[str, str]:
    secret: str = client.app.state.secret  # type: ignore[attr-defined]
    seed = client.cookies.get(SESSION_COOKIE) or client.cookies.get(ANON_COOKIE) or ""
    return {**fields, CSRF_FIELD: csrf_for(secret, seed)}


def _ordinary(param: Param, ordinary: dict[str, str]) -> str:
    if param.name in ordinary:
        return ordinary[param.name]
    return "1" if param.integer else "x"


def _values(param: Param) -> tuple[str, ...]:
    if param.integer or param.converter == "int":
        return HOSTILE_INTS
    if param.name in DATE_NAMES:
        return HOSTILE_DATES + HOSTILE_TEXT[:2]
    return HOSTILE_TEXT


@dataclass(frozen=True, slots=True)
class Attempt:
    """One request: its method, URL (path and query), form fields and raw body."""

    method: str
    url: str
    form: dict[str, str] = field(default_factory=dict)
    json_body: str | None = None

    def label(self) -> str:
        shown = self.url if len(self.url) < 120 else self.url[:117] + "..."
        fields = {k: (v if len(v) < 40 else v[:37] + "...") for k, v in self.form.items()}
        return (
            f"{self.method} {shown} {fields or ''}{' (deep JSON body)' if self.json_body else ''}"
        )


def _fill(path: str, values: dict[Param, str]) -> str:
    """``path`` with each placeholder replaced by its value, percent-encoded (a ``path``
    converter keeps its slashes)."""
    for param, value in values.items():
        if param.where == "path":
            placeholder = (
                "{" + param.name + (f":{param.converter}" if param.converter else "") + "}"
            )
            encoded = quote(value, safe="/" if param.converter == "path" else "")
            path = path.replace(placeholder, encoded)
    return path


def attempts(route: Route, ordinary: dict[str, str]) -> Iterator[Attempt]:
    """The ordinary request, then each parameter in turn set to each of its hostile values;
    for a POST, last, the ordinary path with a 100,000-deep JSON body."""
    base = {p: _ordinary(p, ordinary) for p in route.params}
    variants: list[dict[Param, str]] = [base]
    for param in route.params:
        for value in _values(param):
            if param.converter == "int" and not value.isdigit():
                continue  # the router's int converter never matches it: nothing to try
            variants.append({**base, param: value})
    for values in variants:
        query = {p.name: v for p, v in values.items() if p.where == "query"}
        form = {p.name: v for p, v in values.items() if p.where == "form"}
        url = _fill(route.path, values) + ("?" + urlencode(query) if query else "")
        yield Attempt(route.method, url, form)
    if route.method == "POST":
        yield Attempt("POST", _fill(route.path, base), json_body=DEEP_JSON)


@dataclass
class CrawlReport:
    routes: int = 0
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)


def _problem(response: httpx.Response) -> str | None:
    if response.status_code >= 500:
        return f"answered {response.status_code}"
    if "Traceback (most recent call last)" in response.text:
        return "shows a traceback"
    kind = response.headers.get("content-type", "")
    if (
        response.status_code >= 400
        and kind.startswith("text/html")
        and 'href="/"' not in response.text
    ):
        return f"answered {response.status_code} without the friendly error page"
    return None


def moderation_route(route: Route) -> bool:
    """Routes that answer a moderator differently from anyone else."""
    return (
        route.path.startswith("/admin")
        or route.path.endswith(("/hide", "/show"))
        or (route.method == "GET" and route.path.startswith("/papers/"))
    )


def crawl(
    site: Site, identity: str | None, only: Callable[[Route], bool] = lambda route: True
) -> CrawlReport:
    report = CrawlReport()
    user_id = site.users.get(identity) if identity else None
    with TestClient(site.app, raise_server_exceptions=False, follow_redirects=False) as client:
        for route in html_routes(site.app):
            if not only(route):
                continue
            report.routes += 1
            for attempt in attempts(route, site.ordinary):
                csrf = _sign_in(client, site.store, user_id)
                headers = {"X-CSRF-Token": csrf}
                if attempt.json_body is not None:
                    headers["Content-Type"] = "application/json"
                    response = client.request(
                        attempt.method, attempt.url, content=attempt.json_body, headers=headers
                    )
                elif attempt.method == "GET":
                    response = client.get(attempt.url)
                else:
                    response = client.request(
                        attempt.method,
                        attempt.url,
                        data={**attempt.form, CSRF_FIELD: csrf},
                        headers=headers,
                    )
                report.requests += 1
                report.statuses[response.status_code] += 1
                problem = _problem(response)
                if problem is not None:
                    report.failures.append(f"{attempt.label()}: {problem}")
    return report


def _summary(name: str, report: CrawlReport) -> None:
    statuses = ", ".join(f"{code}: {n}" for code, n in sorted(report.statuses.items()))
    print(f"\n[fuzz-pages] {name}: {report.routes} routes, {report.requests} requests ({statuses})")


@pytest.mark.parametrize("identity", [None, "alice"], ids=["anonymous", "user"])
def test_no_html_route_answers_a_5xx_to_boundary_values(site: Site, identity: str | None) -> None:
    report = crawl(site, identity)
    _summary(identity or "anonymous", report)
    assert report.routes >= 50  # the crawler found the routes (they are not listed by hand)
    assert not report.failures, "\n".join(report.failures[:60])
    # Not all refused: ordinary requests reached their routes (pages, and forms' redirects).
    assert report.statuses[200] > 50 and report.statuses[303] > 10, report.statuses


def test_no_moderation_route_answers_a_5xx_to_a_moderator(site: Site) -> None:
    report = crawl(site, "root", only=moderation_route)
    _summary("admin", report)
    assert report.routes >= 8
    assert not report.failures, "\n".join(report.failures[:60])


def test_the_crawler_sees_forms_paths_and_queries(site: Site) -> None:
    """The crawl reaches each kind of parameter, so a route cannot hide from it."""
    routes = {route.label: route for route in html_routes(site.app)}
    assert {"page"} <= {p.name for p in routes["GET /papers"].params}
    edit = routes["POST /comments/{comment_id:int}/edit"]
    assert {(p.name, p.where, p.integer) for p in edit.params} >= {
        ("comment_id", "path", True),
        ("body", "form", False),
    }
    assert "POST /settings/tokens/{token_id}/revoke" in routes
    assert "GET /collections/{collection_id:int}.bib" in routes
    # An ordinary edit, with the session's CSRF token, reaches the route (it is not refused).
    paper = site.ordinary["arxiv_id"]
    carol = make_user(site.store, "carol")  # her own comment rate, whatever ran before
    with TestClient(site.app, follow_redirects=False) as client:
        _sign_in(client, site.store, carol.id)
        client.post(f"/papers/{paper}/comments", data=_with_csrf(client, {"body": "Mine"}))
        mine = [
            c for c in client.get(f"/api/papers/{paper}/comments").json() if c["body"] == "Mine"
        ]
        edit_url = f"/comments/{mine[-1]['id']}/edit"
        answer = client.post(edit_url, data=_with_csrf(client, {"body": "Edited"}))
        assert answer.status_code == 303
        # Without the token the same post is refused before the route.
        assert client.post(edit_url, data={"body": "Edited"}).status_code == 403


def test_the_crawler_catches_a_route_that_breaks_past_a_bound() -> None:
    """The crawl can fail: on a route that breaks at a hostile value, it says which."""
    toy = FastAPI()

    @toy.get("/toy/{n:int}", include_in_schema=False)
    def fragile(n: int, q: str = "") -> dict[str, int]:
        if n > 2**62 or "\x00" in q:
            raise OverflowError("past the bound")
        return {"n": n}

    routes = html_routes(toy)
    assert [route.label for route in routes] == ["GET /toy/{n:int}"]
    problems = []
    with TestClient(toy, raise_server_exceptions=False) as client:
        for attempt in attempts(routes[0], {"n": "1", "q": "ok"}):
            problem = _problem(client.get(attempt.url))
            if problem is not None:
                problems.append(attempt.url)
    assert f"/toy/{2**63}?q=ok" in problems and "/toy/1?q=a%00b" in problems


def _raw(server: LiveServer, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (TimeoutError, ConnectionResetError):
            pass
    return b"".join(chunks)


def test_a_live_server_still_answers_after_hostile_requests(site: Site) -> None:
    """Over real HTTP to uvicorn: the worst of the crawl, plus lies a test client cannot tell
    (a Content-Length far past the body, a body past the cap with no length at all)."""
    with LiveServer(site.app) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        hostile = [
            f"/api/papers/search?q=model&p={2**31}",
            f"/api/papers/search?q=model&p={10**30}",
            f"/api/daily_papers?p={2**63}",
            f"/?page={2**63}",
            f"/collections/{2**63}",
            f"/collections/{2**63}.bib",
            "/papers?month=9999-12",
            "/papers?week=9999-W52",
            "/papers?date=9999-12-31",
            "/api/daily_papers?date=9999-12-31&sort=trending",
            "/search?q=%00%E2%80%AE" + "x" * 20_000,
            "/papers/" + "9" * 5000,
        ]
        for url in hostile:
            assert http.get(url).status_code < 500, url
        deep = http.post(
            "/api/papers/submit", content=DEEP_JSON, headers={"Content-Type": "application/json"}
        )
        assert deep.status_code == 400
        lying = _raw(
            server,
            b"POST /api/papers/submit HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 99999999999\r\nConnection: close\r\n\r\n{}",
        )
        assert lying.startswith(b"HTTP/1.1 413"), lying[:80]
        chunked = _raw(
            server,
            b"POST /submit HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            b"Connection: close\r\n\r\n"
            + (b"100000\r\n" + b"x" * 0x100000 + b"\r\n") * 2
            + b"0\r\n\r\n",
        )
        assert chunked.startswith(b"HTTP/1.1 413"), chunked[:80]
        assert http.get("/").status_code == 200
        assert http.get("/api/daily_papers").status_code == 200
