"""Account mails: address verification, password reset and sign-in links, sent over SMTP.

Each mail is plain text with a small HTML alternative (both carry the same absolute link, built
from ``settings.base_url``), composed with :func:`paperboy.mail.compose` and delivered with
:func:`paperboy.mail.send` to the server in the ``PAPERBOY_SMTP_*`` settings. The Message-ID is
made under the host of ``base_url``. Sending raises :class:`paperboy.mail.MailError`; callers
decide what the person sees; an address the site cannot mail (one stored before addresses
had to be ASCII before the ``@``) raises :class:`AddressRefused`, a permanent ``MailError``,
before anything is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr
from typing import Any
from urllib.parse import quote

from markupsafe import escape

from paperboy.community.accounts import RESET_MAX_AGE, SIGNIN_MAX_AGE, VERIFY_MAX_AGE
from paperboy.community.addresses import AddressError, normalise_address
from paperboy.community.models import User
from paperboy.mail import MailError, SmtpConfig, compose, send

__all__ = [
    "AddressRefused",
    "link",
    "reset_message",
    "send_password_reset",
    "send_sign_in",
    "send_verification",
    "sign_in_message",
    "verification_message",
]


class AddressRefused(MailError):
    """The account's address cannot be mailed from this site (nothing was sent)."""

    def __init__(self, config: SmtpConfig, address: str, reason: str) -> None:
        super().__init__(
            f"not sent to {address!r}: {reason}",
            host=config.host,
            port=config.port,
            temporary=False,
        )
        self.reason = reason


def _recipient(config: SmtpConfig, user: User) -> str:
    """``user``'s address as the ``To`` header carries it; ``AddressRefused`` when it has
    characters no mail without SMTPUTF8 can carry (an account made before the ASCII rule)."""
    try:
        address = normalise_address(user.email)
    except AddressError as exc:
        raise AddressRefused(config, user.email, str(exc)) from exc
    return formataddr((user.username, address))


def link(settings: Any, path: str, token: str) -> str:
    """The absolute address of ``path`` with ``token`` as its query parameter."""
    return f"{settings.site_url}{path}?token={quote(token, safe='')}"


def _duration(seconds: int) -> str:
    """``3 days``, ``2 hours``, ``15 minutes``: how long a link works, in words."""
    if seconds % 86400 == 0:
        count, unit = seconds // 86400, "day"
    elif seconds % 3600 == 0:
        count, unit = seconds // 3600, "hour"
    else:
        count, unit = max(1, seconds // 60), "minute"
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"


def _message(
    settings: Any, user: User, subject: str, paragraphs: list[str], url: str, action: str
) -> EmailMessage:
    """Text and HTML bodies: a greeting, ``paragraphs`` around the link, and a sign-off."""
    config = SmtpConfig.from_settings(settings)
    to = _recipient(config, user)
    site = str(settings.site_name)
    intro, *rest = paragraphs
    text = "\n\n".join(
        [f"Hello {user.username},", intro, f"{action}:\n{url}", *rest, f"-- {site}\n"]
    )
    html_paragraphs = "".join(f"<p>{escape(p)}</p>" for p in rest)
    html = (
        '<!doctype html><html><body style="font-family: sans-serif; line-height: 1.5">'
        f"<p>Hello {escape(user.username)},</p>"
        f"<p>{escape(intro)}</p>"
        f'<p><a href="{escape(url)}">{escape(action)}</a></p>'
        f'<p style="color: #5f6670; font-size: 0.9em">Or copy this address into your browser:'
        f"<br>{escape(url)}</p>"
        f"{html_paragraphs}"
        f"<p>&mdash; {escape(site)}</p>"
        "</body></html>"
    )
    return compose(
        sender=config.sender,
        to=to,
        subject=subject,
        text=text,
        html=html,
        headers={"Auto-Submitted": "auto-generated"},
        domain=settings.site_host,
    )


@dataclass(frozen=True, slots=True)
class _LinkMail:
    """One kind of mailed link: its subject and paragraphs (formatted with ``site``, ``name``
    and ``duration``), the path the link opens, the button's words and the link's lifetime."""

    subject: str
    paragraphs: tuple[str, ...]
    path: str
    button: str
    max_age: int


_VERIFY = _LinkMail(
    "Confirm your email address for {site}",
    (
        "Someone (hopefully you) created the account {name} on {site} with this address. Open "
        "the link below to confirm it; then you can vote, submit and comment.",
        "The link works for {duration}. If you did not sign up, ignore this mail.",
    ),
    "/verify",
    "Confirm my address",
    VERIFY_MAX_AGE,
)
_RESET = _LinkMail(
    "Reset your {site} password",
    (
        "Someone (hopefully you) asked to reset the password of {name} on {site}.",
        "The link works once, for {duration}. If you did not ask for it, ignore this mail: your "
        "password stays as it is.",
    ),
    "/password/reset",
    "Choose a new password",
    RESET_MAX_AGE,
)
_SIGN_IN = _LinkMail(
    "Your {site} sign-in link",
    (
        "Someone (hopefully you) asked for a link to log in to {site} as {name} without the "
        "password.",
        "The link works once, for {duration}. If you did not ask for it, ignore this mail: "
        "nobody can use it without reading your mail.",
    ),
    "/login/link",
    "Log me in",
    SIGNIN_MAX_AGE,
)


def _link_message(settings: Any, user: User, token: str, mail: _LinkMail) -> EmailMessage:
    fields = {
        "site": str(settings.site_name),
        "name": user.username,
        "duration": _duration(mail.max_age),
    }
    return _message(
        settings,
        user,
        mail.subject.format(**fields),
        [paragraph.format(**fields) for paragraph in mail.paragraphs],
        link(settings, mail.path, token),
        mail.button,
    )


def verification_message(settings: Any, user: User, token: str) -> EmailMessage:
    """The mail that asks ``user`` to confirm their address (link: ``/verify?token=...``)."""
    return _link_message(settings, user, token, _VERIFY)


def reset_message(settings: Any, user: User, token: str) -> EmailMessage:
    """The mail with a password-reset link (``/password/reset?token=...``)."""
    return _link_message(settings, user, token, _RESET)


def sign_in_message(settings: Any, user: User, token: str) -> EmailMessage:
    """The mail with a one-time sign-in link (``/login/link?token=...``)."""
    return _link_message(settings, user, token, _SIGN_IN)


def send_verification(settings: Any, user: User, token: str) -> None:
    """Send the verification mail; raises ``MailError`` when the server does not take it."""
    send(SmtpConfig.from_settings(settings), verification_message(settings, user, token))


def send_password_reset(settings: Any, user: User, token: str) -> None:
    """Send the password-reset mail; raises ``MailError`` when the server does not take it."""
    send(SmtpConfig.from_settings(settings), reset_message(settings, user, token))


def send_sign_in(settings: Any, user: User, token: str) -> None:
    """Send the sign-in link; raises ``MailError`` when the server does not take it."""
    send(SmtpConfig.from_settings(settings), sign_in_message(settings, user, token))
