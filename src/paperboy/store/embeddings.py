"""Stored embeddings: which papers need one, writing vectors, reading them back in order."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, delete, func, insert, select, text, tuple_, update

from paperboy.clock import chunks
from paperboy.models import Paper
from paperboy.store.bulk import HNSW_INDEX, rebuild_indexes
from paperboy.store.dialects import has_pgvector, insert_pg_embeddings, set_pg_vectors
from paperboy.store.rows import paper_from_row
from paperboy.store.schema import embeddings, papers
from paperboy.store.substore import SubStore, bump_revision

_REBUILD_ABOVE = 5000  # finish_copy: missing vectors above which the HNSW index is rebuilt


class EmbeddingStore(SubStore):
    """Embeddings of papers, per model (a part of ``SQLStore``)."""

    def papers_to_embed(
        self, model: str, *, after_id: str = "", limit: int = 256
    ) -> list[tuple[int, Paper, str | None]]:
        """Papers with no embedding for ``model`` or changed since theirs, by id after
        ``after_id``: (change_seq, paper, stored text hash or None)."""
        query = (
            select(papers, embeddings.c.text_hash.label("e_hash"))
            .select_from(
                papers.outerjoin(
                    embeddings,
                    (embeddings.c.paper_id == papers.c.id) & (embeddings.c.model == model),
                )
            )
            .where(
                papers.c.id > after_id,
                (embeddings.c.paper_id.is_(None)) | (papers.c.change_seq > embeddings.c.paper_seq),
            )
            .order_by(papers.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [(int(row.change_seq), paper_from_row(row), row.e_hash) for row in rows]

    def count_papers_to_embed(self, model: str) -> int:
        query = (
            select(func.count())
            .select_from(
                papers.outerjoin(
                    embeddings,
                    (embeddings.c.paper_id == papers.c.id) & (embeddings.c.model == model),
                )
            )
            .where(
                (embeddings.c.paper_id.is_(None)) | (papers.c.change_seq > embeddings.c.paper_seq)
            )
        )
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def save_embeddings(
        self, model: str, rows: Sequence[tuple[str, int, str, bytes | None]]
    ) -> int:
        """Store (paper_id, paper_seq, text_hash, vector) rows in one transaction.

        A ``None`` vector only records that the text is unchanged (no new vector, no new seq).
        Rows of papers deleted meanwhile are dropped. Returns how many vectors were written.
        """
        if not rows:
            return 0
        written = 0
        with self.engine.connect().execution_options(**self._write) as conn, conn.begin():
            ids = [row[0] for row in rows]
            present: set[str] = set()
            for chunk in chunks(ids):
                present.update(
                    conn.execute(select(papers.c.id).where(papers.c.id.in_(chunk))).scalars()
                )
            fresh = [r for r in rows if r[0] in present and r[3] is not None]
            touched = [r for r in rows if r[0] in present and r[3] is None]
            seq = bump_revision(conn) if fresh else 0
            for chunk in chunks([r[0] for r in fresh]):
                stmt = delete(embeddings).where(
                    embeddings.c.model == model, embeddings.c.paper_id.in_(chunk)
                )
                conn.execute(stmt)
            if fresh and has_pgvector(self.engine):  # the pgvector column in the same row
                insert_pg_embeddings(conn, model, seq, fresh)
                written = len(fresh)
            elif fresh:
                conn.execute(
                    insert(embeddings),
                    [
                        {
                            "paper_id": pid,
                            "model": model,
                            "paper_seq": pseq,
                            "text_hash": digest,
                            "vector": vector,
                            "seq": seq,
                        }
                        for pid, pseq, digest, vector in fresh
                    ],
                )
                written = len(fresh)
            if touched:
                stmt = (
                    update(embeddings)
                    .where(
                        embeddings.c.model == model,
                        embeddings.c.paper_id == bindparam("b_id"),
                    )
                    .values(paper_seq=bindparam("b_seq"))
                )
                conn.execute(stmt, [{"b_id": pid, "b_seq": pseq} for pid, pseq, _, _ in touched])
        return written

    def finish_copy(self, batch: int = 5000) -> int:
        """Rebuild what a raw table copy (``paperboy migrate-store``) leaves out: on PostgreSQL
        the pgvector column of every embedding that lacks it. Returns how many were filled."""
        if not has_pgvector(self.engine):
            return 0
        with self.engine.connect() as conn:
            missing = int(
                conn.execute(
                    text("SELECT count(*) FROM embeddings WHERE embedding IS NULL")
                ).scalar_one()
            )
        if missing == 0:
            return 0
        if missing > _REBUILD_ABOVE:  # building the graph once beats inserting into it
            with self.engine.begin() as conn:
                conn.execute(text(f"DROP INDEX IF EXISTS {HNSW_INDEX}"))
        try:
            return self._fill_vectors(batch)
        finally:
            rebuild_indexes(self)

    def _fill_vectors(self, batch: int) -> int:
        filled = 0
        query = text(
            "SELECT paper_id, model, vector FROM embeddings WHERE embedding IS NULL "
            "ORDER BY model, paper_id LIMIT :n"
        )
        while True:
            with self.engine.begin() as conn:
                rows = conn.execute(query, {"n": batch}).all()
                for model in {r.model for r in rows}:
                    pairs = [(r.paper_id, bytes(r.vector)) for r in rows if r.model == model]
                    set_pg_vectors(conn, model, pairs)
            filled += len(rows)
            if len(rows) < batch:
                return filled

    def embeddings_since(
        self, model: str, after_seq: int, *, after_id: str = "", limit: int = 5000
    ) -> list[tuple[int, str, bytes]]:
        """(seq, paper_id, vector) written after ``(after_seq, after_id)``, in that order."""
        key = tuple_(embeddings.c.seq, embeddings.c.paper_id)
        query = (
            select(embeddings.c.seq, embeddings.c.paper_id, embeddings.c.vector)
            .where(embeddings.c.model == model, key > tuple_(bindparam("s"), bindparam("i")))
            .order_by(embeddings.c.seq, embeddings.c.paper_id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query, {"s": after_seq, "i": after_id}).all()
        return [(int(r.seq), r.paper_id, bytes(r.vector)) for r in rows]

    def embedding_of(self, model: str, paper_id: str) -> bytes | None:
        query = select(embeddings.c.vector).where(
            embeddings.c.model == model, embeddings.c.paper_id == paper_id
        )
        with self.engine.connect() as conn:
            value = conn.execute(query).scalar_one_or_none()
        return bytes(value) if value is not None else None

    def count_embeddings(self, model: str) -> int:
        query = select(func.count()).select_from(embeddings).where(embeddings.c.model == model)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def embedding_hashes(self, model: str, ids: Sequence[str]) -> dict[str, str]:
        """The text hash stored with each embedded paper among ``ids``."""
        out: dict[str, str] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(list(ids)):
                query = select(embeddings.c.paper_id, embeddings.c.text_hash).where(
                    embeddings.c.model == model, embeddings.c.paper_id.in_(chunk)
                )
                out.update({pid: digest for pid, digest in conn.execute(query)})
        return out
