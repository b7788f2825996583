"""Managing a digest subscription: with a link mailed to its address (no account needed), or
signed in on ``/settings/digest``; and asking for such a link (``/subscription/link``).

The unsubscribe token only unsubscribes; on ``/subscription/link`` it also names the
subscription whose address gets the manage link (the mail goes to that address only). A manage
link works for ``settings.manage_link_hours``; an expired one, or a never-expiring one from an
older digest, opens the page that mails a fresh one. Every form here needs the CSRF token.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response

from paperboy.community.accounts import AccountError
from paperboy.community.models import User
from paperboy.digest import links
from paperboy.digest.models import Alert, Subscription
from paperboy.digest.subscribe import Choices, InvalidChoices, check_alert
from paperboy.errors import NotFound
from paperboy.web.account_common import client_ip
from paperboy.web.auth import current_user, require_user
from paperboy.web.params import FormText, Id
from paperboy.web.subscription_common import (
    ChoiceFields,
    base_context,
    choice_form,
    link_error,
    quote_token,
    render_page,
    see_other,
    service_of,
    subscribe_page,
)

router = APIRouter()

NOTICES = {
    "saved": "Your choices are saved.",
    "alert-added": "The alert is saved: new papers that match it come with your digests.",
    "alert-deleted": "The alert is deleted.",
    "resumed": "Your subscription is active: digests will come again.",
}
"""Messages ``?notice=`` may show on the manage page: only these, never text from the URL."""


# -- asking for a manage link ("email me a link to manage my subscription") --------------------


_LINK_TITLE = "This link does not work"


def _link_page(
    request: Request,
    subscription: Subscription | None,
    *,
    email: str = "",
    notice: str = "",
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The page that mails a manage link: for the subscription an unsubscribe token named (one
    button), or with an address field."""
    service = service_of(request)
    action = "/subscription/link"
    if subscription is not None:
        action += "?token=" + quote_token(service.unsubscribe_token(subscription.id))
    return render_page(
        request,
        "subscription_link.html",
        {
            "subscription": subscription,
            "action": action,
            "form": {"email": email},
            "errors": errors or {},
            "notice": notice,
            "hours": service.settings.manage_link_hours,
        },
        status_code=status_code,
    )


@router.get("/subscription/link", include_in_schema=False)
def manage_link_form(request: Request, token: str = "", email: str = "") -> Response:
    """With the unsubscribe token (digests link here): the subscription's address and a button.
    Without: a field for the address. Opening it sends nothing."""
    if token:
        try:
            subscription = service_of(request).from_token(links.UNSUBSCRIBE, token, None)
        except AccountError as exc:
            return link_error(request, exc, _LINK_TITLE)
        return _link_page(request, subscription)
    user = current_user(request)
    prefill = email.strip()[:320] or (user.email if user is not None else "")
    return _link_page(request, None, email=prefill)


@router.post("/subscription/link", include_in_schema=False)
def manage_link_send(request: Request, token: str = "", email: FormText = "") -> Response:
    """Mail a fresh manage link to the subscription's own address (CSRF-protected; limited
    per recipient and per client like /subscribe). The answer is the same whether an address
    typed in is subscribed or not."""
    try:
        sent = service_of(request).request_manage_link(
            email=None if token else email, token=token or None, client_ip=client_ip(request)
        )
    except AccountError as exc:
        if token:
            return link_error(request, exc, _LINK_TITLE)
        errors = {"email": str(exc)}
        return _link_page(request, None, email=email, errors=errors, status_code=400)
    return render_page(
        request,
        "subscribe_done.html",
        {
            "state": "link-sent",
            "email": sent.address,
            "mailed": sent.mailed,
            "hours": service_of(request).settings.manage_link_hours,
        },
    )


# -- managing: with a signed link, or signed in --------------------------------------------------


def _manage_urls(token: str | None, alerts: list[Alert]) -> dict[str, Any]:
    """Where the manage page's forms go: token URLs (no account) or /settings/digest."""
    if token is not None:
        suffix = "?token=" + quote_token(token)
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
    service = service_of(request)
    alerts = service.store.subscriptions.alerts_of(subscription.id)
    return render_page(
        request,
        "subscription.html",
        {
            **base_context(),
            "subscription": subscription,
            "alerts": alerts,
            "via": "link" if token is not None else "account",
            "link_hours": service.settings.manage_link_hours,
            "urls": _manage_urls(token, alerts),
            "unsubscribe_url": "/unsubscribe?token="
            + quote_token(service.unsubscribe_token(subscription.id)),
            "notice": NOTICES.get(notice),
            "form": form or choice_form(Choices.of(subscription)),
            "errors": errors or {},
            "alert_form": alert_form or {"alert": "", "mode": "hybrid"},
        },
        status_code=status_code,
    )


def _by_token(request: Request, token: str, then: Callable[[Subscription], Response]) -> Response:
    """``then`` with the subscription a manage link's ``token`` names, or the page that says
    the link does not work."""
    try:
        subscription = service_of(request).from_manage_token(token)
    except AccountError as exc:
        return _manage_link_error(request, token, exc)
    return then(subscription)


_MANAGE_TITLE = "This link to your subscription does not work"


def _manage_link_error(request: Request, token: str, exc: AccountError) -> Response:
    """A manage link that does not work (400). When it is a genuine one that has expired, or a
    never-expiring one from an older digest, the page offers to mail a fresh link."""
    stale = service_of(request).stale_manage_link(token)
    if stale is None:
        return link_error(request, exc, _MANAGE_TITLE)
    return _link_page(request, stale, notice=str(exc), status_code=400)


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
    prefill = _prefill_alert(alert, mode)
    return _by_token(
        request,
        token,
        lambda sub: _manage_page(request, sub, token, notice=notice, alert_form=prefill),
    )


def _save(
    request: Request,
    subscription: Subscription,
    token: str | None,
    fields: ChoiceFields,
    done: str,
) -> Response:
    try:
        choices = fields.choices()
    except InvalidChoices as exc:
        return _manage_page(
            request, subscription, token, form=fields.form(), errors=exc.errors, status_code=400
        )
    service_of(request).change(subscription.id, choices)
    return see_other(done + "saved")


def _add_alert(
    request: Request,
    subscription: Subscription,
    token: str | None,
    query: str,
    mode: str,
    done: str,
) -> Response:
    try:
        service_of(request).add_alert(subscription.id, query, mode)
    except ValueError as exc:
        return _manage_page(
            request,
            subscription,
            token,
            errors={"alert": str(exc)},
            alert_form={"alert": query, "mode": mode},
            status_code=400,
        )
    return see_other(done + "alert-added")


@router.post("/subscription", include_in_schema=False)
def manage_save(
    request: Request,
    token: str = "",
    frequency: FormText = "daily",
    categories: FormText = "",
    min_upvotes: FormText = "0",
    trending: FormText = "",
) -> Response:
    done = f"/subscription?token={quote_token(token)}&notice="
    fields = ChoiceFields(frequency, categories, min_upvotes, trending)
    return _by_token(request, token, lambda sub: _save(request, sub, token, fields, done))


@router.post("/subscription/alerts", include_in_schema=False)
def manage_add_alert(
    request: Request, token: str = "", query: FormText = "", mode: FormText = "hybrid"
) -> Response:
    done = f"/subscription?token={quote_token(token)}&notice="
    return _by_token(request, token, lambda sub: _add_alert(request, sub, token, query, mode, done))


@router.post("/subscription/alerts/{alert_id}/delete", include_in_schema=False)
def manage_delete_alert(
    request: Request, alert_id: Annotated[Id, Path()], token: str = ""
) -> Response:
    def delete(subscription: Subscription) -> Response:
        service_of(request).store.subscriptions.delete_alert(subscription.id, alert_id)
        return see_other(f"/subscription?token={quote_token(token)}&notice=alert-deleted")

    return _by_token(request, token, delete)


@router.post("/subscription/resume", include_in_schema=False)
def manage_resume(request: Request, token: str = "") -> Response:
    def resume(subscription: Subscription) -> Response:
        service_of(request).resume(subscription.id)
        return see_other(f"/subscription?token={quote_token(token)}&notice=resumed")

    return _by_token(request, token, resume)


def _own_subscription(request: Request, user: User) -> Subscription | None:
    """The user's subscription, linked to the account on first use."""
    service = service_of(request)
    subscription = service.subscription_of(user)
    if subscription is not None and subscription.user_id is None:
        service.store.subscriptions.update(subscription.id, user_id=user.id)
    return subscription


@router.get("/settings/digest", include_in_schema=False)
def settings_digest(request: Request, notice: str = "") -> Response:
    user = require_user(request)
    subscription = service_of(request).subscription_of(user)
    if subscription is None:
        form = {**choice_form(Choices()), "email": user.email, "alert": "", "alert_mode": ""}
        return subscribe_page(request, form=form)
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
    fields = ChoiceFields(frequency, categories, min_upvotes, trending)
    subscription = _account_subscription(request)
    return _save(request, subscription, None, fields, "/settings/digest?notice=")


@router.post("/settings/digest/alerts", include_in_schema=False)
def settings_digest_add_alert(
    request: Request, query: FormText = "", mode: FormText = "hybrid"
) -> Response:
    subscription = _account_subscription(request)
    return _add_alert(request, subscription, None, query, mode, "/settings/digest?notice=")


@router.post("/settings/digest/alerts/{alert_id}/delete", include_in_schema=False)
def settings_digest_delete_alert(request: Request, alert_id: Annotated[Id, Path()]) -> Response:
    subscription = _account_subscription(request)
    service_of(request).store.subscriptions.delete_alert(subscription.id, alert_id)
    return see_other("/settings/digest?notice=alert-deleted")


@router.post("/settings/digest/resume", include_in_schema=False)
def settings_digest_resume(request: Request) -> Response:
    subscription = _account_subscription(request)
    service_of(request).resume(subscription.id)
    return see_other("/settings/digest?notice=resumed")
