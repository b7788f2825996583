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
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
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
        location = [str(part) for part in first.get("loc", ()) if part not in ("query", "path")]
        parameter = ".".join(location) or None
        message = f"invalid value for {parameter}: {first.get('msg', 'invalid')}"
        return error_response(request, 400, message, parameter=parameter)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return error_response(request, 404, f"Nothing lives at {request.url.path}.")
        if wants_json(request):
            return JSONResponse({"error": exc.detail}, status_code=exc.status_code)
        return HTMLResponse(str(exc.detail), status_code=exc.status_code)
