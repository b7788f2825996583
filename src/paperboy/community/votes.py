"""Upvotes and submissions: who may vote or submit, the rate limits, and the vote itself.

A vote is the state the user wants (on or off), so a double-click never counts twice. Only a
signed-in user with a verified address writes (votes, submits, comments); the rules of a
submission are in ``paperboy.community.submit``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from paperboy.community import limits
from paperboy.community.models import User
from paperboy.community.papers import visible_paper
from paperboy.community.submit import SubmitResult, arxiv_fetch, submit_paper
from paperboy.errors import LoginRequired, NotAllowed
from paperboy.models import Paper
from paperboy.settings import Settings
from paperboy.store import SQLStore

VERIFY_FIRST = "Please verify your email first: the link is in the mail we sent you."


def writer(user: User | None) -> User:
    """``user`` if signed in and allowed to vote, submit and comment; else LoginRequired or
    NotAllowed."""
    if user is None:
        raise LoginRequired()
    if not user.can_write:
        raise NotAllowed(VERIFY_FIRST)
    return user


@dataclass(frozen=True, slots=True)
class VoteOutcome:
    paper_id: str
    voted: bool  # the user's vote after the request
    changed: bool
    count: int  # the count every page shows: imported upvotes + votes here


@dataclass(frozen=True, slots=True)
class PaperVote:
    """A paper page's vote box: the counts, the viewer's vote and who submitted it."""

    count: int
    imported: int
    local: int
    voted: bool
    submitted_by: str | None
    submitted_on: date | None


class Votes:
    """Votes and submissions over one store (stateless: cheap to build per request)."""

    def __init__(self, store: SQLStore, settings: Settings, today: Callable[[], date]) -> None:
        self.store = store
        self.settings = settings
        self.today = today

    def count(self, paper_id: str) -> int:
        return self.store.vote_counts([paper_id]).get(paper_id, (0, 0))[0]

    def cast(self, user: User | None, arxiv_id: str, on: bool) -> VoteOutcome:
        """Make ``user``'s vote on the paper ``on`` or off (idempotent, rate limited)."""
        voter = writer(user)
        store = self.store
        limits.check(store.accounts, f"vote:user:{voter.id}", self.settings.rate_vote, "votes")
        paper = visible_paper(store, arxiv_id)
        result = store.activity.set_vote(voter.id, paper.id, on)
        return VoteOutcome(paper.id, result.voted, result.changed, self.count(paper.id))

    def voted(self, user: User | None, paper_ids: list[str]) -> set[str]:
        """Which of ``paper_ids`` ``user`` upvoted (empty when nobody is signed in)."""
        if user is None or not paper_ids:
            return set()
        return self.store.activity.voted(user.id, paper_ids)

    def paper(self, user: User | None, paper: Paper) -> PaperVote:
        store = self.store
        count = self.count(paper.id)
        local = store.activity.activity([paper.id]).get(paper.id)
        local_votes = local.votes if local is not None else 0
        daily = [
            e for e in store.feed_entries_for(paper.id) if e.source == "daily" and e.submitted_by
        ]
        first = min(daily, key=lambda e: e.feed_date) if daily else None
        return PaperVote(
            count=count,
            imported=count - local_votes,
            local=local_votes,
            voted=bool(self.voted(user, [paper.id])),
            submitted_by=first.submitted_by if first is not None else None,
            submitted_on=first.feed_date if first is not None else None,
        )

    def submit(self, user: User, ref: str) -> SubmitResult:
        """Run the submission rules for ``user`` (the page and the API alike)."""
        store, settings = self.store, self.settings
        return submit_paper(store, settings, user, ref, self.today(), arxiv_fetch(settings, store))
