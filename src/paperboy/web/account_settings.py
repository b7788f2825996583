"""The settings page: the account, API tokens with their scopes, the password; and
``GET /api/whoami``.

A new token is given a scope when it is made (read, write, or admin for moderators; the
middleware in ``paperboy.web.auth`` enforces it). Changing the password ends every other session
and revokes every API token; the page says so before and after.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from paperboy.community.account_flows import FormRefused
from paperboy.community.accounts import (
    MAX_TOKEN_NAME,
)
from paperboy.community.models import User
from paperboy.web.account_common import (
    FormText,
    client_ip,
    flows_of,
    logged_in,
    redirect,
    render,
    session_user,
    settings_of,
    store_of,
)
from paperboy.web.auth import current_user, require_user
from paperboy.web.params import ApiError, Id

router = APIRouter()


_NEW_PASSWORD = (
    "Your password has been changed. Other sessions have been logged out and all your API "
    "tokens revoked: make new ones below for the scripts that still need one."
)
NOTICES = {
    "password-reset": _NEW_PASSWORD,
    "password-changed": _NEW_PASSWORD,
    "token-revoked": "The token has been revoked: it no longer works.",
    "verified": "Your email address is confirmed.",
    "signed-in-by-link": "You are logged in by the link we mailed you.",
}
"""Messages ``/settings?notice=...`` may show: only these, never text from the URL."""

SCOPE_LABELS = {
    "read": "Read: look things up (GET requests only)",
    "write": "Write: also vote, submit, comment and change collections",
    "admin": "Admin: also moderate (hide, restore, suspend)",
}


@dataclass(frozen=True, slots=True)
class NewToken:
    """A token just created: its secret is shown on this one page, then never again."""

    name: str
    secret: str
    role: str


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
    tokens = store_of(request).accounts.api_tokens_of(user.id)
    choices = [c for c in SCOPE_LABELS if c != "admin" or user.is_admin]
    response = render(
        request,
        "account/settings.html",
        {
            "notice": notice,
            "errors": errors or {},
            "form": form or {},
            "tokens": sorted(tokens, key=lambda t: (t.revoked_at is not None, -t.id)),
            "new_token": new_token,
            "token_max": MAX_TOKEN_NAME,
            "scope_choices": [(c, SCOPE_LABELS[c]) for c in choices],
            "base_url": settings_of(request).site_url,
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
def create_token(request: Request, name: FormText = "", scope: FormText = "read") -> Response:
    user = session_user(request)
    typed = {"name": " ".join(name.split()), "scope": scope}
    try:
        token, secret, clean = flows_of(request).create_token(user, name, scope)
    except FormRefused as exc:
        return _settings_page(request, user, errors=exc.errors, form=typed, status_code=400)
    return _settings_page(request, user, new_token=NewToken(clean, secret, token.role))


@router.post("/settings/tokens/{token_id}/revoke", include_in_schema=False)
def revoke_token(request: Request, token_id: Annotated[Id, Path()]) -> Response:
    flows_of(request).revoke_token(session_user(request), token_id)
    return redirect("/settings?notice=token-revoked")


@router.post("/settings/password", include_in_schema=False)
def change_password(
    request: Request,
    current: FormText = "",
    password: FormText = "",
    password2: FormText = "",
) -> Response:
    user = session_user(request)
    try:
        flows_of(request).change_password(user, current, password, password2, client_ip(request))
    except FormRefused as exc:
        return _settings_page(request, user, errors=exc.errors, status_code=400)
    return logged_in(request, user, "/settings?notice=password-changed")


# -- API ------------------------------------------------------------------------------------------


class WhoAmIToken(BaseModel):
    role: str = Field(description="The token's widest scope: `read`, `write` or `admin`.")
    scopes: list[str] = Field(description="What the token may do, of read, write and admin.")


class WhoAmIAuth(BaseModel):
    type: str = Field(description="`access_token` (an API token) or `session` (a browser).")
    accessToken: WhoAmIToken | None = Field(
        default=None, description="The API token's scopes (only for `access_token`)."
    )


class WhoAmI(BaseModel):
    """The account behind the request; field names follow Hugging Face's /api/whoami-v2."""

    type: str = "user"
    id: str
    name: str = Field(description="The user name.")
    email: str
    emailVerified: bool
    isAdmin: bool = Field(
        description="May moderate with this request (with an API token: only one that has "
        "the admin scope)."
    )
    canWrite: bool = Field(
        description="May vote, submit and comment with this request (verified, not suspended; "
        "with an API token: one that has the write scope)."
    )
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
    scopes = getattr(request.state, "token_scopes", None)
    token = None
    if scopes is not None:
        role = next((s for s in ("admin", "write", "read") if s in scopes), "none")
        token = WhoAmIToken(role=role, scopes=list(scopes))
    return WhoAmI(
        id=str(user.id),
        name=user.username,
        email=user.email,
        emailVerified=user.email_verified,
        isAdmin=user.is_admin,
        canWrite=user.can_write and (scopes is None or "write" in scopes),
        auth=WhoAmIAuth(type="access_token" if token is not None else "session", accessToken=token),
    )
