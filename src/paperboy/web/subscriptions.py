"""The web side of email digests: subscribing (double opt-in), confirming, one-click
unsubscribing (RFC 8058), managing a subscription with or without an account, saved-search
alerts, and ``/api/alerts``.

Who may do what:

* ``GET /subscribe`` shows the full form (the footer box on every page is a plain GET form to
  it, so those pages stay cacheable and set no cookie); ``POST /subscribe`` (CSRF) answers
  "check your inbox" whether or not the address was known. Rules live in
  :mod:`paperboy.digest.subscribe`.
* Links in mails carry signed tokens (:mod:`paperboy.digest.links`): ``/subscribe/confirm``
  (7 days), ``/subscription`` (manage; a normal form, so its POSTs need the CSRF token too) and
  ``/unsubscribe`` (never expires).
* ``POST /unsubscribe?token=`` is the RFC 8058 one-click target mail providers call without
  cookies or CSRF token (the path is CSRF-exempt): it is authorised by its signed token ONLY,
  never by a session, and repeating it is harmless. ``GET /unsubscribe`` only shows a button
  (link scanners open GET links; they must not unsubscribe anyone).
* Signed-in users manage their own subscription on ``/settings/digest``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from paperboy.community.accounts import AccountError
from paperboy.community.models import User
from paperboy.digest import links
from paperboy.digest.models import FREQUENCIES, Alert, Subscription
from paperboy.digest.subscribe import (
    MANAGE_MAX_AGE,
    MAX_ALERT_CHARS,
    MAX_UPVOTES,
    Choices,
    InvalidChoices,
    Outcome,
    SubscriptionService,
    check_alert,
    parse_choices,
)
from paperboy.search.service import MODES
from paperboy.web.accounts import client_ip
from paperboy.web.api import ApiError
from paperboy.web.auth import current_user, require_user
from paperboy.web.errors import BadRequest, Forbidden, NotFound, error_response
from paperboy.web.pages import search_text
from paperboy.web.templating import templates

router = APIRouter()

FormText = Annotated[str, Form()]

NOTICES = {
    "saved": "Your choices are saved.",
    "alert-added": "The alert is saved: new papers that match it come with your digests.",
    "alert-deleted": "The alert is deleted.",
    "resumed": "Your subscription is active: digests will come again.",
}
"""Messages ``?notice=`` may show on the manage page: only these, never text from the URL."""


# -- helpers ----------------------------------------------------------------------------------


def _service(request: Request) -> SubscriptionService:
    state = request.app.state
    return SubscriptionService(state.settings, state.store, state.secret)


def _render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    return response


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _link_error(request: Request, exc: AccountError, title: str) -> Response:
    response = error_response(request, 400, str(exc), title=title)
    response.headers["Cache-Control"] = "no-store"
    return response


def _q(token: str) -> str:
    return quote(token, safe="")


def _subscription_of(request: Request) -> Subscription | None:
    """The signed-in visitor's subscription (for templates: the settings page)."""
    user = current_user(request)
    return _service(request).subscription_of(user) if user is not None else None


def _alert_text(q: str, filters: dict[str, str]) -> str:
    """A search form's box and filters as one query (what an alert saves)."""
    return search_text(q or "", {k: v or "" for k, v in filters.items()})


templates.env.globals["digest_subscription"] = _subscription_of
templates.env.globals["alert_text"] = _alert_text


def _form_choices(frequency: str, categories: str, min_upvotes: str, trending: str) -> Choices:
    return parse_choices(frequency, categories, min_upvotes, trending in ("on", "1", "true", "yes"))


def _choice_form(choices: Choices) -> dict[str, Any]:
    return {
        "frequency": choices.frequency,
        "categories": ", ".join(choices.categories),
        "min_upvotes": str(choices.min_upvotes),
        "trending": choices.include_trending,
    }


def _base_context() -> dict[str, Any]:
    return {
        "frequencies": FREQUENCIES,
        "max_upvotes": MAX_UPVOTES,
        "max_alert": MAX_ALERT_CHARS,
        "modes": MODES,
    }


# -- subscribing --------------------------------------------------------------------------------


def _subscribe_page(
    request: Request,
    *,
    form: dict[str, Any],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    user = current_user(request)
    existing = _service(request).subscription_of(user) if user is not None else None
    return _render(
        request,
        "subscribe.html",
        {**_base_context(), "form": form, "errors": errors or {}, "existing": existing},
        status_code=status_code,
    )


@router.get("/subscribe", include_in_schema=False)
def subscribe_form(
    request: Request, email: str = "", alert: str = "", mode: str = "hybrid"
) -> Response:
    user = current_user(request)
    form: dict[str, Any] = {
        **_choice_form(Choices()),
        "email": email.strip()[:320] or (user.email if user is not None else ""),
        "alert": "",
        "alert_mode": "hybrid",
    }
    try:
        form["alert"], form["alert_mode"] = check_alert(alert, mode) if alert.strip() else ("", "")
    except ValueError:
        form["alert"] = ""  # a broken ?alert= is simply not offered
    return _subscribe_page(request, form=form)


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
    form = {
        "email": email,
        "frequency": frequency,
        "categories": categories,
        "min_upvotes": min_upvotes,
        "trending": bool(trending),
        "alert": alert,
        "alert_mode": alert_mode,
    }
    errors: dict[str, str] = {}
    if not email.strip():
        errors["email"] = "Enter your email address: the confirmation link goes there."
    try:
        choices = _form_choices(frequency, categories, min_upvotes, trending)
    except InvalidChoices as exc:
        errors.update(exc.errors)
    saved_alert: tuple[str, str] | None = None
    if alert.strip():
        try:
            saved_alert = check_alert(alert, alert_mode)
        except ValueError as exc:
            errors["alert"] = str(exc)
    if errors:
        return _subscribe_page(request, form=form, errors=errors, status_code=400)
    user = current_user(request)
    try:
        outcome = _service(request).subscribe(
            email, choices, user, client_ip=client_ip(request), alert=saved_alert
        )
    except AccountError as exc:
        return _subscribe_page(
            request, form=form, errors={exc.field or "email": str(exc)}, status_code=400
        )
    except ValueError as exc:  # one alert too many
        return _subscribe_page(request, form=form, errors={"alert": str(exc)}, status_code=400)
    return _done_page(request, outcome)


def _done_page(request: Request, outcome: Outcome) -> HTMLResponse:
    subscription = outcome.subscription
    if outcome.action == "subscribed":
        return _render(
            request,
            "subscribe_done.html",
            {
                "state": "subscribed",
                "subscription": subscription,
                "choices": Choices.of(subscription).describe(),
                "alerts": _service(request).store.subscriptions.alerts_of(subscription.id),
                "notes": outcome.notes,
                "manage_url": "/settings/digest",
            },
        )
    # Confirmation or manage mail: the same page, so it tells nobody whether the address was
    # subscribed already.
    return _render(
        request,
        "subscribe_done.html",
        {"state": "sent", "email": subscription.email, "mailed": outcome.mailed},
    )


@router.get("/subscribe/confirm", include_in_schema=False)
def confirm(request: Request, token: str = "") -> Response:
    service = _service(request)
    try:
        subscription, changed = service.confirm(token)
    except AccountError as exc:
        return _link_error(request, exc, "This confirmation link does not work")
    return _render(
        request,
        "subscribe_done.html",
        {
            "state": "confirmed",
            "changed": changed,
            "subscription": subscription,
            "choices": Choices.of(subscription).describe(),
            "alerts": service.store.subscriptions.alerts_of(subscription.id),
            "notes": (),
            "manage_url": "/subscription?token=" + _q(service.manage_token(subscription.id)),
        },
    )


# -- unsubscribing (RFC 8058) -----------------------------------------------------------------


_UNSUBSCRIBE_TITLE = "This unsubscribe link does not work"


@router.get("/unsubscribe", include_in_schema=False)
def unsubscribe_page(request: Request, token: str = "") -> Response:
    """Shows the address and a button; opening the link alone changes nothing (mail scanners
    open links)."""
    service = _service(request)
    try:
        subscription = service.from_token(links.UNSUBSCRIBE, token, None)
    except AccountError as exc:
        return _link_error(request, exc, _UNSUBSCRIBE_TITLE)
    return _render(
        request,
        "unsubscribe.html",
        {
            "subscription": subscription,
            "done": False,
            "action": "/unsubscribe?token=" + _q(token),
            "manage_url": "/subscription?token=" + _q(service.manage_token(subscription.id)),
        },
    )


@router.post("/unsubscribe", include_in_schema=False)
def unsubscribe(request: Request, token: str = "") -> Response:
    """RFC 8058 one-click (body ``List-Unsubscribe=One-Click``) and the page's button. No
    cookie or CSRF token is needed or used: the signed token in the URL is the only authority.
    Idempotent: a second POST answers 200 again. No token at all: 403 (no credential); a
    forged, damaged or foreign one: 400."""
    if not token:
        raise Forbidden("This unsubscribe link has no token: use the link from your mail.")
    service = _service(request)
    try:
        subscription, changed = service.unsubscribe(token)
    except AccountError as exc:
        return _link_error(request, exc, _UNSUBSCRIBE_TITLE)
    return _render(
        request,
        "unsubscribe.html",
        {
            "subscription": subscription,
            "done": True,
            "changed": changed,
            "manage_url": "/subscription?token=" + _q(service.manage_token(subscription.id)),
        },
    )


# -- managing: with a signed link, or signed in --------------------------------------------------


def _manage_urls(token: str | None, alerts: list[Alert]) -> dict[str, Any]:
    """Where the manage page's forms go: token URLs (no account) or /settings/digest."""
    if token is not None:
        suffix = "?token=" + _q(token)
        return {
            "save": "/subscription" + suffix,
            "add_alert": "/subscription/alerts" + suffix,
            "resume": "/subscription/resume" + suffix,
            "delete": {a.id: f"/subscription/alerts/{a.id}/delete{suffix}" for a in alerts},
        }
    return {
        "save": "/settings/digest",
        "add_alert": "/settings/digest/alerts",
        "resume": "/settings/digest/resume",
        "delete": {a.id: f"/settings/digest/alerts/{a.id}/delete" for a in alerts},
    }


def _manage_page(
    request: Request,
    subscription: Subscription,
    token: str | None,
    *,
    notice: str = "",
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    alert_form: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    service = _service(request)
    alerts = service.store.subscriptions.alerts_of(subscription.id)
    return _render(
        request,
        "subscription.html",
        {
            **_base_context(),
            "subscription": subscription,
            "alerts": alerts,
            "via": "link" if token is not None else "account",
            "urls": _manage_urls(token, alerts),
            "unsubscribe_url": "/unsubscribe?token="
            + _q(service.unsubscribe_token(subscription.id)),
            "notice": NOTICES.get(notice),
            "form": form or _choice_form(Choices.of(subscription)),
            "errors": errors or {},
            "alert_form": alert_form or {"alert": "", "mode": "hybrid"},
        },
        status_code=status_code,
    )


def _by_token(request: Request, token: str) -> Subscription:
    return _service(request).from_token(links.MANAGE, token, MANAGE_MAX_AGE)


_MANAGE_TITLE = "This link to your subscription does not work"


def _prefill_alert(alert: str, mode: str) -> dict[str, str] | None:
    if not alert.strip():
        return None
    try:
        query, chosen = check_alert(alert, mode)
    except ValueError:
        return None
    return {"alert": query, "mode": chosen}


@router.get("/subscription", include_in_schema=False)
def manage_page(
    request: Request, token: str = "", notice: str = "", alert: str = "", mode: str = "hybrid"
) -> Response:
    try:
        subscription = _by_token(request, token)
    except AccountError as exc:
        return _link_error(request, exc, _MANAGE_TITLE)
    return _manage_page(
        request, subscription, token, notice=notice, alert_form=_prefill_alert(alert, mode)
    )


def _save(
    request: Request,
    subscription: Subscription,
    token: str | None,
    frequency: str,
    categories: str,
    min_upvotes: str,
    trending: str,
    done: str,
) -> Response:
    try:
        choices = _form_choices(frequency, categories, min_upvotes, trending)
    except InvalidChoices as exc:
        form = {
            "frequency": frequency,
            "categories": categories,
            "min_upvotes": min_upvotes,
            "trending": bool(trending),
        }
        return _manage_page(
            request, subscription, token, form=form, errors=exc.errors, status_code=400
        )
    _service(request).change(subscription.id, choices)
    return _redirect(done + "saved")


def _add_alert(
    request: Request,
    subscription: Subscription,
    token: str | None,
    query: str,
    mode: str,
    done: str,
) -> Response:
    try:
        _service(request).add_alert(subscription.id, query, mode)
    except ValueError as exc:
        return _manage_page(
            request,
            subscription,
            token,
            errors={"alert": str(exc)},
            alert_form={"alert": query, "mode": mode},
            status_code=400,
        )
    return _redirect(done + "alert-added")


@router.post("/subscription", include_in_schema=False)
def manage_save(
    request: Request,
    token: str = "",
    frequency: FormText = "daily",
    categories: FormText = "",
    min_upvotes: FormText = "0",
    trending: FormText = "",
) -> Response:
    try:
        subscription = _by_token(request, token)
    except AccountError as exc:
        return _link_error(request, exc, _MANAGE_TITLE)
    done = f"/subscription?token={_q(token)}&notice="
    return _save(request, subscription, token, frequency, categories, min_upvotes, trending, done)


@router.post("/subscription/alerts", include_in_schema=False)
def manage_add_alert(
    request: Request, token: str = "", query: FormText = "", mode: FormText = "hybrid"
) -> Response:
    try:
        subscription = _by_token(request, token)
    except AccountError as exc:
        return _link_error(request, exc, _MANAGE_TITLE)
    done = f"/subscription?token={_q(token)}&notice="
    return _add_alert(request, subscription, token, query, mode, done)


@router.post("/subscription/alerts/{alert_id}/delete", include_in_schema=False)
def manage_delete_alert(request: Request, alert_id: int, token: str = "") -> Response:
    try:
        subscription = _by_token(request, token)
    except AccountError as exc:
        return _link_error(request, exc, _MANAGE_TITLE)
    _service(request).store.subscriptions.delete_alert(subscription.id, alert_id)
    return _redirect(f"/subscription?token={_q(token)}&notice=alert-deleted")


@router.post("/subscription/resume", include_in_schema=False)
def manage_resume(request: Request, token: str = "") -> Response:
    try:
        subscription = _by_token(request, token)
    except AccountError as exc:
        return _link_error(request, exc, _MANAGE_TITLE)
    _service(request).resume(subscription.id)
    return _redirect(f"/subscription?token={_q(token)}&notice=resumed")


def _own_subscription(request: Request, user: User) -> Subscription | None:
    """The user's subscription, linked to the account on first use."""
    service = _service(request)
    subscription = service.subscription_of(user)
    if subscription is not None and subscription.user_id is None:
        service.store.subscriptions.update(subscription.id, user_id=user.id)
    return subscription


@router.get("/settings/digest", include_in_schema=False)
def settings_digest(request: Request, notice: str = "") -> Response:
    user = require_user(request)
    subscription = _service(request).subscription_of(user)
    if subscription is None:
        form = {**_choice_form(Choices()), "email": user.email, "alert": "", "alert_mode": ""}
        return _subscribe_page(request, form=form)
    return _manage_page(request, subscription, None, notice=notice)


def _account_subscription(request: Request) -> Subscription:
    user = require_user(request)
    subscription = _own_subscription(request, user)
    if subscription is None:
        raise NotFound("You have no email digest subscription yet: subscribe first.")
    return subscription


@router.post("/settings/digest", include_in_schema=False)
def settings_digest_save(
    request: Request,
    frequency: FormText = "daily",
    categories: FormText = "",
    min_upvotes: FormText = "0",
    trending: FormText = "",
) -> Response:
    subscription = _account_subscription(request)
    done = "/settings/digest?notice="
    return _save(request, subscription, None, frequency, categories, min_upvotes, trending, done)


@router.post("/settings/digest/alerts", include_in_schema=False)
def settings_digest_add_alert(
    request: Request, query: FormText = "", mode: FormText = "hybrid"
) -> Response:
    subscription = _account_subscription(request)
    return _add_alert(request, subscription, None, query, mode, "/settings/digest?notice=")


@router.post("/settings/digest/alerts/{alert_id}/delete", include_in_schema=False)
def settings_digest_delete_alert(request: Request, alert_id: int) -> Response:
    subscription = _account_subscription(request)
    _service(request).store.subscriptions.delete_alert(subscription.id, alert_id)
    return _redirect("/settings/digest?notice=alert-deleted")


@router.post("/settings/digest/resume", include_in_schema=False)
def settings_digest_resume(request: Request) -> Response:
    subscription = _account_subscription(request)
    _service(request).resume(subscription.id)
    return _redirect("/settings/digest?notice=resumed")


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
        raise BadRequest(str(exc), "q") from exc
    user = current_user(request)
    if user is None or not user.email_verified or user.hidden:
        params = {"alert": query, "mode": chosen}
        if user is not None:
            params["email"] = user.email
        return _redirect("/subscribe?" + urlencode(params))
    try:
        outcome = _service(request).alert_for_user(user, query, chosen)
    except ValueError as exc:
        raise BadRequest(str(exc), "q") from exc
    if outcome.notes:
        return _done_page(request, outcome)
    return _redirect("/settings/digest?notice=alert-added")


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
        createdAt=alert.created_at,
        subscriptionStatus=subscription.status,
        frequency=subscription.frequency,
    )


def _api_user(request: Request) -> User:
    user = require_user(request)
    if not user.email_verified or user.hidden:
        raise Forbidden("Confirm your email address first: alerts are mailed to it.")
    return user


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
        outcome = _service(request).alert_for_user(user, body.query, body.mode)
    except ValueError as exc:
        raise BadRequest(str(exc), "query") from exc
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
    user = _api_user(request)
    service = _service(request)
    subscription = service.subscription_of(user)
    if subscription is None:
        return []
    alerts = service.store.subscriptions.alerts_of(subscription.id)
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
def api_delete_alert(request: Request, alert_id: int) -> Response:
    user = _api_user(request)
    service = _service(request)
    subscription = service.subscription_of(user)
    if subscription is None or not service.store.subscriptions.delete_alert(
        subscription.id, alert_id
    ):
        raise NotFound("You have no alert with that number.", "alert_id")
    return Response(status_code=204)
