"""Errors at the edge: domain exceptions become a status code and a friendly page or JSON body.

``STATUS`` is the one mapping from the classes of ``paperboy.errors`` to HTTP statuses: the
views and services raise those classes (``Invalid``, ``NotAllowed``, ``NotFound``, ...) and
never a status. ``LoginRequired`` sends a page to the login form (401 under ``/api`` and for
htmx); ``RateLimited`` adds ``Retry-After``.

Paths under ``/api/`` get JSON (``{"error": ..., "parameter": ...}``); everything else gets the
``error.html`` page with navigation. Never a 500 for bad input.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from paperboy.errors import (
    Conflict,
    Invalid,
    InvalidArxivId,
    InvalidPeriod,
    LoginRequired,
    NotAllowed,
    NotFound,
    PaperboyError,
    PaperNotFound,
    RateLimited,
    Refusal,
    TooMany,
    Unavailable,
)
from paperboy.web.auth import login_url
from paperboy.web.responses import error_response, wants_json

__all__ = ["STATUS", "document_api_errors", "error_response", "install", "status_of", "wants_json"]

STATUS: dict[type[PaperboyError], int] = {
    Refusal: 400,
    Invalid: 400,
    InvalidPeriod: 400,
    LoginRequired: 401,
    NotAllowed: 403,
    NotFound: 404,
    PaperNotFound: 404,
    Conflict: 409,
    TooMany: 429,
    Unavailable: 503,
}
"""The one mapping from an error class to its HTTP status (the nearest class in the MRO)."""


def status_of(exc: PaperboyError) -> int:
    """The HTTP status for a domain error (pages, htmx and JSON alike)."""
    for kind in type(exc).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 500


_ANY_API_ERROR: dict[str, str] = {
    "400": "A parameter or the body is malformed or out of range; `parameter` names it.",
    "401": "The bearer token is invalid or revoked (or the route needs a user).",
}
_BODY_ERRORS: dict[str, str] = {
    "413": "The body is larger than the limit (1 MiB; the push route: push_max_bytes).",
}


def document_api_errors(schema: dict[str, Any]) -> None:
    """Declare in an OpenAPI ``schema`` the errors any ``/api`` operation can answer (with
    ``ApiError`` bodies): 400 and 401 for every operation, 413 for those that take a body.
    Routes declare their own (403, 404, 409, 429 ...) beside these; theirs are kept."""
    ref = {"$ref": "#/components/schemas/ApiError"}
    for path, operations in schema.get("paths", {}).items():
        if not path.startswith("/api/"):
            continue
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            wanted = dict(_ANY_API_ERROR)
            if "requestBody" in operation:
                wanted.update(_BODY_ERRORS)
            for status, description in wanted.items():
                responses.setdefault(
                    status,
                    {"description": description, "content": {"application/json": {"schema": ref}}},
                )


def _to_login(request: Request) -> Response:
    """Pages redirect to the login form; the API and htmx get a 401 (htmx also a redirect)."""
    if wants_json(request) or request.headers.get("hx-request"):
        response = JSONResponse({"error": "log in first"}, status_code=401)
        response.headers["HX-Redirect"] = login_url(request)
        return response
    return RedirectResponse(login_url(request), status_code=303)


def install(app: FastAPI) -> None:
    @app.exception_handler(InvalidPeriod)
    async def _period(request: Request, exc: InvalidPeriod) -> Response:
        return error_response(request, 400, str(exc), parameter=exc.parameter)

    @app.exception_handler(Refusal)
    async def _refused(request: Request, exc: Refusal) -> Response:
        if isinstance(exc, LoginRequired):
            return _to_login(request)
        response = error_response(request, status_of(exc), str(exc), parameter=exc.field)
        if isinstance(exc, RateLimited):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.exception_handler(InvalidArxivId)
    async def _bad_id(request: Request, exc: InvalidArxivId) -> Response:
        return error_response(
            request,
            404 if not wants_json(request) else 400,
            str(exc),
            parameter="arxiv_id",
            title="No such paper",
        )

    @app.exception_handler(PaperNotFound)
    async def _missing(request: Request, exc: PaperNotFound) -> Response:
        return error_response(request, 404, str(exc), title="Paper not found")

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = first.get("loc", ())
        location = [str(part) for part in where if part not in ("query", "path", "body")]
        parameter = ".".join(location) or ("body" if where[:1] == ("body",) else None)
        message = f"invalid value for {parameter}: {first.get('msg', 'invalid')}"
        if where[:1] == ("path",) and not wants_json(request):
            # /collections/99999999999999999999 names nothing: a page says so, as for any id
            return error_response(request, 404, f"Nothing lives at {request.url.path}.")
        return error_response(request, 400, message, parameter=parameter)

    @app.exception_handler(RecursionError)
    async def _deep(request: Request, exc: RecursionError) -> Response:
        # RequestLimits refuses deeply nested JSON before any parser; this is the backstop.
        return error_response(request, 400, "The request is nested too deeply.", parameter="body")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return error_response(request, 404, f"Nothing lives at {request.url.path}.")
        response = error_response(request, exc.status_code, str(exc.detail))
        response.headers.update(exc.headers or {})
        return response
