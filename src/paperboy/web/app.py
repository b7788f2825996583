"""The ASGI application: wires settings and the store into the page and API routers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.staticfiles import StaticFiles

from paperboy import __version__
from paperboy.search.highlight import highlight
from paperboy.services import build
from paperboy.settings import Settings
from paperboy.store import SQLStore
from paperboy.web import (
    accounts,
    api,
    apidocs,
    collections,
    comments,
    errors,
    feeds,
    foryou,
    headers,
    moderation,
    pages,
    ratings,
    recommendations,
    subscriptions,
    votes,
)
from paperboy.web.auth import AuthMiddleware, is_secure
from paperboy.web.bodies import RequestLimits
from paperboy.web.cache import ResponseCache
from paperboy.web.head import HeadAsGet
from paperboy.web.pages import PaperPanel
from paperboy.web.templating import templates

CSRF_EXEMPT: tuple[str, ...] = ("/api/papers/import", "/unsubscribe", "/rate")
"""Paths whose POSTs need no CSRF token because they never act on a cookie: the push API
answers only to its own bearer token, and the RFC 8058 one-click ``POST /unsubscribe`` (sent
by mail providers, without cookies) only to the signed token in its URL. (Any request with a
bearer token needs none either.)"""

COOKIELESS_JSON: tuple[str, ...] = ("/api/recommendations", "/recommendations/")
"""Paths whose JSON POSTs need no CSRF token when they send no cookie at all (the stateless
recommendations API, for scripts and Semantic Scholar clients); with a cookie they still do."""


ROUTERS: tuple[APIRouter, ...] = (
    accounts.router,
    votes.router,
    ratings.router,
    foryou.router,
    comments.router,
    collections.router,
    moderation.router,
    feeds.router,
    subscriptions.router,
    recommendations.router,  # /api/recommendations and /recommendations/v1 (stateless)
    api.router,  # after the community routers: its /api/papers/{arxiv_id:path} takes any tail
    pages.router,  # last: its /papers/{arxiv_id:path} too
)
"""Every router, in the order the app includes them (the first route that matches wins)."""

PAPER_PANELS: tuple[PaperPanel, ...] = (
    votes.paper_votes_panel,
    votes.paper_trending_panel,
    comments.comments_panel,
    collections.collect_panel,
)
"""What the paper page adds to its context, one function per community feature."""


def register_templates() -> None:
    """The filters, globals and context processor every template may use."""
    templates.env.filters["http_url"] = pages.http_url
    templates.env.filters["paragraphs"] = pages.paragraphs
    templates.env.filters["highlight"] = highlight
    templates.env.globals.update(subscriptions.TEMPLATE_GLOBALS)
    templates.env.globals["my_ratings"] = ratings.rated
    if pages.site_context not in templates.context_processors:
        templates.context_processors.append(pages.site_context)


HERE = Path(__file__).parent


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI documents a 422 for every route with parameters; Paperboy answers those with
    a 400 and an ``ApiError`` body (see ``web/errors.py``), so the schema says so."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                operation.get("responses", {}).pop("422", None)
        for name in ("HTTPValidationError", "ValidationError"):
            schema.get("components", {}).get("schemas", {}).pop(name, None)
        errors.document_api_errors(schema)  # 400, 401, 413 with ApiError bodies
        app.openapi_schema = schema
    return app.openapi_schema


def create_app(
    settings: Settings,
    store: SQLStore | None = None,
    today: Callable[[], date] | None = None,
) -> FastAPI:
    """Build the app. ``today`` is injectable so tests can pin what 'New' means."""
    services = build(settings, store, today)
    app = FastAPI(
        title=f"{settings.site_name} API",
        version=__version__,
        description="Daily research papers with community upvotes. "
        "The /api/daily_papers and /api/papers routes follow Hugging Face's Papers API.",
        docs_url=None,  # web/apidocs.py serves /api/docs from the package, not a CDN
        redoc_url=None,
    )
    app.state.services = services
    app.state.settings = settings
    app.state.store = services.store
    app.state.today = services.today
    app.state.search = services.search
    app.state.secret = services.secret
    app.state.accounts = services.accounts
    app.state.paper_panels = PAPER_PANELS
    if settings.search_preload:
        threading.Thread(target=services.search.warm, name="search-warm", daemon=True).start()
        threading.Thread(target=services.foryou.warm, name="foryou-warm", daemon=True).start()
    register_templates()
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    apidocs.install(app)
    errors.install(app)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    for router in ROUTERS:
        app.include_router(router)
    app.add_middleware(
        AuthMiddleware,
        accounts=lambda: app.state.store.accounts,
        secret=lambda: app.state.secret,
        secure=lambda scope: is_secure(settings, scope),
        exempt=CSRF_EXEMPT,
        cookieless=COOKIELESS_JSON,
    )
    app.add_middleware(
        ResponseCache,
        revision=app.state.store.revision,
        today=lambda: app.state.today(),
        max_staleness=settings.response_cache_seconds,
    )
    app.add_middleware(RequestLimits, push_max_bytes=settings.push_max_bytes)  # web/bodies.py
    app.add_middleware(HeadAsGet)  # HEAD answers as GET, without the body (web/head.py)
    headers.install(app)  # outermost: on every response, cached and error ones included
    return app


def create_app_from_env() -> FastAPI:
    """The app from ``PAPERBOY_*`` settings: what each of ``paperboy serve --workers N``'s
    processes builds (every process opens its own connections; they share only the database)."""
    return create_app(Settings())
