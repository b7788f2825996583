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

import logging

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import HTMLResponse, Response

from paperboy.community import limits, mailer
from paperboy.community.accounts import (
    AccountError,
    PasswordLoginPaused,
    check_username,
    normalise_email,
)
from paperboy.community.models import User
from paperboy.mail import MailError
from paperboy.web import account_settings
from paperboy.web.account_common import (
    FormText,
    accounts_of,
    client_ip,
    limit_account_mail,
    link_error,
    log_in,
    new_password_errors,
    redirect,
    render,
    settings_of,
    store_of,
)
from paperboy.web.auth import current_user, end_session, require_user, safe_next
from paperboy.web.errors import Forbidden

__all__ = ["client_ip", "router"]

router = APIRouter()
log = logging.getLogger(__name__)


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
    errors.update(new_password_errors(password, again))
    return errors


def _mail_outcome(exc: MailError) -> str:
    """``refused`` when the address itself cannot get mail (this site cannot write to it, or
    the server refused the recipient for good), ``failed`` when the mail may go later."""
    if isinstance(exc, mailer.AddressRefused) or (exc.refused and not exc.temporary):
        return "refused"
    return "failed"


_LINK_MAILS = {
    "verification": ("verification_token", mailer.send_verification, "verification mail"),
    "reset": ("reset_token", mailer.send_password_reset, "password-reset mail"),
    "sign-in": ("sign_in_token", mailer.send_sign_in, "sign-in link"),
}
"""Each mailed link: the ``Accounts`` method that signs its token, the mailer function that
sends it, and its name in the log."""


def _send_link(request: Request, user: User, kind: str) -> str:
    """Mail ``user`` a signed link of ``kind`` (see ``_LINK_MAILS``): ``sent``, or
    ``failed``/``refused`` (logged). Reset and sign-in links are sent after the answer went
    out, so known and unknown addresses take as long."""
    token_of, send, what = _LINK_MAILS[kind]
    token = getattr(accounts_of(request), token_of)(user)
    try:
        send(settings_of(request), user, token)
    except MailError as exc:
        log.warning("%s to user %s not sent: %s", what, user.id, exc)
        return _mail_outcome(exc)
    return "sent"


@router.get("/signup", include_in_schema=False)
def signup_form(request: Request) -> Response:
    if current_user(request) is not None:
        return redirect("/settings")
    return _signup_page(request)


_REFUSED_ADDRESS = (
    "The mail server would not take mail for this address, so no account was made: check it "
    "for typos, or use another address."
)


@router.post("/signup", include_in_schema=False)
def signup(
    request: Request,
    email: FormText = "",
    username: FormText = "",
    password: FormText = "",
    password2: FormText = "",
) -> Response:
    settings = settings_of(request)
    typed = {"email": email, "username": username}
    if not settings.signup_open:
        return _signup_page(request, form=typed, status_code=403)
    errors = _signup_errors(email, username, password, password2)
    if errors:
        return _signup_page(request, form=typed, errors=errors, status_code=400)
    store = store_of(request)
    # Counted once the form is valid, before the (slow, argon2) account creation.
    limits.check(
        store.accounts, f"signup:ip:{client_ip(request)}", settings.rate_signup, "sign-ups"
    )
    try:
        user = accounts_of(request).sign_up(email, username, password)
    except AccountError as exc:
        return _signup_page(
            request, form=typed, errors={exc.field or "form": str(exc)}, status_code=400
        )
    # No half-made account: one whose address cannot get mail, or whose mail broke in an
    # unforeseen way, is removed again. One whose mail may go later stays, and can resend.
    try:
        outcome = _send_link(request, user, "verification")
    except BaseException:
        store.accounts.delete_user(user.id)
        raise
    if outcome == "refused":
        store.accounts.delete_user(user.id)
        errors = {"email": _REFUSED_ADDRESS}
        return _signup_page(request, form=typed, errors=errors, status_code=400)
    store.activity.record(user.id, "signup", "user", str(user.id))
    response = redirect(f"/verify/pending?mail={outcome}")
    log_in(response, request, user)
    return response


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
    limit_account_mail(request, user.email, asked=False)
    outcome = _send_link(request, user, "verification")
    return redirect(f"/verify/pending?mail={outcome}")


@router.get("/verify", include_in_schema=False)
def verify(request: Request, token: str = "") -> Response:
    try:
        user = accounts_of(request).verify_email(token)
    except AccountError as exc:
        return link_error(request, exc, "This confirmation link does not work")
    store_of(request).activity.record(user.id, "verify-email", "user", str(user.id))
    return render(request, "account/verified.html", {"email": user.email})


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
    response = redirect(safe_next(next))
    log_in(response, request, user)
    return response


@router.post("/logout", include_in_schema=False)
def logout(request: Request) -> Response:
    response = redirect("/")
    end_session(response, request)
    return response


# -- mailed links: sign-in and forgotten passwords ---------------------------------------------


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
    try:
        address = normalise_email(email)
    except AccountError as exc:
        return _address_form(request, form, email, str(exc))
    limit_account_mail(request, address)
    user = accounts_of(request).user_by_address(address)
    if user is not None and not user.hidden:
        background.add_task(_send_link, request, user, kind)
    return render(request, sent, {"email": address})


@router.get("/login/link", include_in_schema=False)
def sign_in_link(request: Request, token: str = "", email: str = "") -> Response:
    """Without a token: the form that asks for a sign-in link. With one (from the mail): a
    button that uses it, so a mail scanner that opens links does not spend it."""
    if not token:
        return _address_form(request, "account/link_request.html", email)
    try:
        user = accounts_of(request).user_for_sign_in(token)
    except AccountError as exc:
        return link_error(request, exc, "This sign-in link does not work")
    return render(request, "account/link_use.html", {"token": token, "name": user.username})


@router.post("/login/link", include_in_schema=False)
def ask_sign_in_link(
    request: Request, background: BackgroundTasks, email: FormText = ""
) -> Response:
    return _mail_link(request, background, email, "sign-in")


@router.post("/login/link/use", include_in_schema=False)
def use_sign_in_link(request: Request, token: FormText = "") -> Response:
    try:
        user = accounts_of(request).sign_in_with_link(token)
    except AccountError as exc:
        return link_error(request, exc, "This sign-in link does not work")
    store_of(request).activity.record(user.id, "login-link", "user", str(user.id))
    response = redirect("/settings?notice=signed-in-by-link")
    log_in(response, request, user)
    return response


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
    try:
        account = accounts_of(request).user_for_reset(token)
    except AccountError as exc:
        return link_error(request, exc, _RESET_TITLE)
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
    accounts = accounts_of(request)
    try:
        account = accounts.user_for_reset(token)
    except AccountError as exc:
        return link_error(request, exc, _RESET_TITLE)
    if account.hidden:
        raise Forbidden("This account has been suspended by a moderator.")
    errors = new_password_errors(password, password2)
    if errors:
        return _reset_page(request, token, errors, status_code=400)
    try:
        # Ends every session of the user and revokes every API token.
        user, revoked = accounts.reset_password(token, password)
    except AccountError as exc:
        return link_error(request, exc, _RESET_TITLE)
    store_of(request).activity.record(
        user.id, "password-reset", "user", str(user.id), {"tokens_revoked": revoked}
    )
    response = redirect("/settings?notice=password-reset")
    log_in(response, request, user)
    return response


router.include_router(account_settings.router)
