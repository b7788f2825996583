"""Rendering a digest: its subject, list-mail headers, Message-ID and text and HTML bodies.

The bodies come from the Jinja2 templates ``mail/digest.txt`` and ``mail/digest.html`` of the
package's templates (``paperboy/web/templates``, read through the package loader); the HTML's
``<style>`` block is inlined (``css_inline``) because many mail clients drop it. The headers are
those of a list mail: ``List-Unsubscribe`` with a signed never-expiring token and RFC 8058
one-click ``List-Unsubscribe-Post``, ``List-Id``, ``Auto-Submitted``, ``Precedence``. The
"Change what you get" link opens the page that mails a fresh, expiring manage link to the
subscriber (:func:`paperboy.digest.links.manage_request_url`): a digest grants no managing.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from email.message import EmailMessage
from typing import Any

import css_inline
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from paperboy.digest.content import Digest, Section, plural
from paperboy.digest.links import manage_request_url, unsubscribe_url
from paperboy.digest.periods import Period, local_day, next_period
from paperboy.models import Subscription
from paperboy.settings import Settings

TEMPLATE_PACKAGE = ("paperboy", "web/templates")
"""Where the mail templates are: (package, folder in it), for Jinja's ``PackageLoader``."""
FREQUENCY_TEXT = {"daily": "daily (weekdays)", "weekly": "weekly", "off": "paused"}


def subject_of(site: str, when: str, sections: Sequence[Section]) -> str:
    count = sum(len(s.papers) for s in sections)
    if count == 0:
        return f"{site}: nothing new for {when}"
    if all(s.kind == "trending" for s in sections):
        return f"{site}: {plural(count, 'trending paper')} for {when}"
    return f"{site}: {plural(count, 'new paper')} for {when}"


class Renderer:
    """The mail templates in a standalone Jinja2 environment (HTML autoescaped), rendering
    digests at ``now`` with the site's ``secret`` (for the links)."""

    def __init__(self, settings: Settings, secret: str, now: datetime) -> None:
        self.settings = settings
        self.secret = secret
        self.now = now
        self.host = settings.site_host
        self.env = Environment(
            loader=PackageLoader(*TEMPLATE_PACKAGE),
            autoescape=select_autoescape(enabled_extensions=("html",), default=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self.text_template = self.env.get_template("mail/digest.txt")
        self.html_template = self.env.get_template("mail/digest.html")

    def bodies(self, context: dict[str, Any]) -> tuple[str, str]:
        """The text and the (inlined) HTML body for ``context``."""
        text = self.text_template.render(context)
        html = self.html_template.render(context)
        inlined = css_inline.inline(html, load_remote_stylesheets=False)
        return text, inlined

    def context(
        self,
        sub: Subscription,
        period: Period,
        since: datetime,
        sections: tuple[Section, ...],
        alert_queries: Sequence[str],
        unsubscribe: str,
    ) -> dict[str, Any]:
        """What the templates see (``unsubscribe``: the digest's unsubscribe link)."""
        settings = self.settings
        frequency = sub.frequency if sub.frequency in ("daily", "weekly") else "daily"
        upcoming = next_period(frequency, settings, self.now)
        return {
            "site_name": settings.site_name,
            "base_url": settings.site_url,
            "subject": subject_of(settings.site_name, period.label, sections),
            "period": period,
            "sections": sections,
            "count": sum(len(s.papers) for s in sections),
            "subscription": sub,
            "frequency_text": FREQUENCY_TEXT.get(sub.frequency, sub.frequency),
            "categories": ", ".join(sub.categories),
            "alerts": list(alert_queries),
            "since_day": local_day(settings, since),
            "first_digest": sub.last_digest_at is None,
            "next_day": upcoming.day,
            "next_label": f"{upcoming.day:%A}, {upcoming.day:%b} {upcoming.day.day}",
            "unsubscribe_url": unsubscribe,
            "manage_url": manage_request_url(settings, self.secret, sub.id),
        }

    def headers(self, unsubscribe: str) -> dict[str, str]:
        """The headers of a list mail whose unsubscribe link is ``unsubscribe``."""
        return {
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "List-Id": f"<digest.{self.host}>",
            "Auto-Submitted": "auto-generated",
            "Precedence": "bulk",
        }

    def render(
        self,
        sub: Subscription,
        period: Period,
        since: datetime,
        sections: tuple[Section, ...],
        alert_queries: Sequence[str] = (),
    ) -> Digest:
        """The digest of these sections, rendered, with a fresh Message-ID."""
        unsubscribe = unsubscribe_url(self.settings, self.secret, sub.id)
        context = self.context(sub, period, since, sections, alert_queries, unsubscribe)
        text, html = self.bodies(context)
        period_part = period.key.replace(":", ".")
        message_id = f"<digest.{sub.id}.{period_part}.{secrets.token_hex(8)}@{self.host}>"
        subject = context["subject"]
        headers = self.headers(unsubscribe)
        return Digest(sub, period, since, sections, message_id, subject, text, html, headers)


def as_email(digest: Digest, settings: Settings) -> EmailMessage:
    """The digest as the multipart message the sender would build (for previews)."""
    from paperboy.mail import SmtpConfig, compose

    return compose(
        sender=SmtpConfig.from_settings(settings).sender,
        to=digest.subscription.email,
        subject=digest.subject,
        text=digest.text,
        html=digest.html,
        headers=digest.headers,
        message_id=digest.message_id,
    )


__all__ = ["FREQUENCY_TEXT", "Renderer", "as_email", "subject_of"]
