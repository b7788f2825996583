"""Big loads: build PostgreSQL's search indexes once at the end instead of row by row.

Keeping a GIN and an HNSW index current while a million rows arrive costs far more than
building them once afterwards (pgvector builds HNSW in parallel, in memory). ``deferred_indexes``
drops them for the load and rebuilds them when the block ends, even when it fails, so the store
is never left without them. On SQLite it does nothing (its search indexes are separate files).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text

from paperboy.store.dialects import has_pgvector
from paperboy.store.substore import SubStore

HNSW_INDEX = "ix_embeddings_hnsw"
# name -> definition, as migration 0005 creates them
SEARCH_INDEXES: dict[str, str] = {
    "ix_papers_search_tsv": "CREATE INDEX IF NOT EXISTS ix_papers_search_tsv "
    "ON papers USING gin (search_tsv)",
    "ix_papers_author_tsv": "CREATE INDEX IF NOT EXISTS ix_papers_author_tsv "
    "ON papers USING gin (author_tsv)",
    "ix_embeddings_hnsw": "CREATE INDEX IF NOT EXISTS ix_embeddings_hnsw ON embeddings "
    "USING hnsw (embedding halfvec_cosine_ops) WITH (m = 16, ef_construction = 64)",
}


@contextmanager
def deferred_indexes(store: SubStore, *, memory: str = "1GB", workers: int = 2) -> Iterator[None]:
    """Drop the search indexes for the block; rebuild them (``memory`` of maintenance_work_mem,
    ``workers`` parallel workers) when it ends."""
    if not has_pgvector(store.engine):
        yield
        return
    with store.engine.begin() as conn:
        for name in SEARCH_INDEXES:
            conn.execute(text(f"DROP INDEX IF EXISTS {name}"))
    try:
        yield
    finally:
        rebuild_indexes(store, memory=memory, workers=workers)


def rebuild_indexes(store: SubStore, *, memory: str = "1GB", workers: int = 2) -> None:
    """Create whichever search indexes are missing (a no-op when all exist)."""
    if not has_pgvector(store.engine):
        return
    with store.engine.begin() as conn:
        conn.execute(text("SELECT set_config('maintenance_work_mem', :m, true)"), {"m": memory})
        conn.execute(
            text("SELECT set_config('max_parallel_maintenance_workers', :w, true)"),
            {"w": str(workers)},
        )
        for definition in SEARCH_INDEXES.values():
            conn.execute(text(definition))
