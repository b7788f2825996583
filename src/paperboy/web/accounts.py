"""Account pages: sign-up, email verification, login and logout, mailed sign-in links, password
reset; the settings page and ``GET /api/whoami`` live in ``paperboy.web.account_settings``,
whose routes this router includes.

Every page works without JavaScript: forms POST (with the CSRF token the middleware checks)
and answer with a 303 redirect, or with the form again and a message per field. Rules live in
``paperboy.community.accounts`` (who may sign up, login limits, signed links); this module only
reads forms, applies the rate limits and renders. Nothing here tells a visitor whether an
address has an account, except sign-up's "that address is taken", which is rate limited, and
the login form's "this account takes no password for now", which only follows many wrong
passwords for it.

Account mails (confirmation, reset, sign-in link) to one address are limited per recipient,
whoever asks and from however many network addresses (``settings.rate_mail``).
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import HTMLResponse, Response

from paperboy.community import limits
from paperboy.community.account_flows import FormRefused, SignupClosed
from paperboy.community.accounts import AccountError, PasswordLoginPaused
from paperboy.community.models import User
from paperboy.web import account_settings
from paperboy.web.account_common import (
    FormText,
    accounts_of,
    client_ip,
    flows_of,
    link_error,
    logged_in,
    redirect,
    render,
    settings_of,
)
from paperboy.web.auth import current_user, end_session, require_user, safe_next

__all__ = ["client_ip", "router"]

router = APIRouter()


# -- sign-up and email verification ---------------------------------------------------------


def _signup_page(
    request: Request,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    closed = not settings_of(request).signup_open
    return render(
        request,
        "account/signup.html",
        {"form": form or {}, "errors": errors or {}, "closed": closed},
        status_code=status_code,
    )


@router.get("/signup", include_in_schema=False)
def signup_form(request: Request) -> Response:
    if current_user(request) is not None:
        return redirect("/settings")
    return _signup_page(request)


@router.post("/signup", include_in_schema=False)
def signup(
    request: Request,
    email: FormText = "",
    username: FormText = "",
    password: FormText = "",
    password2: FormText = "",
) -> Response:
    typed = {"email": email, "username": username}
    try:
        user, outcome = flows_of(request).sign_up(
            email, username, password, password2, client_ip(request)
        )
    except SignupClosed:
        return _signup_page(request, form=typed, status_code=403)
    except FormRefused as exc:
        return _signup_page(request, form=typed, errors=exc.errors, status_code=400)
    return logged_in(request, user, f"/verify/pending?mail={outcome}")


@router.get("/verify/pending", include_in_schema=False)
def verify_pending(request: Request, mail: str = "") -> Response:
    """The "check your inbox" page, after sign-up or a resend; says so when the mail failed."""
    require_user(request)
    return render(
        request,
        "account/check_inbox.html",
        {"mail": mail if mail in ("sent", "failed", "refused") else None},
    )


@router.post("/verify/resend", include_in_schema=False)
def verify_resend(request: Request) -> Response:
    user = require_user(request)
    if user.email_verified:
        return redirect("/settings?notice=verified")
    outcome = flows_of(request).resend_verification(user)
    return redirect(f"/verify/pending?mail={outcome}")


def _by_link(
    request: Request, title: str, use: Callable[[], User], then: Callable[[User], Response]
) -> Response:
    """``then`` with the user a mailed link's token names (``use`` checks it), or the page that
    says, under ``title``, why the link does not work."""
    try:
        user = use()
    except AccountError as exc:
        return link_error(request, exc, title)
    return then(user)


@router.get("/verify", include_in_schema=False)
def verify(request: Request, token: str = "") -> Response:
    return _by_link(
        request,
        "This confirmation link does not work",
        lambda: flows_of(request).verify_email(token),
        lambda user: render(request, "account/verified.html", {"email": user.email}),
    )


# -- login and logout -------------------------------------------------------------------------


def _login_page(
    request: Request,
    *,
    login: str = "",
    next_url: str = "",
    error: str | None = None,
    paused: bool = False,
    status_code: int | None = None,
) -> HTMLResponse:
    return render(
        request,
        "account/login.html",
        {
            "login": login,
            "next": safe_next(next_url, ""),
            "error": error,
            "paused": paused,
            "link_email": login.strip() if "@" in login else "",
        },
        status_code=status_code or (400 if error else 200),
    )


@router.get("/login", include_in_schema=False)
def login_form(request: Request, next: str = "") -> Response:
    if current_user(request) is not None:
        return redirect(safe_next(next))
    return _login_page(request, next_url=next)


@router.post("/login", include_in_schema=False)
def login(
    request: Request,
    login: FormText = "",
    password: FormText = "",
    next: FormText = "",
) -> Response:
    if not login.strip() or not password:
        return _login_page(
            request,
            login=login,
            next_url=next,
            error="Enter your email address or user name, and your password.",
        )
    try:
        user = accounts_of(request).authenticate(login, password, client=client_ip(request))
    except limits.RateLimited as exc:
        page = _login_page(request, login=login, next_url=next, error=str(exc), status_code=429)
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    except PasswordLoginPaused as exc:
        return _login_page(request, login=login, next_url=next, error=str(exc), paused=True)
    except AccountError as exc:
        return _login_page(request, login=login, next_url=next, error=str(exc))
    return logged_in(request, user, safe_next(next))


@router.post("/logout", include_in_schema=False)
def logout(request: Request) -> Response:
    response = redirect("/")
    end_session(response, request)
    return response


# -- mailed links: sign-in and forgotten passwords ---------------------------------------------


_SIGN_IN_TITLE = "This sign-in link does not work"


def _address_form(
    request: Request, template: str, email: str, error: str | None = None
) -> HTMLResponse:
    context = {"email": email, "error": error}
    return render(request, template, context, status_code=400 if error else 200)


def _mail_link(
    request: Request, background: BackgroundTasks, email: str, kind: str
) -> HTMLResponse:
    """Answer a request for a password-reset (``kind`` reset) or sign-in link (``sign-in``)
    the same way whether or not ``email`` has an account, and mail it if it has."""
    form, sent = {
        "reset": ("account/forgot.html", "account/forgot_sent.html"),
        "sign-in": ("account/link_request.html", "account/link_sent.html"),
    }[kind]
    flows = flows_of(request)
    try:
        address, user = flows.link_recipient(email, client_ip(request))
    except AccountError as exc:
        return _address_form(request, form, email, str(exc))
    if user is not None:  # sent after the answer, so known and unknown addresses take as long
        background.add_task(flows.send_link, user, kind)
    return render(request, sent, {"email": address})


@router.get("/login/link", include_in_schema=False)
def sign_in_link(request: Request, token: str = "", email: str = "") -> Response:
    """Without a token: the form that asks for a sign-in link. With one (from the mail): a
    button that uses it, so a mail scanner that opens links does not spend it."""
    if not token:
        return _address_form(request, "account/link_request.html", email)
    return _by_link(
        request,
        _SIGN_IN_TITLE,
        lambda: accounts_of(request).user_for_sign_in(token),
        lambda user: render(
            request, "account/link_use.html", {"token": token, "name": user.username}
        ),
    )


@router.post("/login/link", include_in_schema=False)
def ask_sign_in_link(
    request: Request, background: BackgroundTasks, email: FormText = ""
) -> Response:
    return _mail_link(request, background, email, "sign-in")


@router.post("/login/link/use", include_in_schema=False)
def use_sign_in_link(request: Request, token: FormText = "") -> Response:
    return _by_link(
        request,
        _SIGN_IN_TITLE,
        lambda: flows_of(request).sign_in_with_link(token),
        lambda user: logged_in(request, user, "/settings?notice=signed-in-by-link"),
    )


@router.get("/password/forgot", include_in_schema=False)
def forgot_form(request: Request) -> Response:
    return _address_form(request, "account/forgot.html", "")


@router.post("/password/forgot", include_in_schema=False)
def forgot(request: Request, background: BackgroundTasks, email: FormText = "") -> Response:
    return _mail_link(request, background, email, "reset")


def _reset_page(
    request: Request, token: str, errors: dict[str, str] | None = None, status_code: int = 200
) -> HTMLResponse:
    return render(
        request,
        "account/reset.html",
        {"token": token, "errors": errors or {}},
        status_code=status_code,
    )


_RESET_TITLE = "This password-reset link does not work"


@router.get("/password/reset", include_in_schema=False)
def reset_form(request: Request, token: str = "") -> Response:
    return _by_link(
        request,
        _RESET_TITLE,
        lambda: flows_of(request).user_for_reset(token),
        lambda _user: _reset_page(request, token),
    )


@router.post("/password/reset", include_in_schema=False)
def reset(
    request: Request,
    token: FormText = "",
    password: FormText = "",
    password2: FormText = "",
) -> Response:
    token = token or request.query_params.get("token", "")
    try:
        user = flows_of(request).reset_password(token, password, password2)
    except FormRefused as exc:
        return _reset_page(request, token, exc.errors, status_code=400)
    except AccountError as exc:
        return link_error(request, exc, _RESET_TITLE)
    return logged_in(request, user, "/settings?notice=password-reset")


router.include_router(account_settings.router)
