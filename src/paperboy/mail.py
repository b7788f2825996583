"""Outgoing email over real SMTP, with nothing but the standard library.

Two steps, kept apart so each can be tested on its own:

* :func:`compose` builds an :class:`email.message.EmailMessage`: plain text, or
  ``multipart/alternative`` with the text part first and the HTML part second (clients show the
  last part they understand). It sets ``Date`` (UTC), ``Message-ID``, ``From``, ``To`` and
  ``Subject`` and refuses header injection: a carriage return or line feed in an address,
  subject or extra header raises :class:`ValueError`.
* :func:`send` delivers one message on a connection of its own: plain SMTP (optionally upgraded
  with ``STARTTLS``) or SMTP over TLS from the first byte, ``AUTH`` when a username is set, then
  ``QUIT``. The server is described by :class:`SmtpConfig` (``SmtpConfig.from_settings`` reads
  the ``PAPERBOY_SMTP_*`` settings and ``PAPERBOY_MAIL_FROM``).

Every failure of :func:`send` is a :class:`MailError` that names the server and says whether
trying again later may help (``temporary``: a 4xx reply, a refused or dropped connection, a
timeout) or not (a 5xx reply, a server without ``STARTTLS``, a certificate that fails
verification), with the SMTP reply code when there was one. Callers retry the temporary ones.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from types import MappingProxyType
from typing import Any, Literal, cast, get_args

from paperboy.errors import PaperboyError

Security = Literal["none", "starttls", "tls"]
SECURITY_MODES: tuple[str, ...] = get_args(Security)

_NO_HEADERS: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    """Where and how :func:`send` delivers mail.

    ``security``: ``"none"`` (plain SMTP, usually port 25 or a local relay), ``"starttls"``
    (plain connection upgraded with ``STARTTLS``, usually port 587) or ``"tls"`` (TLS from the
    start, usually port 465). TLS certificates are verified against the system's trust store.
    ``sender`` is both the ``From`` header :func:`compose` callers should use and the envelope
    sender (``MAIL FROM``) of every message sent.
    """

    host: str = "localhost"
    port: int = 25
    security: Security = "none"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0
    sender: str = "Paperboy <paperboy@localhost>"

    def __post_init__(self) -> None:
        if self.security not in SECURITY_MODES:
            raise ValueError(
                f"SMTP security must be one of {', '.join(SECURITY_MODES)}, not {self.security!r}"
            )
        if not 0 < self.port < 65536:
            raise ValueError(f"SMTP port must be between 1 and 65535, not {self.port}")
        if not self.timeout > 0:
            raise ValueError(f"SMTP timeout must be positive, not {self.timeout}")
        if not parseaddr(self.sender)[1]:
            raise ValueError(f"mail sender has no address: {self.sender!r}")

    @property
    def envelope_sender(self) -> str:
        """The bare address of :attr:`sender` (what ``MAIL FROM`` gets)."""
        return parseaddr(self.sender)[1]

    @classmethod
    def from_settings(cls, settings: Any) -> SmtpConfig:
        """The config for :class:`paperboy.settings.Settings` (``smtp_host``, ``smtp_port``,
        ``smtp_security``, ``smtp_username``, ``smtp_password``, ``smtp_timeout``,
        ``mail_from``); a field the settings lack keeps this class's default."""
        defaults = cls()
        password = getattr(settings, "smtp_password", None)
        if password is not None and hasattr(password, "get_secret_value"):
            password = password.get_secret_value()
        security = getattr(settings, "smtp_security", defaults.security)
        security = str(getattr(security, "value", security)).lower()
        username = getattr(settings, "smtp_username", None)
        return cls(
            host=str(getattr(settings, "smtp_host", defaults.host)),
            port=int(getattr(settings, "smtp_port", defaults.port)),
            security=cast(Security, security),
            username=str(username) if username else None,
            password=str(password) if password is not None else None,
            timeout=float(getattr(settings, "smtp_timeout", defaults.timeout)),
            sender=str(getattr(settings, "mail_from", defaults.sender)),
        )


class MailError(PaperboyError):
    """A message could not be handed to the SMTP server.

    ``temporary``: trying again later may succeed (4xx reply, connection refused or dropped,
    timeout). ``code``: the SMTP reply code, or ``None`` when the server never answered.
    ``refused``: for refused recipients, each address with its ``(code, reply)``.
    """

    def __init__(
        self,
        message: str,
        *,
        host: str,
        port: int,
        temporary: bool,
        code: int | None = None,
        refused: Mapping[str, tuple[int, str]] | None = None,
    ) -> None:
        super().__init__(f"SMTP server {host}:{port}: {message}")
        self.host = host
        self.port = port
        self.temporary = temporary
        self.code = code
        self.refused: dict[str, tuple[int, str]] = dict(refused or {})


def _check_header_value(name: str, value: str) -> None:
    if "\r" in value or "\n" in value:
        raise ValueError(f"line break in the {name} header (header injection?): {value!r}")


def _check_header_name(name: str) -> None:
    if not name or any(c <= " " or c == ":" or c > "~" for c in name):
        raise ValueError(f"not a valid header name: {name!r}")


def compose(
    *,
    sender: str,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    headers: Mapping[str, str] = _NO_HEADERS,
    message_id: str | None = None,
    domain: str = "localhost",
) -> EmailMessage:
    """A message ready for :func:`send`.

    With ``html`` it is ``multipart/alternative`` (the text part first, then the HTML part),
    otherwise a single ``text/plain`` part; both are UTF-8. ``headers`` are added as given, after
    the standard ones (``List-Unsubscribe``, ``Auto-Submitted``, ...). ``message_id`` defaults to
    a fresh one under ``domain``; angle brackets are added if missing. A line break in any
    header value raises :class:`ValueError`.
    """
    standard = {"From": sender, "To": to, "Subject": subject}
    if message_id is not None:
        message_id = message_id.strip()
        if not message_id.startswith("<"):
            message_id = f"<{message_id}>"
        standard["Message-ID"] = message_id
    for name, value in standard.items():
        _check_header_value(name, value)
    for name, value in headers.items():
        _check_header_name(name)
        _check_header_value(name, value)

    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = message_id or make_msgid(domain=domain)
    for name, value in headers.items():
        message[name] = value
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


def _is_temporary(code: int) -> bool:
    return 400 <= code < 500


def _reply_text(reply: bytes | str) -> str:
    if isinstance(reply, bytes):
        reply = reply.decode("utf-8", errors="replace")
    return " ".join(reply.split())


def _refused_error(
    config: SmtpConfig, refused: Mapping[str, tuple[int, Any]], *, partial: bool = False
) -> MailError:
    """All recipients refused (temporary when every code is 4xx), or some only (``partial``:
    never temporary, since sending again would reach the others twice)."""
    details = {addr: (int(code), _reply_text(reply)) for addr, (code, reply) in refused.items()}
    if not details:
        return MailError(
            "the message has no recipients", host=config.host, port=config.port, temporary=False
        )
    permanent = [code for code, _ in details.values() if not _is_temporary(code)]
    code = permanent[0] if permanent else next(iter(details.values()))[0]
    listing = "; ".join(f"{addr}: {c} {text}" for addr, (c, text) in details.items())
    what = "accepted for some recipients only, refused" if partial else "recipient refused"
    return MailError(
        f"{what}: {listing}",
        host=config.host,
        port=config.port,
        temporary=not permanent and not partial,
        code=code,
        refused=details,
    )


_STEPS: dict[type[smtplib.SMTPResponseException], str] = {
    smtplib.SMTPConnectError: "greeting",
    smtplib.SMTPHeloError: "HELO/EHLO",
    smtplib.SMTPAuthenticationError: "login",
    smtplib.SMTPSenderRefused: "sender",
    smtplib.SMTPDataError: "DATA",
}


def _translate(config: SmtpConfig, error: BaseException) -> MailError | None:
    """The :class:`MailError` for an exception raised while talking to the server (``None``
    for one that is not about mail delivery: a bug, an interrupt)."""
    where: dict[str, Any] = {"host": config.host, "port": config.port}
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return _refused_error(config, error.recipients)
    if isinstance(error, smtplib.SMTPResponseException):
        code = int(error.smtp_code)
        step = _STEPS.get(type(error), "command")
        reply = _reply_text(error.smtp_error)
        return MailError(
            f"{step} refused: {code} {reply}", temporary=_is_temporary(code), code=code, **where
        )
    if isinstance(error, smtplib.SMTPServerDisconnected):
        reason = str(error) or "no reason given"
        return MailError(f"connection closed unexpectedly: {reason}", temporary=True, **where)
    if isinstance(error, smtplib.SMTPNotSupportedError):
        return MailError(f"not supported by the server: {error}", temporary=False, **where)
    if isinstance(error, smtplib.SMTPException):
        return MailError(f"SMTP error: {error}", temporary=False, **where)
    if isinstance(error, ssl.SSLCertVerificationError):
        reason = error.verify_message or str(error)
        return MailError(f"TLS certificate not trusted: {reason}", temporary=False, **where)
    if isinstance(error, TimeoutError):
        return MailError(f"timed out after {config.timeout:g} s", temporary=True, **where)
    if isinstance(error, OSError):
        reason = error.strerror or str(error) or type(error).__name__
        return MailError(f"cannot connect: {reason}", temporary=True, **where)
    return None


def _connect(config: SmtpConfig) -> smtplib.SMTP:
    if config.security == "tls":
        return smtplib.SMTP_SSL(
            config.host,
            config.port,
            timeout=config.timeout,
            context=ssl.create_default_context(),
        )
    return smtplib.SMTP(config.host, config.port, timeout=config.timeout)


def send(config: SmtpConfig, message: EmailMessage) -> None:
    """Deliver ``message`` to its ``To``/``Cc``/``Bcc`` recipients through the server in
    ``config`` (``Bcc`` is not transmitted), with :attr:`SmtpConfig.envelope_sender` as the
    envelope sender. One connection per call; raises :class:`MailError` on any failure.

    If the server accepted the message for some recipients but refused others, the error is
    permanent (``temporary=False``) whatever the codes, since sending it again would deliver it
    twice to the others; its ``refused`` says who did not get it.
    """
    client: smtplib.SMTP | None = None
    try:
        client = _connect(config)
        if config.security == "starttls":
            client.starttls(context=ssl.create_default_context())
        if config.username:
            client.login(config.username, config.password or "")
        refused = client.send_message(message, from_addr=config.envelope_sender)
    except BaseException as error:
        if client is not None:
            client.close()
        mail_error = _translate(config, error)
        if mail_error is None:
            raise
        raise mail_error from error
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()  # The message is already accepted: a failed goodbye changes nothing.
    if refused:
        raise _refused_error(config, refused, partial=True)
