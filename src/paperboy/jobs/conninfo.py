"""Where the job queue lives: the store's own PostgreSQL database, as a libpq conninfo."""

from __future__ import annotations

from psycopg.conninfo import make_conninfo
from sqlalchemy.engine import make_url

from paperboy.errors import PaperboyError

NEEDS_POSTGRES = "the job queue needs PostgreSQL; on SQLite `paperboy daemon` runs jobs in-process"


class QueueNeedsPostgres(PaperboyError):
    """The store is not on PostgreSQL, so there is no job queue."""

    def __init__(self) -> None:
        super().__init__(NEEDS_POSTGRES)


def is_postgres(database_url: str) -> bool:
    """Whether ``database_url`` (a SQLAlchemy URL) names a PostgreSQL database."""
    return make_url(database_url).get_backend_name() == "postgresql"


def libpq_conninfo(database_url: str) -> str:
    """The libpq conninfo of a SQLAlchemy URL (``postgresql+psycopg://u:p@h:5432/db?...``).

    Query parameters (``sslmode``, ``host`` for a socket directory, ...) are passed through.
    Raises ``QueueNeedsPostgres`` for any other backend.
    """
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        raise QueueNeedsPostgres()
    params: dict[str, str | int] = {}
    for key, value in url.query.items():
        params[key] = value if isinstance(value, str) else value[-1]
    for key, value in (
        ("host", url.host),
        ("port", url.port),
        ("user", url.username),
        ("password", url.password),
        ("dbname", url.database),
    ):
        if value is not None and value != "":
            params[key] = value
    return make_conninfo(**params)  # type: ignore[arg-type]
