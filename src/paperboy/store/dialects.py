"""Everything that differs between database engines lives here, and only here."""

from __future__ import annotations

import operator
import os
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Text,
    and_,
    cast,
    create_engine,
    event,
    not_,
    or_,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url

from paperboy.errors import RecordRejected
from paperboy.models import CategoryFilter
from paperboy.store.schema import store_state


def create_store_engine(url: str) -> Engine:
    """An engine tuned for the backend named by ``url``."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    return create_engine(url, pool_pre_ping=True, future=True)


def _sqlite_engine(url: str) -> Engine:
    parsed = make_url(url)
    database = parsed.database or ""
    if database and database != ":memory:":
        directory = os.path.dirname(os.path.abspath(database))
        os.makedirs(directory, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30},
        future=True,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy drive transactions explicitly (BEGIN IMMEDIATE for writers).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        options = connection.get_execution_options()
        # Bulk imports trade the fsync on every commit for one at each checkpoint: in WAL mode
        # that stays consistent after any crash; a power cut may lose only the last batches,
        # which an idempotent re-import restores.
        mode = options.get("sqlite_begin", "DEFERRED")
        if mode == "IMMEDIATE":  # a writer: pick its durability (readers need no pragma)
            sync = "NORMAL" if options.get("bulk") else "FULL"
            connection.exec_driver_sql(f"PRAGMA synchronous={sync}")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


def has_pgvector(engine: Engine) -> bool:
    """Whether the store keeps vectors in a pgvector column with its own search indexes
    (PostgreSQL); elsewhere vectors are plain blobs and the search indexes separate files."""
    return engine.dialect.name == "postgresql"


def lock_state_row(conn: Connection, key: str) -> Any:
    """A query for ``store_state``'s value of ``key`` that holds the row (or, on SQLite, the
    database) until the transaction ends, so concurrent read-modify-writes queue up."""
    query = select(store_state.c.value).where(store_state.c.key == key)
    if conn.engine.dialect.name != "postgresql":
        return query  # SQLite: BEGIN IMMEDIATE already holds the one write lock
    # Make sure the row exists, then lock it.
    stmt = postgresql.insert(store_state).values(key=key, value=0).on_conflict_do_nothing()
    conn.execute(stmt)
    return query.with_for_update()


def needs_c_collation(engine: Engine) -> bool:
    """Whether text keys must be compared with COLLATE "C" to get byte order on ``engine``.

    Only a PostgreSQL database whose default collation is C compares text by bytes (and can
    use its primary-key indexes for that order); the probe catches an ICU default collation,
    which leaves ``datcollate`` at C.
    """
    if engine.dialect.name != "postgresql":
        return False  # SQLite compares text with memcmp already
    query = text(
        "SELECT datcollate IN ('C', 'POSIX') AND 'a' > 'B' "
        "FROM pg_database WHERE datname = current_database()"
    )
    with engine.connect() as conn:
        return not conn.execute(query).scalar_one()


def has_id_sequences(engine: Engine) -> bool:
    """Whether ids come from sequences that a raw copy must move on (PostgreSQL; SQLite's
    INTEGER PRIMARY KEY follows max(id) by itself)."""
    return engine.dialect.name == "postgresql"


def write_options(engine: Engine, *, bulk: bool = False) -> dict[str, Any]:
    """Execution options for a write transaction: take SQLite's write lock up front."""
    if engine.dialect.name != "sqlite":
        return {}
    return {"sqlite_begin": "IMMEDIATE", "bulk": bulk}


def database_size_bytes(engine: Engine) -> int:
    """Bytes the store occupies on disk (SQLite: file + WAL; PostgreSQL: the database)."""
    if engine.dialect.name == "sqlite":
        database = engine.url.database or ""
        if not database or database == ":memory:":
            with engine.connect() as conn:
                pages = conn.execute(text("PRAGMA page_count")).scalar_one()
                size = conn.execute(text("PRAGMA page_size")).scalar_one()
            return int(pages) * int(size)
        return sum(
            os.path.getsize(path) for path in (database, database + "-wal") if os.path.exists(path)
        )
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one())


def group_by_month(engine: Engine, column: Any) -> Any:
    """A SQL expression giving 'YYYY-MM' for a date column."""
    from sqlalchemy import func

    if engine.dialect.name == "sqlite":
        return func.strftime("%Y-%m", column)
    return func.to_char(column, "YYYY-MM")


def executemany(conn: Any, stmt: Any, rows: list[dict[str, Any]]) -> None:
    """Run ``stmt`` for every row straight on the DBAPI cursor.

    SQLAlchemy's own executemany re-processes every parameter through several layers; for bulk
    imports that costs more than the database work. Here the statement is compiled once, each
    column's bind processor (JSON, dates) is applied in one tight loop, and the driver's
    ``executemany`` does the rest, inside the connection's current transaction.
    """
    if not rows:
        return
    keys = list(rows[0])
    compiled = stmt.compile(dialect=conn.dialect, column_keys=keys)
    names = list(compiled.positiontup) if compiled.positional else list(compiled.binds)
    processors = [
        (index, compiled.binds[name].type._cached_bind_processor(conn.dialect))
        for index, name in enumerate(names)
    ]
    processed = [(index, proc) for index, proc in processors if proc is not None]
    getter = operator.itemgetter(*names)
    memo_in: list[Any] = [object()] * len(processed)
    memo_out: list[Any] = [None] * len(processed)
    dbapi = conn.dialect.dbapi
    refused = (dbapi.IntegrityError, dbapi.DataError, OverflowError, ValueError, TypeError)
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        params: list[Any] = []
        for row in rows:
            values = getter(row)
            if len(names) == 1:
                values = (values,)
            if processed:
                values = list(values)
                for slot, (index, proc) in enumerate(processed):
                    value = values[index]
                    if value is None:
                        continue
                    if value is memo_in[slot]:  # e.g. one timestamp shared by the whole batch
                        values[index] = memo_out[slot]
                    else:
                        memo_in[slot], memo_out[slot] = value, proc(value)
                        values[index] = memo_out[slot]
            params.append(values if compiled.positional else dict(zip(names, values, strict=True)))
        cursor.executemany(str(compiled), params)
    except refused as exc:
        raise RecordRejected(f"{type(exc).__name__}: {exc}") from exc
    finally:
        cursor.close()


def halfvec_literal(blob: bytes) -> str:
    """pgvector's text form of a stored float16 vector: ``[0.1,-0.2,...]``."""
    import numpy as np

    values = np.frombuffer(blob, dtype="<f2").astype(np.float32)
    return "[" + ",".join(f"{v:.5g}" for v in values.tolist()) + "]"


def set_pg_vectors(conn: Any, model: str, rows: list[tuple[str, bytes]]) -> None:
    """Fill PostgreSQL's ``embeddings.embedding`` (pgvector halfvec) from the stored vectors."""
    if not rows:
        return
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.executemany(
            "UPDATE embeddings SET embedding = %s::halfvec WHERE model = %s AND paper_id = %s",
            [(halfvec_literal(blob), model, pid) for pid, blob in rows],
        )
    finally:
        cursor.close()


def insert_pg_embeddings(
    conn: Any, model: str, seq: int, rows: list[tuple[str, int, str, bytes | None]]
) -> None:
    """Insert (paper_id, paper_seq, text_hash, vector) rows with PostgreSQL's pgvector column
    filled in the same statement (one write per row, no update after)."""
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.executemany(
            "INSERT INTO embeddings (paper_id, model, paper_seq, text_hash, vector, seq, "
            "embedding) VALUES (%s, %s, %s, %s, %s, %s, %s::halfvec)",
            [
                (pid, model, pseq, digest, blob, seq, halfvec_literal(blob))
                for pid, pseq, digest, blob in rows
                if blob is not None
            ],
        )
    finally:
        cursor.close()


def insert_for(engine: Engine, table: Any) -> Any:
    """The backend's INSERT, which knows ``ON CONFLICT`` (SQLite 3.24+ and PostgreSQL)."""
    if engine.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def category_clause(column: Any, wanted: CategoryFilter) -> Any:
    """SQL for "a paper listed in the JSON list ``column`` passes ``wanted``", on both engines:
    a case-blind match on the list's JSON text, where each category stands quoted (``"cs.CL"``)
    and an archive token also takes its categories (``"cs.``). Tokens are validated arXiv
    names (letters, digits, dots and dashes: no LIKE wildcard) and travel as bind parameters."""
    listed = cast(column, Text)

    def one(token: str) -> Any:
        quoted = listed.ilike(f'%"{token}"%')
        return quoted if "." in token else or_(quoted, listed.ilike(f'%"{token}.%'))

    clauses = []
    if wanted.include:
        clauses.append(or_(*(one(t) for t in wanted.include)))
    clauses.extend(not_(one(t)) for t in wanted.exclude)
    return and_(*clauses)
