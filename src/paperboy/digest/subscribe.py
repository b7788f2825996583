"""Subscribing to the email digest: double opt-in, confirming, unsubscribing, saved-search alerts.

The rules, whoever asks (a web form, the JSON API):

* Anyone may ask for digests at any address; the subscription stays ``pending`` and gets no
  digest until the confirmation link mailed to that address is opened (double opt-in). The
  link is signed (purpose ``subscribe-confirm``) and works for :data:`CONFIRM_MAX_AGE`.
* A signed-in user whose verified address is the one asked for has already proven they own it:
  the subscription is active at once, linked to the account, and no mail is sent.
* Asking again for an address that is already active (or paused) changes NOTHING without proof
  of ownership: a mail with the signed link to the manage page goes out instead. A pending or
  unsubscribed address takes the new choices and gets a new confirmation mail.
* Confirmation and manage mails count against ``settings.rate_mail`` per address and per client
  IP, so the form cannot be used to flood a mailbox. Callers show the same answer whether the
  address was known or not.
* A saved search (alert) asked for with a new or pending subscription is stored with it right
  away; it only mails once the subscription is active.

Every mail carries ``List-Unsubscribe`` (RFC 2369) with the one-click
``List-Unsubscribe-Post`` (RFC 8058), pointing at the never-expiring signed unsubscribe link.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Literal
from urllib.parse import quote, urlencode

from markupsafe import Markup, escape

from paperboy.community import limits
from paperboy.community.accounts import AccountError, normalise_email, site_secret
from paperboy.community.models import User
from paperboy.digest import links
from paperboy.digest.models import FREQUENCIES, Alert, Subscription
from paperboy.mail import MailError, SmtpConfig, compose, send
from paperboy.search.service import MODES
from paperboy.settings import Settings
from paperboy.store import SQLStore

log = logging.getLogger(__name__)

CONFIRM_MAX_AGE = 7 * 86400
"""Seconds a confirmation link works."""
MANAGE_MAX_AGE: int | None = None
"""Manage links (in every digest) never expire, like unsubscribe links: whoever holds one could
unsubscribe the address anyway, and an old digest must still lead to its settings."""
UNSUBSCRIBE_MAX_AGE: int | None = None

MAX_CATEGORIES = 20
MAX_UPVOTES = 10_000
MAX_ALERT_CHARS = 300
MAX_ALERTS = 50
CATEGORY = re.compile(r"^[a-z][a-z-]{0,19}(\.[A-Za-z][A-Za-z-]{0,19})?$")
"""An arXiv category or archive prefix: ``cs``, ``cs.CL``, ``astro-ph.GA``,
``cond-mat.mes-hall``."""

FREQUENCY_LABELS = {
    "daily": "daily, on weekdays",
    "weekly": "weekly",
    "off": "off (no digests for now)",
}

Action = Literal["confirm", "manage", "subscribed"]


class InvalidChoices(ValueError):
    """Subscription choices that do not make sense; ``errors`` maps each field to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class Choices:
    """What a subscriber gets: how often, which categories (prefixes; none: all), the fewest
    upvotes a trending paper needs, and whether trending papers are included at all."""

    frequency: str = "daily"
    categories: tuple[str, ...] = ()
    min_upvotes: int = 0
    include_trending: bool = True

    @classmethod
    def of(cls, subscription: Subscription) -> Choices:
        return cls(
            subscription.frequency,
            tuple(subscription.categories),
            subscription.min_upvotes,
            subscription.include_trending,
        )

    def describe(self) -> list[str]:
        """The choices in words, one line each (for mails and pages)."""
        return [
            f"Frequency: {FREQUENCY_LABELS.get(self.frequency, self.frequency)}",
            "Categories: " + (", ".join(self.categories) if self.categories else "all"),
            "Trending papers: "
            + (
                f"yes, with at least {self.min_upvotes} upvote"
                f"{'' if self.min_upvotes == 1 else 's'}"
                if self.include_trending
                else "no (only your alerts)"
            ),
        ]


def _category(text: str) -> str:
    """``cs.cl`` -> ``cs.CL``: arXiv's two-letter subject classes are upper case, the longer
    ones (``physics.optics``, ``cond-mat.mes-hall``) lower case; the archive is lower case."""
    archive, dot, subject = text.partition(".")
    archive = archive.lower()
    if not dot:
        return archive
    return f"{archive}.{subject.upper() if len(subject) == 2 else subject.lower()}"


def parse_categories(text: str | Iterable[str]) -> tuple[str, ...]:
    """Category prefixes from a comma- or space-separated list (duplicates dropped, order
    kept); raises ValueError naming the first one that is not a category."""
    items = re.split(r"[\s,;]+", text) if isinstance(text, str) else list(text)
    found: list[str] = []
    for item in items:
        item = item.strip()
        if not item:
            continue
        if not CATEGORY.match(item) or item.endswith("-") or "--" in item:
            shown = item if len(item) <= 40 else item[:40] + "…"
            raise ValueError(
                f"“{shown}” is not an arXiv category: use prefixes such as cs.CL, stat or "
                "astro-ph, separated by commas or spaces."
            )
        found.append(_category(item))
    unique = tuple(dict.fromkeys(found))
    if len(unique) > MAX_CATEGORIES:
        raise ValueError(f"Choose at most {MAX_CATEGORIES} categories.")
    return unique


def parse_choices(
    frequency: str = "daily",
    categories: str | Iterable[str] = "",
    min_upvotes: str | int = 0,
    include_trending: bool = True,
) -> Choices:
    """Choices from form or JSON values; raises :class:`InvalidChoices` with every field that
    is wrong."""
    errors: dict[str, str] = {}
    frequency = (frequency or "").strip().lower()
    if frequency not in FREQUENCIES:
        errors["frequency"] = "Choose how often: " + ", ".join(FREQUENCIES) + "."
    try:
        parsed_categories = parse_categories(categories)
    except ValueError as exc:
        errors["categories"] = str(exc)
        parsed_categories = ()
    upvotes = 0
    try:
        upvotes = int(str(min_upvotes).strip() or "0")
    except ValueError:
        errors["min_upvotes"] = "The minimum upvotes is a whole number, e.g. 0 or 5."
    else:
        if not 0 <= upvotes <= MAX_UPVOTES:
            errors["min_upvotes"] = f"The minimum upvotes is between 0 and {MAX_UPVOTES}."
    if errors:
        raise InvalidChoices(errors)
    return Choices(frequency, parsed_categories, upvotes, bool(include_trending))


def check_alert(query: str, mode: str = "hybrid") -> tuple[str, str]:
    """A saved search's query (whitespace collapsed) and ranking mode; raises ValueError."""
    text = " ".join((query or "").split())
    if not text:
        raise ValueError("Type a search to save as an alert.")
    if len(text) > MAX_ALERT_CHARS:
        raise ValueError(f"An alert's search has at most {MAX_ALERT_CHARS} characters.")
    if any(ord(c) < 32 for c in text):
        raise ValueError("An alert's search cannot hold control characters.")
    chosen = mode if mode in MODES else "hybrid"
    return text, chosen


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

    def manage_token(self, subscription_id: int) -> str:
        return links.token(self.secret, links.MANAGE, subscription_id)

    def unsubscribe_token(self, subscription_id: int) -> str:
        return links.token(self.secret, links.UNSUBSCRIBE, subscription_id)

    # -- subscribing ---------------------------------------------------------------------------

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
        address = normalise_email(email)
        if alert is not None:
            alert = check_alert(*alert)
        subs = self.store.subscriptions
        if self.owns(user, address):
            assert user is not None
            return self._subscribe_owner(address, choices, user, alert)

        rate = self.settings.rate_mail
        if client_ip:
            limits.check(
                self.store.accounts,
                f"mail:subscribe:ip:{client_ip}",
                rate,
                "confirmation mails from your network address",
            )
        limits.check(
            self.store.accounts,
            f"mail:subscribe:{address}",
            rate,
            "confirmation mails to this address",
        )
        subscription, created = subs.create(
            address,
            frequency=choices.frequency,
            categories=choices.categories,
            min_upvotes=choices.min_upvotes,
            include_trending=choices.include_trending,
        )
        if not created and subscription.status in ("active", "paused"):
            # No proof of ownership: change nothing, mail the owner their manage link.
            mailed = self._deliver(self.manage_message(subscription, alert))
            return Outcome(subscription, "manage", mailed)
        if not created:  # pending or unsubscribed: the new choices wait for the new link
            subs.update(
                subscription.id,
                frequency=choices.frequency,
                categories=choices.categories,
                min_upvotes=choices.min_upvotes,
                include_trending=choices.include_trending,
            )
            subscription = subs.get(subscription.id) or subscription
        saved = self._add_alert(subscription.id, alert) if alert is not None else None
        mailed = self._deliver(self.confirmation_message(subscription, saved))
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
            frequency=choices.frequency,
            categories=choices.categories,
            min_upvotes=choices.min_upvotes,
            include_trending=choices.include_trending,
            confirmed=True,
        )
        notes: list[str] = []
        if not created:
            subs.update(
                subscription.id,
                user_id=user.id,
                frequency=choices.frequency,
                categories=choices.categories,
                min_upvotes=choices.min_upvotes,
                include_trending=choices.include_trending,
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
        self.store.subscriptions.update(
            subscription_id,
            frequency=choices.frequency,
            categories=choices.categories,
            min_upvotes=choices.min_upvotes,
            include_trending=choices.include_trending,
        )
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
        try:
            send(SmtpConfig.from_settings(self.settings), message)
        except MailError as exc:
            log.warning("subscription mail not sent: %s", exc)
            return False
        return True

    def _list_headers(self, subscription: Subscription) -> dict[str, str]:
        unsubscribe = links.unsubscribe_url(self.settings, self.secret, subscription.id)
        return {
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
        }

    def _mail(
        self,
        subscription: Subscription,
        subject: str,
        before: list[str],
        url: str,
        action: str,
        after: list[str],
    ) -> EmailMessage:
        """A short mail: paragraphs, the link as a button (and as text), more paragraphs."""
        site = str(self.settings.site_name)
        base = self.settings.site_url
        unsubscribe = links.unsubscribe_url(self.settings, self.secret, subscription.id)
        text = "\n\n".join(
            [
                "Hello,",
                *before,
                f"{action}:\n{url}",
                *after,
                f"-- {site}\n{base}/",
                f"Never want mail from us at this address? Unsubscribe:\n{unsubscribe}\n",
            ]
        )
        para = 'style="margin: 0 0 16px"'

        def html_paragraph(text: str) -> str:
            return f"<p {para}>{escape(text).replace(chr(10), Markup('<br>'))}</p>"

        html = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(subject)}</title></head>"
            '<body style="margin: 0; padding: 0; background: #f6f7f9">'
            '<div style="max-width: 560px; margin: 0 auto; padding: 24px 16px; '
            "font-family: -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif; "
            'font-size: 16px; line-height: 1.5; color: #1d2127; background: #ffffff">'
            f"<p {para}>Hello,</p>"
            + "".join(html_paragraph(p) for p in before)
            + f'<p {para}><a href="{escape(url)}" style="display: inline-block; '
            "padding: 10px 18px; background: #2457c5; color: #ffffff; border-radius: 6px; "
            f'text-decoration: none; font-weight: 600">{escape(action)}</a></p>'
            f'<p style="margin: 0 0 16px; color: #5f6670; font-size: 14px; '
            f'word-break: break-all">Or copy this address into your browser:<br>{escape(url)}</p>'
            + "".join(html_paragraph(p) for p in after)
            + f'<p style="margin: 24px 0 0; color: #5f6670; font-size: 14px">&mdash; '
            f'<a href="{escape(base)}/" style="color: #5f6670">{escape(site)}</a> · '
            f'<a href="{escape(unsubscribe)}" style="color: #5f6670">Unsubscribe</a></p>'
            "</div></body></html>"
        )
        return compose(
            sender=SmtpConfig.from_settings(self.settings).sender,
            to=subscription.email,
            subject=subject,
            text=text,
            html=html,
            headers=self._list_headers(subscription),
            domain=self.settings.site_host,
        )

    def confirmation_message(
        self, subscription: Subscription, alert: Alert | None = None
    ) -> EmailMessage:
        """The double opt-in mail: what was asked for, and the confirmation link."""
        site = str(self.settings.site_name)
        choices = "\n".join(Choices.of(subscription).describe())
        before = [
            f"Someone (hopefully you) asked for {site}'s trending papers at this address. "
            "Nothing will be sent until you confirm.",
            f"You chose:\n{choices}",
        ]
        if alert is not None:
            before.append(f"Saved search (alert): {alert.query}")
        days = CONFIRM_MAX_AGE // 86400
        return self._mail(
            subscription,
            f"Confirm your subscription to {site}",
            before,
            links.confirm_url(self.settings, self.secret, subscription.id),
            "Confirm my subscription",
            [
                f"The link works for {days} days. If you did not ask for this, ignore this "
                "mail: you will get nothing more from us.",
            ],
        )

    def manage_message(
        self, subscription: Subscription, alert: tuple[str, str] | None = None
    ) -> EmailMessage:
        """For an address that is already subscribed: its manage link, nothing changed."""
        site = str(self.settings.site_name)
        url = links.manage_url(self.settings, self.secret, subscription.id)
        before = [
            f"Someone (hopefully you) asked to subscribe this address to {site}'s trending "
            "papers. It is subscribed already, so nothing has changed.",
        ]
        if subscription.status == "paused":
            before.append(
                "Digests to this address are paused after failed deliveries; you can resume "
                "them on the page below."
            )
        if alert is not None:
            query, mode = alert
            url += "&" + urlencode({"alert": query, "mode": mode}, quote_via=quote)
            before.append(f"To add the saved search “{query}”, open the page below and add it.")
        return self._mail(
            subscription,
            f"Your subscription to {site}",
            before,
            url,
            "Change my subscription",
            [
                "There you can change how often you get mail, the categories, the minimum "
                "upvotes and your alerts, or unsubscribe. If you did not ask, ignore this mail.",
            ],
        )
