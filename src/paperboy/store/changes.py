"""The change feed that search indexes follow: the store revision and papers by change sequence."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, select, tuple_

from paperboy.clock import chunks
from paperboy.models import Paper
from paperboy.store.rows import paper_from_row
from paperboy.store.schema import papers, store_state
from paperboy.store.substore import SubStore


class ChangeFeed(SubStore):
    """The revision and the change feed (a part of ``SQLStore``)."""

    def revision(self) -> int:
        """A number that grows with every write that changed papers or the feed."""
        query = select(store_state.c.value).where(store_state.c.key == "revision")
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def changed_papers(
        self, after_seq: int, *, after_id: str = "", limit: int = 1000
    ) -> list[tuple[int, Paper]]:
        """Papers changed after ``(after_seq, after_id)``, ordered by (change_seq, id).

        Indexes catch up by paging with the last (seq, id) they saw; start from ``-1``.
        """
        key = tuple_(papers.c.change_seq, papers.c.id)
        query = (
            select(papers)
            .where(key > tuple_(bindparam("s"), bindparam("i")))
            .order_by(papers.c.change_seq, papers.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query, {"s": after_seq, "i": after_id}).all()
        return [(int(row.change_seq), paper_from_row(row)) for row in rows]

    def change_seqs(self, ids: Sequence[str]) -> dict[str, int]:
        """The change sequence of each stored paper among ``ids``."""
        out: dict[str, int] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(list(ids)):
                query = select(papers.c.id, papers.c.change_seq).where(papers.c.id.in_(chunk))
                out.update({pid: int(seq) for pid, seq in conn.execute(query)})
        return out
