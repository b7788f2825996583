"""Record shapes of the community features: plain frozen dataclasses, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class User:
    id: int
    email: str
    username: str
    is_admin: bool
    email_verified: bool
    hidden: bool
    created_at: datetime
    password_hash: str = ""  # only the accounts service reads it
    last_login_at: datetime | None = None  # a sign-in link holds it, so the link works once

    @property
    def can_write(self) -> bool:
        """Voting, submitting and commenting need a verified address and a visible account."""
        return self.email_verified and not self.hidden


@dataclass(frozen=True, slots=True)
class ApiToken:
    id: int
    user_id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    scopes: tuple[str, ...] = ("read", "write")  # of read, write, admin

    @property
    def role(self) -> str:
        """The widest scope: ``read``, ``write`` or ``admin``."""
        return next((s for s in ("admin", "write", "read") if s in self.scopes), "none")


@dataclass(frozen=True, slots=True)
class VoteResult:
    paper_id: str
    voted: bool  # the user's vote after the request
    changed: bool  # False when the request asked for the state it already had (a double-click)
    local_votes: int  # votes cast here on the paper


@dataclass(frozen=True, slots=True)
class Activity:
    """A paper's life on this site: votes and comments counted here, and moderation."""

    paper_id: str
    votes: int = 0
    comments: int = 0
    hidden_at: datetime | None = None
    hidden_reason: str | None = None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    actor_id: int | None
    actor: str | None  # username, when the actor is a user
    action: str
    target_type: str
    target_id: str
    detail: dict[str, Any] | None
