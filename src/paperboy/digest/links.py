"""Signed links in subscription mails: unsubscribe, manage the subscription, confirm it.

The web app signs with ``app.state.secret``; outside it (CLI, scheduler) the same secret is
``settings.secret_key`` when set, else the site secret ``signing-key`` kept in the database.
:func:`paperboy.community.accounts.site_secret` resolves it, so the links a digest carries
are the ones the web pages accept. Tokens carry only the subscription id (``{"s": id}``) and
the time they were signed, one salt per purpose:

* :data:`UNSUBSCRIBE`: in every mail (``List-Unsubscribe`` and the footer); never expires and
  only unsubscribes (and identifies the subscription on the page that mails a manage link).
* :data:`MANAGE`: the link to change a subscription without logging in. It is only ever
  mailed to the subscription's address when someone asks (``/subscription/link``) or on the
  page a confirmation link opens, and works for ``settings.manage_link_hours``.
* :data:`LEGACY_MANAGE`: the never-expiring manage links older digests carried. They no longer
  open the manage page; they only lead to the page that mails a fresh link.
* :data:`CONFIRM`: the double opt-in link (its age limit is the subscription service's).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paperboy.community.accounts import AccountError, Signer
from paperboy.community.mailer import link

if TYPE_CHECKING:
    from paperboy.settings import Settings

UNSUBSCRIBE = "unsubscribe"
MANAGE = "subscription-manage-mailed"
LEGACY_MANAGE = "subscription-manage"
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


def manage_max_age(settings: Settings) -> int:
    """Seconds a mailed manage link works (``settings.manage_link_hours``)."""
    return int(settings.manage_link_hours) * 3600


def _url(settings: Settings, path: str, secret: str, purpose: str, subscription_id: int) -> str:
    return link(settings, path, token(secret, purpose, subscription_id))


def unsubscribe_url(settings: Settings, secret: str, subscription_id: int) -> str:
    """``{base_url}/unsubscribe?token=...`` (one-click target; the token never expires)."""
    return _url(settings, "/unsubscribe", secret, UNSUBSCRIBE, subscription_id)


def manage_url(settings: Settings, secret: str, subscription_id: int) -> str:
    """``{base_url}/subscription?token=...``: change frequency, categories, alerts; works for
    ``settings.manage_link_hours``. Only for mails to the subscription's address."""
    return _url(settings, "/subscription", secret, MANAGE, subscription_id)


def manage_request_url(settings: Settings, secret: str, subscription_id: int) -> str:
    """``{base_url}/subscription/link?token=...`` (the unsubscribe token): the page that mails
    a fresh manage link to the subscription's address. What digests link to."""
    return _url(settings, "/subscription/link", secret, UNSUBSCRIBE, subscription_id)


def confirm_url(settings: Settings, secret: str, subscription_id: int) -> str:
    """``{base_url}/subscribe/confirm?token=...``: the double opt-in link."""
    return _url(settings, "/subscribe/confirm", secret, CONFIRM, subscription_id)
