"""Who is asking, and may they change anything: sessions, API tokens and CSRF, as ASGI middleware.

- A browser logs in and gets ``pb_session``: a random value whose SHA-256 names a server-side
  session row (HttpOnly, SameSite=Lax, Secure over HTTPS). Logging out deletes the row.
- Scripts send ``Authorization: Bearer pb_...`` (an API token, stored hashed). A token has
  scopes: ``read`` (GET and HEAD only), ``write`` (also POST, PUT, PATCH, DELETE: else 403) and
  ``admin`` (moderation: a token without it acts as a user who is not a moderator, so every
  ``is_admin`` check and :func:`require_admin` hold for it). Any other bearer credential is a
  401, except on the paths named in ``foreign_bearer`` (the push-ingest route, which checks its
  own token).
- Every state-changing request made with a cookie, or with no credentials at all, must carry a
  CSRF token (form field ``csrf_token`` or header ``X-CSRF-Token``): an HMAC of the session
  value, or of a random ``pb_csrf`` cookie for visitors who are not logged in. Requests that
  authenticate with a valid API token carry no ambient credentials and need none. The check
  runs before any route, so a new route cannot forget it. The body of every state-changing
  request but the push-ingest route's is read here and capped at ``MAX_FORM_BYTES``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from markupsafe import Markup, escape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paperboy.community.models import User
from paperboy.errors import LoginRequired, NotAllowed
from paperboy.store.accounts import AccountStore
from paperboy.web.responses import error_response, wants_json

SESSION_COOKIE = "pb_session"
ANON_COOKIE = "pb_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_FORM_BYTES = 1 << 20


def csrf_for(secret: str, seed: str) -> str:
    return hmac.new(secret.encode(), f"csrf:{seed}".encode(), hashlib.sha256).hexdigest()


def _cookies(scope: Scope) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed cookie header is treated as no cookie
                continue
    return {key: morsel.value for key, morsel in jar.items()}


def header(scope: Scope, wanted: bytes) -> str | None:
    """The value of the request header named ``wanted`` (lower-case bytes), if it was sent."""
    for name, value in scope.get("headers", []):
        if name == wanted:
            return value.decode("latin-1")
    return None


def _under(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in prefixes)


def _cookieless(scope: Scope, prefixes: tuple[str, ...]) -> bool:
    """A request under ``prefixes`` that sends no Cookie header at all: it carries no ambient
    credential a forged cross-site request could ride on, so it needs no CSRF token."""
    return _under(scope["path"], prefixes) and header(scope, b"cookie") is None


_BAD_TOKEN = (
    "Invalid or revoked API token: send 'Authorization: Bearer pb_...' with a live token "
    "from /settings, or no Authorization header."
)
_READ_ONLY = (
    "This API token may only read (scope: read). To change anything, make a token with the "
    "write scope on /settings."
)

_FORM_TOO_LARGE = "The form is too large."
_BAD_CSRF = (
    "This form has expired or did not come from this site (missing or wrong CSRF token). "
    "Reload the page and try again."
)


class AuthMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        accounts: Callable[[], AccountStore],
        secret: Callable[[], str],
        secure: Callable[[Scope], bool],
        exempt: tuple[str, ...] = (),
        foreign_bearer: tuple[str, ...] = ("/api/papers/import",),
        cookieless: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.accounts = accounts
        self.secret = secret
        self.secure = secure
        self.exempt = exempt
        self.foreign_bearer = foreign_bearer
        self.cookieless = cookieless  # JSON paths whose POSTs need no CSRF token without cookies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cookies = _cookies(scope)
        state = scope.setdefault("state", {})
        found = await self._identify(scope, receive, send, cookies)
        if found is None:
            return
        user, via, scopes = found
        session_token = cookies.get(SESSION_COOKIE)
        secret = self.secret()
        seed = session_token if via == "session" else cookies.get(ANON_COOKIE)
        new_anon: str | None = None
        if seed is None:
            new_anon = secrets.token_urlsafe(24)
        state.update(
            user=user,
            auth_via=via,
            session_token=session_token if via == "session" else None,
            csrf_token=csrf_for(secret, seed or new_anon or ""),
            csrf_used=False,
            token_scopes=scopes,
        )
        replayed = await self._checked_body(scope, receive, send, via, secret, seed)
        if replayed is None:
            return
        secure = self.secure(scope)

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and new_anon and state.get("csrf_used"):
                flags = "; Secure" if secure else ""
                cookie = f"{ANON_COOKIE}={new_anon}; Path=/; HttpOnly; SameSite=Lax{flags}"
                message = {
                    **message,
                    "headers": [*message["headers"], (b"set-cookie", cookie.encode())],
                }
            await send(message)

        await self.app(scope, replayed, send_with_cookie)

    async def _identify(
        self, scope: Scope, receive: Receive, send: Send, cookies: dict[str, str]
    ) -> tuple[User | None, str | None, tuple[str, ...] | None] | None:
        """Who sends the request, how (``token``, ``session``, ``bearer`` for the push route's
        own token, or None) and with which token scopes; None once refused (answered)."""
        store = self.accounts()
        user: User | None = None
        via: str | None = None
        scopes: tuple[str, ...] | None = None
        scheme, _, bearer = (header(scope, b"authorization") or "").partition(" ")
        bearer = bearer.strip()
        if scheme.lower() == "bearer" and _under(scope["path"], self.foreign_bearer):
            via = "bearer"  # the push-ingest token: the route checks it
        elif scheme.lower() == "bearer":
            found = (
                await run_in_threadpool(store.api_token_auth, bearer)
                if bearer.startswith("pb_")
                else None
            )
            if found is None:
                await self._refuse(scope, receive, send, 401, _BAD_TOKEN, bearer=True)
                return None
            user, scopes = found
            if user.is_admin and "admin" not in scopes:
                user = replace(user, is_admin=False)
            via = "token"
            if scope["method"] in UNSAFE and "write" not in scopes:
                await self._refuse(scope, receive, send, 403, _READ_ONLY)
                return None
        session_token = cookies.get(SESSION_COOKIE)
        if via is None and session_token:
            user = await run_in_threadpool(store.session_user, session_token)
            via = "session" if user is not None else None
        return user, via, scopes

    async def _checked_body(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        via: str | None,
        secret: str,
        seed: str | None,
    ) -> Receive | None:
        """The ``receive`` the app gets: the body read (capped) and, for requests that need
        one, the CSRF token checked. None once refused (answered)."""
        if scope["method"] not in UNSAFE or via == "bearer":
            return receive
        if via != "token" and _under(scope["path"], self.exempt):
            return receive
        if via is None and _cookieless(scope, self.cookieless):
            return receive
        body = await _read_body(receive)
        if body is None:
            too_large = "The request body is too large." if via == "token" else _FORM_TOO_LARGE
            await self._refuse(scope, receive, send, 413, too_large)
            return None
        if via != "token":
            given = header(scope, CSRF_HEADER.encode()) or _form_token(scope, body)
            expected = csrf_for(secret, seed) if seed else None
            if not given or expected is None or not hmac.compare_digest(given, expected):
                await self._refuse(scope, receive, send, 403, _BAD_CSRF)
                return None
        return replay(body, _disconnected)

    async def _refuse(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        status: int,
        message: str,
        *,
        bearer: bool = False,
    ) -> None:
        request = Request(scope, receive)
        if wants_json(request) or header(scope, b"hx-request"):
            response: Response = JSONResponse({"error": message}, status_code=status)
        else:
            response = error_response(request, status, message)
        if bearer:
            response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        await response(scope, receive, send)


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay(body: bytes, then: Receive) -> Receive:
    """A ``receive`` that gives the body once, as one message; then asks ``then``."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await then()

    return receive


async def _disconnected() -> Message:
    return {"type": "http.disconnect"}


def _multipart_token(content_type: str, body: bytes) -> str | None:
    """The CSRF field of a multipart form (a file upload): its part's value, found by the
    boundary of ``content_type``; None when there is none."""
    params = dict(part.strip().split("=", 1) for part in content_type.split(";")[1:] if "=" in part)
    boundary = params.get("boundary", "").strip('"')
    if not boundary or len(boundary) > 200:
        return None
    wanted = f'name="{CSRF_FIELD}"'.encode()
    for part in body.split(b"--" + boundary.encode()):
        head, _, value = part.partition(b"\r\n\r\n")
        if wanted in head and b"filename=" not in head:
            try:
                return value.rstrip(b"\r\n").decode("ascii")
            except UnicodeDecodeError:
                return None
    return None


def _form_token(scope: Scope, body: bytes) -> str | None:
    content_type = header(scope, b"content-type") or ""
    kind = content_type.split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        return _multipart_token(content_type, body)
    if kind != "application/x-www-form-urlencoded":
        return None
    try:
        values = parse_qs(body.decode("utf-8"), keep_blank_values=True).get(CSRF_FIELD)
    except UnicodeDecodeError:
        return None
    return values[0] if values else None


# -- helpers for routes and templates -----------------------------------------------------


def current_user(request: Request) -> User | None:
    user: User | None = getattr(request.state, "user", None)
    return user


def require_user(request: Request) -> User:
    """The signed-in user; ``LoginRequired`` (the login page, or 401 under /api) otherwise."""
    user = current_user(request)
    if user is None:
        raise LoginRequired()
    return user


def require_admin(request: Request) -> User:
    """The signed-in user if a moderator (with an API token: one with the admin scope);
    ``LoginRequired`` or ``NotAllowed`` otherwise."""
    user = require_user(request)
    scopes = getattr(request.state, "token_scopes", None)
    if getattr(request.state, "auth_via", None) == "token" and "admin" not in (scopes or ()):
        raise NotAllowed(
            "This API token has no admin scope: moderation with a token needs one made with "
            "the admin scope on /settings."
        )
    if not user.is_admin:
        raise NotAllowed("Only moderators can do this.")
    return user


def csrf_token(request: Request) -> str:
    """The token forms must send back; using it makes sure the visitor has its cookie."""
    request.state.csrf_used = True
    token: str = request.state.csrf_token
    return token


def csrf_input(request: Request) -> Markup:
    value = escape(csrf_token(request))
    return Markup(f'<input type="hidden" name="{CSRF_FIELD}" value="{value}">')


def safe_next(value: str | None, default: str = "/") -> str:
    """A local path to go to after logging in; anything that could leave the site is refused."""
    if not value:
        return default
    value = value.strip()
    if not value.startswith("/") or value.startswith(("//", "/\\")) or "\\" in value:
        return default
    if any(ord(c) < 32 or c.isspace() for c in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


def login_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/login?next=" + quote(target, safe="")


def start_session(
    response: Response, request: Request, user: User, lifetime: timedelta, secure: bool
) -> None:
    store: AccountStore = request.app.state.store.accounts
    old = getattr(request.state, "session_token", None)
    if old:  # a new login gets a new session id (no session fixation)
        store.delete_session(old)
    token = store.create_session(user.id, lifetime)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(lifetime.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure,
    )
    response.delete_cookie(ANON_COOKIE, path="/")


def end_session(response: Response, request: Request) -> None:
    token = getattr(request.state, "session_token", None)
    if token:
        request.app.state.store.accounts.delete_session(token)
    response.delete_cookie(SESSION_COOKIE, path="/")


def is_secure(settings: Any, scope: Scope) -> bool:
    if settings.cookie_secure is not None:
        return bool(settings.cookie_secure)
    return str(settings.base_url).startswith("https://") or scope.get("scheme") == "https"
