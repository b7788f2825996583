"""The score terms of the personal ranker and their explanations (see ``paperboy.rank.personal``
for the model; this module holds the arithmetic).

Each term is an array over the candidates; every reason's weight is an exact part of one term:
the ``similar`` weights of a candidate split its text and vector terms over the rated papers,
its ``words`` weights split the text term over terms, and ``author`` / ``category`` /
``popularity`` / ``unlike`` weights are those terms' own parts.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from paperboy.embed.text import paper_text
from paperboy.rank.personal_features import (
    Idf,
    Sparse,
    TermMatrix,
    author_keys,
    term_label,
    text_terms,
    weigh,
)

if TYPE_CHECKING:
    from paperboy.rank.personal_records import Profile, RankedPaper

W_TEXT = 1.0  # the text term (tf-idf cosine, weighted mean over the rated papers)
IDF_POWER = 1.5  # idf exponent of the text term: rare terms (model, data set names) count more
W_VECTOR = 0.02  # embedding term relative to the text term
W_AUTHOR = 0.3  # per unit share of the rated papers an author is on
W_CATEGORY = 0.02  # per unit share of the rated papers a category is on (not measured)
W_POPULARITY = 0.01  # times log upvotes / log of the candidates' most upvotes
W_NEGATIVE = 0.1  # demotion by a "not for me" paper identical to the candidate
NEGATIVE_FLOOR = 0.5  # similarity to a "not for me" paper below which nothing is demoted
FOLLOWED = 1.0  # share of a followed author or category (as if on every rated paper)
SIMILAR_SHOWN = 3
WORDS_SHOWN = 5
_CACHE = 65536

Explained = tuple[str, str, float, str | None]  # kind, label, weight, rated paper id


@functools.lru_cache(maxsize=_CACHE)
def _cached_vector(title: str, abstract: str, idf: Idf) -> Sparse:
    # keyed on the two fields (their hashes are cached by Python), not on the joined text
    return weigh(text_terms(paper_text(title, abstract)), idf, IDF_POWER)


@functools.lru_cache(maxsize=_CACHE)
def _words(title: str, abstract: str) -> dict[int, str]:
    text = paper_text(title, abstract)
    return term_label(text, text_terms(text).ids.tolist())


@functools.lru_cache(maxsize=_CACHE)
def author_set(names: tuple[str, ...]) -> tuple[str, ...]:
    return author_keys(names)


@functools.lru_cache(maxsize=4096)
def category_set(categories: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(c.strip().casefold() for c in categories if c.strip()))


def _vectors(papers: Sequence[RankedPaper], dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, dim) float32 matrix (zero rows where a paper has no vector) and the has-vector mask."""
    vecs = [p.vector for p in papers]
    if dim and vecs and all(v is not None and v.shape == (dim,) for v in vecs):
        return np.stack(vecs).astype(np.float32, copy=False), np.ones(len(papers), dtype=bool)
    out = np.zeros((len(papers), dim), dtype=np.float32)
    has = np.zeros(len(papers), dtype=bool)
    if dim:
        for i, p in enumerate(papers):
            if p.vector is not None and p.vector.shape == (dim,):
                out[i] = p.vector
                has[i] = True
    return out, has


def _dim(*groups: Sequence[RankedPaper]) -> int:
    for group in groups:
        for p in group:
            if p.vector is not None and p.vector.ndim == 1 and p.vector.shape[0]:
                return int(p.vector.shape[0])
    return 0


def shares(
    rated: Sequence[tuple[str, ...]], weights: np.ndarray, followed: tuple[str, ...]
) -> dict[str, float]:
    """Key -> the weighted share of the rated papers carrying it (``FOLLOWED`` if followed)."""
    total = float(weights.sum())
    out: dict[str, float] = {}
    if total > 0.0:
        for keys, w in zip(rated, weights.tolist(), strict=True):
            for k in keys:
                out[k] = out.get(k, 0.0) + w / total
    for k in followed:
        out[k] = max(out.get(k, 0.0), FOLLOWED)
    return out


REFERENCE_SAMPLE = 512  # background vectors averaged for the "like everything" reference


def resolve_idf(
    idf: Idf | Mapping[str, float] | None, groups: Sequence[Sequence[RankedPaper]]
) -> Idf:
    """The idf table of a call: as given, hashed from a mapping, or derived from ``groups``."""
    if isinstance(idf, Idf):
        return idf
    if idf is not None:
        return Idf.from_mapping(idf)
    return Idf.local([[text_terms(p.text) for p in g] for g in groups])


class Block:
    """The candidates' features, independent of any profile: text vectors, embeddings, the
    vector reference, author and category keys. Built per call, or once for many users."""

    def __init__(
        self,
        pool: list[RankedPaper],
        idf: Idf,
        cached: bool,
        background: Sequence[RankedPaper],
        reused: bool = False,
    ) -> None:
        self.pool, self.idf, self.cached = pool, idf, cached
        self.text = TermMatrix([self.text_vector(p) for p in pool])
        if reused:  # sorting costs more than one call saves; many calls gain
            self.text.sort()
        self.dim = _dim(pool)
        self.vec, self.has = _vectors(pool, self.dim)
        step = max(1, len(background) // REFERENCE_SAMPLE)
        bg_vec, bg_has = _vectors(list(background)[::step], self.dim)
        anchor, has = (bg_vec, bg_has) if bg_has.any() else (self.vec, self.has)
        ref = anchor[has].mean(axis=0) if has.any() else np.zeros(self.dim)
        self.ref_cos = self.vec @ ref.astype(np.float32)
        self.authors = _inverted([author_set(p.authors) for p in pool])
        self.categories = _inverted([category_set(p.categories) for p in pool])

    def text_vector(self, paper: RankedPaper) -> Sparse:
        if self.cached:  # a long-lived table: papers' vectors are cached across calls
            return _cached_vector(paper.title, paper.abstract, self.idf)
        return weigh(text_terms(paper.text), self.idf, IDF_POWER)


def _inverted(keys: list[tuple[str, ...]]) -> dict[str, np.ndarray]:
    """Key -> the rows carrying it (each key at most once per row)."""
    rows: dict[str, list[int]] = {}
    for row, ks in enumerate(keys):
        for k in ks:
            rows.setdefault(k, []).append(row)
    return {k: np.array(v, dtype=np.int64) for k, v in rows.items()}


class Scorer:
    """Every score term over the candidates for one profile, and each candidate's reasons.

    ``rated``: the positives and their weights, the negatives and theirs (newest weigh 1).
    """

    def __init__(
        self,
        profile: Profile,
        rated: tuple[list[RankedPaper], np.ndarray, list[RankedPaper], np.ndarray],
        block: Block,
    ) -> None:
        self.pos, weights, self.neg, self.neg_weight = rated
        self.block, self.pool, self.cand_text = block, block.pool, block.text
        self.cand_vec, self.cand_has, self.ref_cos = block.vec, block.has, block.ref_cos
        total = float(weights.sum())
        self.share = weights / total if total > 0.0 else weights
        self.pos_text = TermMatrix([block.text_vector(p) for p in self.pos])
        self.neg_text = TermMatrix([block.text_vector(p) for p in self.neg])
        self.centroid = self.pos_text.weighted_sum(self.share)
        self.pos_vec, pos_has = _vectors(self.pos, block.dim)
        self.neg_vec, self.neg_has = _vectors(self.neg, block.dim)
        self.vec_share = (self.share * pos_has).astype(np.float32)
        direction = self.vec_share @ self.pos_vec
        raw = self.cand_vec @ direction - float(self.vec_share.sum()) * self.ref_cos
        signals, n = profile.signals, len(self.pool)
        self.author_share = shares(
            [author_set(p.authors) for p in self.pos],
            self.share,
            author_keys(profile.followed_authors),
        )
        self.category_share = shares(
            [category_set(p.categories) for p in self.pos],
            self.share,
            category_set(profile.followed_categories),
        )
        self.penalty = self._penalties()
        zero = np.zeros(n)
        self.parts: dict[str, np.ndarray] = {
            "text": W_TEXT * self.text_part(),
            "vector": W_VECTOR * raw * self.cand_has,
            "author": self._shared(self.author_share, W_AUTHOR, block.authors)
            if signals.authors
            else zero,
            "category": self._shared(self.category_share, W_CATEGORY, block.categories)
            if signals.categories
            else zero,
            "popularity": self._popularity() if signals.popularity else zero,
            "unlike": -self.penalty.sum(axis=1),
        }

    def _shared(
        self, table: dict[str, float], weight: float, keys: dict[str, np.ndarray]
    ) -> np.ndarray:
        out = np.zeros(len(self.pool))
        for key, share in table.items():  # the profile's keys, looked up in the candidates'
            rows = keys.get(key)
            if rows is not None:
                out[rows] += weight * share
        return out

    def text_part(self) -> np.ndarray:
        """Each candidate's tf-idf dot product with the rated papers' weighted centroid (the
        products per term are kept for the ``words`` reasons)."""
        self.products = self.cand_text.products(self.centroid)
        return self.cand_text.row_sums(self.products)

    def _popularity(self) -> np.ndarray:
        ups = np.log1p(np.maximum([p.upvotes for p in self.pool], 0).astype(np.float64))
        top = float(ups.max()) if len(ups) else 0.0
        return W_POPULARITY * ups / top if top > 0.0 else np.zeros(len(self.pool))

    def _penalties(self) -> np.ndarray:
        """(candidates, negatives): each negative's demotion of each candidate."""
        if not self.neg:
            return np.zeros((len(self.pool), 0))
        sim = self.cand_vec @ self.neg_vec.T
        both = np.outer(self.cand_has, self.neg_has)
        if not both.all():
            sim = np.where(both, sim, self.cand_text.pair_dots(self.neg_text))
        excess = np.maximum(sim - NEGATIVE_FLOOR, 0.0) / (1.0 - NEGATIVE_FLOOR)
        return W_NEGATIVE * excess * self.neg_weight[None, :]

    def total(self) -> np.ndarray:
        return np.sum(list(self.parts.values()), axis=0)

    def explain(self, rows: Sequence[int]) -> list[list[Explained]]:
        """The reasons of the given candidates, largest contribution first within each kind."""
        similar = self._similar(rows)
        return [
            similar[j] + self._words_of(i) + self._named(i) + self._unlike(i)
            for j, i in enumerate(rows)
        ]

    def _similar(self, rows: Sequence[int]) -> list[list[Explained]]:
        """Per rated paper: its share of the text term plus its share of the vector term."""
        if not self.pos or not rows:
            return [[] for _ in rows]
        sub = list(rows)
        starts = self.cand_text.starts
        entries = np.concatenate([np.arange(starts[i], starts[i + 1]) for i in sub])
        shared = np.unique(self.cand_text.ids[entries][self.products[entries] > 0.0])
        dots = self.cand_text.select(sub).pair_dots(self.pos_text, shared)
        text = W_TEXT * dots * self.share[None, :]
        cos = self.cand_vec[sub] @ self.pos_vec.T - self.ref_cos[sub, None]
        vec = W_VECTOR * cos * self.vec_share[None, :] * self.cand_has[sub, None]
        parts = text + vec
        out: list[list[Explained]] = []
        ranked = np.argsort(-parts, axis=1, kind="stable")[:, :SIMILAR_SHOWN]
        for j in range(len(sub)):
            best = ranked[j].tolist()
            out.append(
                [
                    (
                        "similar",
                        self.pos[k].title or self.pos[k].paper_id,
                        float(parts[j, k]),
                        self.pos[k].paper_id,
                    )
                    for k in best
                    if parts[j, k] > 0.0
                ]
            )
        return out

    def _words_of(self, i: int) -> list[Explained]:
        if not self.pos:
            return []
        lo, hi = int(self.cand_text.starts[i]), int(self.cand_text.starts[i + 1])
        prod = self.products[lo:hi]
        best = np.argsort(-prod, kind="stable")[:WORDS_SHOWN]
        top = [(int(self.cand_text.ids[lo + k]), float(prod[k])) for k in best if prod[k] > 0.0]
        if not top:
            return []
        labels = _words(self.pool[i].title, self.pool[i].abstract)
        return [("words", labels.get(tid, "?"), W_TEXT * w, None) for tid, w in top]

    def _named(self, i: int) -> list[Explained]:
        paper, out = self.pool[i], []
        if self.parts["author"][i] > 0.0:
            seen: set[str] = set()
            for name in paper.authors:
                keys = author_set((name,))
                share = self.author_share.get(keys[0], 0.0) if keys else 0.0
                if share > 0.0 and keys[0] not in seen:
                    seen.add(keys[0])
                    out.append(("author", name, W_AUTHOR * share, None))
        if self.parts["category"][i] > 0.0:
            for cat in category_set(paper.categories):
                share = self.category_share.get(cat, 0.0)
                if share > 0.0:
                    out.append(("category", cat, W_CATEGORY * share, None))
        if self.parts["popularity"][i] > 0.0:
            out.append(
                ("popularity", f"{paper.upvotes} upvotes", self.parts["popularity"][i], None)
            )
        return out

    def _unlike(self, i: int) -> list[Explained]:
        if not self.penalty.shape[1] or self.parts["unlike"][i] >= 0.0:
            return []
        row = self.penalty[i]
        best = np.argsort(-row, kind="stable")[:SIMILAR_SHOWN]
        return [
            (
                "unlike",
                self.neg[k].title or self.neg[k].paper_id,
                -float(row[k]),
                self.neg[k].paper_id,
            )
            for k in best
            if row[k] > 0.0
        ]
