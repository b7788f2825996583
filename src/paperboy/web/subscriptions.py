"""The web side of email digests: subscribing (double opt-in), confirming, one-click
unsubscribing (RFC 8058), managing a subscription with or without an account (a link mailed on
request), saved-search alerts, and ``/api/alerts``.

Who may do what:

* ``GET /subscribe`` shows the full form (the footer box on every page is a plain GET form to
  it, so those pages stay cacheable and set no cookie); ``POST /subscribe`` (CSRF) answers
  "check your inbox" whether or not the address was known. Rules live in
  :mod:`paperboy.digest.subscribe`.
* Links in mails carry signed tokens (:mod:`paperboy.digest.links`): ``/subscribe/confirm``
  (7 days), ``/subscription`` (manage; ``settings.manage_link_hours``; a normal form, so its
  POSTs need the CSRF token too) and ``/unsubscribe`` (never expires; it only unsubscribes).
* ``/subscription/link`` ("email me a link to manage my subscription") mails a fresh manage
  link to the subscription's own address, asked for by address or with the unsubscribe token
  (what digests and the unsubscribe page link to); limited like ``/subscribe`` per recipient
  and per client. An expired manage link, or a never-expiring one from an older digest, opens
  that page instead of the settings.
* ``POST /unsubscribe?token=`` is the RFC 8058 one-click target mail providers call without
  cookies or CSRF token (the path is CSRF-exempt): it is authorised by its signed token ONLY,
  never by a session, and repeating it is harmless. ``GET /unsubscribe`` only shows a button
  (link scanners open GET links; they must not unsubscribe anyone).
* Signed-in users manage their own subscription on ``/settings/digest``.

Managing and asking for a manage link live in :mod:`paperboy.web.subscription_manage` (its
router is included in this one), what both share in :mod:`paperboy.web.subscription_common`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from paperboy.community.accounts import AccountError
from paperboy.community.models import User
from paperboy.digest import links
from paperboy.digest.models import Alert, Subscription
from paperboy.digest.subscribe import (
    Choices,
    InvalidChoices,
    Outcome,
    check_alert,
)
from paperboy.errors import Invalid, NotAllowed, NotFound
from paperboy.web import subscription_common as common
from paperboy.web.account_common import client_ip
from paperboy.web.auth import current_user, require_user
from paperboy.web.params import ApiError, FormText, Id
from paperboy.web.search_form import search_text
from paperboy.web.subscription_manage import router as manage_router

router = APIRouter()
router.include_router(manage_router)


# -- helpers ----------------------------------------------------------------------------------


def _subscription_of(request: Request) -> Subscription | None:
    """The signed-in visitor's subscription (for templates: the settings page)."""
    user = current_user(request)
    return common.service_of(request).subscription_of(user) if user is not None else None


def _alert_text(q: str, filters: dict[str, str]) -> str:
    """A search form's box and filters as one query (what an alert saves)."""
    return search_text(q or "", {k: v or "" for k, v in filters.items()})


TEMPLATE_GLOBALS: dict[str, Any] = {
    "digest_subscription": _subscription_of,
    "alert_text": _alert_text,
}
"""Functions templates call; ``paperboy.web.app.register_templates`` installs them."""


# -- subscribing --------------------------------------------------------------------------------


@router.get("/subscribe", include_in_schema=False)
def subscribe_form(
    request: Request, email: str = "", alert: str = "", mode: str = "hybrid"
) -> Response:
    user = current_user(request)
    form: dict[str, Any] = {
        **common.choice_form(Choices()),
        "email": email.strip()[:320] or (user.email if user is not None else ""),
        "alert": "",
        "alert_mode": "hybrid",
    }
    try:
        form["alert"], form["alert_mode"] = check_alert(alert, mode) if alert.strip() else ("", "")
    except ValueError:
        form["alert"] = ""  # a broken ?alert= is simply not offered
    return common.subscribe_page(request, form=form)


@router.post("/subscribe", include_in_schema=False)
def subscribe(
    request: Request,
    email: FormText = "",
    frequency: FormText = "daily",
    categories: FormText = "",
    min_upvotes: FormText = "0",
    trending: FormText = "",
    alert: FormText = "",
    alert_mode: FormText = "hybrid",
) -> Response:
    fields = common.ChoiceFields(frequency, categories, min_upvotes, trending)
    form = {"email": email, **fields.form(), "alert": alert, "alert_mode": alert_mode}
    errors: dict[str, str] = {}
    if not email.strip():
        errors["email"] = "Enter your email address: the confirmation link goes there."
    try:
        choices = fields.choices()
    except InvalidChoices as exc:
        errors.update(exc.errors)
    saved_alert: tuple[str, str] | None = None
    if alert.strip():
        try:
            saved_alert = check_alert(alert, alert_mode)
        except ValueError as exc:
            errors["alert"] = str(exc)
    if errors:
        return common.subscribe_page(request, form=form, errors=errors, status_code=400)
    user = current_user(request)
    try:
        outcome = common.service_of(request).subscribe(
            email, choices, user, client_ip=client_ip(request), alert=saved_alert
        )
    except AccountError as exc:
        return common.subscribe_page(
            request, form=form, errors={exc.field or "email": str(exc)}, status_code=400
        )
    except ValueError as exc:  # one alert too many
        return common.subscribe_page(
            request, form=form, errors={"alert": str(exc)}, status_code=400
        )
    return _done_page(request, outcome)


def _done_page(request: Request, outcome: Outcome) -> HTMLResponse:
    subscription = outcome.subscription
    if outcome.action == "subscribed":
        return _subscribed_page(
            request, subscription, "subscribed", notes=outcome.notes, manage_url="/settings/digest"
        )
    # Confirmation or manage mail: the same page, so it tells nobody whether the address was
    # subscribed already.
    return common.render_page(
        request,
        "subscribe_done.html",
        {"state": "sent", "email": subscription.email, "mailed": outcome.mailed},
    )


@router.get("/subscribe/confirm", include_in_schema=False)
def confirm(request: Request, token: str = "") -> Response:
    service = common.service_of(request)
    try:
        subscription, changed = service.confirm(token)
    except AccountError as exc:
        return common.link_error(request, exc, "This confirmation link does not work")
    manage_url = "/subscription?token=" + common.quote_token(service.manage_token(subscription.id))
    return _subscribed_page(
        request, subscription, "confirmed", notes=(), manage_url=manage_url, changed=changed
    )


def _subscribed_page(
    request: Request, subscription: Subscription, state: str, **context: Any
) -> HTMLResponse:
    """The page after subscribing or confirming: the choices and alerts now in force."""
    return common.render_page(
        request,
        "subscribe_done.html",
        {
            "state": state,
            "subscription": subscription,
            "choices": Choices.of(subscription).describe(),
            "alerts": common.service_of(request).store.subscriptions.alerts_of(subscription.id),
            **context,
        },
    )


# -- unsubscribing (RFC 8058) -----------------------------------------------------------------


_UNSUBSCRIBE_TITLE = "This unsubscribe link does not work"


@router.get("/unsubscribe", include_in_schema=False)
def unsubscribe_page(request: Request, token: str = "") -> Response:
    """Shows the address and a button; opening the link alone changes nothing (mail scanners
    open links)."""
    service = common.service_of(request)
    try:
        subscription = service.from_token(links.UNSUBSCRIBE, token, None)
    except AccountError as exc:
        return common.link_error(request, exc, _UNSUBSCRIBE_TITLE)
    return _unsubscribe_page(
        request,
        subscription,
        done=False,
        action="/unsubscribe?token=" + common.quote_token(token),
        manage_url="/subscription/link?token=" + common.quote_token(token),
    )


@router.post("/unsubscribe", include_in_schema=False)
def unsubscribe(request: Request, token: str = "") -> Response:
    """RFC 8058 one-click (body ``List-Unsubscribe=One-Click``) and the page's button. No
    cookie or CSRF token is needed or used: the signed token in the URL is the only authority.
    Idempotent: a second POST answers 200 again. No token at all: 403 (no credential); a
    forged, damaged or foreign one: 400."""
    if not token:
        raise NotAllowed("This unsubscribe link has no token: use the link from your mail.")
    service = common.service_of(request)
    try:
        subscription, changed = service.unsubscribe(token)
    except AccountError as exc:
        return common.link_error(request, exc, _UNSUBSCRIBE_TITLE)
    return _unsubscribe_page(request, subscription, done=True, changed=changed)


def _unsubscribe_page(request: Request, subscription: Subscription, **context: Any) -> HTMLResponse:
    return common.render_page(
        request, "unsubscribe.html", {"subscription": subscription, **context}
    )


# -- saving a search as an alert -------------------------------------------------------------------


@router.post("/alerts", include_in_schema=False)
def save_alert(
    request: Request,
    q: FormText = "",
    mode: FormText = "hybrid",
    cat: FormText = "",
    author: FormText = "",
    since: FormText = "",
    until: FormText = "",
) -> Response:
    """From the search page. A signed-in user with a verified address gets the alert added to
    their subscription (created, active, if missing); anyone else goes to the subscribe form,
    which saves it with the new subscription."""
    text = _alert_text(q, {"cat": cat, "author": author, "since": since, "until": until})
    try:
        query, chosen = check_alert(text, mode)
    except ValueError as exc:
        raise Invalid(str(exc), "q") from exc
    user = current_user(request)
    if user is None or not user.email_verified or user.hidden:
        params = {"alert": query, "mode": chosen}
        if user is not None:
            params["email"] = user.email
        return common.see_other("/subscribe?" + urlencode(params))
    try:
        outcome = common.service_of(request).alert_for_user(user, query, chosen)
    except ValueError as exc:
        raise Invalid(str(exc), "q") from exc
    if outcome.notes:
        return _done_page(request, outcome)
    return common.see_other("/settings/digest?notice=alert-added")


# -- JSON API --------------------------------------------------------------------------------------


class AlertIn(BaseModel):
    query: str = Field(description="A search in the search syntax, e.g. `cat:cs.CL retrieval`.")
    mode: str = Field(default="hybrid", description="hybrid, keyword or semantic ranking.")


class AlertOut(BaseModel):
    id: int
    query: str
    mode: str
    createdAt: datetime
    subscriptionStatus: str = Field(description="pending, active, unsubscribed or paused.")
    frequency: str = Field(description="How often digests (with alerts) come: daily, weekly, off.")


def _alert_out(alert: Alert, subscription: Subscription) -> AlertOut:
    return AlertOut(
        id=alert.id,
        query=alert.query,
        mode=alert.mode,
        createdAt=alert.created_at.replace(tzinfo=alert.created_at.tzinfo or UTC),  # RFC 3339
        subscriptionStatus=subscription.status,
        frequency=subscription.frequency,
    )


def _api_user(request: Request) -> User:
    user = require_user(request)
    if not user.email_verified or user.hidden:
        raise NotAllowed("Confirm your email address first: alerts are mailed to it.")
    return user


def _api_subscription(request: Request) -> Subscription | None:
    """The subscription of the API's (confirmed) user; None when there is none."""
    return common.service_of(request).subscription_of(_api_user(request))


_API_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ApiError, "description": "The query is empty or too long."},
    401: {"model": ApiError, "description": "No valid session or API token."},
    403: {"model": ApiError, "description": "The account's address is not confirmed."},
}


@router.post(
    "/api/alerts",
    tags=["digest"],
    summary="Save a search as an email alert",
    status_code=201,
    response_model=AlertOut,
    responses=_API_ERRORS,
)
def api_add_alert(request: Request, body: AlertIn) -> AlertOut:
    """New papers matching the search come with the account's email digests. Subscribes the
    account's (confirmed) address if it was not subscribed. Saving the same query twice keeps
    one alert."""
    user = _api_user(request)
    try:
        outcome = common.service_of(request).alert_for_user(user, body.query, body.mode)
    except ValueError as exc:
        raise Invalid(str(exc), "query") from exc
    assert outcome.alert is not None
    return _alert_out(outcome.alert, outcome.subscription)


@router.get(
    "/api/alerts",
    tags=["digest"],
    summary="List my email alerts",
    response_model=list[AlertOut],
    responses={k: v for k, v in _API_ERRORS.items() if k != 400},
)
def api_alerts(request: Request) -> list[AlertOut]:
    subscription = _api_subscription(request)
    if subscription is None:
        return []
    alerts = common.service_of(request).store.subscriptions.alerts_of(subscription.id)
    return [_alert_out(a, subscription) for a in alerts]


@router.delete(
    "/api/alerts/{alert_id}",
    tags=["digest"],
    summary="Delete an email alert",
    status_code=204,
    responses={
        **_API_ERRORS,
        400: {"model": ApiError, "description": "The alert id is not a number."},
        404: {"model": ApiError, "description": "No such alert of yours."},
    },
)
def api_delete_alert(request: Request, alert_id: Annotated[Id, Path()]) -> Response:
    subscription = _api_subscription(request)
    store = common.service_of(request).store
    if subscription is None or not store.subscriptions.delete_alert(subscription.id, alert_id):
        raise NotFound("You have no alert with that number.", "alert_id")
    return Response(status_code=204)
