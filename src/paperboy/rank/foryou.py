"""The "for you" ranker: new papers most like the ones a user upvoted or collected.

A user *likes* the papers they upvoted (their ``LIKED_MAX`` most recent votes) and the ones they
collected (the ``LIKED_MAX`` most recently added to any of their collections), most recent
first. Each candidate paper scores its best cosine similarity (over the stored unit embeddings
of one model) to a liked paper; that paper is its *source*. Candidates are taken best first
(ties in candidate order), down to ``MIN_SIMILARITY``, never a liked paper nor one to skip.

Pure ranking over what the store holds: no email, no text beyond how a paper was liked.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from paperboy.embed.jobs import decode_vector
from paperboy.store.digest_rows import DigestRows

if TYPE_CHECKING:
    from paperboy.store.sql import SQLStore

MIN_SIMILARITY = 0.3  # cosine below which a paper is not "similar" to anything the user liked
LIKED_MAX = 200  # the user's most recent upvotes (and collected papers) that count


@dataclass(frozen=True, slots=True)
class Pick:
    """One recommended paper and the liked paper it is most like."""

    paper_id: str
    source_id: str
    how: str  # how the user liked the source: "you upvoted", "you collected in “name”"


class Candidates:
    """Candidate paper ids with their unit vectors, as one matrix (rows in ``ids`` order)."""

    def __init__(self, ids: list[str], matrix: np.ndarray) -> None:
        self.ids = ids
        self.matrix = matrix


class ForYouRanker:
    """Recommendations over one store, caching vectors across users (one model)."""

    def __init__(
        self, store: SQLStore, rows: DigestRows, model: str, hidden: frozenset[str] | set[str]
    ) -> None:
        self.store = store
        self.rows = rows
        self.model = model
        self.hidden = hidden
        self.collections = store.collections
        self._vectors: dict[str, np.ndarray | None] = {}

    def liked(self, user_id: int) -> list[tuple[str, str]]:
        """(paper id, how) of the papers the user upvoted or collected, most recent first."""
        out: dict[str, str] = {}
        for pid, _at in self.store.activity.votes_of(user_id)[:LIKED_MAX]:
            out.setdefault(pid, "you upvoted")
        owned = self.collections.of_user(user_id)
        if owned:
            items = self.collections.notes_of([c.id for c in owned])
            names = {c.id: c.name for c in owned}
            collected = sorted(
                (
                    (added, pid, names[cid])
                    for cid, rows in items.items()
                    for pid, _title, _note, added in rows
                ),
                reverse=True,
            )
            for _added, pid, name in collected[:LIKED_MAX]:
                out.setdefault(pid, f"you collected in “{name}”")
        return list(out.items())

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored unit embeddings (float32) of those ``ids`` that have one."""
        missing = [pid for pid in dict.fromkeys(ids) if pid not in self._vectors]
        for pid, blob in self.rows.vectors(self.model, missing).items():
            vector = decode_vector(blob)
            norm = float(np.linalg.norm(vector))
            self._vectors[pid] = vector / norm if norm > 0 else None
        for pid in missing:
            self._vectors.setdefault(pid, None)
        out: dict[str, np.ndarray] = {}
        for pid in ids:
            vector = self._vectors.get(pid)
            if vector is not None:
                out[pid] = vector
        return out

    def candidates(self, ids: Sequence[str]) -> Candidates:
        """``ids`` that have a vector, as one matrix."""
        found = self.vectors(ids)
        have = list(found)
        matrix = np.stack([found[p] for p in have]) if have else np.zeros((0, 1), np.float32)
        return Candidates(have, matrix)

    def rank(
        self, user_id: int, candidates: Callable[[], Candidates], skip: set[str], size: int
    ) -> list[Pick]:
        """Up to ``size`` of the ``candidates()`` (asked for only when the user liked a paper
        that has a vector) most like what the user liked, best first; each one picked is added
        to ``skip``."""
        liked = self.liked(user_id)
        if size <= 0 or not liked:
            return []
        liked_vectors = self.vectors([pid for pid, _how in liked])
        sources = [
            (pid, how) for pid, how in liked if pid in liked_vectors and pid not in self.hidden
        ]
        if not sources:
            return []
        found = candidates()
        if not found.ids:
            return []
        liked_ids = {pid for pid, _how in liked}
        sims = found.matrix @ np.stack([liked_vectors[pid] for pid, _how in sources]).T
        best = sims.argmax(axis=1)
        score = sims[np.arange(len(found.ids)), best]
        picked: list[Pick] = []
        for row in np.argsort(-score, kind="stable"):
            if score[row] < MIN_SIMILARITY:
                break
            pid = found.ids[row]
            if pid in skip or pid in liked_ids:
                continue
            source_id, how = sources[int(best[row])]
            picked.append(Pick(pid, source_id, how))
            skip.add(pid)
            if len(picked) >= size:
                break
        return picked


__all__ = ["LIKED_MAX", "MIN_SIMILARITY", "Candidates", "ForYouRanker", "Pick"]
