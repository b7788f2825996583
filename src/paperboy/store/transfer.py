"""Copying a whole store from one database to another (``paperboy migrate-store``).

The way a user moves up from SQLite to PostgreSQL (or back, or between servers). Every table of
``schema.metadata`` is copied in dependency order, streamed in primary-key order: keyset pages
read from the source, each page inserted into the target in its own transaction. A copy that
is stopped at any point goes on from the largest key already in the target when it is run
again; a target that holds anything but a prefix of the source is refused before any write.

Keys are ordered by their bytes on every engine (``COLLATE "C"`` on PostgreSQL, SQLite's own
binary order), so the source's page order, the target's resume point and the checksums agree
between engines. Small state tables that the migrations seed (``store_state``) are replaced
wholesale at the end instead: they hold the store's revision counter, copied as is.

Afterwards PostgreSQL's id sequences are moved past the copied ids, the target's derived
columns are rebuilt (``finish_copy``), and :func:`verify` compares row counts and a checksum of
every table on both sides.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from alembic.runtime.migration import MigrationContext
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ColumnElement,
    Connection,
    Engine,
    String,
    Table,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    text,
)
from sqlalchemy.engine import make_url

from paperboy.errors import PaperboyError, RecordRejected
from paperboy.store.dialects import (
    executemany,
    has_id_sequences,
    write_options,
)
from paperboy.store.dialects import (
    needs_c_collation as _needs_c_collation,  # tests replace it here
)
from paperboy.store.schema import metadata
from paperboy.store.sql import SQLStore
from paperboy.store.upgrade import head_revision

DEFAULT_BATCH = 5000
REPLACED_TABLES = frozenset({"store_state"})
"""Tables the migrations seed with rows (``revision`` = 0): replaced as a whole, not merged."""

Key = tuple[Any, ...]
ProgressFn = Callable[[str, int, int], None]
"""``progress(table, rows_done, rows_total)``, called after every committed batch."""


class TransferRefused(PaperboyError):
    """The copy cannot start (or go on) without risking the target's or the source's data."""


@dataclass(frozen=True, slots=True)
class TableCopy:
    """What the copy did to one table."""

    name: str
    total: int  # rows in the source
    already: int  # rows the target held before this run (a resumed copy)
    copied: int  # rows this run inserted


@dataclass(frozen=True, slots=True)
class TableCheck:
    """One table compared on both sides."""

    name: str
    source_rows: int
    target_rows: int
    source_checksum: str
    target_checksum: str

    @property
    def ok(self) -> bool:
        return (self.source_rows, self.source_checksum) == (self.target_rows, self.target_checksum)


# -- refusals -------------------------------------------------------------------------------


def same_database(a: str, b: str) -> bool:
    """Whether two SQLAlchemy URLs name the same database (drivers and passwords aside)."""
    ua, ub = make_url(a), make_url(b)
    if ua.get_backend_name() != ub.get_backend_name():
        return False
    if ua.get_backend_name() == "sqlite":
        da, db = ua.database or "", ub.database or ""
        if not da or da == ":memory:" or not db or db == ":memory:":
            return False
        return os.path.realpath(da) == os.path.realpath(db)
    default_port = {"postgresql": 5432, "mysql": 3306}.get(ua.get_backend_name())
    return (
        (ua.host or "localhost").lower(),
        ua.port or default_port,
        ua.database,
    ) == ((ub.host or "localhost").lower(), ub.port or default_port, ub.database)


def missing_sqlite_file(url: str) -> str | None:
    """The path of an SQLite URL whose file does not exist (opening it would create it)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if not database or database == ":memory:" or os.path.exists(database):
        return None
    return database


def schema_revision(store: SQLStore) -> str | None:
    """The schema revision Alembic recorded in the store's database."""
    with store.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def check_schemas(source: SQLStore, target: SQLStore) -> None:
    """Refuse unless both databases are at this Paperboy's schema revision."""
    head = head_revision()
    for side, store in (("source", source), ("target", target)):
        current = schema_revision(store)
        if current != head:
            raise TransferRefused(
                f"the {side} database is at schema revision {current}, not {head}: "
                "use the Paperboy version that wrote it, or upgrade it first"
            )


# -- keys and ordering ------------------------------------------------------------------------


class _Keys:
    """A table's primary key on one engine, ordered by bytes."""

    def __init__(self, table: Table, c_collation: bool) -> None:
        self.table = table
        self.columns: list[Column[Any]] = list(table.primary_key.columns)
        self.ordered: list[ColumnElement[Any]] = [
            col.collate("C") if c_collation and isinstance(col.type, String) else col
            for col in self.columns
        ]

    def after(self, key: Key, depth: int = 0) -> ColumnElement[bool]:
        """Rows whose key sorts after ``key``: ``a >= x AND (a > x OR <the rest after>)``,
        which both engines answer with a range scan of the primary-key index."""
        column, value = self.ordered[depth], key[depth]
        if depth == len(self.ordered) - 1:
            return column > value
        return and_(column >= value, or_(column > value, self.after(key, depth + 1)))

    def at_most(self, key: Key) -> ColumnElement[bool]:
        return ~self.after(key)

    def of(self, row: Any) -> Key:
        return tuple(row[col.name] for col in self.columns)


def _last_key(conn: Connection, keys: _Keys) -> Key | None:
    query = select(*keys.columns).order_by(*(c.desc() for c in keys.ordered)).limit(1)
    row = conn.execute(query).first()
    return tuple(row) if row is not None else None


def _count(conn: Connection, table: Table, where: ColumnElement[bool] | None = None) -> int:
    query = select(func.count()).select_from(table)
    if where is not None:
        query = query.where(where)
    return int(conn.execute(query).scalar_one())


# -- copying ----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Plan:
    table: Table
    source_keys: _Keys
    total: int
    already: int
    resume_after: Key | None


def copy_tables() -> list[Table]:
    """Every table, parents before children; the seeded state tables last."""
    tables = list(metadata.sorted_tables)
    return [t for t in tables if t.name not in REPLACED_TABLES] + [
        t for t in tables if t.name in REPLACED_TABLES
    ]


def _plan_table(
    source: SQLStore, target: SQLStore, table: Table, c_src: bool, c_dst: bool
) -> _Plan:
    """Count the source, find where the target stopped, and refuse foreign target rows."""
    source_keys, target_keys = _Keys(table, c_src), _Keys(table, c_dst)
    with source.engine.connect() as src, target.engine.connect() as dst:
        total = _count(src, table)
        already = _count(dst, table)
        if table.name in REPLACED_TABLES or already == 0:
            return _Plan(table, source_keys, total, 0, None)
        last = _last_key(dst, target_keys)
        source_last = _last_key(src, source_keys)
        prefix = _count(src, table, source_keys.at_most(last)) if last is not None else 0
    if last is None:  # pragma: no cover - counted rows a moment ago
        return _Plan(table, source_keys, total, 0, None)
    if source_last is None or last > source_last:
        raise TransferRefused(
            f"the target's {table.name} table holds rows the source does not have "
            f"(key {_show(last)} is beyond the source's last row): the target is another "
            "store; copy into an empty database"
        )
    if prefix != already:
        raise TransferRefused(
            f"the target's {table.name} table holds {already:,} rows, but the source has "
            f"{prefix:,} up to the same key {_show(last)}: the target is not a partial copy "
            "of this source; copy into an empty database"
        )
    return _Plan(table, source_keys, total, already, last)


def _show(key: Key) -> str:
    return ", ".join(repr(k) for k in key)


def plan_copy(source: SQLStore, target: SQLStore) -> list[_Plan]:
    """Check every table before any write (raises TransferRefused)."""
    c_src, c_dst = _needs_c_collation(source.engine), _needs_c_collation(target.engine)
    return [_plan_table(source, target, t, c_src, c_dst) for t in copy_tables()]


def _read_batch(
    source: SQLStore, keys: _Keys, after: Key | None, size: int
) -> list[dict[str, Any]]:
    query = select(keys.table).order_by(*keys.ordered).limit(size)
    if after is not None:
        query = query.where(keys.after(after))
    with source.engine.connect() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


def _insert_batch(
    target: SQLStore, table: Table, rows: list[dict[str, Any]], *, replace: bool
) -> None:
    options = write_options(target.engine, bulk=True)
    with target.engine.connect().execution_options(**options) as conn, conn.begin():
        if replace:
            conn.execute(delete(table))
        try:
            executemany(conn, insert(table), rows)
        except RecordRejected as exc:
            raise TransferRefused(f"the target refused a row of {table.name}: {exc}") from exc


def _copy_planned(
    source: SQLStore, target: SQLStore, plan: _Plan, batch_size: int, progress: ProgressFn
) -> int:
    replace = plan.table.name in REPLACED_TABLES
    if replace:  # a few rows: one transaction, whatever the batch size
        rows = _read_batch(source, plan.source_keys, None, max(plan.total, 1))
        _insert_batch(target, plan.table, rows, replace=True)
        progress(plan.table.name, len(rows), plan.total)
        return len(rows)
    after, copied = plan.resume_after, 0
    progress(plan.table.name, plan.already, plan.total)
    while True:
        rows = _read_batch(source, plan.source_keys, after, batch_size)
        if not rows:
            return copied
        _insert_batch(target, plan.table, rows, replace=False)
        copied += len(rows)
        after = plan.source_keys.of(rows[-1])
        progress(plan.table.name, plan.already + copied, plan.total)
        if len(rows) < batch_size:
            return copied


def reset_sequences(target: SQLStore) -> None:
    """Move PostgreSQL's id sequences past the copied ids, so new rows get fresh ids."""
    if not has_id_sequences(target.engine):
        return
    with target.engine.begin() as conn:
        for table in metadata.sorted_tables:
            column = table.autoincrement_column
            if column is None:
                continue
            name, col = table.name, column.name
            conn.execute(
                text(
                    f'SELECT setval(pg_get_serial_sequence(:t, :c), coalesce(max("{col}"), 1), '
                    f'max("{col}") IS NOT NULL) FROM "{name}"'
                ),
                {"t": name, "c": col},
            )


def copy_store(
    source: SQLStore,
    target: SQLStore,
    *,
    batch_size: int = DEFAULT_BATCH,
    progress: ProgressFn | None = None,
    on_table: Callable[[str, int, int], None] | None = None,
) -> list[TableCopy]:
    """Copy every table of ``source`` into ``target``, going on from where a previous run
    stopped, then reset sequences and rebuild derived columns.

    ``on_table(name, rows_done, rows_total)`` is called as each table starts; ``progress``
    after every committed batch. Raises TransferRefused when the target is not empty and not a
    partial copy of the source (before writing anything).
    """
    check_schemas(source, target)
    plans = plan_copy(source, target)
    report = []
    for plan in plans:
        if on_table is not None:
            on_table(plan.table.name, plan.already, plan.total)
        copied = _copy_planned(source, target, plan, batch_size, progress or _quiet)
        report.append(TableCopy(plan.table.name, plan.total, plan.already, copied))
    reset_sequences(target)
    finish = getattr(target, "finish_copy", None)
    if callable(finish):
        finish()
    return report


def _quiet(_table: str, _done: int, _total: int) -> None:
    return None


# -- verification -----------------------------------------------------------------------------


def _normaliser(column: Column[Any]) -> Callable[[Any], Any]:
    """Turn a column's value into something that dumps the same from every engine."""
    if isinstance(column.type, Boolean):
        return lambda v: None if v is None else bool(v)
    if isinstance(column.type, JSON):
        return lambda v: json.loads(v) if isinstance(v, str | bytes) else v
    return _plain


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _stream(engine: Engine, table: Table, batch: int) -> Iterator[Sequence[Any]]:
    keys = _Keys(table, _needs_c_collation(engine))
    query = select(*table.columns).order_by(*keys.ordered)
    with engine.connect().execution_options(stream_results=True, yield_per=batch) as conn:
        yield from conn.execute(query)


def table_checksum(store: SQLStore, table: Table, *, batch: int = DEFAULT_BATCH) -> tuple[int, str]:
    """(rows, blake2b hex digest) of ``table``'s rows in key order, engine-independent."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(json.dumps([c.name for c in table.columns]).encode())
    norms = [_normaliser(c) for c in table.columns]
    rows = 0
    for row in _stream(store.engine, table, batch):
        values = [norm(value) for norm, value in zip(norms, row, strict=True)]
        line = json.dumps(values, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        digest.update(line.encode("utf-8", "surrogatepass") + b"\n")
        rows += 1
    return rows, digest.hexdigest()


def verify(
    source: SQLStore,
    target: SQLStore,
    *,
    batch: int = DEFAULT_BATCH,
    on_table: Callable[[str], None] | None = None,
) -> list[TableCheck]:
    """Row counts and checksums of every table on both sides."""
    checks = []
    for table in metadata.sorted_tables:
        if on_table is not None:
            on_table(table.name)
        src_rows, src_sum = table_checksum(source, table, batch=batch)
        dst_rows, dst_sum = table_checksum(target, table, batch=batch)
        checks.append(TableCheck(table.name, src_rows, dst_rows, src_sum, dst_sum))
    return checks
