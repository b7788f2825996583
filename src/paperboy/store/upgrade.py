"""Opening a store and bringing its schema up to date (Alembic migrations)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from paperboy.store.dialects import create_store_engine
from paperboy.store.sql import SQLStore

_MIGRATIONS = Path(__file__).with_name("migrations")


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return config


def head_revision() -> str:
    """The schema revision this version of Paperboy expects."""
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def migrate(store: SQLStore, revision: str = "head") -> None:
    """Bring the schema up to ``revision`` (a no-op when it is already there)."""
    config = _alembic_config()
    head = ScriptDirectory.from_config(config).get_current_head()
    with store.engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    if revision == "head" and current == head:
        return
    with store.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def open_store(url: str, *, upgrade: bool = True) -> SQLStore:
    """Open the store at ``url`` and apply any pending migrations."""
    store = SQLStore(create_store_engine(url))
    if upgrade:
        migrate(store)
    return store
