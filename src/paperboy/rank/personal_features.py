"""Text and author features of the personal ranker (``paperboy.rank.personal``).

Pure numpy and the standard library, so the ranker runs anywhere the product does:

- ``author_key`` folds an author's name for comparison (accents, case, punctuation, spaces);
- ``text_terms`` turns a title and abstract into hashed term ids (lowercase words of two or more
  characters, English stop words dropped, and the bigrams of what is left) with sublinear term
  frequencies. It is cached per text, since the same candidates are ranked for every user;
- ``Idf`` holds inverse document frequencies over the hashed terms, fitted on a corpus once
  (``Idf.fit``) or derived per call from the papers at hand (``Idf.local``);
- ``TermMatrix`` stacks many papers' tf-idf vectors (``weigh``: L2 normalised) into one sparse
  matrix of flat arrays, with the products the ranker needs: a weighted sum of rows, every row's
  dot product with a sparse vector (through a per-thread dense scratch array), and the dot
  products of a few rows with every row of another matrix.

Terms are hashed into ``BUCKETS`` slots with CRC-32 (stable across processes); a collision costs
a little precision, never a crash. ``term_label`` maps a hashed id back to a word of a given text,
so explanations show real words.
"""

from __future__ import annotations

import functools
import re
import threading
import unicodedata
import zlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

BUCKETS = 1 << 22  # hashed term slots (fewer collide: measured better than 1 << 20)
MIN_DF = 2  # a term seen in fewer papers than this carries no weight (it cannot match anything)
_TEXT_CACHE = 65536  # texts whose terms are kept

STOP_WORDS = frozenset(
    """a about above across after afterwards again against all almost alone along already also
    although always am among amongst an and another any anyhow anyone anything anyway anywhere
    are around as at be became because become becomes becoming been before beforehand behind
    being below beside besides between beyond both but by can cannot could de do does done down
    due during each eg either else elsewhere enough etc even ever every everyone everything
    everywhere except few for former formerly from further had has have he hence her here
    hereby herein hers herself him himself his how however i ie if in inc indeed into is it its
    itself just latter latterly least less ltd many may me meanwhile might mine more moreover
    most mostly much must my myself namely neither never nevertheless no nobody none noone nor
    not nothing now nowhere of off often on once one only onto or other others otherwise our
    ours ourselves out over own per perhaps rather re same several she should since so some
    somehow someone something sometime sometimes somewhere still such than that the their them
    themselves then thence there thereafter thereby therefore therein thereupon these they this
    those though through throughout thru thus to together too toward towards under until up upon
    us very via was we well were what whatever when whence whenever where whereas whereby
    wherein whereupon wherever whether which while whither who whoever whole whom whose why will
    with within without would yet you your yours yourself yourselves""".split()
)

_WORD = re.compile(r"\b\w\w+\b")
_NOT_ALNUM = re.compile(r"[\W_]+")


def author_key(name: str) -> str:
    """An author's name folded for comparison: accents dropped (Unicode NFKD), case folded,
    punctuation and whitespace removed. "Yann LeCun", "yann lecun" and "Yann Le-Cun" all give
    "yannlecun"; an empty or punctuation-only name gives ""."""
    decomposed = unicodedata.normalize("NFKD", name)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NOT_ALNUM.sub("", bare.casefold())


def author_keys(names: Iterable[str]) -> tuple[str, ...]:
    """The distinct non-empty keys of ``names``, in first-seen order."""
    return tuple(dict.fromkeys(k for k in map(author_key, names) if k))


def tokenize(text: str) -> list[str]:
    """Lowercase words of two or more characters, English stop words dropped, then the bigrams
    of neighbouring kept words (joined by a space)."""
    words = [w for w in _WORD.findall(text.lower()) if w not in STOP_WORDS]
    return words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]


def term_id(term: str) -> int:
    """The hashed slot of a term (stable across processes)."""
    return zlib.crc32(term.encode("utf-8")) & (BUCKETS - 1)


@dataclass(frozen=True, slots=True)
class Terms:
    """One text's terms: sorted distinct hashed ids and their sublinear tf (1 + log count)."""

    ids: np.ndarray  # int64, sorted, distinct
    tf: np.ndarray  # float32, same length


@functools.lru_cache(maxsize=_TEXT_CACHE)
def text_terms(text: str) -> Terms:
    """The hashed terms of ``text`` (cached: candidates are ranked for many users)."""
    counts: Counter[int] = Counter(term_id(t) for t in tokenize(text))
    if not counts:
        return Terms(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
    ids = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
    tf = 1.0 + np.log(np.fromiter(counts.values(), dtype=np.float32, count=len(counts)))
    order = np.argsort(ids)
    return Terms(ids[order], tf[order].astype(np.float32))


def term_label(text: str, wanted: Iterable[int]) -> dict[int, str]:
    """Hashed id -> the first term of ``text`` with that id, for the ids in ``wanted``."""
    want = set(wanted)
    out: dict[int, str] = {}
    for term in tokenize(text):
        tid = term_id(term)
        if tid in want and tid not in out:
            out[tid] = term
    return out


class Idf:
    """Inverse document frequencies over hashed terms, ``log((1 + n) / (1 + df)) + 1``, and 0
    for terms in fewer than ``MIN_DF`` papers. Either precomputed for every slot (``fit`` on a
    corpus once, or ``from_mapping``), or kept as document frequencies and evaluated only at the
    ids a call needs (``local``: derived per call from the papers at hand)."""

    __slots__ = ("df", "docs", "weights")

    def __init__(self, df: np.ndarray | None, docs: int, weights: np.ndarray | None = None) -> None:
        self.df = df
        self.docs = docs
        self.weights = weights

    @staticmethod
    def _formula(df: np.ndarray, docs: int) -> np.ndarray:
        weights = np.log((1.0 + docs) / (1.0 + df.astype(np.float32))) + np.float32(1.0)
        return np.where(df >= MIN_DF, weights, np.float32(0.0)).astype(np.float32)

    @classmethod
    def local(cls, groups: Sequence[Sequence[Terms]]) -> Idf:
        """Derived from the papers at hand (each paper counted once)."""
        parts = [t.ids for group in groups for t in group]
        if not parts:
            return cls(np.zeros(BUCKETS, dtype=np.int64), 0)
        return cls(np.bincount(np.concatenate(parts), minlength=BUCKETS), len(parts))

    @classmethod
    def fit(cls, texts: Iterable[str]) -> Idf:
        """Fitted on a corpus (for example every paper of the store), to reuse across calls."""
        fitted = cls.local([[text_terms(t) for t in texts]])
        assert fitted.df is not None
        return cls(None, fitted.docs, cls._formula(fitted.df, fitted.docs))

    @classmethod
    def from_mapping(cls, idf: Mapping[str, float]) -> Idf:
        """From term -> idf (terms hashed; a term missing from the mapping weighs 0)."""
        weights = np.zeros(BUCKETS, dtype=np.float32)
        for term, value in idf.items():
            slot = term_id(term)
            weights[slot] = max(weights[slot], float(value))
        return cls(None, len(idf), weights)

    def at(self, ids: np.ndarray) -> np.ndarray:
        """The idf of each hashed id in ``ids`` (float32)."""
        if self.weights is not None:
            return self.weights[ids]
        assert self.df is not None
        return self._formula(self.df[ids], self.docs)


Sparse = tuple[np.ndarray, np.ndarray]  # sorted int64 ids, float32 values


def weigh(terms: Terms, idf: Idf, power: float) -> Sparse:
    """One paper's tf-idf vector (idf raised to ``power``), L2 normalised."""
    weights = idf.at(terms.ids)
    if power != 1.0:
        weights = weights**power
    values = terms.tf * weights
    norm = float(np.sqrt(np.dot(values, values)))
    return terms.ids, (values / norm if norm > 0.0 else values).astype(np.float32)


class TermMatrix:
    """Many papers' tf-idf vectors stacked flat: ``ids``, ``values``, ``rows`` (the row of each
    entry) and ``starts`` (row ``i`` is entries ``starts[i]:starts[i + 1]``)."""

    __slots__ = ("ids", "values", "rows", "starts", "n", "_sorted")

    def __init__(self, vectors: Sequence[Sparse]) -> None:
        self.n = len(vectors)
        lengths = np.fromiter((len(v[0]) for v in vectors), dtype=np.int64, count=self.n)
        self.starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        if not vectors:
            self.ids = np.zeros(0, dtype=np.int64)
            self.values = np.zeros(0, dtype=np.float32)
        else:
            self.ids = np.concatenate([v[0] for v in vectors])
            self.values = np.concatenate([v[1] for v in vectors])
        self.rows = np.repeat(np.arange(self.n, dtype=np.int64), lengths)
        self._sorted: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def sort(self) -> TermMatrix:
        """Keep the entries' order by term id too: ``products`` then reads its vector in
        address order, several times faster for a matrix reused across many calls."""
        order = np.argsort(self.ids, kind="stable")
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        self._sorted = (self.ids[order], self.values[order], inverse)
        return self

    def weighted_sum(self, weights: np.ndarray) -> Sparse:
        """The sum of the rows, row ``i`` times ``weights[i]``, as a sparse vector."""
        if not len(self.ids):
            return self.ids, self.values
        ids, inverse = np.unique(self.ids, return_inverse=True)
        sums = np.bincount(inverse, weights=self.values * weights[self.rows], minlength=len(ids))
        return ids, sums.astype(np.float32)

    def products(self, vector: Sparse) -> np.ndarray:
        """Each entry's value times the sparse vector's value of its term."""
        if not len(self.ids):
            return np.zeros(0, dtype=np.float32)
        if self._sorted is None:
            return self.values * _gather(vector, self.ids)
        ids, values, inverse = self._sorted
        return (values * _gather(vector, ids))[inverse]

    def row_sums(self, entries: np.ndarray) -> np.ndarray:
        """Per row, the sum of its entries' values in ``entries`` (one value per entry)."""
        if not len(entries):
            return np.zeros(self.n)
        sums = np.add.reduceat(
            entries.astype(np.float64), np.minimum(self.starts[:-1], len(entries) - 1)
        )
        sums[self.starts[:-1] == self.starts[1:]] = 0.0
        return sums

    def dot(self, vector: Sparse) -> np.ndarray:
        """Each row's dot product with a sparse vector."""
        return self.row_sums(self.products(vector))

    def select(self, rows: Sequence[int]) -> TermMatrix:
        """A new matrix of the given rows, in that order."""
        return TermMatrix([self.row(r) for r in rows])

    def row(self, row: int) -> Sparse:
        lo, hi = int(self.starts[row]), int(self.starts[row + 1])
        return self.ids[lo:hi], self.values[lo:hi]

    def pair_dots(self, other: TermMatrix, shared: np.ndarray | None = None) -> np.ndarray:
        """Dot products (self.n, other.n) of every row with every row of ``other``: both as dense
        blocks over the terms they share (sorted, distinct; found when not given), multiplied."""
        if not len(self.ids) or not len(other.ids):
            return np.zeros((self.n, other.n))
        if shared is None:
            shared = np.intersect1d(self.ids, other.ids)
        if not len(shared):
            return np.zeros((self.n, other.n))
        return _dense(self, shared) @ _dense(other, shared).T


def _dense(matrix: TermMatrix, terms: np.ndarray) -> np.ndarray:
    """(matrix.n, len(terms)) float32: the rows' values at the sorted ``terms``."""
    out = np.zeros((matrix.n, len(terms)), dtype=np.float32)
    # column + 1 of each entry's term (0: not among ``terms``), read through the scratch array;
    # float32 holds these small integers exactly
    column = _gather((terms, np.arange(1, len(terms) + 1, dtype=np.float32)), matrix.ids)
    hit = np.flatnonzero(column)
    out[matrix.rows[hit], column[hit].astype(np.int64) - 1] = matrix.values[hit]
    return out


_SCRATCH = threading.local()


def _gather(vector: Sparse, ids: np.ndarray) -> np.ndarray:
    """The sparse vector's value at each of ``ids`` (0 where it has none), through a dense
    scratch array per thread (set, read, cleared: far faster than a sorted search)."""
    buf = getattr(_SCRATCH, "buf", None)
    if buf is None:
        buf = _SCRATCH.buf = np.zeros(BUCKETS, dtype=np.float32)
    v_ids, v_values = vector
    buf[v_ids] = v_values
    try:
        return buf[ids]
    finally:
        buf[v_ids] = 0.0


def recency_weights(count: int, half_life: float) -> np.ndarray:
    """Weights of ``count`` items oldest first: the newest weighs 1, halving every
    ``half_life`` items back."""
    if count == 0:
        return np.zeros(0, dtype=np.float32)
    age = np.arange(count - 1, -1, -1, dtype=np.float32)
    return np.power(np.float32(0.5), age / max(half_life, 1e-9)).astype(np.float32)
