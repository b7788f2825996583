"""Signed links in digests: unsubscribe, manage the subscription, confirm a subscription.

The web app signs with ``app.state.secret``; outside it (CLI, scheduler) the same secret is
``settings.secret_key`` when set, else the site secret ``signing-key`` kept in the database.
:func:`paperboy.community.accounts.site_secret` resolves it, so the links a digest carries
are the ones the web pages accept. Tokens carry only the subscription id (``{"s": id}``), one
salt per purpose.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paperboy.community.accounts import AccountError, Signer
from paperboy.community.mailer import link

if TYPE_CHECKING:
    from paperboy.settings import Settings

UNSUBSCRIBE = "unsubscribe"
MANAGE = "subscription-manage"
CONFIRM = "subscribe-confirm"


def token(secret: str, purpose: str, subscription_id: int) -> str:
    """A signed token for ``purpose`` naming subscription ``subscription_id``."""
    return Signer(secret).dumps(purpose, {"s": int(subscription_id)})


def subscription_id_from(secret: str, purpose: str, token: str, max_age: int | None) -> int:
    """The subscription id a token names; raises AccountError when bad, forged or expired."""
    payload = Signer(secret).loads(purpose, token, max_age)
    if not isinstance(payload, dict) or not isinstance(payload.get("s"), int):
        raise AccountError("This link is not valid (it may be incomplete).")
    return int(payload["s"])


def _url(settings: Settings, path: str, secret: str, purpose: str, subscription_id: int) -> str:
    return link(settings, path, token(secret, purpose, subscription_id))


def unsubscribe_url(settings: Settings, secret: str, subscription_id: int) -> str:
    """``{base_url}/unsubscribe?token=...`` (one-click target; the token never expires)."""
    return _url(settings, "/unsubscribe", secret, UNSUBSCRIBE, subscription_id)


def manage_url(settings: Settings, secret: str, subscription_id: int) -> str:
    """``{base_url}/subscription?token=...``: change frequency, categories, alerts."""
    return _url(settings, "/subscription", secret, MANAGE, subscription_id)


def confirm_url(settings: Settings, secret: str, subscription_id: int) -> str:
    """``{base_url}/subscribe/confirm?token=...``: the double opt-in link."""
    return _url(settings, "/subscribe/confirm", secret, CONFIRM, subscription_id)
