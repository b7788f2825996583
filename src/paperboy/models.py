"""Record shapes shared by every layer: plain frozen dataclasses, no I/O."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

FEED_SOURCES = ("daily", "arxiv")
"""Where a feed entry came from: the community daily list, or an arXiv announcement listing."""


@dataclass(frozen=True, slots=True)
class Paper:
    """One paper, keyed by its canonical arXiv id (no version)."""

    id: str
    title: str
    abstract: str = ""
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()  # primary category first
    version: int | None = None  # latest version known, None when the source does not say
    published: datetime | None = None  # first version (UTC, naive)
    updated: datetime | None = None  # latest version (UTC, naive)
    comments: str | None = None
    journal_ref: str | None = None
    doi: str | None = None
    license: str | None = None
    github_repo: str | None = None
    github_stars: int | None = None
    project_page: str | None = None
    withdrawn: bool = False

    @property
    def primary_category(self) -> str | None:
        return self.categories[0] if self.categories else None


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """A paper's appearance in the daily feed on one day."""

    paper_id: str
    feed_date: date
    source: str = "daily"
    submitted_by: str | None = None
    upvotes: int | None = None
    num_comments: int | None = None
    announce_type: str | None = None  # arXiv listing: "new" or "cross"; None for other sources


@dataclass(frozen=True, slots=True)
class Record:
    """What every ingest source yields: a paper and, optionally, its feed entry."""

    paper: Paper
    feed: FeedEntry | None = None


@dataclass(frozen=True, slots=True)
class FeedItem:
    """A feed entry joined with its paper, as views show it."""

    paper: Paper
    entry: FeedEntry


@dataclass(slots=True)
class UpsertCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    older: int = 0
    feed_added: int = 0
    feed_updated: int = 0

    def add(self, other: UpsertCounts) -> None:
        for name in self.__slots__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(slots=True)
class ImportProblem:
    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.message}"


@dataclass(slots=True)
class ImportReport:
    files: list[str] = field(default_factory=list)
    counts: UpsertCounts = field(default_factory=UpsertCounts)
    problems: list[ImportProblem] = field(default_factory=list)
    failed_files: list[str] = field(default_factory=list)
    records: int = 0

    @property
    def skipped(self) -> int:
        """Records that changed nothing: unchanged, older versions, or malformed."""
        return self.counts.unchanged + self.counts.older + self.malformed

    @property
    def malformed(self) -> int:
        return sum(1 for p in self.problems if p.line is not None)


@dataclass(frozen=True, slots=True)
class IngestRun:
    id: int
    source: str
    detail: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    inserted: int
    updated: int
    skipped: int
    errors: int
    message: str | None
    host: str | None = None
    pid: int | None = None


_OTHER_SPACES = ("\t", "\r", "\x0b", "\x0c", "\xa0", "\u2009", "\u202f", "\u3000")
_PARAGRAPH = re.compile(r"\n\s*\n|\n  (?=\S)")


def clean_title(text: str) -> str:
    """Collapse the hard line wraps and runs of spaces arXiv leaves in titles."""
    return " ".join(text.split())


def clean_abstract(text: str) -> str:
    """Unwrap arXiv's 80-column lines, keeping paragraph breaks as blank lines."""
    flat = text.replace("\n", " ")
    if (  # plain hard-wrapped lines, no paragraph breaks: the common case, kept fast
        "  " not in flat
        and not any(space in flat for space in _OTHER_SPACES)
        and not flat[:1].isspace()
        and not flat[-1:].isspace()
    ):
        return flat
    paragraphs = (" ".join(p.split()) for p in _PARAGRAPH.split(text.strip()))
    return "\n\n".join(p for p in paragraphs if p)


# -- community: accounts, tokens, votes, moderation -------------------------------------


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


SCOPES_OF_OLD_TOKENS = ("read", "write")
"""Tokens made before scopes existed (and the default): read and write, never admin."""


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


# -- email: subscriptions, alerts, outbox -----------------------------------------------


Frequency = Literal["daily", "weekly", "off"]
FREQUENCIES: tuple[Frequency, ...] = ("daily", "weekly", "off")
SubscriptionStatus = Literal["pending", "active", "unsubscribed", "paused"]


@dataclass(frozen=True, slots=True)
class Subscription:
    id: int
    email: str
    user_id: int | None
    status: str  # SubscriptionStatus
    frequency: str  # Frequency
    categories: tuple[str, ...]
    min_upvotes: int
    include_trending: bool
    created_at: datetime
    confirmed_at: datetime | None
    unsubscribed_at: datetime | None
    last_digest_at: datetime | None
    failures: int
    paused_at: datetime | None
    pause_reason: str | None

    @property
    def active(self) -> bool:
        return self.status == "active"


@dataclass(frozen=True, slots=True)
class Alert:
    id: int
    subscription_id: int
    query: str
    mode: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    id: int
    subscription_id: int
    period: str
    message_id: str
    to_addr: str
    subject: str
    body_text: str
    body_html: str | None
    headers: dict[str, Any]
    status: str  # pending, sending, sent, failed, skipped
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    claimed_by: str | None
    created_at: datetime
    sent_at: datetime | None


RATING_SOURCES = ("card", "paper", "search", "similar", "digest", "seed", "library", "api")
"""Where a rating may come from (kept with it, so a reader's ratings page can say)."""


@dataclass(frozen=True, slots=True)
class Rating:
    """A reader's private "more like this" (+1) or "not for me" (-1) on one paper."""

    user_id: int
    paper_id: str
    value: int
    source: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ReaderProfile:
    """What a reader follows besides their ratings (empty for a reader who set nothing)."""

    user_id: int
    categories: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    feed_key: str | None = None
    last_visit_at: datetime | None = None


def _prefix_matches(category: str, token: str) -> bool:
    """``cs`` takes ``cs`` and ``cs.CL``; ``cs.CL`` takes only ``cs.CL`` (case ignored)."""
    category, token = category.lower(), token.lower()
    return category == token or ("." not in token and category.startswith(token + "."))


@dataclass(frozen=True, slots=True)
class CategoryFilter:
    """Categories to include (any of them) and to exclude (none of them), as arXiv spells
    them. Empty: every paper matches (and it is false)."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.include or self.exclude)

    def matches(self, categories: Sequence[str]) -> bool:
        """Whether a paper listed in ``categories`` (primary and cross-lists) passes."""
        if self.include and not any(
            _prefix_matches(c, t) for c in categories for t in self.include
        ):
            return False
        return not any(_prefix_matches(c, t) for c in categories for t in self.exclude)

    def as_param(self) -> str:
        """The filter as the ``cat`` parameter's value: ``cs,-cs.CY``."""
        return ",".join([*self.include, *(f"-{t}" for t in self.exclude)])

    def describe(self) -> str:
        """The papers the filter keeps, in words: "cs.CL or cs.LG papers", "cs papers outside
        cs.CY", "papers outside cs.CY"."""
        phrase = f"{' or '.join(self.include)} papers" if self.include else "papers"
        if self.exclude:
            phrase += f" outside {' and '.join(self.exclude)}"
        return phrase
