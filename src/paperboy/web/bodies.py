"""Requests bounded before any route, parser or credential check: body size, JSON depth, NUL.

``RequestLimits`` is ASGI middleware that sits outside the others (sessions, CSRF, the response
cache), so it holds for every request, with or without a bearer token:

- **size**: a body over ``MAX_BODY_BYTES`` (1 MiB) is refused with 413, from the
  ``Content-Length`` header when it says so, else as soon as the streamed chunks pass the cap;
  the push route (``POST /api/papers/import``, up to ``ingest.push.MAX_ITEMS`` papers at once)
  gets ``Settings.push_max_bytes`` instead;
- **nesting**: a body that is not a form (JSON, or anything else a route might hand to a JSON
  parser) with brackets nested deeper than ``MAX_JSON_DEPTH`` is refused with 400 before any
  parser recurses into it. The scan is cheap: strings are blanked with one regular expression,
  then the running count of ``[``/``{`` minus ``]``/``}`` is a NumPy cumulative sum;
- **NUL**: the character U+0000 is no part of any text Paperboy keeps (PostgreSQL cannot store
  it in a text column at all), so a path, query parameter, form field or JSON string holding
  one is refused with 400 naming the parameter, on both backends alike.

Refusals are the site's usual errors: JSON ``{"error": ..., "parameter": ...}`` under ``/api``,
the friendly error page elsewhere (``paperboy.web.errors.error_response``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, unquote_to_bytes

import numpy as np
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paperboy.web.auth import MAX_FORM_BYTES, header, replay

MAX_BODY_BYTES = MAX_FORM_BYTES
"""The largest body of any request but a push (the CSRF check reads forms up to this too)."""

MAX_JSON_DEPTH = 64
"""Deepest nesting of arrays and objects a JSON body may have (Paperboy's own need 4)."""

PUSH_PATHS: tuple[str, ...] = ("/api/papers/import",)
"""Routes whose bodies may be as large as ``Settings.push_max_bytes``."""

_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")  # an unescaped \u0000 escape
_OPEN = frozenset(b"[{")
_CLOSE = frozenset(b"]}")


def nesting_depth(body: bytes) -> int:
    """The deepest nesting of ``[``/``{`` in ``body`` outside JSON strings (0 for none).

    Works on any bytes: brackets inside a string that never ends count, which can only make
    a broken body look deeper (it is refused either way)."""
    bare = _STRING.sub(b'""', body)
    if not any(byte in bare for byte in (b"[", b"{")):
        return 0
    codes = np.frombuffer(bare, dtype=np.uint8)
    steps = np.isin(codes, list(_OPEN)).astype(np.int32) - np.isin(codes, list(_CLOSE))
    return int(np.cumsum(steps).max(initial=0))


def _has_body(scope: Scope) -> bool:
    return header(scope, b"content-length") not in (None, "0") or (
        header(scope, b"transfer-encoding") is not None
    )


def _nul_in_query(query: bytes) -> str | None:
    """The name of the first query (or form) field holding a NUL, if any."""
    if b"\x00" not in query and b"%00" not in query.lower():
        return None
    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True, encoding="latin-1")
    return next((key or "?" for key, value in pairs if "\x00" in key + value), "query")


def nul_parameter(scope: Scope, body: bytes = b"") -> str | None:
    """Which part of the request holds a NUL character: the path, a query or form field by
    name, or the body; None when none does."""
    raw_path = scope.get("raw_path") or scope.get("path", "").encode("utf-8", "surrogatepass")
    if b"\x00" in unquote_to_bytes(raw_path):
        return "path"
    found = _nul_in_query(scope.get("query_string", b""))
    if found is not None or not body:
        return found
    kind = (header(scope, b"content-type") or "").split(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        return _nul_in_query(body)
    if b"\x00" in body or _JSON_NUL.search(body):
        return "body"
    return None


class RequestLimits:
    """Size, nesting and NUL limits on every request (see the module)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        push_max_bytes: int,
        max_bytes: int = MAX_BODY_BYTES,
        max_depth: int = MAX_JSON_DEPTH,
        push_paths: Iterable[str] = PUSH_PATHS,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.push_max_bytes = push_max_bytes
        self.max_depth = max_depth
        self.push_paths = frozenset(push_paths)

    def cap(self, path: str) -> int:
        return self.push_max_bytes if path in self.push_paths else self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not _has_body(scope):
            nul = nul_parameter(scope)
            if nul is not None:
                await _refuse(scope, send, 400, _NUL_MESSAGE, nul)
                return
            await self.app(scope, receive, send)
            return
        cap = self.cap(scope["path"])
        too_large = f"The request body is too large: at most {cap:,} bytes."
        declared = header(scope, b"content-length")
        if declared is not None and (
            not (declared.isascii() and declared.isdigit()) or int(declared[:20]) > cap
        ):
            await _refuse(scope, send, 413, too_large, "body")
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away: nobody to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > cap:
                await _refuse(scope, send, 413, too_large, "body")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        kind = (header(scope, b"content-type") or "").split(";")[0].strip().lower()
        if kind not in _FORMS and nesting_depth(body) > self.max_depth:
            message = f"The request body is nested too deeply: at most {self.max_depth} levels."
            await _refuse(scope, send, 400, message, "body")
            return
        nul = nul_parameter(scope, body)
        if nul is not None:
            await _refuse(scope, send, 400, _NUL_MESSAGE, nul)
            return
        await self.app(scope, replay(body, receive), send)  # then: what the server says next


_NUL_MESSAGE = "The request holds a NUL character (U+0000), which no text here may contain."


async def _refuse(scope: Scope, send: Send, status: int, message: str, parameter: str) -> None:
    from paperboy.web.responses import error_response

    async def nothing() -> Message:
        return {"type": "http.disconnect"}

    request = Request(scope, nothing)
    response = error_response(request, status, message, parameter=parameter)
    if status == 413:
        response.headers["Connection"] = "close"  # the rest of the body is not read
    await response(scope, nothing, send)
