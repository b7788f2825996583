"""Accounts: sign-up, passwords (argon2id), login with lockout, signed email links, API tokens.

Links mailed to users carry tokens signed with the site key (itsdangerous), with one salt per
purpose so a token made for one job never works for another. A password-reset token also holds
a fingerprint of the current password hash: using it changes the hash, so it works once.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from paperboy.community.models import User
from paperboy.store.accounts import AccountStore, UserTaken

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{1,31}$")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024
VERIFY_MAX_AGE = 3 * 86400
RESET_MAX_AGE = 2 * 3600

_hasher = PasswordHasher()
# Verifying against this keeps a login for an unknown user as slow as one for a known user.
_DUMMY_HASH = _hasher.hash("not a password of anyone")


class AccountError(Exception):
    """A sign-up, login or token refused, with a message for the person and the form field."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def normalise_email(email: str) -> str:
    try:
        valid = validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise AccountError(f"That email address does not look right: {exc}", "email") from exc
    return valid.normalized.lower()


def check_username(username: str) -> str:
    name = username.strip()
    if not USERNAME.match(name):
        raise AccountError(
            "A user name has 2 to 32 letters, digits, '-' or '_', starting with a letter or digit.",
            "username",
        )
    return name


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"Use a password of at least {MIN_PASSWORD} characters.", "password")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"Use a password of at most {MAX_PASSWORD} characters.", "password")


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    max_failures: int = 5
    lockout: timedelta = timedelta(minutes=15)


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
        address = normalise_email(email)
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

    def authenticate(self, login: str, password: str) -> User:
        """The user whose email or user name and password match. Wrong passwords count toward
        a lockout; the messages never say whether an account exists."""
        login = login.strip()
        user = (
            self.store.user_by_email(login.lower())
            if "@" in login
            else self.store.user_by_name(login)
        )
        wrong = AccountError("Wrong email, user name or password.", "password")
        if user is None:
            try:
                _hasher.verify(_DUMMY_HASH, password)
            except VerificationError:
                pass
            raise wrong
        _, locked_until = self.store.login_state(user.id)
        now = datetime.now(UTC).replace(tzinfo=None)
        if locked_until is not None and locked_until > now:
            minutes = max(1, int((locked_until - now).total_seconds() // 60) + 1)
            raise AccountError(
                f"Too many wrong passwords: this account is locked for {minutes} more "
                "minute(s). You can reset the password by email.",
                "password",
            )
        try:
            _hasher.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError):
            locked = self.store.record_login_failure(
                user.id, self.policy.max_failures, self.policy.lockout
            )
            if locked:
                minutes = int(self.policy.lockout.total_seconds() // 60)
                raise AccountError(
                    f"Too many wrong passwords: this account is locked for {minutes} minutes. "
                    "You can reset the password by email.",
                    "password",
                ) from None
            raise wrong from None
        if user.hidden:
            raise AccountError("This account has been suspended by a moderator.", "login")
        if _hasher.check_needs_rehash(user.password_hash):
            self.store.update_user(user.id, password_hash=hash_password(password))
        self.store.record_login_success(user.id)
        return user

    # -- email verification and password reset ---------------------------------------------

    def verification_token(self, user: User) -> str:
        return self.signer.dumps("verify-email", {"u": user.id, "e": user.email})

    def verify_email(self, token: str) -> User:
        data = self.signer.loads("verify-email", token, VERIFY_MAX_AGE)
        user = self.store.get_user(int(data["u"]))
        if user is None or user.email != data.get("e"):
            raise AccountError("This link is not valid any more.")
        if not user.email_verified:
            self.store.update_user(
                user.id, email_verified_at=datetime.now(UTC).replace(tzinfo=None)
            )
        verified = self.store.get_user(user.id)
        assert verified is not None
        return verified

    def reset_token(self, user: User) -> str:
        return self.signer.dumps(
            "reset-password", {"u": user.id, "h": _fingerprint(user.password_hash)}
        )

    def user_for_reset(self, token: str) -> User:
        data = self.signer.loads("reset-password", token, RESET_MAX_AGE)
        user = self.store.get_user(int(data["u"]))
        if user is None or _fingerprint(user.password_hash) != data.get("h"):
            raise AccountError("This reset link has been used already; ask for a new one.")
        return user

    def reset_password(self, token: str, password: str) -> User:
        user = self.user_for_reset(token)
        check_password(password)
        now = datetime.now(UTC).replace(tzinfo=None)
        # The link came by mail, which proves the address; a reset also lifts a lockout.
        values: dict[str, Any] = {
            "password_hash": hash_password(password),
            "failed_logins": 0,
            "locked_until": None,
        }
        if not user.email_verified:
            values["email_verified_at"] = now
        self.store.update_user(user.id, **values)
        self.store.delete_user_sessions(user.id)  # log out everywhere else
        updated = self.store.get_user(user.id)
        assert updated is not None
        return updated
