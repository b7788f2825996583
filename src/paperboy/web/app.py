"""The ASGI application: wires settings and the store into the page and API routers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.staticfiles import StaticFiles

from paperboy import __version__
from paperboy.community.accounts import Accounts, LoginPolicy, Signer, site_secret
from paperboy.search import open_search
from paperboy.settings import Settings
from paperboy.store import SQLStore, open_store
from paperboy.web.auth import AuthMiddleware, is_secure
from paperboy.web.bodies import RequestLimits
from paperboy.web.cache import ResponseCache

CSRF_EXEMPT: tuple[str, ...] = ("/api/papers/import", "/unsubscribe")
"""Paths whose POSTs need no CSRF token because they never act on a cookie: the push API
answers only to its own bearer token, and the RFC 8058 one-click ``POST /unsubscribe`` (sent
by mail providers, without cookies) only to the signed token in its URL. (Any request with a
bearer token needs none either.)"""


def community_routers() -> list[Any]:
    """Routers of the community features, each in its own module under ``paperboy.web``."""
    import importlib

    routers = []
    for name in COMMUNITY_MODULES:
        try:
            module = importlib.import_module(f"paperboy.web.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"paperboy.web.{name}":
                raise
            continue
        routers.append(module.router)
    return routers


COMMUNITY_MODULES = (
    "accounts",
    "votes",
    "comments",
    "collections",
    "moderation",
    "feeds",
    "subscriptions",
)

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
        from paperboy.web.errors import document_api_errors

        document_api_errors(schema)  # 400, 401, 413 with ApiError bodies
        app.openapi_schema = schema
    return app.openapi_schema


def create_app(
    settings: Settings,
    store: SQLStore | None = None,
    today: Callable[[], date] | None = None,
) -> FastAPI:
    """Build the app. ``today`` is injectable so tests can pin what 'New' means."""
    from paperboy.web import api, apidocs, errors, headers, pages

    app = FastAPI(
        title=f"{settings.site_name} API",
        version=__version__,
        description="Daily research papers with community upvotes. "
        "The /api/daily_papers and /api/papers routes follow Hugging Face's Papers API.",
        docs_url=None,  # web/apidocs.py serves /api/docs from the package, not a CDN
        redoc_url=None,
    )
    zone = ZoneInfo(settings.timezone)
    app.state.settings = settings
    app.state.store = store or open_store(settings.database_url)
    app.state.today = today or (lambda: datetime.now(zone).date())
    app.state.search = open_search(settings, app.state.store)
    app.state.secret = site_secret(settings, app.state.store)
    app.state.accounts = Accounts(
        app.state.store.accounts,
        Signer(app.state.secret),
        LoginPolicy.from_settings(settings),
    )
    if settings.search_preload:
        threading.Thread(target=app.state.search.warm, name="search-warm", daemon=True).start()
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    apidocs.install(app)
    errors.install(app)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    for router in community_routers():
        app.include_router(router)
    app.include_router(api.router)
    app.include_router(pages.router)
    app.add_middleware(
        AuthMiddleware,
        accounts=lambda: app.state.store.accounts,
        secret=lambda: app.state.secret,
        secure=lambda scope: is_secure(settings, scope),
        exempt=CSRF_EXEMPT,
    )
    app.add_middleware(
        ResponseCache,
        revision=app.state.store.revision,
        today=lambda: app.state.today(),
        max_staleness=settings.response_cache_seconds,
    )
    app.add_middleware(RequestLimits, push_max_bytes=settings.push_max_bytes)  # web/bodies.py
    headers.install(app)  # outermost: on every response, cached and error ones included
    return app


def create_app_from_env() -> FastAPI:
    """The app from ``PAPERBOY_*`` settings: what each of ``paperboy serve --workers N``'s
    processes builds (every process opens its own connections; they share only the database)."""
    return create_app(Settings())
