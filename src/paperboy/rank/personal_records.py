"""The records of the personal ranker (``paperboy.rank.personal``): the papers it ranks, a
reader's profile, and the recommendations with their reasons."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from paperboy.embed.text import paper_text

ReasonKind = Literal["similar", "words", "author", "category", "popularity", "unlike"]


@dataclass(frozen=True, slots=True, eq=False)
class RankedPaper:
    """A paper as the ranker sees it. ``vector``: its unit embedding, or None."""

    paper_id: str
    title: str = ""
    abstract: str = ""
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    vector: np.ndarray | None = None
    upvotes: int = 0

    @property
    def text(self) -> str:
        return paper_text(self.title, self.abstract)


@dataclass(frozen=True, slots=True, eq=False)
class Rating:
    """A rated paper with a weight (1 by default) and, optionally, when it was rated (any
    increasing number, e.g. epoch seconds); ratings with a time are ordered by it."""

    paper: RankedPaper
    weight: float = 1.0
    at: float | None = None


@dataclass(frozen=True, slots=True)
class Signals:
    """Which score terms besides content are on."""

    authors: bool = True
    categories: bool = True
    popularity: bool = False


@dataclass(frozen=True, slots=True)
class Profile:
    """What a user told us: papers for them (``positives``) and not (``negatives``), each oldest
    first, and the authors and categories they follow."""

    positives: Sequence[RankedPaper | Rating] = ()
    negatives: Sequence[RankedPaper | Rating] = ()
    followed_authors: tuple[str, ...] = ()
    followed_categories: tuple[str, ...] = ()
    signals: Signals = field(default_factory=Signals)


@dataclass(frozen=True, slots=True)
class Reason:
    """One term of a score: its kind, what to show, its contribution, the rated paper if any."""

    kind: ReasonKind
    label: str
    weight: float
    paper_id: str | None = None


@dataclass(frozen=True, slots=True)
class Recommendation:
    paper_id: str
    score: float
    why: tuple[Reason, ...]
