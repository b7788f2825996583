"""What every view shares to answer: the app's store and settings, rendering a template,
redirecting after a form, and the error response (JSON under ``/api``, else the friendly page).

Imports nothing of the web package but the template environment, so the middleware and the
error handlers below it can both use it."""

from __future__ import annotations

from typing import Any

from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.requests import Request

from paperboy.settings import Settings
from paperboy.store import SQLStore
from paperboy.web.templating import templates

TITLES: dict[int, str] = {
    400: "That request did not make sense",
    401: "Please log in",
    403: "Not allowed",
    404: "Not found",
    409: "Already done",
    413: "Too large",
    429: "Slow down",
}


def store_of(request: Request) -> SQLStore:
    store: SQLStore = request.app.state.store
    return store


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    """The template ``name`` with ``context`` (context processors add ``user``, the visitor:
    never pass another user under that key)."""
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def redirect(url: str) -> RedirectResponse:
    """After a form: 303 See Other, so the browser follows with a GET."""
    return RedirectResponse(url, status_code=303)


def wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith(("/api/", "/recommendations/")) or path.endswith(".json")


def error_response(
    request: Request,
    status: int,
    message: str,
    *,
    title: str | None = None,
    parameter: str | None = None,
) -> Response:
    if wants_json(request):
        body: dict[str, Any] = {"error": message}
        if parameter is not None:
            body["parameter"] = parameter
        return JSONResponse(body, status_code=status)
    return render(
        request,
        "error.html",
        {
            "status": status,
            "title": title or TITLES.get(status, "Something went wrong"),
            "message": message,
        },
        status_code=status,
    )
