"""The per-user "for you" ranking model: candidates ordered by what a user rated.

Pure: numpy and the standard library; callers bring the papers (``RankedPaper``) and the user's
ratings (``Profile``) and get ``Recommendation`` s back, best first, each saying why.

A candidate's score is a sum of terms, each of which is also its explanation:

- **text**: the tf-idf cosine (word and bigram terms, idf raised to ``IDF_POWER`` so rare terms,
  such as the names of a group's models and data sets, count more) with each rated paper,
  averaged with the ratings' weights; explained by the shared ``words`` that contribute most;
- **vector**: ``W_VECTOR`` times the embedding cosine with each rated paper minus the cosine
  with a reference (the mean of the ``background`` sample, else of the candidates), so papers
  that are like everything gain nothing; the text and vector parts of each rated paper together
  are its ``similar`` reason (the top three are named);
- **author**: ``W_AUTHOR`` times, for each of the candidate's authors, the weighted share of
  the rated papers that author is on (a followed author counts as on all of them);
- **category**: the same with arXiv categories, at ``W_CATEGORY``;
- **popularity** (off by default): ``W_POPULARITY`` times log upvotes, scaled to the candidates;
- **unlike**: each "not for me" paper subtracts ``W_NEGATIVE`` times how far its similarity
  to the candidate exceeds ``NEGATIVE_FLOOR`` (only its close neighbourhood is demoted).

The weights (``W_*``, ``IDF_POWER``, ``NEGATIVE_FLOOR``) live in ``personal_score``, the text
and author features in ``personal_features``.

For many users over the same feed, prepare the candidates once (``Candidates``): each call then
only fits the profile (about 15 ms for 200 ratings and 2,000 candidates on two cores,
``bench/recs_latency.py``).

Rated papers are weighted by recency (oldest first in, the newest weighs 1, halving every
``HALF_LIFE`` ratings) and capped to the newest ``MAX_POSITIVES`` / ``MAX_NEGATIVES``, and the
background to ``MAX_BACKGROUND`` papers, so the cost is bounded however many ratings a user has.
The weights were chosen on real reading histories (``bench/eval_recs.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from paperboy.embed.text import paper_text
from paperboy.rank.personal_features import Idf, author_key, recency_weights
from paperboy.rank.personal_records import (
    Profile,
    RankedPaper,
    Rating,
    Reason,
    Recommendation,
    Signals,
)
from paperboy.rank.personal_score import Block, Scorer, resolve_idf

__all__ = [
    "Candidates",
    "Idf",
    "Profile",
    "RankedPaper",
    "Rating",
    "Reason",
    "Recommendation",
    "Signals",
    "author_key",
    "paper_text",
    "rank",
]

HALF_LIFE = 100.0  # ratings: the newest weighs 1, one HALF_LIFE ratings older weighs 1/2
MAX_POSITIVES = 400  # newest "for me" ratings read
MAX_NEGATIVES = 100  # newest "not for me" ratings read
MAX_BACKGROUND = 2000  # background papers read


@dataclass(slots=True)
class _Rated:
    papers: list[RankedPaper]
    weights: np.ndarray  # float32, newest weighs 1 (times the rating's weight)


def _rated(items: Sequence[RankedPaper | Rating], cap: int, skip: set[str]) -> _Rated:
    """Distinct rated papers (the newest rating of a paper wins), oldest first, capped."""
    ratings = [i if isinstance(i, Rating) else Rating(i) for i in items]
    if ratings and all(r.at is not None for r in ratings):
        ratings.sort(key=lambda r: r.at or 0.0)
    newest: dict[str, Rating] = {}
    for r in ratings:
        if r.paper.paper_id and r.paper.paper_id not in skip and r.weight > 0.0:
            newest.pop(r.paper.paper_id, None)
            newest[r.paper.paper_id] = r
    kept = list(newest.values())[-cap:]
    weights = recency_weights(len(kept), HALF_LIFE) * np.array(
        [r.weight for r in kept], dtype=np.float32
    )
    return _Rated([r.paper for r in kept], weights.astype(np.float32))


def _distinct(candidates: Sequence[RankedPaper], rated: set[str]) -> list[RankedPaper]:
    seen: set[str] = set()
    out: list[RankedPaper] = []
    for c in candidates:
        if c.paper_id and c.paper_id not in seen and c.paper_id not in rated:
            seen.add(c.paper_id)
            out.append(c)
    return out


class Candidates:
    """Candidates prepared once and ranked for many users (the same feed for every user):
    their text vectors, embeddings, vector reference and author keys are computed here, so each
    ``rank`` call only fits the profile. ``idf`` and ``background`` as for ``rank`` (without an
    idf, it is derived from the candidates and the background)."""

    __slots__ = ("block", "rows")

    def __init__(
        self,
        papers: Sequence[RankedPaper],
        *,
        idf: Idf | Mapping[str, float] | None = None,
        background: Sequence[RankedPaper] | None = None,
    ) -> None:
        pool = _distinct(papers, set())
        bg = list(background or ())[:MAX_BACKGROUND]
        table = resolve_idf(idf, (pool, bg))
        self.block = Block(pool, table, isinstance(idf, Idf), bg, reused=True)
        self.rows = {p.paper_id: i for i, p in enumerate(pool)}

    def __len__(self) -> int:
        return len(self.block.pool)


def rank(
    profile: Profile,
    candidates: Sequence[RankedPaper] | Candidates,
    *,
    limit: int | None = None,
    idf: Idf | Mapping[str, float] | None = None,
    background: Sequence[RankedPaper] | None = None,
    explain: int | None = None,
) -> list[Recommendation]:
    """The candidates best first (at most ``limit``), each with the reasons for its score
    (only the first ``explain`` of them when given: a whole day in order, reasons for a page).

    Candidates with an empty id, repeated ids (the first is kept) and rated papers are left out.
    ``idf``: inverse document frequencies over a corpus; an ``Idf`` (``Idf.fit(texts)``, built
    once) is fastest, and papers' text vectors are then cached across calls; a term -> idf
    mapping is hashed on every call; without either, idf is derived from the rated papers, the
    candidates and the background. ``background``: a sample of recent papers (at most
    ``MAX_BACKGROUND`` are read) that anchors "like everything" for the vector term (without
    it, the candidates do) and feeds a derived idf. ``candidates`` may be a prepared
    ``Candidates`` (then ``idf`` and ``background`` are its own and must not be passed).
    A paper rated both ways counts as "not for me". With no ratings, follows nor popularity
    every score is 0 and the candidates keep their order.
    """
    negatives = _rated(profile.negatives, MAX_NEGATIVES, set())
    negative_ids = {p.paper_id for p in negatives.papers}
    positives = _rated(profile.positives, MAX_POSITIVES, negative_ids)
    rated = negative_ids | {p.paper_id for p in positives.papers}
    if isinstance(candidates, Candidates):
        if idf is not None or background is not None:
            raise ValueError("prepared Candidates carry their own idf and background")
        block = candidates.block
        skip = {candidates.rows[pid] for pid in rated if pid in candidates.rows}
    else:
        pool = _distinct(candidates, rated)
        bg = list(background or ())[:MAX_BACKGROUND]
        table = resolve_idf(idf, (positives.papers, negatives.papers, pool, bg))
        block, skip = Block(pool, table, isinstance(idf, Idf), bg), set()
    if len(block.pool) == len(skip) or limit == 0:
        return []
    rated_lists = (positives.papers, positives.weights, negatives.papers, negatives.weights)
    scorer = Scorer(profile, rated_lists, block)
    scores = scorer.total()
    order = np.lexsort((np.arange(len(scores)), -scores)).tolist()  # best first, ties in order
    if skip:
        order = [i for i in order if i not in skip]
    if limit is not None:
        order = order[: max(limit, 0)]
    shown = order if explain is None else order[: max(explain, 0)]
    reasons = scorer.explain(shown) + [[] for _ in order[len(shown) :]]
    pool = block.pool
    return [
        Recommendation(pool[i].paper_id, float(scores[i]), tuple(Reason(*r) for r in why))
        for i, why in zip(order, reasons, strict=True)
    ]
