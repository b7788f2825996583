"""What the account pages do beyond a form: who may sign up, the limits on sign-ups and on
account mails, the mailed links, removing a half-made account, and the audit log.

``paperboy.community.accounts.Accounts`` holds the rules of one account (passwords, signed
links, login limits); this service strings them into the flows the pages offer. Nothing here
tells a visitor whether an address has an account (sign-up's "that address is taken" is rate
limited). Account mails to one address are limited per recipient, whoever asks and from however
many network addresses (``settings.rate_mail``), and per asking client
(``settings.rate_mail_client``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from paperboy.community import limits, mailer
from paperboy.community.accounts import (
    AccountError,
    Accounts,
    PasswordLoginPaused,
    check_password,
    check_token_name,
    check_username,
    normalise_email,
    token_scopes,
)
from paperboy.community.models import User
from paperboy.errors import Invalid, NotAllowed, NotFound
from paperboy.mail import MailError
from paperboy.models import ApiToken
from paperboy.settings import Settings
from paperboy.store import SQLStore

log = logging.getLogger(__name__)

REFUSED_ADDRESS = (
    "The mail server would not take mail for this address, so no account was made: check it "
    "for typos, or use another address."
)
SUSPENDED = "This account has been suspended by a moderator."
MAX_LIVE_TOKENS = 50
"""API tokens a user may have live (not revoked) at once."""

LINK_MAILS = {
    "verification": ("verification_token", mailer.send_verification, "verification mail"),
    "reset": ("reset_token", mailer.send_password_reset, "password-reset mail"),
    "sign-in": ("sign_in_token", mailer.send_sign_in, "sign-in link"),
}
"""Each mailed link: the ``Accounts`` method that signs its token, the mailer function that
sends it, and its name in the log."""


class SignupClosed(NotAllowed):
    """This site takes no sign-ups (``settings.signup_open`` is off)."""

    def __init__(self) -> None:
        super().__init__("Sign-ups are closed.")


class FormRefused(Invalid):
    """A form with a message for each field that is wrong (``errors``, by field name)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(next(iter(errors.values())), next(iter(errors)))
        self.errors = errors


def new_password_errors(password: str, again: str) -> dict[str, str]:
    errors: dict[str, str] = {}
    try:
        check_password(password)
    except AccountError as exc:
        errors["password"] = str(exc)
    else:
        if password != again:
            errors["password2"] = "The two passwords differ: type the same one twice."
    return errors


def signup_errors(email: str, username: str, password: str, again: str) -> dict[str, str]:
    """A message for each field that is wrong, all at once (uniqueness is checked later)."""
    errors: dict[str, str] = {}
    fields: tuple[tuple[str, str, str, Callable[[str], object]], ...] = (
        (
            "email",
            email,
            "Enter your email address: the confirmation link goes there.",
            normalise_email,
        ),
        (
            "username",
            username,
            "Choose a user name: it is shown next to what you post.",
            check_username,
        ),
    )
    for field, value, missing, check in fields:
        if not value.strip():
            errors[field] = missing
            continue
        try:
            check(value)
        except AccountError as exc:
            errors[field] = str(exc)
    errors.update(new_password_errors(password, again))
    return errors


def mail_outcome(exc: MailError) -> str:
    """``refused`` when the address itself cannot get mail (this site cannot write to it, or
    the server refused the recipient for good), ``failed`` when the mail may go later."""
    if isinstance(exc, mailer.AddressRefused) or (exc.refused and not exc.temporary):
        return "refused"
    return "failed"


class AccountFlows:
    """Sign-up, mailed links and password resets over one store."""

    def __init__(self, accounts: Accounts, store: SQLStore, settings: Settings) -> None:
        self.accounts = accounts
        self.store = store
        self.settings = settings

    def audit(self, user: User, action: str, detail: dict[str, int] | None = None) -> None:
        if detail is None:
            self.store.activity.record(user.id, action, "user", str(user.id))
        else:
            self.store.activity.record(user.id, action, "user", str(user.id), detail)

    def limit_mail(self, address: str, client: str | None) -> None:
        """Count one account mail to ``address`` and, when a visitor at ``client`` asked for it
        by typing an address, one request of that client. Raises ``RateLimited``."""
        store, settings = self.store.accounts, self.settings
        if client is not None:
            limits.check(
                store,
                f"mail:asked:ip:{client}",
                settings.rate_mail_client,
                "mails asked for from your network address",
            )
        limits.check(store, f"mail:account:{address}", settings.rate_mail, "mails to this address")

    def send_link(self, user: User, kind: str) -> str:
        """Mail ``user`` a signed link of ``kind`` (see ``LINK_MAILS``): ``sent``, or
        ``failed``/``refused`` (logged)."""
        token_of, send, what = LINK_MAILS[kind]
        token = getattr(self.accounts, token_of)(user)
        try:
            send(self.settings, user, token)
        except MailError as exc:
            log.warning("%s to user %s not sent: %s", what, user.id, exc)
            return mail_outcome(exc)
        return "sent"

    def sign_up(
        self, email: str, username: str, password: str, again: str, client: str
    ) -> tuple[User, str]:
        """Make an account and mail its confirmation link: the user and the mail's outcome
        (``sent`` or ``failed``). ``SignupClosed``, ``FormRefused`` or ``RateLimited``."""
        if not self.settings.signup_open:
            raise SignupClosed()
        errors = signup_errors(email, username, password, again)
        if errors:
            raise FormRefused(errors)
        store = self.store
        # Counted once the form is valid, before the (slow, argon2) account creation.
        limits.check(store.accounts, f"signup:ip:{client}", self.settings.rate_signup, "sign-ups")
        try:
            user = self.accounts.sign_up(email, username, password)
        except AccountError as exc:
            raise FormRefused({exc.field or "form": str(exc)}) from None
        # No half-made account: one whose address cannot get mail, or whose mail broke in an
        # unforeseen way, is removed again. One whose mail may go later stays, and can resend.
        try:
            outcome = self.send_link(user, "verification")
        except BaseException:
            store.accounts.delete_user(user.id)
            raise
        if outcome == "refused":
            store.accounts.delete_user(user.id)
            raise FormRefused({"email": REFUSED_ADDRESS})
        self.audit(user, "signup")
        return user, outcome

    def resend_verification(self, user: User) -> str:
        self.limit_mail(user.email, None)
        return self.send_link(user, "verification")

    def verify_email(self, token: str) -> User:
        user = self.accounts.verify_email(token)
        self.audit(user, "verify-email")
        return user

    def link_recipient(self, email: str, client: str) -> tuple[str, User | None]:
        """For a reset or sign-in link asked for ``email``: its normal form (``AccountError``
        when it is no address) and the account to mail, if one may get it (limits counted
        either way, so the answer does not tell whether the address has an account)."""
        address = normalise_email(email)
        self.limit_mail(address, client)
        user = self.accounts.user_by_address(address)
        return address, user if user is not None and not user.hidden else None

    def sign_in_with_link(self, token: str) -> User:
        user = self.accounts.sign_in_with_link(token)
        self.audit(user, "login-link")
        return user

    def user_for_reset(self, token: str) -> User:
        """The account a reset link is for (``AccountError``; ``NotAllowed`` if suspended)."""
        account = self.accounts.user_for_reset(token)
        if account.hidden:
            raise NotAllowed(SUSPENDED)
        return account

    def reset_password(self, token: str, password: str, again: str) -> User:
        """Set a new password from a reset link: ends every session of the user and revokes
        every API token. ``FormRefused`` for a bad new password, ``AccountError``."""
        self.user_for_reset(token)
        errors = new_password_errors(password, again)
        if errors:
            raise FormRefused(errors)
        user, revoked = self.accounts.reset_password(token, password)
        self.audit(user, "password-reset", {"tokens_revoked": revoked})
        return user

    # -- the settings page: API tokens and the password -------------------------------------

    def create_token(self, user: User, name: str, scope: str) -> tuple[ApiToken, str, str]:
        """A new API token of ``user``: the token, its secret (shown once) and its clean name.
        ``FormRefused`` (fields ``token_name``, ``token_scope``)."""
        errors: dict[str, str] = {}
        try:
            clean = check_token_name(name)
        except AccountError as exc:
            errors["token_name"] = str(exc)
        try:
            scopes = token_scopes(scope, user)
        except AccountError as exc:
            errors["token_scope"] = str(exc)
        store = self.store
        live = sum(t.revoked_at is None for t in store.accounts.api_tokens_of(user.id))
        if not errors and live >= MAX_LIVE_TOKENS:
            errors["token_name"] = (
                f"You have {MAX_LIVE_TOKENS} live tokens: revoke one you no longer use first."
            )
        if errors:
            raise FormRefused(errors)
        token, secret = store.accounts.create_api_token(user.id, clean, scopes)
        store.activity.record(
            user.id,
            "token-create",
            "api_token",
            str(token.id),
            {"name": clean, "scopes": list(scopes)},
        )
        return token, secret, clean

    def revoke_token(self, user: User, token_id: int) -> None:
        """Revoke one of ``user``'s tokens (again: nothing more); ``NotFound`` if not theirs."""
        store = self.store
        if not store.accounts.revoke_api_token(user.id, token_id):
            if not any(t.id == token_id for t in store.accounts.api_tokens_of(user.id)):
                raise NotFound("You have no API token with that number.")
            return  # already revoked (a second click): nothing more to do
        store.activity.record(user.id, "token-revoke", "api_token", str(token_id))

    def change_password(
        self, user: User, current: str, password: str, again: str, client: str
    ) -> None:
        """Change ``user``'s password (ends their other sessions, revokes their tokens).
        ``FormRefused`` with a message per field (``current``, ``password``, ``password2``)."""
        errors = new_password_errors(password, again)
        if not current:
            errors["current"] = "Enter your current password."
        if errors:
            raise FormRefused(errors)
        try:
            revoked = self.accounts.change_password(user, current, password, client=client)
        except PasswordLoginPaused as exc:
            raise FormRefused({"current": str(exc)}) from None
        except AccountError:
            raise FormRefused({"current": "That is not your current password."}) from None
        self.audit(user, "password-change", {"tokens_revoked": revoked})
