"""A per-process cache of rendered responses for anonymous GET requests.

Keyed on the full URL, the store's revision and today's date, so any write to papers or the
feed (an import, a vote, a comment) or a new day makes every cached page stale at once. The
revision is read at most once per ``max_staleness`` seconds (``PAPERBOY_RESPONSE_CACHE_SECONDS``,
1 s by default): an anonymous page is then at most that much behind the store, and a burst of
votes re-renders each page once per interval instead of once per vote (0: read it on every
request, never stale). It lives in one process by design; each web worker keeps its own.
Requests that carry cookies or an Authorization header are never cached, so a signed-in user
always sees the store as it is.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import date
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CacheKey = tuple[str, bytes, int, date]

CACHED_PATHS = (
    "/",
    "/papers",
    "/papers/",
    "/search",
    "/search/",
    "/feeds/",
    "/collections/",
    "/users/",
    "/api/daily_papers",
    "/api/papers/",
    "/static/",
)
"""Pages that depend only on the store (and the day), and the static files (served from memory
after the first request): a path equal to one of these, or under one that ends with "/" (other
than "/" itself). Account, subscription and admin pages are never cached."""


class ResponseCache:
    def __init__(
        self,
        app: ASGIApp,
        *,
        revision: Callable[[], int],
        today: Callable[[], date],
        paths: tuple[str, ...] = CACHED_PATHS,
        max_entries: int = 1024,
        max_body_bytes: int = 1 << 20,
        max_staleness: float = 0.0,
    ) -> None:
        self.app = app
        self.revision = revision
        self.today = today
        self.paths = paths
        self.max_entries = max_entries
        self.max_body_bytes = max_body_bytes
        self.entries: OrderedDict[CacheKey, tuple[Message, bytes]] = OrderedDict()
        self.hits = 0
        self.misses = 0
        self.max_staleness = max_staleness
        self._revision: int | None = None
        self._revision_read = 0.0  # time.monotonic() of the last read

    def current_revision(self) -> int:
        now = time.monotonic()
        if self._revision is None or now - self._revision_read >= self.max_staleness:
            self._revision = self.revision()
            self._revision_read = now
        return self._revision

    def _cacheable(self, scope: Scope) -> bool:
        if scope["type"] != "http" or scope["method"] != "GET":
            return False
        path: str = scope["path"]
        if not any(
            path == p or (p != "/" and p.endswith("/") and path.startswith(p)) for p in self.paths
        ):
            return False
        headers = dict(scope["headers"])
        return b"cookie" not in headers and b"authorization" not in headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._cacheable(scope):
            await self.app(scope, receive, send)
            return
        key: CacheKey = (
            scope["path"],
            scope["query_string"],
            self.current_revision(),
            self.today(),
        )
        cached = self.entries.get(key)
        if cached is not None:
            self.hits += 1
            self.entries.move_to_end(key)
            start, body = cached
            await send(start)
            await send({"type": "http.response.body", "body": body, "more_body": False})
            return
        self.misses += 1
        start_message: dict[str, Any] = {}
        chunks: list[bytes] = []
        complete = True

        async def capture(message: Message) -> None:
            nonlocal complete
            if message["type"] == "http.response.start":
                start_message.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if sum(map(len, chunks)) > self.max_body_bytes:
                    complete = False
            await send(message)

        await self.app(scope, receive, capture)
        headers = start_message.get("headers", [])
        personal = any(name.lower() == b"set-cookie" for name, _ in headers) or any(
            name.lower() == b"cache-control" and (b"no-store" in value or b"private" in value)
            for name, value in headers
        )  # a page that sets a cookie, or says it must not be stored (e.g. it acts on a token)
        if complete and not personal and start_message.get("status") == 200:
            self.entries[key] = (start_message, b"".join(chunks))
            while len(self.entries) > self.max_entries:
                self.entries.popitem(last=False)
