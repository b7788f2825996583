"""Security headers on every response, and pages the strict Content-Security-Policy can hold.

The headers come from ``paperboy.web.headers``, outside every other layer of the app: pages,
JSON, static files, 4xx and 500 error answers and responses replayed from the response cache
all carry them. The policy allows nothing inline, so no template may carry an inline script,
an inline style, a ``style`` attribute or an ``on...`` event handler (the browser tests check
the same pages in Chromium, failing on any CSP violation).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from demo import demo_record, demo_rows
from paperboy.store import SQLStore
from paperboy.web.cache import ResponseCache
from paperboy.web.headers import CONTENT_SECURITY_POLICY

TEMPLATES = Path(__file__).resolve().parents[1] / "src" / "paperboy" / "web" / "templates"
STRICT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
EXPECTED = {
    "content-security-policy": STRICT_CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "strict-origin-when-cross-origin",
    "cross-origin-opener-policy": "same-origin",
}
INLINE = re.compile(
    r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle\s*=|\son[a-z]+\s*=|javascript:", re.I
)


def day_rows() -> list[dict[str, object]]:
    return [row for row in demo_rows() if row["daily_date"] == "2024-12-03"][:5]


@pytest.fixture
def app(store: SQLStore, make_app: object) -> FastAPI:
    store.upsert([demo_record(row) for row in day_rows()])
    return make_app()  # type: ignore[operator]


def assert_secure(response: object) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    for name, value in EXPECTED.items():
        assert headers.get(name) == value, (response, name, headers.get(name))  # type: ignore[attr-defined]
        assert len(headers.get_list(name)) == 1, name
    policy = headers["permissions-policy"]
    assert "camera=()" in policy and "geolocation=()" in policy and "microphone=()" in policy


def test_the_policy_is_self_only_with_nothing_inline() -> None:
    assert CONTENT_SECURITY_POLICY == STRICT_CSP
    assert "unsafe" not in CONTENT_SECURITY_POLICY and "http" not in CONTENT_SECURITY_POLICY


def test_security_headers_on_pages_api_static_and_errors(app: FastAPI) -> None:
    with TestClient(app) as client:
        answers = {
            "front page": client.get("/"),
            "paper page": client.get(f"/papers/{day_rows()[0]['id']}"),
            "api": client.get("/api/daily_papers"),
            "openapi": client.get("/openapi.json"),
            "api docs": client.get("/api/docs"),
            "static": client.get("/static/app.js"),
            "swagger asset": client.get("/static/vendor/swagger-ui/swagger-ui.css"),
            "feed": client.get("/feeds/daily.atom"),
            "login form": client.get("/login"),
            "missing page": client.get("/no/such/page"),
            "bad api input": client.get("/api/papers/not-an-id"),
            "redirect": client.get("/open?id=2401.00001", follow_redirects=False),
        }
    statuses = {name: answer.status_code for name, answer in answers.items()}
    assert statuses == {
        **dict.fromkeys(answers, 200),
        "missing page": 404,
        "bad api input": 400,
        "redirect": 303,
    }
    for answer in answers.values():
        assert_secure(answer)


def test_security_headers_on_a_server_error(app: FastAPI) -> None:
    """Even a 500 from Starlette's outermost error handler carries them."""

    @app.get("/boom-for-the-test")
    def boom() -> None:
        raise RuntimeError("a bug")

    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/boom-for-the-test")
    assert answer.status_code == 500
    assert_secure(answer)


def _response_cache(app: FastAPI) -> ResponseCache:
    layer = app.middleware_stack
    while layer is not None and not isinstance(layer, ResponseCache):
        layer = getattr(layer, "app", None)
    assert isinstance(layer, ResponseCache), "no ResponseCache in the middleware stack"
    return layer


def test_security_headers_on_responses_replayed_from_the_cache(app: FastAPI) -> None:
    with TestClient(app) as client:
        first = client.get("/")
        cache = _response_cache(app)
        hits = cache.hits
        second = client.get("/")
        assert cache.hits == hits + 1, "the second answer did not come from the cache"
    assert first.status_code == second.status_code == 200
    assert_secure(first)
    assert_secure(second)
    assert first.text == second.text


def test_a_header_a_route_sets_itself_is_kept(app: FastAPI) -> None:
    from fastapi.responses import PlainTextResponse

    @app.get("/own-policy-for-the-test")
    def own() -> PlainTextResponse:
        return PlainTextResponse("x", headers={"X-Frame-Options": "SAMEORIGIN"})

    with TestClient(app) as client:
        answer = client.get("/own-policy-for-the-test")
    assert answer.headers.get_list("x-frame-options") == ["SAMEORIGIN"]
    assert answer.headers["content-security-policy"] == STRICT_CSP


@pytest.mark.parametrize(
    "template",
    sorted(
        str(p.relative_to(TEMPLATES))
        for p in TEMPLATES.rglob("*.html")
        if p.relative_to(TEMPLATES).parts[0] != "mail"  # mail is not served by the web app
    ),
)
def test_no_template_has_inline_script_style_or_handlers(template: str) -> None:
    text = re.sub(r"\{#.*?#\}", "", (TEMPLATES / template).read_text(), flags=re.S)
    assert INLINE.findall(text) == []


def test_rendered_pages_have_nothing_inline(app: FastAPI) -> None:
    """What the templates produce, with the site's data in them."""
    with TestClient(app) as client:
        paper_id = day_rows()[0]["id"]
        pages = ["/", "/papers/trending", f"/papers/{paper_id}", "/search?q=model", "/api/docs"]
        pages += ["/login", "/signup", "/subscribe", "/no/such/page"]
        for path in pages:
            answer = client.get(path)
            assert answer.status_code in (200, 404), path
            assert INLINE.findall(answer.text) == [], path
