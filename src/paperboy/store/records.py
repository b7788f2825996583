"""Record shapes the store's community and trending queries return: plain frozen dataclasses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from paperboy.models import Paper


@dataclass(frozen=True, slots=True)
class Collection:
    id: int
    user_id: int
    owner: str  # the owner's username
    name: str
    description: str
    is_public: bool
    created_at: datetime
    updated_at: datetime
    item_count: int = 0
    owner_hidden: bool = False  # the owner is suspended by the moderators


@dataclass(frozen=True, slots=True)
class CollectionItem:
    paper: Paper
    note: str
    added_at: datetime
    hidden: bool = False  # hidden by the moderators


@dataclass(frozen=True, slots=True)
class Comment:
    id: int
    paper_id: str
    user_id: int
    author: str  # the author's username
    body: str  # Markdown source, as typed (rendered safely on display)
    created_at: datetime
    edited_at: datetime | None
    deleted_at: datetime | None
    hidden_at: datetime | None
    hidden_by: int | None

    @property
    def visible(self) -> bool:
        """Shown to everyone (and counted): neither deleted nor hidden."""
        return self.deleted_at is None and self.hidden_at is None


@dataclass(frozen=True, slots=True)
class ModerationCounts:
    users: int
    hidden_users: int
    comments: int  # visible comments
    hidden_comments: int  # hidden by a moderator and not deleted
    hidden_papers: int


@dataclass(frozen=True, slots=True)
class TrendingRow:
    """What the formula needs about one paper (``entered``: its earliest feed day)."""

    paper_id: str
    entered: date
    imported_upvotes: int
    local_votes: int
    hidden: bool = False


@dataclass(frozen=True, slots=True)
class PeriodEntry:
    """One feed entry of a period, with the votes shown on it and its paper's first feed day."""

    entry_id: int
    paper_id: str
    feed_date: date
    imported_upvotes: int  # this entry's imported upvotes
    local_votes: int
    entered: date
