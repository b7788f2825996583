"""Accounts in the store: users, server-side sessions, API tokens, rate counters, site secrets.

Secrets never reach the database in the clear: session cookies and API tokens are stored as
SHA-256 digests (they are long random values, so a fast digest is enough), passwords as argon2
hashes made by ``paperboy.community.accounts``.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select, update

from paperboy.clock import utc_now
from paperboy.errors import PaperboyError
from paperboy.models import SCOPES_OF_OLD_TOKENS, ApiToken, User
from paperboy.store.dialects import insert_for
from paperboy.store.schema import api_tokens, rate_counters, sessions, site_secrets, users
from paperboy.store.substore import SubStore


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def counter_key(key: str) -> str:
    """``key`` as the rate_counters table holds it: as given up to 200 characters, else a
    digest (keys hold addresses, which may be as long as the column)."""
    return key if len(key) <= 200 else f"{key[:120]}#sha256:{digest(key)}"


def user_from_row(row: Any) -> User:
    m = row._mapping
    return User(
        id=m["id"],
        email=m["email"],
        username=m["username"],
        is_admin=bool(m["is_admin"]),
        email_verified=m["email_verified_at"] is not None,
        hidden=m["hidden_at"] is not None,
        created_at=m["created_at"],
        password_hash=m["password_hash"],
        last_login_at=m["last_login_at"],
    )


def _scopes(text: str | None) -> tuple[str, ...]:
    return tuple((text or "").split())


def _token_from_row(r: Any) -> ApiToken:
    return ApiToken(
        r.id,
        r.user_id,
        r.name,
        r.prefix,
        r.created_at,
        r.last_used_at,
        r.revoked_at,
        _scopes(r.scopes),
    )


class UserTaken(PaperboyError):
    """The email address or user name belongs to another account."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


class AccountStore(SubStore):
    # -- users ------------------------------------------------------------------------------

    def create_user(
        self,
        email: str,
        username: str,
        password_hash: str,
        *,
        is_admin: bool = False,
        verified: bool = False,
    ) -> User:
        now = utc_now()
        with self._writer() as conn, conn.begin():
            taken = conn.execute(
                select(users.c.email, users.c.username_key).where(
                    (users.c.email == email) | (users.c.username_key == username.lower())
                )
            ).first()
            if taken is not None:
                raise UserTaken("email" if taken.email == email else "username")
            user_id = conn.execute(
                insert(users)
                .values(
                    email=email,
                    username=username,
                    username_key=username.lower(),
                    password_hash=password_hash,
                    is_admin=is_admin,
                    email_verified_at=now if verified else None,
                    failed_logins=0,
                    created_at=now,
                )
                .returning(users.c.id)
            ).scalar_one()
        found = self.get_user(int(user_id))
        assert found is not None
        return found

    def get_user(self, user_id: int) -> User | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.id == user_id)).first()
        return user_from_row(row) if row is not None else None

    def user_by_email(self, email: str) -> User | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.email == email.lower())).first()
        return user_from_row(row) if row is not None else None

    def user_by_name(self, username: str) -> User | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(users).where(users.c.username_key == username.lower())
            ).first()
        return user_from_row(row) if row is not None else None

    def count_users(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(users)).scalar_one())

    def list_users(self, *, offset: int = 0, limit: int = 50) -> list[User]:
        query = select(users).order_by(users.c.id).offset(offset).limit(limit)
        with self.engine.connect() as conn:
            return [user_from_row(row) for row in conn.execute(query)]

    def update_user(self, user_id: int, **values: Any) -> None:
        """Set columns of one user (email_verified_at, password_hash, is_admin, hidden_at...)."""
        with self._writer() as conn, conn.begin():
            conn.execute(update(users).where(users.c.id == user_id).values(**values))

    def delete_user(self, user_id: int) -> None:
        """Remove an account (its sessions and tokens go with it): only for one whose sign-up
        could not be completed, before anything else refers to it."""
        with self._writer() as conn, conn.begin():
            conn.execute(delete(users).where(users.c.id == user_id))

    def record_login_success(self, user_id: int) -> None:
        self.update_user(user_id, last_login_at=utc_now())

    def claim_login(self, user_id: int, last_login_at: datetime | None) -> bool:
        """Note a login now if the user's last login is still ``last_login_at``: True for the
        one caller that moved it (a sign-in link holds the value and so works once)."""
        same = (
            users.c.last_login_at.is_(None)
            if last_login_at is None
            else users.c.last_login_at == last_login_at
        )
        with self._writer() as conn, conn.begin():
            done = conn.execute(
                update(users).where(users.c.id == user_id, same).values(last_login_at=utc_now())
            )
        return done.rowcount == 1

    # -- sessions ---------------------------------------------------------------------------

    def create_session(self, user_id: int, lifetime: timedelta) -> str:
        """A new session; returns the cookie value (only its digest is stored)."""
        token = secrets.token_urlsafe(32)
        now = utc_now()
        with self._writer() as conn, conn.begin():
            conn.execute(
                insert(sessions).values(
                    token_hash=digest(token),
                    user_id=user_id,
                    created_at=now,
                    expires_at=now + lifetime,
                    last_seen_at=now,
                )
            )
        return token

    def session_user(self, token: str) -> User | None:
        """The user of a live session (None when unknown, expired or the user is hidden)."""
        query = (
            select(users)
            .join(sessions, sessions.c.user_id == users.c.id)
            .where(
                sessions.c.token_hash == digest(token),
                sessions.c.expires_at > utc_now(),
                users.c.hidden_at.is_(None),
            )
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return user_from_row(row) if row is not None else None

    def delete_session(self, token: str) -> None:
        with self._writer() as conn, conn.begin():
            conn.execute(delete(sessions).where(sessions.c.token_hash == digest(token)))

    def delete_user_sessions(self, user_id: int) -> int:
        with self._writer() as conn, conn.begin():
            return conn.execute(delete(sessions).where(sessions.c.user_id == user_id)).rowcount

    def delete_expired_sessions(self) -> int:
        with self._writer() as conn, conn.begin():
            return conn.execute(delete(sessions).where(sessions.c.expires_at <= utc_now())).rowcount

    # -- API tokens -------------------------------------------------------------------------

    def create_api_token(
        self, user_id: int, name: str, scopes: Sequence[str] = SCOPES_OF_OLD_TOKENS
    ) -> tuple[ApiToken, str]:
        """A new token for scripts, allowed ``scopes`` (read, write, admin); returns it with
        its secret, which is never stored."""
        secret = "pb_" + secrets.token_urlsafe(30)
        now = utc_now()
        scopes = tuple(scopes)
        with self._writer() as conn, conn.begin():
            token_id = conn.execute(
                insert(api_tokens)
                .values(
                    user_id=user_id,
                    name=name,
                    token_hash=digest(secret),
                    prefix=secret[:10],
                    created_at=now,
                    scopes=" ".join(scopes),
                )
                .returning(api_tokens.c.id)
            ).scalar_one()
        token = ApiToken(int(token_id), user_id, name, secret[:10], now, None, None, scopes)
        return token, secret

    def api_tokens_of(self, user_id: int) -> list[ApiToken]:
        query = select(api_tokens).where(api_tokens.c.user_id == user_id).order_by(api_tokens.c.id)
        with self.engine.connect() as conn:
            return [_token_from_row(r) for r in conn.execute(query)]

    def revoke_user_tokens(self, user_id: int) -> int:
        """Revoke every live token of a user (after a password change or reset); how many."""
        return self._revoke(api_tokens.c.user_id == user_id)

    def revoke_api_token(self, user_id: int, token_id: int) -> bool:
        return self._revoke(api_tokens.c.id == token_id, api_tokens.c.user_id == user_id) == 1

    def _revoke(self, *where: Any) -> int:
        """Revoke the live tokens matching ``where``; how many."""
        with self._writer() as conn, conn.begin():
            done = conn.execute(
                update(api_tokens)
                .where(*where, api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=utc_now())
            )
        return int(done.rowcount)

    def api_token_auth(self, secret: str) -> tuple[User, tuple[str, ...]] | None:
        """The owner of a live (not revoked) token and the token's scopes; notes when it was
        last used."""
        query = (
            select(
                users,
                api_tokens.c.id.label("token_id"),
                api_tokens.c.last_used_at,
                api_tokens.c.scopes,
            )
            .join(api_tokens, api_tokens.c.user_id == users.c.id)
            .where(
                api_tokens.c.token_hash == digest(secret),
                api_tokens.c.revoked_at.is_(None),
                users.c.hidden_at.is_(None),
            )
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        now = utc_now()
        if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=5):
            with self._writer() as conn, conn.begin():
                conn.execute(
                    update(api_tokens)
                    .where(api_tokens.c.id == row.token_id)
                    .values(last_used_at=now)
                )
        return user_from_row(row), _scopes(row.scopes)

    # -- rate limits and secrets ------------------------------------------------------------

    def hit(self, key: str, window_seconds: int, now: float) -> int:
        """Count one event under ``key`` in the current fixed window; returns the count so far
        (this one included). Atomic across processes: an upsert that adds one."""
        key = counter_key(key)
        window = int(now // window_seconds) * window_seconds
        stmt = insert_for(self.engine, rate_counters).values(key=key, window=window, count=1)
        stmt = stmt.on_conflict_do_update(
            index_elements=[rate_counters.c.key, rate_counters.c.window],
            set_={"count": rate_counters.c.count + 1},
        ).returning(rate_counters.c.count)
        with self._writer() as conn, conn.begin():
            count = int(conn.execute(stmt).scalar_one())
            if count == 1:  # a new window: forget this key's older ones
                conn.execute(
                    delete(rate_counters).where(
                        rate_counters.c.key == key, rate_counters.c.window < window
                    )
                )
        return count

    def count(self, key: str, window_seconds: int, now: float) -> int:
        """The events counted under ``key`` in the current fixed window (nothing is added)."""
        key = counter_key(key)
        window = int(now // window_seconds) * window_seconds
        with self.engine.connect() as conn:
            found = conn.execute(
                select(rate_counters.c.count).where(
                    rate_counters.c.key == key, rate_counters.c.window == window
                )
            ).scalar_one_or_none()
        return int(found or 0)

    def forget_counter(self, key: str) -> None:
        """Drop every window of ``key``: it counts from zero again."""
        with self._writer() as conn, conn.begin():
            conn.execute(delete(rate_counters).where(rate_counters.c.key == counter_key(key)))

    def secret(self, name: str) -> str:
        """The site secret ``name``, made (randomly, once, for every process) on first use."""
        with self.engine.connect() as conn:
            value = conn.execute(
                select(site_secrets.c.value).where(site_secrets.c.name == name)
            ).scalar_one_or_none()
        if value is not None:
            return str(value)
        stmt = (
            insert_for(self.engine, site_secrets)
            .values(name=name, value=secrets.token_urlsafe(48), created_at=utc_now())
            .on_conflict_do_nothing(index_elements=[site_secrets.c.name])
        )
        with self._writer() as conn, conn.begin():
            conn.execute(stmt)
            return str(
                conn.execute(
                    select(site_secrets.c.value).where(site_secrets.c.name == name)
                ).scalar_one()
            )
