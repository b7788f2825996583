"""``HEAD`` for every page, feed and API route that answers ``GET`` (RFC 9110, section 9.3.2).

FastAPI routes declared for ``GET`` answer ``HEAD`` with 405, so uptime monitors, link checkers
and ``curl -I`` see an error where the page is fine. ``HeadAsGet`` (pure ASGI middleware) runs
a ``HEAD`` request as the ``GET`` it stands for and sends only the status and headers
(``Content-Length`` included, as ``GET`` would send it), never the body. Routes that take no
``GET`` still answer 405, with their ``Allow`` header.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    """Answer ``HEAD`` as ``GET`` without the body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] != "http.response.body":
                await send(message)
            elif not message.get("more_body", False):  # the last chunk: end, without the body
                await send({"type": "http.response.body", "body": b"", "more_body": False})

        await self.app({**scope, "method": "GET"}, receive, headers_only)
