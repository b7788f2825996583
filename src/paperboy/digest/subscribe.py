"""Subscribing to the email digest: double opt-in, confirming, unsubscribing, managing without
an account, saved-search alerts.

The rules, whoever asks (a web form, the JSON API):

* Anyone may ask for digests at any address; the subscription stays ``pending`` and gets no
  digest until the confirmation link mailed to that address is opened (double opt-in). The
  link is signed (purpose ``subscribe-confirm``) and works for :data:`CONFIRM_MAX_AGE`.
* Addresses go through :func:`paperboy.community.addresses.normalise_address`: a non-ASCII
  local part is refused with a clear message, a domain is kept in its ASCII (IDNA) form.
* A signed-in user whose verified address is the one asked for has already proven they own it:
  the subscription is active at once, linked to the account, and no mail is sent.
* Asking again for an address that is already active (or paused) changes NOTHING without proof
  of ownership: a mail with a fresh manage link goes out instead. A pending or unsubscribed
  address takes the new choices and gets a new confirmation mail.
* The unsubscribe link (in every mail, never expires) only unsubscribes. Changing a
  subscription without logging in takes a manage link, which is only ever mailed to the
  subscription's address, when someone asks for it (:meth:`SubscriptionService.request_manage_link`,
  by address or with the unsubscribe token) or on the page a confirmation link opens; it works
  for ``settings.manage_link_hours``. The never-expiring manage links of older digests
  (:data:`paperboy.digest.links.LEGACY_MANAGE`) no longer manage anything.
* Confirmation and manage mails count against ``settings.rate_mail`` per recipient (one count
  for both) and per client IP, so the forms cannot be used to flood a mailbox. Callers show
  the same answer whether the address was known or not.
* A saved search (alert) asked for with a new or pending subscription is stored with it right
  away; it only mails once the subscription is active.

Every mail carries ``List-Unsubscribe`` (RFC 2369) with the one-click
``List-Unsubscribe-Post`` (RFC 8058), pointing at the never-expiring signed unsubscribe link.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Literal

from paperboy.community import limits
from paperboy.community.accounts import AccountError, site_secret
from paperboy.community.addresses import legacy_form, normalise_address
from paperboy.community.models import User
from paperboy.digest import links
from paperboy.digest.choices import (
    CATEGORY,
    FREQUENCY_LABELS,
    MAX_ALERT_CHARS,
    MAX_ALERTS,
    MAX_CATEGORIES,
    MAX_UPVOTES,
    Choices,
    InvalidChoices,
    check_alert,
    parse_categories,
    parse_choices,
)
from paperboy.digest.subscribe_mail import CONFIRM_MAX_AGE, SubscriptionMails
from paperboy.mail import MailError, SmtpConfig, send
from paperboy.models import Alert, Subscription
from paperboy.settings import Settings
from paperboy.store import SQLStore

__all__ = [
    "CATEGORY",
    "CONFIRM_MAX_AGE",
    "FREQUENCY_LABELS",
    "MAX_ALERTS",
    "MAX_ALERT_CHARS",
    "MAX_CATEGORIES",
    "MAX_UPVOTES",
    "UNSUBSCRIBE_MAX_AGE",
    "Choices",
    "InvalidChoices",
    "LinkRequest",
    "Outcome",
    "SubscriptionService",
    "check_alert",
    "parse_categories",
    "parse_choices",
]

log = logging.getLogger(__name__)

UNSUBSCRIBE_MAX_AGE: int | None = None
"""Unsubscribe links never expire: a mail read years later must still unsubscribe."""

Action = Literal["confirm", "manage", "subscribed"]


@dataclass(frozen=True, slots=True)
class LinkRequest:
    """What :meth:`SubscriptionService.request_manage_link` did: the address (normalised) it
    was for, whether the mail was handed to the SMTP server (True too when the address is not
    subscribed: callers must answer the same), and whether it was subscribed (``known``:
    never to be shown to the person asking)."""

    address: str
    mailed: bool
    known: bool


@dataclass(frozen=True, slots=True)
class Outcome:
    """What :meth:`SubscriptionService.subscribe` did. ``action``: ``confirm`` (a confirmation
    mail went out), ``manage`` (the address was already subscribed: its manage link went out)
    or ``subscribed`` (a signed-in owner: active at once, no mail). ``mailed``: False when the
    SMTP server did not take the mail."""

    subscription: Subscription
    action: Action
    mailed: bool = True
    alert: Alert | None = None
    notes: tuple[str, ...] = field(default=())


class SubscriptionService:
    """Subscribing, confirming, managing and unsubscribing, for the web app and scripts."""

    def __init__(self, settings: Settings, store: SQLStore, secret: str | None = None) -> None:
        self.settings = settings
        self.store = store
        self.secret = secret if secret is not None else site_secret(settings, store)
        self.mails = SubscriptionMails(settings, self.secret)

    # -- tokens --------------------------------------------------------------------------------

    def from_token(self, purpose: str, token: str, max_age: int | None) -> Subscription:
        """The subscription a signed link names; AccountError when the link is bad, expired, or
        its subscription is gone."""
        if not token:
            raise AccountError("This link is incomplete: it has no token.")
        subscription_id = links.subscription_id_from(self.secret, purpose, token, max_age)
        found = self.store.subscriptions.get(subscription_id)
        if found is None:
            raise AccountError("This link is for a subscription that no longer exists.")
        return found

    @property
    def manage_max_age(self) -> int:
        """Seconds a mailed manage link works."""
        return links.manage_max_age(self.settings)

    def manage_token(self, subscription_id: int) -> str:
        """A fresh manage token; only for pages and mails that reach the address's owner."""
        return links.token(self.secret, links.MANAGE, subscription_id)

    def from_manage_token(self, token: str) -> Subscription:
        """The subscription a mailed manage link names; AccountError when it is bad, expired
        (after ``settings.manage_link_hours``), of another purpose or its subscription gone."""
        try:
            return self.from_token(links.MANAGE, token, self.manage_max_age)
        except AccountError as exc:
            if self.stale_manage_link(token) is not None:
                hours = self.settings.manage_link_hours
                raise AccountError(
                    "This link to your subscription has expired (they work for "
                    f"{hours} hour{'' if hours == 1 else 's'}): ask for a new one."
                ) from exc
            raise

    def stale_manage_link(self, token: str) -> Subscription | None:
        """The subscription of a genuine manage link that no longer manages: expired, or one of
        the never-expiring links older digests carried. None for anything else."""
        for purpose in (links.MANAGE, links.LEGACY_MANAGE):
            try:
                return self.from_token(purpose, token, None)
            except AccountError:
                continue
        return None

    def unsubscribe_token(self, subscription_id: int) -> str:
        return links.token(self.secret, links.UNSUBSCRIBE, subscription_id)

    # -- subscribing ---------------------------------------------------------------------------

    def _stored_form(self, address: str) -> str:
        """``address`` as its subscription is stored: the normal form, or the form versions
        before the ASCII rule kept (a Unicode domain) when only that one is subscribed."""
        subs = self.store.subscriptions
        old = legacy_form(address)
        if old is not None and subs.by_email(address) is None and subs.by_email(old) is not None:
            return old
        return address

    def _count_mail(self, address: str, client_ip: str | None, what: str) -> None:
        """Count one subscription mail to ``address`` (and from ``client_ip``) against
        ``settings.rate_mail``; raises ``limits.RateLimited``. Confirmation and manage-link
        mails share the count per recipient."""
        rate = self.settings.rate_mail
        if client_ip:
            limits.check(
                self.store.accounts,
                f"mail:subscribe:ip:{client_ip}",
                rate,
                f"{what} from your network address",
            )
        limits.check(
            self.store.accounts, f"mail:subscribe:{address}", rate, f"{what} to this address"
        )

    def owns(self, user: User | None, address: str) -> bool:
        """Has ``user`` proven they own ``address`` (a verified account address)?"""
        return (
            user is not None
            and user.email_verified
            and not user.hidden
            and user.email.lower() == address
        )

    def subscribe(
        self,
        email: str,
        choices: Choices,
        user: User | None = None,
        *,
        client_ip: str | None = None,
        alert: tuple[str, str] | None = None,
    ) -> Outcome:
        """Subscribe ``email`` with ``choices`` (see the module docstring for the rules).
        ``alert``: a (query, mode) to save with it, checked with :func:`check_alert`. Raises
        AccountError for a malformed address, ``limits.RateLimited`` when too many mails went
        to the address or from the client."""
        address = self._stored_form(normalise_address(email))
        if alert is not None:
            alert = check_alert(*alert)
        subs = self.store.subscriptions
        if self.owns(user, address):
            assert user is not None
            return self._subscribe_owner(address, choices, user, alert)

        self._count_mail(address, client_ip, "confirmation mails")
        subscription, created = subs.create(address, **choices.columns())
        if not created and subscription.status in ("active", "paused"):
            # No proof of ownership: change nothing, mail the owner their manage link.
            mailed = self._deliver(self.mails.manage(subscription, "subscribe", alert))
            return Outcome(subscription, "manage", mailed)
        if not created:  # pending or unsubscribed: the new choices wait for the new link
            subs.update(subscription.id, **choices.columns())
            subscription = subs.get(subscription.id) or subscription
        saved = self._add_alert(subscription.id, alert) if alert is not None else None
        mailed = self._deliver(self.mails.confirmation(subscription, saved))
        self.store.activity.record(
            user.id if user else None,
            "subscribe",
            "subscription",
            str(subscription.id),
            {"created": created},
        )
        return Outcome(subscription, "confirm", mailed, saved)

    def _subscribe_owner(
        self, address: str, choices: Choices, user: User, alert: tuple[str, str] | None
    ) -> Outcome:
        subs = self.store.subscriptions
        subscription, created = subs.create(
            address,
            user_id=user.id,
            **choices.columns(),
            confirmed=True,
        )
        notes: list[str] = []
        if not created:
            subs.update(
                subscription.id,
                user_id=user.id,
                **choices.columns(),
            )
            if subscription.status == "paused":
                notes.append(
                    "Digests to this address were paused after failed deliveries; they start "
                    "again now."
                )
                subs.resume(subscription.id)
            else:
                subs.confirm(subscription.id)
            subscription = subs.get(subscription.id) or subscription
        saved = self._add_alert(subscription.id, alert) if alert is not None else None
        self.store.activity.record(
            user.id, "subscribe", "subscription", str(subscription.id), {"owner": True}
        )
        return Outcome(subscription, "subscribed", False, saved, tuple(notes))

    def _add_alert(self, subscription_id: int, alert: tuple[str, str]) -> Alert:
        query, mode = alert
        existing = self.store.subscriptions.alerts_of(subscription_id)
        if len(existing) >= MAX_ALERTS and all(a.query != query for a in existing):
            raise ValueError(f"A subscription has at most {MAX_ALERTS} alerts: delete one first.")
        return self.store.subscriptions.add_alert(subscription_id, query, mode)

    def add_alert(self, subscription_id: int, query: str, mode: str = "hybrid") -> Alert:
        """Save a search for a subscription whose owner is proven (a manage link or the
        account); raises ValueError for an empty, too long or one-too-many alert."""
        return self._add_alert(subscription_id, check_alert(query, mode))

    def alert_for_user(self, user: User, query: str, mode: str = "hybrid") -> Outcome:
        """Save a search for a signed-in user with a verified address: added to their
        subscription, which is created (active) if missing or activated if pending or
        unsubscribed. Raises ValueError for a bad query, AccountError for an unverified user."""
        if not user.email_verified or user.hidden:
            raise AccountError("Confirm your email address first.", "email")
        alert = check_alert(query, mode)
        subs = self.store.subscriptions
        subscription = self.subscription_of(user)
        notes: list[str] = []
        if subscription is None:
            subscription, _ = subs.create(user.email.lower(), user_id=user.id, confirmed=True)
            notes.append("You are now subscribed to the email digest.")
        else:
            if subscription.user_id is None:
                subs.update(subscription.id, user_id=user.id)
            if subscription.status in ("pending", "unsubscribed"):
                subs.confirm(subscription.id)
                notes.append("Your email digest subscription is active again.")
            elif subscription.status == "paused":
                notes.append(
                    "Digests to your address are paused after failed deliveries: resume them "
                    "below to get this alert."
                )
        saved = self._add_alert(subscription.id, alert)
        subscription = subs.get(subscription.id) or subscription
        if subscription.frequency == "off":
            notes.append("Your digest frequency is off: choose daily or weekly to get alerts.")
        return Outcome(subscription, "subscribed", False, saved, tuple(notes))

    def subscription_of(self, user: User) -> Subscription | None:
        """The subscription linked to ``user``, else (verified users) the one of their address."""
        found = self.store.subscriptions.for_user(user.id)
        if found is None and user.email_verified:
            found = self.store.subscriptions.by_email(user.email.lower())
        return found

    def request_manage_link(
        self,
        *,
        email: str | None = None,
        token: str | None = None,
        client_ip: str | None = None,
    ) -> LinkRequest:
        """Mail a fresh manage link to a subscription's own address, named by ``email`` (the
        answer is the same whether it is subscribed or not) or by an unsubscribe ``token``.
        Counts against ``settings.rate_mail`` per recipient and per client like subscribing;
        raises AccountError for a bad address or token, ``limits.RateLimited``."""
        subscription: Subscription | None = None
        if token is not None:
            subscription = self.from_token(links.UNSUBSCRIBE, token, UNSUBSCRIBE_MAX_AGE)
            address = subscription.email
        else:
            address = self._stored_form(normalise_address(email or ""))
        self._count_mail(address, client_ip, "mails with a link to a subscription")
        if subscription is None:
            subscription = self.store.subscriptions.by_email(address)
        if subscription is None:
            return LinkRequest(address, mailed=True, known=False)
        mailed = self._deliver(self.mails.manage(subscription, "link"))
        if mailed:
            self.store.activity.record(
                None, "subscription-link", "subscription", str(subscription.id)
            )
        return LinkRequest(address, mailed=mailed, known=True)

    # -- confirming, changing, unsubscribing ---------------------------------------------------

    def confirm(self, token: str) -> tuple[Subscription, bool]:
        """Activate the subscription a confirmation link names (again: nothing changes). Also
        links it to the account with that verified address, if any. Returns (it, changed)."""
        subscription = self.from_token(links.CONFIRM, token, CONFIRM_MAX_AGE)
        changed = self.store.subscriptions.confirm(subscription.id)
        if subscription.user_id is None:
            owner = self.store.accounts.user_by_email(subscription.email)
            if owner is not None and owner.email_verified:
                self.store.subscriptions.update(subscription.id, user_id=owner.id)
        if changed:
            self.store.activity.record(
                None, "subscribe-confirm", "subscription", str(subscription.id)
            )
        return self.store.subscriptions.get(subscription.id) or subscription, changed

    def change(self, subscription_id: int, choices: Choices) -> Subscription:
        """Store new choices for a subscription whose owner is proven."""
        self.store.subscriptions.update(subscription_id, **choices.columns())
        found = self.store.subscriptions.get(subscription_id)
        assert found is not None
        return found

    def resume(self, subscription_id: int) -> Subscription:
        """Active again after an unsubscribe or a pause (the owner is proven)."""
        subs = self.store.subscriptions
        if not subs.resume(subscription_id):
            subs.confirm(subscription_id)
        found = subs.get(subscription_id)
        assert found is not None
        return found

    def unsubscribe(self, token: str) -> tuple[Subscription, bool]:
        """Unsubscribe the subscription an unsubscribe link names; repeating is harmless.
        Returns (it, changed)."""
        subscription = self.from_token(links.UNSUBSCRIBE, token, UNSUBSCRIBE_MAX_AGE)
        changed = self.store.subscriptions.unsubscribe(subscription.id)
        if changed:
            self.store.activity.record(None, "unsubscribe", "subscription", str(subscription.id))
        return self.store.subscriptions.get(subscription.id) or subscription, changed

    # -- mails ---------------------------------------------------------------------------------

    def _deliver(self, message: EmailMessage) -> bool:
        """Send a subscription mail; False (logged) when it could not be sent, whatever the
        reason: the server refused it, or the address cannot be mailed (``UnsendableAddress``)."""
        try:
            send(SmtpConfig.from_settings(self.settings), message)
        except MailError as exc:
            log.warning("subscription mail not sent: %s", exc)
            return False
        return True
