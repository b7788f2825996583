"""What the account pages share: the app's services, rendering, sessions, the client address
limits count by, and the per-recipient limit of account mails."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paperboy.community import limits
from paperboy.community.accounts import AccountError, Accounts, check_password
from paperboy.community.models import User
from paperboy.settings import Settings
from paperboy.store import SQLStore
from paperboy.web.auth import is_secure, require_user, start_session
from paperboy.web.errors import Forbidden, error_response
from paperboy.web.templating import templates

FormText = Annotated[str, Form()]
"""A form field; every field defaults to "" so a missing one gets the form's own message."""


def client_ip(request: Request) -> str:
    """The address rate limits count by: the connection's peer. Behind a reverse proxy that is
    the proxy, unless uvicorn runs with ``--proxy-headers`` (and ``--forwarded-allow-ips``
    naming the proxy), which sets it from ``X-Forwarded-For``; the app itself never reads that
    header, so a client cannot choose the address it is counted under."""
    return request.client.host if request.client else "unknown"


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def store_of(request: Request) -> SQLStore:
    store: SQLStore = request.app.state.store
    return store


def accounts_of(request: Request) -> Accounts:
    accounts: Accounts = request.app.state.accounts
    return accounts


def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    # Note: context processors add `user` (the visitor); never pass another user under that key.
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def session_user(request: Request) -> User:
    """The logged-in user of a browser session: tokens and passwords are managed only there, so
    a leaked API token cannot mint new tokens or change the password."""
    user = require_user(request)
    if getattr(request.state, "auth_via", None) != "session":
        raise Forbidden("Manage passwords and API tokens from the settings page in a browser.")
    return user


def log_in(response: Response, request: Request, user: User) -> None:
    settings = settings_of(request)
    start_session(
        response,
        request,
        user,
        timedelta(days=settings.session_days),
        is_secure(settings, request.scope),
    )


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def new_password_errors(password: str, again: str) -> dict[str, str]:
    errors: dict[str, str] = {}
    try:
        check_password(password)
    except AccountError as exc:
        errors["password"] = str(exc)
    else:
        if password != again:
            errors["password2"] = "The two passwords differ: type the same one twice."
    return errors


def link_error(request: Request, exc: AccountError, title: str) -> Response:
    return error_response(request, 400, str(exc), title=title)


def limit_account_mail(request: Request, address: str, *, asked: bool = True) -> None:
    """Count one account mail to ``address`` (``settings.rate_mail`` per recipient, whoever
    asks, however many network addresses they use) and, when a visitor ``asked`` for it by
    typing an address, one request of the client (``settings.rate_mail_client``). Raises
    ``RateLimited`` (a 429 with Retry-After)."""
    settings = settings_of(request)
    store = store_of(request).accounts
    if asked:
        limits.check(
            store,
            f"mail:asked:ip:{client_ip(request)}",
            settings.rate_mail_client,
            "mails asked for from your network address",
        )
    limits.check(store, f"mail:account:{address}", settings.rate_mail, "mails to this address")
