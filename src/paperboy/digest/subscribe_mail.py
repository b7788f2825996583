"""The short mails of subscribing: the double opt-in confirmation and the manage link.

Both go only to the subscription's own address, carry ``List-Unsubscribe`` (RFC 2369, written
as the literal ``<https://...>``: see :class:`paperboy.mail.LiteralHeader`) with the one-click
``List-Unsubscribe-Post`` (RFC 8058), and have a text and a small HTML body with the same links.
The manage link works for ``settings.manage_link_hours``; the unsubscribe link never expires.
"""

from __future__ import annotations

from email.message import EmailMessage
from typing import Literal
from urllib.parse import quote, urlencode

from markupsafe import Markup, escape

from paperboy.digest import links
from paperboy.digest.choices import Choices
from paperboy.mail import SmtpConfig, compose
from paperboy.models import Alert, Subscription
from paperboy.settings import Settings

CONFIRM_MAX_AGE = 7 * 86400
"""Seconds a confirmation link works."""

Reason = Literal["subscribe", "link"]
"""Why a manage link is mailed: someone asked to subscribe an address that is subscribed
already (``subscribe``), or asked for the link itself (``link``)."""


def hours_text(seconds: int) -> str:
    """``24 hours``, ``1 hour``, ``7 days``: how long a link works, in words."""
    if seconds % 86400 == 0 and seconds >= 2 * 86400:
        return f"{seconds // 86400} days"
    hours = max(seconds // 3600, 1)
    return "1 hour" if hours == 1 else f"{hours} hours"


def list_headers(unsubscribe_url: str) -> dict[str, str]:
    """The list headers of every subscription mail and digest: RFC 2369 ``List-Unsubscribe``
    with RFC 8058 one-click, and ``Auto-Submitted``."""
    return {
        "List-Unsubscribe": f"<{unsubscribe_url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "Auto-Submitted": "auto-generated",
    }


class SubscriptionMails:
    """Builds the mails; :class:`paperboy.digest.subscribe.SubscriptionService` sends them."""

    def __init__(self, settings: Settings, secret: str) -> None:
        self.settings = settings
        self.secret = secret

    def _html(
        self,
        subject: str,
        before: list[str],
        link: tuple[str, str],
        after: list[str],
        unsubscribe: str,
    ) -> str:
        url, action = link
        site = str(self.settings.site_name)
        base = self.settings.site_url
        para = 'style="margin: 0 0 16px"'

        def html_paragraph(text: str) -> str:
            return f"<p {para}>{escape(text).replace(chr(10), Markup('<br>'))}</p>"

        return (
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
        unsubscribe = links.unsubscribe_url(self.settings, self.secret, subscription.id)
        text = "\n\n".join(
            [
                "Hello,",
                *before,
                f"{action}:\n{url}",
                *after,
                f"-- {site}\n{self.settings.site_url}/",
                f"Never want mail from us at this address? Unsubscribe:\n{unsubscribe}\n",
            ]
        )
        html = self._html(subject, before, (url, action), after, unsubscribe)
        return compose(
            sender=SmtpConfig.from_settings(self.settings).sender,
            to=subscription.email,
            subject=subject,
            text=text,
            html=html,
            headers=list_headers(unsubscribe),
            domain=self.settings.site_host,
        )

    def confirmation(self, subscription: Subscription, alert: Alert | None = None) -> EmailMessage:
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
        return self._mail(
            subscription,
            f"Confirm your subscription to {site}",
            before,
            links.confirm_url(self.settings, self.secret, subscription.id),
            "Confirm my subscription",
            [
                f"The link works for {hours_text(CONFIRM_MAX_AGE)}. If you did not ask for "
                "this, ignore this mail: you will get nothing more from us.",
            ],
        )

    def manage(
        self,
        subscription: Subscription,
        reason: Reason = "link",
        alert: tuple[str, str] | None = None,
    ) -> EmailMessage:
        """A fresh manage link (it expires), for the subscription's own address only."""
        site = str(self.settings.site_name)
        url = links.manage_url(self.settings, self.secret, subscription.id)
        if reason == "subscribe":
            first = (
                f"Someone (hopefully you) asked to subscribe this address to {site}'s trending "
                "papers. It is subscribed already, so nothing has changed."
            )
        else:
            first = (
                "Someone (hopefully you) asked for a link to change the subscription of this "
                f"address to {site}'s trending papers."
            )
        before = [first]
        if subscription.status == "paused":
            before.append(
                "Digests to this address are paused after failed deliveries; you can resume "
                "them on the page below."
            )
        if alert is not None:
            query, mode = alert
            url += "&" + urlencode({"alert": query, "mode": mode}, quote_via=quote)
            before.append(f"To add the saved search “{query}”, open the page below and add it.")
        works = hours_text(links.manage_max_age(self.settings))
        return self._mail(
            subscription,
            f"Your subscription to {site}",
            before,
            url,
            "Change my subscription",
            [
                "There you can change how often you get mail, the categories, the minimum "
                "upvotes and your alerts, or unsubscribe.",
                f"The link works for {works}; after that, ask for a new one. If you did not "
                "ask, ignore this mail: nothing changes.",
            ],
        )
