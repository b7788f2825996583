"""What every part of the store shares: its engine, write connections tuned for that engine,
and the store revision that every write which changes what pages show must advance."""

from __future__ import annotations

from sqlalchemy import Connection, Engine, update

from paperboy.store.dialects import write_options
from paperboy.store.schema import store_state


class SubStore:
    """One part of the store, on ``engine`` (SQLStore and each of its sub-stores)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.backend = engine.dialect.name  # "sqlite" or "postgresql"
        self._write = write_options(engine)

    def _writer(self) -> Connection:
        """A connection for one write transaction (``with self._writer() as c, c.begin():``)."""
        return self.engine.connect().execution_options(**self._write)


def bump_revision(conn: Connection) -> int:
    """Advance the revision inside the caller's write transaction; returns the new value."""
    stmt = (
        update(store_state)
        .where(store_state.c.key == "revision")
        .values(value=store_state.c.value + 1)
        .returning(store_state.c.value)
    )
    return int(conn.execute(stmt).scalar_one())
