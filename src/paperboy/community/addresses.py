"""Email addresses as Paperboy keeps them: one check and one normal form, for every form.

Policy: an address must be deliverable without SMTPUTF8, so its local part (before the ``@``)
is ASCII; an internationalised domain (``bücher.de``) is accepted and kept in its ASCII (IDNA)
form (``xn--bcher-kva.de``). The stored form is lower-cased. Sign-up, password reset, sign-in
links and subscriptions all call :func:`normalise_address`, so an address that passes one
form passes them all and every mail to it can be sent.

Why not SMTPUTF8: the mail server a site relays through may not offer it, and a mail it cannot
take is found out only after the account exists. A look-alike character (a Cyrillic "а" in
``аlice@example.org``) is also far more often a mistake or a trick than someone's real address.
"""

from __future__ import annotations

import unicodedata

from email_validator import EmailNotValidError, validate_email

from paperboy.community.errors import AccountError

__all__ = ["MAX_ADDRESS", "AddressError", "legacy_form", "normalise_address"]

MAX_ADDRESS = 254
"""The longest address SMTP can carry (RFC 5321's path limit less the angle brackets)."""


class AddressError(AccountError):
    """An address this site cannot use; the message says why, for the person who typed it."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "email")


def _character(char: str) -> str:
    name = unicodedata.name(char, f"U+{ord(char):04X}")
    shown = char if char.isprintable() and not char.isspace() else ""
    return f"“{shown}” ({name})" if shown else name


def normalise_address(text: str) -> str:
    """The address in ``text`` as stored and mailed: surrounding blanks removed, domain in
    its ASCII (IDNA) form, lower-cased. Raises :class:`AddressError` (an ``AccountError`` on
    field ``email``) with a message for the person when it cannot be used."""
    address = text.strip()
    if not address:
        raise AddressError("Enter an email address.")
    if len(address) > MAX_ADDRESS:
        raise AddressError(f"An email address has at most {MAX_ADDRESS} characters.")
    local = address.rpartition("@")[0] if "@" in address else address
    foreign = next((c for c in local if not c.isascii()), None)
    if foreign is not None:
        raise AddressError(
            f"This site can only send mail to addresses written in plain ASCII before the @: "
            f"{_character(foreign)} is not. Check the address (a look-alike letter may have "
            "slipped in), or use another one."
        )
    try:
        valid = validate_email(address, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise AddressError(f"That email address does not look right: {exc}") from exc
    ascii_email = valid.ascii_email
    assert ascii_email is not None  # always set when SMTPUTF8 is not allowed
    return ascii_email.lower()


def legacy_form(address: str) -> str | None:
    """How versions before the ASCII rule stored ``address`` when it differs (an
    internationalised domain kept in Unicode), so older accounts are still found; else None."""
    try:
        valid = validate_email(address, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        return None
    old = valid.normalized.lower()
    return old if old != address else None
