"""Security headers on every response the web app sends.

A small pure-ASGI middleware adds a strict Content-Security-Policy (everything from this site
only: KaTeX, htmx and Swagger UI are served from the package, and no template carries an inline
script, inline style or event-handler attribute), ``X-Content-Type-Options: nosniff``,
``X-Frame-Options: DENY`` (with ``frame-ancestors 'none'`` for browsers that read CSP), a
``Referrer-Policy``, ``Cross-Origin-Opener-Policy: same-origin`` and a ``Permissions-Policy``
that turns off the device APIs the site never uses.

``install`` wraps the app's whole middleware stack, outside Starlette's ``ServerErrorMiddleware``
and the response cache, so the headers are on pages, JSON, static files, error pages (500s
included) and responses replayed from the cache alike. A header a route sets itself is kept.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
"""Self only. KaTeX builds its formulas through the CSSOM (``element.style``), which CSP allows;
the few places where it writes a ``style`` attribute instead (the colour of a parse error,
``\\fcolorbox``'s border, a text shadow in the hidden MathML copy) lose that decoration, and
``style.css`` gives ``.katex-error`` its colour back."""

PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "camera",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "payment",
        "usb",
    )
)

SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Permissions-Policy", PERMISSIONS_POLICY),
)


class SecurityHeaders:
    """Adds ``headers`` to every HTTP response start that does not already carry them."""

    def __init__(
        self, app: ASGIApp, headers: tuple[tuple[str, str], ...] = SECURITY_HEADERS
    ) -> None:
        self.app = app
        self.headers = [(name.lower().encode(), value.encode()) for name, value in headers]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", ())}
                missing = [(n, v) for n, v in self.headers if n not in present]
                if missing:
                    message = {**message, "headers": [*message.get("headers", ()), *missing]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install(app: FastAPI) -> None:
    """Put ``SecurityHeaders`` outside everything else the app runs, error handling included
    (``add_middleware`` would put it inside Starlette's ``ServerErrorMiddleware``)."""
    build: Callable[[], ASGIApp] = app.build_middleware_stack

    def build_with_headers() -> ASGIApp:
        return SecurityHeaders(build())

    app.build_middleware_stack = build_with_headers  # type: ignore[method-assign]
