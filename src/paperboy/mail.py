"""Outgoing email over real SMTP, with nothing but the standard library.

Two steps, kept apart so each can be tested on its own:

* :func:`compose` builds an :class:`email.message.EmailMessage`: plain text, or
  ``multipart/alternative`` with the text part first and the HTML part second (clients show the
  last part they understand). It sets ``Date`` (UTC), ``Message-ID``, ``From``, ``To`` and
  ``Subject`` and refuses header injection: a carriage return or line feed in an address,
  subject or extra header raises :class:`ValueError`. The list headers of RFC 2369 and RFC 8058
  (``List-Unsubscribe``, ``List-Unsubscribe-Post``, ``List-Id``...) are structured: they go out
  exactly as given, never as RFC 2047 encoded-words (which would hide the URL from the mail
  providers that offer one-click unsubscribe), folded only at whitespace and never inside a URL;
  they must be ASCII and each line at most :data:`MAX_LINE` characters, else :class:`ValueError`.
  A recipient's domain is written in its ASCII (IDNA) form.
* :func:`send` delivers one message on a connection of its own: plain SMTP (optionally upgraded
  with ``STARTTLS``) or SMTP over TLS from the first byte, ``AUTH`` when a username is set, then
  ``QUIT``. The server is described by :class:`SmtpConfig` (``SmtpConfig.from_settings`` reads
  the ``PAPERBOY_SMTP_*`` settings and ``PAPERBOY_MAIL_FROM``).

An address with a non-ASCII local part (``аlice@example.org``, with a Cyrillic ``а``) is never
sent to: :func:`send` refuses that recipient before connecting, with an
:class:`UnsendableAddress` (a permanent, per-recipient :class:`MailError`), whether or not the
server offers ``SMTPUTF8``. Paperboy does not accept such addresses (see
``paperboy.community.addresses``); ones stored before that rule fail cleanly.

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
from email.headerregistry import Address, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.policy import EmailPolicy, Policy
from email.policy import default as default_policy
from email.utils import formatdate, getaddresses, make_msgid, parseaddr
from types import MappingProxyType
from typing import Any, Literal, cast, get_args

from paperboy.errors import PaperboyError

Security = Literal["none", "starttls", "tls"]
SECURITY_MODES: tuple[str, ...] = get_args(Security)

_NO_HEADERS: Mapping[str, str] = MappingProxyType({})

MAX_LINE = 998
"""The longest header line RFC 5322 allows (without its CRLF)."""
FOLD_AT = 78
"""Where :class:`LiteralHeader` folds long values when they have whitespace (RFC 5322's SHOULD)."""
LITERAL_HEADERS: tuple[str, ...] = (
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "List-Id",
    "List-Help",
    "List-Subscribe",
    "List-Post",
    "List-Owner",
    "List-Archive",
)
"""Structured headers written as given (:class:`LiteralHeader`)."""
UNSENDABLE_CODE = 553
"""The reply code :class:`UnsendableAddress` records (RFC 6531: mailbox name not allowed)."""


class LiteralHeader(UnstructuredHeader):
    """A structured ASCII header (``List-Unsubscribe: <https://...>``) written as given: never
    RFC 2047 encoded, folded only at whitespace (so never inside a URL) and never right after
    the colon. A non-ASCII value or a line longer than :data:`MAX_LINE` raises ValueError."""

    max_count: int | None = 1

    @classmethod
    def parse(cls, value: str, kwds: dict[str, Any]) -> None:
        super().parse(value, kwds)
        kwds["decoded"] = " ".join(str(value).split())  # as given: no encoded-word decoding

    def fold(self, *, policy: Policy) -> str:
        name, value = str(self.name), str(self)
        if not value.isascii():
            raise ValueError(f"the {name} header must be ASCII (percent-encode URLs): {value!r}")
        words = value.split(" ")
        lines = [f"{name}: {words[0]}"]
        for word in words[1:]:
            if len(lines[-1]) + 1 + len(word) <= FOLD_AT:
                lines[-1] += " " + word
            else:
                lines.append(" " + word)
        longest = max(len(line) for line in lines)
        if longest > MAX_LINE:
            raise ValueError(
                f"the {name} header has a {longest}-character line, over the {MAX_LINE} "
                "characters mail allows (its URL is too long)"
            )
        linesep = str(getattr(policy, "linesep", "\n"))
        return linesep.join(lines) + linesep


def _policy() -> EmailPolicy:
    registry = HeaderRegistry()
    for name in LITERAL_HEADERS:
        registry.map_to_type(name, LiteralHeader)
    return default_policy.clone(header_factory=registry)


POLICY: EmailPolicy = _policy()
"""The email policy of every message :func:`compose` makes: the standard library's default
one, with the list headers as :class:`LiteralHeader`."""


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


class UnsendableAddress(MailError):
    """Addresses Paperboy never sends to (a non-ASCII local part, or a domain IDNA refuses):
    refused before connecting, as a permanent refusal of those recipients (``refused`` names
    each with :data:`UNSENDABLE_CODE`). The message says Paperboy refused, not the server."""

    REASON = "5.6.7 non-ASCII mailbox name: Paperboy only sends to ASCII addresses (no SMTPUTF8)"

    def __init__(self, addresses: list[str], *, host: str, port: int) -> None:
        refused = {addr: (UNSENDABLE_CODE, self.REASON) for addr in addresses}
        super().__init__(
            "", host=host, port=port, temporary=False, code=UNSENDABLE_CODE, refused=refused
        )
        listing = "; ".join(f"{addr}: {UNSENDABLE_CODE} {self.REASON}" for addr in addresses)
        self.args = (f"not sent, recipient refused before connecting to {host}:{port}: {listing}",)


def ascii_address(address: str) -> str | None:
    """``address`` with its domain in ASCII (IDNA: ``bob@bücher.example`` ->
    ``bob@xn--bcher-kva.example``); ``None`` when it cannot be sent without SMTPUTF8 (a
    non-ASCII local part, or a domain IDNA refuses)."""
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or not local.isascii():
        return None
    if domain.isascii():
        return address
    try:
        return f"{local}@{domain.encode('idna').decode('ascii')}"
    except UnicodeError:
        return None


def mailbox(name: str, address: str) -> str:
    """``Name <address>`` for a header, like :func:`email.utils.formataddr` but never raising
    for a non-ASCII address: the domain is made ASCII when it can be and the display name is
    encoded when the message is written. An address that cannot be made ASCII is kept as it is
    (:func:`send` then refuses it with :class:`UnsendableAddress`)."""
    addr_spec = ascii_address(address) or address
    try:
        return str(Address(display_name=name, addr_spec=addr_spec))
    except ValueError:  # a non-ASCII local part (or no addr-spec the parser takes)
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{quoted}" <{addr_spec}>' if name else addr_spec


def _ascii_recipients(value: str) -> str:
    """A To value with its domains in ASCII; unchanged when that is not needed, or when an
    address cannot be made ASCII (:func:`send` refuses it)."""
    pairs = getaddresses([value])
    if not pairs or all(addr.isascii() for _, addr in pairs):
        return value
    if any(not addr or ascii_address(addr) is None for _, addr in pairs):
        return value
    return ", ".join(mailbox(name, addr) for name, addr in pairs)


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
    header value raises :class:`ValueError`, and so does a list header (:data:`LITERAL_HEADERS`)
    that is not ASCII or has a line over :data:`MAX_LINE` characters.
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

    message = EmailMessage(policy=POLICY)
    message["From"] = sender
    message["To"] = _ascii_recipients(to)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = message_id or make_msgid(domain=domain)
    for name, value in headers.items():
        message[name] = value
        header = message[name]
        if isinstance(header, LiteralHeader):
            header.fold(policy=POLICY)  # a list header that cannot be written fails here
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


def _unsendable(config: SmtpConfig, message: EmailMessage) -> UnsendableAddress | None:
    """The error for the recipients of ``message`` that cannot be sent to, if any."""
    values = [str(v) for field in ("To", "Cc", "Bcc") for v in message.get_all(field, [])]
    bad = sorted({addr for _, addr in getaddresses(values) if addr and ascii_address(addr) != addr})
    if not bad:
        return None
    return UnsendableAddress(bad, host=config.host, port=config.port)


def send(config: SmtpConfig, message: EmailMessage) -> None:
    """Deliver ``message`` to its ``To``/``Cc``/``Bcc`` recipients through the server in
    ``config`` (``Bcc`` is not transmitted), with :attr:`SmtpConfig.envelope_sender` as the
    envelope sender. One connection per call; raises :class:`MailError` on any failure.

    If the server accepted the message for some recipients but refused others, the error is
    permanent (``temporary=False``) whatever the codes, since sending it again would deliver it
    twice to the others; its ``refused`` says who did not get it. A recipient whose address
    cannot be made ASCII is refused before connecting (:class:`UnsendableAddress`).
    """
    unsendable = _unsendable(config, message)
    if unsendable is not None:
        raise unsendable
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
