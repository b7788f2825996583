"""Errors at the edge: domain exceptions become a status code and a friendly page or JSON body.

Paths under ``/api/`` get JSON (``{"error": ..., "parameter": ...}``); everything else gets the
``error.html`` page with navigation. Never a 500 for bad input.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from paperboy.community.errors import Refusal
from paperboy.community.limits import RateLimited
from paperboy.errors import InvalidArxivId, InvalidPeriod, PaperNotFound
from paperboy.web.templating import templates


class Refused(Exception):
    """A request the route refuses, with the status and a message for the client."""

    status = 400

    def __init__(self, message: str, parameter: str | None = None) -> None:
        super().__init__(message)
        self.parameter = parameter


class BadRequest(Refused):
    status = 400


class Forbidden(Refused):
    status = 403


class NotFound(Refused):
    status = 404


class Conflict(Refused):
    status = 409


class LoginRequired(Exception):
    """The route needs a signed-in user: pages redirect to the login form, the API says 401."""


_FOR_STATUS: dict[int, type[Refused]] = {
    400: BadRequest,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
}


@contextmanager
def refusals() -> Iterator[None]:
    """Turn a service's refusal (``paperboy.community.errors.Refusal``) into the web's: 401
    asks to log in; the others keep their status, message and field (pages, htmx and JSON)."""
    try:
        yield
    except Refusal as exc:
        if exc.status == 401:
            raise LoginRequired() from None
        raise _FOR_STATUS.get(exc.status, BadRequest)(str(exc), exc.field) from None


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path.endswith(".json")


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
    titles = {
        400: "That request did not make sense",
        401: "Please log in",
        403: "Not allowed",
        404: "Not found",
        409: "Already done",
        413: "Too large",
        429: "Slow down",
    }
    return templates.TemplateResponse(
        request,
        "error.html",
        {
            "status": status,
            "title": title or titles.get(status, "Something went wrong"),
            "message": message,
        },
        status_code=status,
    )


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


def install(app: FastAPI) -> None:
    @app.exception_handler(InvalidPeriod)
    async def _period(request: Request, exc: InvalidPeriod) -> Response:
        return error_response(request, 400, str(exc), parameter=exc.parameter)

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> Response:
        return error_response(request, exc.status, str(exc), parameter=exc.parameter)

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        from paperboy.web.auth import login_url

        if wants_json(request) or request.headers.get("hx-request"):
            response = JSONResponse({"error": "log in first"}, status_code=401)
            response.headers["HX-Redirect"] = login_url(request)
            return response
        return RedirectResponse(login_url(request), status_code=303)

    @app.exception_handler(RateLimited)
    async def _limited(request: Request, exc: RateLimited) -> Response:
        response = error_response(request, 429, str(exc))
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
