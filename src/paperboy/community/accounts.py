"""Accounts: sign-up, passwords (argon2id), login limits, signed email links, API token scopes.

Links mailed to users carry tokens signed with the site key (itsdangerous), with one salt per
purpose so a token made for one job never works for another. A password-reset token also holds
a fingerprint of the current password hash, and a sign-in link the time of the last login:
using either changes that value, so each works once.

Wrong passwords are limited twice, and neither limit locks the owner out (user names are
public, so a lock anyone can trigger would be a weapon): per client address
(``LoginPolicy.per_client``; past it that address gets a 429 until the window ends) and per
account, from every address together (``LoginPolicy.per_account``; past it the account takes no
password until the window ends, but its owner can still log in with a link mailed to the
account's address, or reset the password).
"""

from __future__ import annotations

import hashlib
import re
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from paperboy.clock import utc_now
from paperboy.community import limits
from paperboy.community.addresses import AddressError, legacy_form, normalise_address
from paperboy.community.errors import AccountError
from paperboy.community.models import User
from paperboy.store.accounts import AccountStore, UserTaken

__all__ = [
    "AccountError",
    "Accounts",
    "AddressError",
    "LoginPolicy",
    "PasswordLoginPaused",
    "Signer",
    "check_password",
    "check_token_name",
    "check_username",
    "hash_password",
    "invisible_character",
    "normalise_email",
    "site_secret",
    "token_scopes",
]

USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{1,31}")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024
MAX_TOKEN_NAME = 100
VERIFY_MAX_AGE = 3 * 86400
RESET_MAX_AGE = 2 * 3600
SIGNIN_MAX_AGE = 15 * 60

TOKEN_SCOPES: dict[str, tuple[str, ...]] = {
    "read": ("read",),
    "write": ("read", "write"),
    "admin": ("read", "write", "admin"),
}
"""What a new API token may do, by the choice on the settings page: ``read`` (GET only),
``write`` (also POST, PUT, PATCH, DELETE), ``admin`` (also moderation; moderators only)."""

_hasher = PasswordHasher()
# Verifying against this keeps a login for an unknown user as slow as one for a known user.
_DUMMY_HASH = _hasher.hash("not a password of anyone")
_WRONG = "Wrong email, user name or password."
_LINK_USED = (
    "This sign-in link has been used already (or you logged in since it was sent); ask for a "
    "new one."
)


class PasswordLoginPaused(AccountError):
    """The account's limit of wrong passwords is reached: no password works until
    ``retry_after`` seconds have passed; a mailed sign-in link still does."""

    def __init__(self, retry_after: int) -> None:
        minutes = max(1, -(-retry_after // 60))
        super().__init__(
            "Too many wrong passwords were tried for this account, so it takes no password "
            f"for the next {minutes} minute(s). Ask for a sign-in link by mail instead (it "
            "goes to the account's address), or reset the password.",
            "password",
        )
        self.retry_after = retry_after


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def normalise_email(email: str) -> str:
    """The stored form of an address (see ``paperboy.community.addresses``); raises
    ``AddressError``, an ``AccountError`` on field ``email``."""
    return normalise_address(email)


def invisible_character(text: str) -> str | None:
    """The first control or format character in ``text`` (Unicode categories Cc and Cf: bidi
    overrides and isolates, zero-width spaces and joiners, the BOM...), described; else None."""
    for char in text:
        if unicodedata.category(char) in ("Cc", "Cf"):
            return f"U+{ord(char):04X} ({unicodedata.name(char, 'a control character')})"
    return None


def _clean_text(text: str, what: str, field_name: str) -> str:
    """``text`` in NFKC with its blanks collapsed; refused when it holds invisible characters."""
    clean = " ".join(unicodedata.normalize("NFKC", text).split())
    found = invisible_character(clean)
    if found is not None:
        raise AccountError(
            f"{what} cannot contain invisible or control characters: it has {found}.",
            field_name,
        )
    return clean


def check_username(username: str) -> str:
    """The user name as stored (NFKC, so full-width ``ａｄａ`` is ``ada``); refused with a
    message when it has control or format characters or breaks the 2-32 character rule."""
    name = _clean_text(username, "A user name", "username")
    if not USERNAME.fullmatch(name):
        raise AccountError(
            "A user name has 2 to 32 letters, digits, '-' or '_', starting with a letter or digit.",
            "username",
        )
    return name


def check_token_name(name: str) -> str:
    clean = _clean_text(name, "A token name", "token_name")
    if not clean:
        raise AccountError(
            "Give the token a name, e.g. the script or machine that will use it.", "token_name"
        )
    if len(clean) > MAX_TOKEN_NAME:
        raise AccountError(f"A token name has at most {MAX_TOKEN_NAME} characters.", "token_name")
    return clean


def token_scopes(choice: str, user: User) -> tuple[str, ...]:
    """The scopes of a new token from the settings page's choice (read, write or admin)."""
    scopes = TOKEN_SCOPES.get(choice.strip().lower())
    if scopes is None:
        raise AccountError("Choose what the token may do: read, write or admin.", "token_scope")
    if "admin" in scopes and not user.is_admin:
        raise AccountError("Only moderators can make a token with the admin scope.", "token_scope")
    return scopes


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"Use a password of at least {MIN_PASSWORD} characters.", "password")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"Use a password of at most {MAX_PASSWORD} characters.", "password")


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    """Wrong passwords allowed per client address, and per account from every address."""

    per_client: limits.Rate = field(default_factory=lambda: limits.Rate(10, 15 * 60))
    per_account: limits.Rate = field(default_factory=lambda: limits.Rate(20, 3600))

    @classmethod
    def from_settings(cls, settings: Any) -> LoginPolicy:
        return cls(
            limits.Rate.parse(settings.login_failures_per_client),
            limits.Rate.parse(settings.login_failures_per_account),
        )


def site_secret(settings: Any, store: Any) -> str:
    """The site's signing key (sessions' CSRF tokens, every mailed link): ``secret_key`` when
    set, else the ``signing-key`` made once and kept in the database, shared by every process."""
    if settings.secret_key is not None:
        return str(settings.secret_key.get_secret_value())
    return str(store.accounts.secret("signing-key"))


class Signer:
    """Signed, expiring tokens for links; one salt per purpose."""

    def __init__(self, secret: str) -> None:
        self.secret = secret

    def dumps(self, purpose: str, payload: Any) -> str:
        return URLSafeTimedSerializer(self.secret, salt=f"paperboy:{purpose}").dumps(payload)

    def loads(self, purpose: str, token: str, max_age: int | None) -> Any:
        serializer = URLSafeTimedSerializer(self.secret, salt=f"paperboy:{purpose}")
        try:
            return serializer.loads(token, max_age=max_age)
        except SignatureExpired as exc:
            raise AccountError("This link has expired; ask for a new one.") from exc
        except BadSignature as exc:
            raise AccountError("This link is not valid (it may be incomplete).") from exc


def _fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def _user_id(data: Any) -> int:
    try:
        return int(data["u"])
    except (KeyError, TypeError, ValueError) as exc:
        raise AccountError("This link is not valid (it may be incomplete).") from exc


class Accounts:
    def __init__(self, store: AccountStore, signer: Signer, policy: LoginPolicy) -> None:
        self.store = store
        self.signer = signer
        self.policy = policy

    def sign_up(
        self,
        email: str,
        username: str,
        password: str,
        *,
        is_admin: bool = False,
        verified: bool = False,
    ) -> User:
        address = normalise_address(email)
        name = check_username(username)
        check_password(password)
        try:
            return self.store.create_user(
                address, name, hash_password(password), is_admin=is_admin, verified=verified
            )
        except UserTaken as exc:
            if exc.field == "email":
                raise AccountError(
                    "An account with that email address exists. Log in, or reset its password.",
                    "email",
                ) from exc
            raise AccountError("That user name is taken; pick another.", "username") from exc

    def user_by_address(self, address: str) -> User | None:
        """The account of a normalised address, also when stored the way older versions did."""
        user = self.store.user_by_email(address)
        old = legacy_form(address) if user is None else None
        return self.store.user_by_email(old) if old else user

    def _find(self, login: str) -> User | None:
        login = unicodedata.normalize("NFKC", login).strip()
        if "@" not in login:
            return self.store.user_by_name(login)
        try:
            return self.user_by_address(normalise_address(login))
        except AddressError:  # not an address this site makes accounts for: maybe an old one
            return self.store.user_by_email(login.lower())

    def authenticate(self, login: str, password: str, *, client: str | None = None) -> User:
        """The user whose email or user name and password match. Wrong passwords count toward
        the limits of ``client`` (its address; ``RateLimited`` past it) and of the account
        (``PasswordLoginPaused`` past it); other messages never say whether an account
        exists."""
        client_key = self._refuse_spent_client(client)
        user = self._find(login)
        if user is None:
            try:
                _hasher.verify(_DUMMY_HASH, password)
            except VerificationError:
                pass
            if client_key is not None:
                limits.record(self.store, client_key, self.policy.per_client)
            raise AccountError(_WRONG, "password")
        self._verify(user, password, client_key)
        if user.hidden:
            raise AccountError("This account has been suspended by a moderator.", "login")
        if _hasher.check_needs_rehash(user.password_hash):
            self.store.update_user(user.id, password_hash=hash_password(password))
        self.store.record_login_success(user.id)
        return user

    def _refuse_spent_client(self, client: str | None) -> str | None:
        if client is None:
            return None
        key = f"login:fail:ip:{client}"
        what = "wrong passwords from your network address"
        limits.refuse_if_spent(self.store, key, self.policy.per_client, what)
        return key

    def _verify(self, user: User, password: str, client_key: str | None) -> None:
        """Check ``user``'s password, counting a wrong one for the client and the account."""
        account_key = f"login:fail:user:{user.id}"
        retry = limits.spent(self.store, account_key, self.policy.per_account)
        if retry is not None:
            raise PasswordLoginPaused(retry)
        try:
            _hasher.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError):
            if client_key is not None:
                limits.record(self.store, client_key, self.policy.per_client)
            if limits.record(self.store, account_key, self.policy.per_account):
                retry = self.policy.per_account.retry_after(time.time())
                raise PasswordLoginPaused(retry) from None
            raise AccountError(_WRONG, "password") from None

    def change_password(
        self, user: User, current: str, password: str, *, client: str | None = None
    ) -> int:
        """Set a new password after checking the current one (counted like a login); ends
        every session and revokes every API token of the user. Returns the tokens revoked."""
        client_key = self._refuse_spent_client(client)
        fresh = self.store.get_user(user.id)
        if fresh is None:
            raise AccountError("This account no longer exists.")
        self._verify(fresh, current, client_key)
        check_password(password)
        self.store.update_user(user.id, password_hash=hash_password(password))
        return self._after_new_password(user.id)

    def _after_new_password(self, user_id: int) -> int:
        self.store.delete_user_sessions(user_id)  # log out everywhere (the caller logs in again)
        limits.forget(self.store, f"login:fail:user:{user_id}")
        return self.store.revoke_user_tokens(user_id)

    # -- email verification, password reset, sign-in links ---------------------------------

    def verification_token(self, user: User) -> str:
        return self.signer.dumps("verify-email", {"u": user.id, "e": user.email})

    def verify_email(self, token: str) -> User:
        data = self.signer.loads("verify-email", token, VERIFY_MAX_AGE)
        user = self.store.get_user(_user_id(data))
        if user is None or user.email != data.get("e"):
            raise AccountError("This link is not valid any more.")
        if not user.email_verified:
            self.store.update_user(user.id, email_verified_at=utc_now())
        verified = self.store.get_user(user.id)
        assert verified is not None
        return verified

    def reset_token(self, user: User) -> str:
        return self.signer.dumps(
            "reset-password", {"u": user.id, "h": _fingerprint(user.password_hash)}
        )

    def user_for_reset(self, token: str) -> User:
        data = self.signer.loads("reset-password", token, RESET_MAX_AGE)
        user = self.store.get_user(_user_id(data))
        if user is None or _fingerprint(user.password_hash) != data.get("h"):
            raise AccountError("This reset link has been used already; ask for a new one.")
        return user

    def reset_password(self, token: str, password: str) -> tuple[User, int]:
        """Set the password a reset link was mailed for; ends every session and revokes every
        API token of the user. Returns the user and the number of tokens revoked."""
        user = self.user_for_reset(token)
        check_password(password)
        # The link came by mail, which proves the address.
        values: dict[str, Any] = {"password_hash": hash_password(password)}
        if not user.email_verified:
            values["email_verified_at"] = utc_now()
        self.store.update_user(user.id, **values)
        revoked = self._after_new_password(user.id)
        updated = self.store.get_user(user.id)
        assert updated is not None
        return updated, revoked

    def sign_in_token(self, user: User) -> str:
        last = user.last_login_at.isoformat() if user.last_login_at else None
        return self.signer.dumps("sign-in", {"u": user.id, "l": last})

    def _sign_in_link(self, token: str) -> tuple[User, datetime | None]:
        data = self.signer.loads("sign-in", token, SIGNIN_MAX_AGE)
        user = self.store.get_user(_user_id(data))
        if user is None:
            raise AccountError("This link is not valid any more.")
        if user.hidden:
            raise AccountError("This account has been suspended by a moderator.")
        try:
            last = datetime.fromisoformat(data["l"]) if data.get("l") else None
        except (TypeError, ValueError) as exc:
            raise AccountError("This link is not valid (it may be incomplete).") from exc
        return user, last

    def user_for_sign_in(self, token: str) -> User:
        """The user a sign-in link is for, while it still works (nothing is used up)."""
        user, last = self._sign_in_link(token)
        if user.last_login_at != last:
            raise AccountError(_LINK_USED)
        return user

    def sign_in_with_link(self, token: str) -> User:
        """The user a sign-in link was mailed to, once: the link holds the time of the last
        login, and using it moves that time. Passes the account's limit of wrong passwords."""
        user, last = self._sign_in_link(token)
        if not self.store.claim_login(user.id, last):
            raise AccountError(_LINK_USED)
        if not user.email_verified:  # the link came by mail, which proves the address
            self.store.update_user(user.id, email_verified_at=utc_now())
        limits.forget(self.store, f"login:fail:user:{user.id}")
        signed_in = self.store.get_user(user.id)
        assert signed_in is not None
        return signed_in
