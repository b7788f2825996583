"""What a digest holds: its sections of papers, and the short texts that show each paper.

:class:`DigestPaper` is one paper as a digest shows it (short authors, an excerpt, why it is
there), :class:`Section` a titled list of them, :class:`Digest` one subscriber's rendered digest
for one period, ready for the outbox.
"""

from __future__ import annotations

import functools
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from paperboy.digest.periods import Period
from paperboy.models import Subscription
from paperboy.rank.trending import Breakdown

EXCERPT_CHARS = 140  # about two lines
TEXT_WIDTH = 72  # the text part's excerpt lines (titles and URLs are never broken)
MAX_AUTHORS = 3


@dataclass(frozen=True, slots=True)
class DigestPaper:
    """One paper as a digest shows it."""

    id: str
    title: str
    authors: str  # short: the first few names, "et al."
    upvotes: int
    why: str  # one line: why it is in this digest
    excerpt: str  # the abstract's start, about two lines
    url: str  # {base_url}/papers/{id}
    more_url: str | None = None  # one-click "more like this" (digests of an account)
    less_url: str | None = None  # one-click "not for me"

    @property
    def excerpt_lines(self) -> list[str]:
        """The excerpt wrapped for the text part."""
        return _wrapped(self.excerpt)


@dataclass(frozen=True, slots=True)
class Section:
    kind: str  # trending | for_you | alert
    heading: str
    papers: tuple[DigestPaper, ...]


@dataclass(frozen=True, slots=True)
class Digest:
    """One subscriber's digest for one period, rendered and ready for the outbox."""

    subscription: Subscription
    period: Period
    since: datetime  # naive UTC: what "new" means
    sections: tuple[Section, ...]
    message_id: str
    subject: str
    text: str
    html: str
    headers: dict[str, str]

    @property
    def paper_ids(self) -> list[str]:
        return [p.id for s in self.sections for p in s.papers]

    @property
    def empty(self) -> bool:
        return not any(s.papers for s in self.sections)


# -- small text helpers ---------------------------------------------------------------------


def squash(text: str | None) -> str:
    """``text`` on one line, runs of white space as one space."""
    return " ".join((text or "").split())


def short_authors(authors: Sequence[str]) -> str:
    names = [squash(a) for a in authors if squash(a)]
    if len(names) > MAX_AUTHORS:
        return ", ".join(names[:MAX_AUTHORS]) + " et al."
    return ", ".join(names) or "Unknown authors"


def excerpt(abstract: str | None, limit: int = EXCERPT_CHARS) -> str:
    text = squash(abstract)
    if len(text) <= limit:
        return text
    return textwrap.shorten(text, width=limit, placeholder=" …")


@functools.lru_cache(maxsize=4096)
def _wrapped_cached(text: str) -> tuple[str, ...]:
    return tuple(textwrap.wrap(text, width=TEXT_WIDTH))


def _wrapped(text: str) -> list[str]:
    return list(_wrapped_cached(text))


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def matches_categories(paper_categories: Sequence[str], wanted: Sequence[str]) -> bool:
    """True when any of the paper's categories starts with a wanted prefix (``cs`` takes
    ``cs.CL``, ``cs.CL`` takes only ``cs.CL``); no prefixes take everything."""
    if not wanted:
        return True
    for category in paper_categories:
        for prefix in wanted:
            if category == prefix or category.startswith(prefix.rstrip(".") + "."):
                return True
    return False


def trending_why(b: Breakdown) -> str:
    hours = round(b.age_hours)
    return (
        f"Trending: {plural(b.points, 'upvote')}, {plural(hours, 'hour')} in the feed "
        f"(score {b.score:.3g})"
    )


_WHY_TEXT = {
    "similar": "Like “{}”",
    "words": "Shares “{}” with papers you like",
    "author": "By {}",
    "category": "In {}",
    "popularity": "{}",
}


def for_you_why(reasons: Sequence[Any]) -> str:
    """One line from a personal ranking's reasons (``paperboy.rank.personal.Reason``): its two
    strongest positive ones."""
    parts = [
        _WHY_TEXT[r.kind].format(squash(r.label))
        for r in sorted(reasons, key=lambda r: -r.weight)
        if r.weight > 0 and r.kind in _WHY_TEXT
    ]
    return "; ".join(parts[:2]) or "Ranked for you"


def alert_why(query: str) -> str:
    return f"Matches your alert '{query}'"


__all__ = [
    "Digest",
    "DigestPaper",
    "Section",
    "alert_why",
    "excerpt",
    "matches_categories",
    "plural",
    "short_authors",
    "for_you_why",
    "squash",
    "trending_why",
]
