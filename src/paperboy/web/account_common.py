"""What the account pages share: the app's services, sessions and the client address limits
count by (rendering and redirects are ``paperboy.web.responses``'s)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import Request
from fastapi.responses import Response

from paperboy.community.account_flows import AccountFlows, new_password_errors
from paperboy.community.accounts import AccountError, Accounts
from paperboy.community.models import User
from paperboy.errors import NotAllowed
from paperboy.web.auth import is_secure, require_user, start_session
from paperboy.web.params import FormText
from paperboy.web.responses import error_response, redirect, render, settings_of, store_of

__all__ = [
    "FormText",
    "accounts_of",
    "client_ip",
    "flows_of",
    "link_error",
    "logged_in",
    "new_password_errors",
    "redirect",
    "render",
    "session_user",
    "settings_of",
    "store_of",
]


def client_ip(request: Request) -> str:
    """The address rate limits count by: the connection's peer. Behind a reverse proxy that is
    the proxy, unless uvicorn runs with ``--proxy-headers`` (and ``--forwarded-allow-ips``
    naming the proxy), which sets it from ``X-Forwarded-For``; the app itself never reads that
    header, so a client cannot choose the address it is counted under."""
    return request.client.host if request.client else "unknown"


def accounts_of(request: Request) -> Accounts:
    accounts: Accounts = request.app.state.accounts
    return accounts


def flows_of(request: Request) -> AccountFlows:
    """Sign-up, mailed links, tokens and passwords: the account flows of this app."""
    flows: AccountFlows = request.app.state.services.account_flows
    return flows


def session_user(request: Request) -> User:
    """The logged-in user of a browser session: tokens and passwords are managed only there, so
    a leaked API token cannot mint new tokens or change the password."""
    user = require_user(request)
    if getattr(request.state, "auth_via", None) != "session":
        raise NotAllowed("Manage passwords and API tokens from the settings page in a browser.")
    return user


def logged_in(request: Request, user: User, url: str) -> Response:
    """The 303 to ``url`` that starts ``user``'s session (after sign-up, login, a sign-in or
    password-reset link, a password change)."""
    response = redirect(url)
    settings = settings_of(request)
    start_session(
        response,
        request,
        user,
        timedelta(days=settings.session_days),
        is_secure(settings, request.scope),
    )
    return response


def link_error(request: Request, exc: AccountError, title: str) -> Response:
    return error_response(request, 400, str(exc), title=title)
