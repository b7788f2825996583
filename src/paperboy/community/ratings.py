"""A reader's private ratings ("more like this", "not for me") and what they follow.

Ratings belong to one signed-in reader and are shown to nobody else; rating a paper again
replaces the rating, and a rating of 0 takes it back, so a double click never counts twice. A
reader need not have confirmed their address to rate (nothing they rate is shown to anyone), but
the paper must be one they may see. Followed categories and authors are part of the profile the
personal ranker (``paperboy.rank.personal``) reads; saving a paper to a collection counts as a
"more like this" there without a rating row.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from paperboy.categories import InvalidCategories, parse_categories
from paperboy.community import limits
from paperboy.community.accounts import AccountError, Signer, invisible_character
from paperboy.community.models import User
from paperboy.community.papers import visible_paper
from paperboy.errors import Invalid, LoginRequired
from paperboy.models import RATING_SOURCES, Paper, Rating, ReaderProfile
from paperboy.settings import Settings
from paperboy.store import SQLStore

RATE_LINK = "rate-from-mail"  # the salt of the rating links a digest carries
RATE_LINK_DAYS = 60  # how long such a link works
MAX_RATINGS = 10_000  # per reader; the ranker reads the most recent ones anyway
MAX_FOLLOWED_CATEGORIES = 30
MAX_FOLLOWED_AUTHORS = 200
MAX_AUTHOR_NAME = 200
PAGE_SIZE = 50

__all__ = [
    "MailedRating",
    "RatedPaper",
    "RatingOutcome",
    "RatingInvalid",
    "Ratings",
    "mailed_rating",
    "rating_token",
]


class RatingInvalid(Invalid):
    """A rating or a follow list that cannot be taken."""


@dataclass(frozen=True, slots=True)
class RatingOutcome:
    paper_id: str  # canonical
    value: int  # the rating now held: 1, -1, or 0 for none


@dataclass(frozen=True, slots=True)
class MailedRating:
    """What a rating link in a digest says: this reader rates this paper so."""

    user_id: int
    paper_id: str
    value: int


def rating_token(secret: str, user_id: int, paper_id: str, value: int) -> str:
    """The signed token of a one-click rating link for a digest (no login needed)."""
    return Signer(secret).dumps(RATE_LINK, {"u": int(user_id), "p": paper_id, "v": int(value)})


def mailed_rating(secret: str, token: str) -> MailedRating:
    """The rating a link's token names; AccountError when forged, cut or too old."""
    data = Signer(secret).loads(RATE_LINK, token, RATE_LINK_DAYS * 86400)
    try:
        user_id, paper_id, value = int(data["u"]), str(data["p"]), int(data["v"])
    except (KeyError, TypeError, ValueError) as exc:
        raise AccountError("This link is not valid (it may be incomplete).") from exc
    if value not in (-1, 1):
        raise AccountError("This link is not valid (it may be incomplete).")
    return MailedRating(user_id, paper_id, value)


@dataclass(frozen=True, slots=True)
class RatedPaper:
    rating: Rating
    paper: Paper


def reader(user: User | None) -> User:
    """``user`` when signed in; else LoginRequired (ratings are a signed-in reader's own)."""
    if user is None:
        raise LoginRequired("log in to rate papers: your ratings rank the papers for you")
    return user


def clean_author(name: str) -> str:
    """A followed author's name as typed, whitespace squashed; refuses control, bidi and
    zero-width characters and names over ``MAX_AUTHOR_NAME`` characters."""
    squashed = " ".join(unicodedata.normalize("NFKC", name).split())
    if len(squashed) > MAX_AUTHOR_NAME:
        raise RatingInvalid(f"an author's name is at most {MAX_AUTHOR_NAME} characters", "authors")
    found = invisible_character(squashed)
    if found is not None:
        raise RatingInvalid(
            f"an author's name may not hold invisible or control characters: it has {found}",
            "authors",
        )
    return squashed


class Ratings:
    """Ratings and follows over one store (stateless: cheap to build per request)."""

    def __init__(self, store: SQLStore, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    def rate(self, user: User | None, arxiv_id: str, value: int, source: str) -> RatingOutcome:
        """Set ``user``'s rating of the paper: +1, -1, or 0 to take it back."""
        who = reader(user)
        if value not in (-1, 0, 1):
            raise RatingInvalid("a rating is 1 (more like this), -1 (not for me) or 0", "value")
        if source not in RATING_SOURCES:
            raise RatingInvalid(f"unknown source {source[:40]!r}", "source")
        store = self.store
        limits.check(store.accounts, f"rate:user:{who.id}", self.settings.rate_rating, "ratings")
        paper = visible_paper(store, arxiv_id)
        if value == 0:
            store.ratings.unrate(who.id, paper.id)
            return RatingOutcome(paper.id, 0)
        held = store.ratings.values_for(who.id, [paper.id])
        if not held and sum(store.ratings.count_of(who.id).values()) >= MAX_RATINGS:
            raise RatingInvalid(
                f"you have {MAX_RATINGS:,} ratings, the most one reader may keep: take some "
                "back on your ratings page first",
                "value",
            )
        store.ratings.rate(who.id, paper.id, value, source)
        return RatingOutcome(paper.id, value)

    def rate_mailed(self, secret: str, token: str) -> tuple[MailedRating, Paper]:
        """Take the rating a digest's signed link names (idempotent: the link may be opened
        twice). AccountError for a bad link; PaperNotFound when the paper has gone."""
        mailed = mailed_rating(secret, token)
        user = self.store.accounts.get_user(mailed.user_id)
        if user is None or user.hidden:
            raise AccountError("This link is not valid any more: the account is gone.")
        paper = visible_paper(self.store, mailed.paper_id)
        self.store.ratings.rate(user.id, paper.id, mailed.value, "digest")
        return mailed, paper

    def of(self, user: User | None, paper_ids: Sequence[str]) -> dict[str, int]:
        """The viewer's ratings of ``paper_ids`` (empty when nobody is signed in)."""
        if user is None or not paper_ids:
            return {}
        return self.store.ratings.values_for(user.id, paper_ids)

    def page(self, user: User | None, page: int = 1) -> tuple[list[RatedPaper], int]:
        """One page of the reader's ratings, newest first, and how many they have."""
        who = reader(user)
        rows = self.store.ratings.ratings_of(
            who.id, offset=(max(page, 1) - 1) * PAGE_SIZE, limit=PAGE_SIZE
        )
        papers = self.store.get_papers([r.paper_id for r in rows])
        total = sum(self.store.ratings.count_of(who.id).values())
        return [RatedPaper(r, papers[r.paper_id]) for r in rows if r.paper_id in papers], total

    def profile(self, user: User | None) -> ReaderProfile:
        return self.store.ratings.profile(reader(user).id)

    def follow(
        self, user: User | None, *, categories: str, authors: Sequence[str]
    ) -> ReaderProfile:
        """Replace what the reader follows: ``categories`` as on a feed page ("cs.CL, stat.ML";
        exclusions make no sense here and are refused), ``authors`` one name each."""
        who = reader(user)
        try:
            wanted = parse_categories(categories) if categories.strip() else None
        except InvalidCategories as exc:
            raise RatingInvalid(str(exc), "categories") from None
        if wanted is not None and wanted.exclude:
            raise RatingInvalid("follow categories, not exclusions like -cs.CY", "categories")
        followed = list(wanted.include) if wanted is not None else []
        if len(followed) > MAX_FOLLOWED_CATEGORIES:
            raise RatingInvalid(
                f"follow at most {MAX_FOLLOWED_CATEGORIES} categories", "categories"
            )
        names = list(dict.fromkeys(n for n in map(clean_author, authors) if n))
        if len(names) > MAX_FOLLOWED_AUTHORS:
            raise RatingInvalid(f"follow at most {MAX_FOLLOWED_AUTHORS} authors", "authors")
        self.store.ratings.set_follows(who.id, categories=followed, authors=names)
        return self.store.ratings.profile(who.id)

    def forget(self, user: User | None) -> int:
        """Delete all the reader's ratings and follows; returns the ratings deleted."""
        return self.store.ratings.forget(reader(user).id)
