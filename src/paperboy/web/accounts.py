"""Account pages: sign-up, email verification, login and logout, password reset, the settings
page with API tokens, and ``GET /api/whoami``.

Every page works without JavaScript: forms POST (with the CSRF token the middleware checks)
and answer with a 303 redirect, or with the form again and a message per field. Rules live in
``paperboy.community.accounts`` (who may sign up, lockouts, signed links); this module only
reads forms, applies the rate limits and renders. Nothing here tells a visitor whether an
address has an account, except sign-up's "that address is taken", which is rate limited.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from paperboy.community import limits, mailer
from paperboy.community.accounts import (
    AccountError,
    Accounts,
    check_password,
    check_username,
    hash_password,
    normalise_email,
)
from paperboy.community.models import User
from paperboy.mail import MailError
from paperboy.settings import Settings
from paperboy.store import SQLStore
from paperboy.web.api import ApiError
from paperboy.web.auth import (
    current_user,
    end_session,
    is_secure,
    require_user,
    safe_next,
    start_session,
)
from paperboy.web.errors import Forbidden, NotFound, error_response
from paperboy.web.templating import templates

router = APIRouter()
log = logging.getLogger(__name__)

MAX_TOKEN_NAME = 100
MAX_LIVE_TOKENS = 50

FormText = Annotated[str, Form()]
"""A form field; every field defaults to "" so a missing one gets the form's own message."""

NOTICES = {
    "password-reset": "Your password has been changed. Other sessions have been logged out.",
    "password-changed": "Your password has been changed. Other sessions have been logged out.",
    "token-revoked": "The token has been revoked: it no longer works.",
    "verified": "Your email address is confirmed.",
}
"""Messages ``/settings?notice=...`` may show: only these, never text from the URL."""


# -- helpers --------------------------------------------------------------------------------


def client_ip(request: Request) -> str:
    """The address rate limits count by: the connection's peer. Behind a reverse proxy that is
    the proxy, unless uvicorn runs with ``--proxy-headers`` (and ``--forwarded-allow-ips``
    naming the proxy), which sets it from ``X-Forwarded-For``."""
    return request.client.host if request.client else "unknown"


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _store(request: Request) -> SQLStore:
    store: SQLStore = request.app.state.store
    return store


def _accounts(request: Request) -> Accounts:
    accounts: Accounts = request.app.state.accounts
    return accounts


def _render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    # Note: context processors add `user` (the visitor); never pass another user under that key.
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def _session_user(request: Request) -> User:
    """The logged-in user of a browser session: tokens and passwords are managed only there, so
    a leaked API token cannot mint new tokens or change the password."""
    user = require_user(request)
    if getattr(request.state, "auth_via", None) != "session":
        raise Forbidden("Manage passwords and API tokens from the settings page in a browser.")
    return user


def _log_in(response: Response, request: Request, user: User) -> None:
    settings = _settings(request)
    start_session(
        response,
        request,
        user,
        timedelta(days=settings.session_days),
        is_secure(settings, request.scope),
    )


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _new_password_errors(password: str, again: str) -> dict[str, str]:
    errors: dict[str, str] = {}
    try:
        check_password(password)
    except AccountError as exc:
        errors["password"] = str(exc)
    else:
        if password != again:
            errors["password2"] = "The two passwords differ: type the same one twice."
    return errors


def _link_error(request: Request, exc: AccountError, title: str) -> Response:
    return error_response(request, 400, str(exc), title=title)


# -- sign-up and email verification ---------------------------------------------------------


def _signup_page(
    request: Request,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    closed = not _settings(request).signup_open
    return _render(
        request,
        "account/signup.html",
        {"form": form or {}, "errors": errors or {}, "closed": closed},
        status_code=status_code,
    )


def _signup_errors(email: str, username: str, password: str, again: str) -> dict[str, str]:
    """A message for each field that is wrong, all at once (uniqueness is checked later)."""
    errors: dict[str, str] = {}
    if not email.strip():
        errors["email"] = "Enter your email address: the confirmation link goes there."
    else:
        try:
            normalise_email(email)
        except AccountError as exc:
            errors["email"] = str(exc)
    if not username.strip():
        errors["username"] = "Choose a user name: it is shown next to what you post."
    else:
        try:
            check_username(username)
        except AccountError as exc:
            errors["username"] = str(exc)
    errors.update(_new_password_errors(password, again))
    return errors


def _send_verification(request: Request, user: User) -> bool:
    """Mail the confirmation link; False (logged) when the SMTP server did not take it."""
    token = _accounts(request).verification_token(user)
    try:
        mailer.send_verification(_settings(request), user, token)
    except MailError as exc:
        log.warning("verification mail to user %s not sent: %s", user.id, exc)
        return False
    return True


@router.get("/signup", include_in_schema=False)
def signup_form(request: Request) -> Response:
    if current_user(request) is not None:
        return _redirect("/settings")
    return _signup_page(request)


@router.post("/signup", include_in_schema=False)
def signup(
    request: Request,
    email: FormText = "",
    username: FormText = "",
    password: FormText = "",
    password2: FormText = "",
) -> Response:
    settings = _settings(request)
    typed = {"email": email, "username": username}
    if not settings.signup_open:
        return _signup_page(request, form=typed, status_code=403)
    errors = _signup_errors(email, username, password, password2)
    if errors:
        return _signup_page(request, form=typed, errors=errors, status_code=400)
    store = _store(request)
    # Counted once the form is valid, before the (slow, argon2) account creation.
    limits.check(
        store.accounts, f"signup:ip:{client_ip(request)}", settings.rate_signup, "sign-ups"
    )
    try:
        user = _accounts(request).sign_up(email, username, password)
    except AccountError as exc:
        return _signup_page(
            request, form=typed, errors={exc.field or "form": str(exc)}, status_code=400
        )
    store.activity.record(user.id, "signup", "user", str(user.id))
    sent = _send_verification(request, user)
    response = _redirect("/verify/pending?mail=" + ("sent" if sent else "failed"))
    _log_in(response, request, user)
    return response


@router.get("/verify/pending", include_in_schema=False)
def verify_pending(request: Request, mail: str = "") -> Response:
    """The "check your inbox" page, after sign-up or a resend; says so when the mail failed."""
    require_user(request)
    return _render(
        request,
        "account/check_inbox.html",
        {"mail": mail if mail in ("sent", "failed") else None},
    )


@router.post("/verify/resend", include_in_schema=False)
def verify_resend(request: Request) -> Response:
    user = require_user(request)
    if user.email_verified:
        return _redirect("/settings?notice=verified")
    limits.check(
        _store(request).accounts,
        f"mail:verify:{user.email}",
        _settings(request).rate_mail,
        "confirmation mails to this address",
    )
    sent = _send_verification(request, user)
    return _redirect("/verify/pending?mail=" + ("sent" if sent else "failed"))


@router.get("/verify", include_in_schema=False)
def verify(request: Request, token: str = "") -> Response:
    try:
        user = _accounts(request).verify_email(token)
    except AccountError as exc:
        return _link_error(request, exc, "This confirmation link does not work")
    _store(request).activity.record(user.id, "verify-email", "user", str(user.id))
    return _render(request, "account/verified.html", {"email": user.email})


# -- login and logout -------------------------------------------------------------------------


def _login_page(
    request: Request, *, login: str = "", next_url: str = "", error: str | None = None
) -> HTMLResponse:
    return _render(
        request,
        "account/login.html",
        {"login": login, "next": safe_next(next_url, ""), "error": error},
        status_code=400 if error else 200,
    )


@router.get("/login", include_in_schema=False)
def login_form(request: Request, next: str = "") -> Response:
    if current_user(request) is not None:
        return _redirect(safe_next(next))
    return _login_page(request, next_url=next)


@router.post("/login", include_in_schema=False)
def login(
    request: Request,
    login: FormText = "",
    password: FormText = "",
    next: FormText = "",
) -> Response:
    settings = _settings(request)
    limits.check(
        _store(request).accounts,
        f"login:ip:{client_ip(request)}",
        settings.rate_login,
        "login attempts",
    )
    if not login.strip() or not password:
        return _login_page(
            request,
            login=login,
            next_url=next,
            error="Enter your email address or user name, and your password.",
        )
    try:
        user = _accounts(request).authenticate(login, password)
    except AccountError as exc:
        return _login_page(request, login=login, next_url=next, error=str(exc))
    response = _redirect(safe_next(next))
    _log_in(response, request, user)
    return response


@router.post("/logout", include_in_schema=False)
def logout(request: Request) -> Response:
    response = _redirect("/")
    end_session(response, request)
    return response


# -- forgotten passwords ------------------------------------------------------------------------


def _send_reset(request: Request, user: User) -> None:
    """Runs after the answer went out, so known and unknown addresses take as long."""
    token = _accounts(request).reset_token(user)
    try:
        mailer.send_password_reset(_settings(request), user, token)
    except MailError as exc:
        log.warning("password-reset mail to user %s not sent: %s", user.id, exc)


@router.get("/password/forgot", include_in_schema=False)
def forgot_form(request: Request) -> Response:
    return _render(request, "account/forgot.html", {"email": "", "error": None})


@router.post("/password/forgot", include_in_schema=False)
def forgot(request: Request, background: BackgroundTasks, email: FormText = "") -> Response:
    try:
        address = normalise_email(email)
    except AccountError as exc:
        return _render(
            request, "account/forgot.html", {"email": email, "error": str(exc)}, status_code=400
        )
    store = _store(request)
    limits.check(
        store.accounts,
        f"mail:reset:{address}:ip:{client_ip(request)}",
        _settings(request).rate_mail,
        "password-reset mails",
    )
    user = store.accounts.user_by_email(address)
    if user is not None and not user.hidden:
        background.add_task(_send_reset, request, user)
    # The same answer whether or not the address has an account.
    return _render(request, "account/forgot_sent.html", {"email": address})


def _reset_page(
    request: Request, token: str, errors: dict[str, str] | None = None, status_code: int = 200
) -> HTMLResponse:
    return _render(
        request,
        "account/reset.html",
        {"token": token, "errors": errors or {}},
        status_code=status_code,
    )


_RESET_TITLE = "This password-reset link does not work"


@router.get("/password/reset", include_in_schema=False)
def reset_form(request: Request, token: str = "") -> Response:
    try:
        account = _accounts(request).user_for_reset(token)
    except AccountError as exc:
        return _link_error(request, exc, _RESET_TITLE)
    if account.hidden:
        raise Forbidden("This account has been suspended by a moderator.")
    return _reset_page(request, token)


@router.post("/password/reset", include_in_schema=False)
def reset(
    request: Request,
    token: FormText = "",
    password: FormText = "",
    password2: FormText = "",
) -> Response:
    token = token or request.query_params.get("token", "")
    accounts = _accounts(request)
    try:
        account = accounts.user_for_reset(token)
    except AccountError as exc:
        return _link_error(request, exc, _RESET_TITLE)
    if account.hidden:
        raise Forbidden("This account has been suspended by a moderator.")
    errors = _new_password_errors(password, password2)
    if errors:
        return _reset_page(request, token, errors, status_code=400)
    try:
        user = accounts.reset_password(token, password)  # also ends every session of the user
    except AccountError as exc:
        return _link_error(request, exc, _RESET_TITLE)
    _store(request).activity.record(user.id, "password-reset", "user", str(user.id))
    response = _redirect("/settings?notice=password-reset")
    _log_in(response, request, user)
    return response


# -- settings: profile, password, API tokens --------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewToken:
    """A token just created: its secret is shown on this one page, then never again."""

    name: str
    secret: str


def _settings_page(
    request: Request,
    user: User,
    *,
    notice: str | None = None,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    new_token: NewToken | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    tokens = _store(request).accounts.api_tokens_of(user.id)
    response = _render(
        request,
        "account/settings.html",
        {
            "notice": notice,
            "errors": errors or {},
            "form": form or {},
            "tokens": sorted(tokens, key=lambda t: (t.revoked_at is not None, -t.id)),
            "new_token": new_token,
            "token_max": MAX_TOKEN_NAME,
            "base_url": _settings(request).site_url,
        },
        status_code=status_code,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/settings", include_in_schema=False)
def settings_page(request: Request, notice: str = "") -> Response:
    user = require_user(request)
    return _settings_page(request, user, notice=NOTICES.get(notice))


@router.post("/settings/tokens", include_in_schema=False)
def create_token(request: Request, name: FormText = "") -> Response:
    user = _session_user(request)
    store = _store(request)
    name = " ".join(name.split())
    error: str | None = None
    if not name:
        error = "Give the token a name, e.g. the script or machine that will use it."
    elif len(name) > MAX_TOKEN_NAME:
        error = f"A token name has at most {MAX_TOKEN_NAME} characters."
    elif (
        sum(t.revoked_at is None for t in store.accounts.api_tokens_of(user.id)) >= MAX_LIVE_TOKENS
    ):
        error = f"You have {MAX_LIVE_TOKENS} live tokens: revoke one you no longer use first."
    if error is not None:
        return _settings_page(
            request, user, errors={"token_name": error}, form={"name": name}, status_code=400
        )
    token, secret = store.accounts.create_api_token(user.id, name)
    store.activity.record(user.id, "token-create", "api_token", str(token.id), {"name": name})
    return _settings_page(request, user, new_token=NewToken(name, secret))


@router.post("/settings/tokens/{token_id}/revoke", include_in_schema=False)
def revoke_token(request: Request, token_id: int) -> Response:
    user = _session_user(request)
    store = _store(request)
    if not store.accounts.revoke_api_token(user.id, token_id):
        if not any(t.id == token_id for t in store.accounts.api_tokens_of(user.id)):
            raise NotFound("You have no API token with that number.")
        # Already revoked (a second click): nothing more to do.
    else:
        store.activity.record(user.id, "token-revoke", "api_token", str(token_id))
    return _redirect("/settings?notice=token-revoked")


@router.post("/settings/password", include_in_schema=False)
def change_password(
    request: Request,
    current: FormText = "",
    password: FormText = "",
    password2: FormText = "",
) -> Response:
    user = _session_user(request)
    store = _store(request)
    errors: dict[str, str] = {}
    if not current:
        errors["current"] = "Enter your current password."
    else:
        try:
            _accounts(request).authenticate(user.email, current)  # counts toward the lockout
        except AccountError as exc:
            _, locked_until = store.accounts.login_state(user.id)
            locked = locked_until is not None and locked_until > datetime.now(UTC).replace(
                tzinfo=None
            )
            errors["current"] = str(exc) if locked else "That is not your current password."
    errors.update(_new_password_errors(password, password2))
    if errors:
        return _settings_page(request, user, errors=errors, status_code=400)
    store.accounts.update_user(user.id, password_hash=hash_password(password))
    store.accounts.delete_user_sessions(user.id)  # log out everywhere, then in again here
    store.activity.record(user.id, "password-change", "user", str(user.id))
    response = _redirect("/settings?notice=password-changed")
    _log_in(response, request, user)
    return response


# -- API ------------------------------------------------------------------------------------------


class WhoAmIAuth(BaseModel):
    type: str = Field(description="`access_token` (an API token) or `session` (a browser).")


class WhoAmI(BaseModel):
    """The account behind the request; field names follow Hugging Face's /api/whoami-v2."""

    type: str = "user"
    id: str
    name: str = Field(description="The user name.")
    email: str
    emailVerified: bool
    isAdmin: bool
    canWrite: bool = Field(description="May vote, submit and comment (verified, not suspended).")
    auth: WhoAmIAuth


@router.get(
    "/api/whoami",
    tags=["accounts"],
    summary="Who am I",
    response_model=WhoAmI,
    responses={401: {"model": ApiError, "description": "No valid session or API token."}},
)
def whoami(request: Request) -> Any:
    """The account of the session cookie or of the `Authorization: Bearer pb_...` API token
    (create one on /settings)."""
    user = current_user(request)
    if user is None:
        return JSONResponse(
            {"error": "Not logged in: send 'Authorization: Bearer pb_...' with an API token."},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    via = getattr(request.state, "auth_via", None)
    return WhoAmI(
        id=str(user.id),
        name=user.username,
        email=user.email,
        emailVerified=user.email_verified,
        isAdmin=user.is_admin,
        canWrite=user.can_write,
        auth=WhoAmIAuth(type="access_token" if via == "token" else "session"),
    )
