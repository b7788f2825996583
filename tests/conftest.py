"""Shared fixtures: a real SQLite store in a temp dir, the app, and a real uvicorn server."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pytest
import sqlalchemy
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.pool import NullPool

from arxiv_replay import ATOM_RECORDINGS, ArxivReplay
from paperboy.settings import Settings
from paperboy.store import SQLStore, open_store
from smtp_sink import smtp_sink_fixture  # noqa: F401  (the `smtp_sink` fixture)

if TYPE_CHECKING:
    from paperboy.community.models import User

# The large recorded corpora beside the checkout (../shared); PAPERBOY_SHARED_DIR points it
# elsewhere, e.g. at an empty folder to see which tests a user's clone (which has none) skips.
SHARED = Path(
    os.environ.get("PAPERBOY_SHARED_DIR") or Path(__file__).resolve().parents[1].parent / "shared"
)
DATA = Path(__file__).resolve().parent / "data"

# Tests never reach the real arXiv: unless a test points the client at its replay server, every
# arXiv address is a closed local port, so a forgotten setting fails fast instead of going out.
for _name, _path in (("API", "/api/query"), ("OAI", "/oai"), ("RSS", "/rss")):
    os.environ.setdefault(f"PAPERBOY_ARXIV_{_name}_URL", f"http://127.0.0.1:9{_path}")
# Embedding takes seconds per hundred papers on a CPU: tests that want vectors ask for them.
os.environ.setdefault("PAPERBOY_EMBED_AFTER_INGEST", "0")
os.environ.setdefault("PAPERBOY_SEARCH_PRELOAD", "0")
# Tests read pages right after writing: anonymous pages must never lag the store (the bounded
# staleness of the response cache has its own test in test_cache.py).
os.environ.setdefault("PAPERBOY_RESPONSE_CACHE_SECONDS", "0")


# The backend under test: SQLite files by default; a PostgreSQL cluster when the suite runs under
# `scripts/pgcluster.py run` (which sets PAPERBOY_TEST_DATABASE_URL to its admin database).
TEST_PG_URL = os.environ.get("PAPERBOY_TEST_DATABASE_URL", "")
BACKEND = "postgresql" if TEST_PG_URL else "sqlite"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if BACKEND != "sqlite" and item.get_closest_marker("sqlite_only"):
            item.add_marker(pytest.mark.skip(reason="tests a detail of the SQLite backend"))
        if BACKEND != "postgresql" and item.get_closest_marker("postgres_only"):
            item.add_marker(
                pytest.mark.skip(reason="runs on PostgreSQL (make test-postgres starts one)")
            )


def _pg_admin(sql: str) -> None:
    import psycopg

    dsn = TEST_PG_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql)


class NewDatabaseUrl(Protocol):
    """The type of ``new_database_url`` / ``module_database_url``."""

    def __call__(self, name: str = "paperboy", template: str | None = None) -> str: ...


@contextlib.contextmanager
def _database_factory(folder: Path) -> Iterator[NewDatabaseUrl]:
    """Yield a maker of fresh empty databases (SQLite files in ``folder``); drop them after."""
    created: list[str] = []

    def make(name: str = "paperboy", template: str | None = None) -> str:
        """A new database; with ``template`` (the URL of a database no one is connected to),
        a copy of that one: for SQLite its file and everything beside it named after it (its
        WAL, its search index folder)."""
        if not TEST_PG_URL:
            path = folder / (name + ".db")
            if template is not None:
                source = Path(sqlalchemy.make_url(template).database or "")
                for item in source.parent.glob(source.name + "*"):
                    target = path.with_name(path.name + item.name[len(source.name) :])
                    if item.is_dir():
                        shutil.copytree(item, target)
                    else:
                        shutil.copy2(item, target)
            return f"sqlite:///{path}"
        database = f"t_{name[:20].lower()}_{uuid.uuid4().hex[:12]}"
        source_db = sqlalchemy.make_url(template).database if template else "template1"
        _pg_admin(f'CREATE DATABASE "{database}" TEMPLATE "{source_db}"')
        created.append(database)
        return TEST_PG_URL.rsplit("/", 1)[0] + "/" + database

    try:
        yield make
    finally:
        for database in created:
            _pg_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.fixture
def new_database_url(tmp_path: Path) -> Iterator[NewDatabaseUrl]:
    """Makes fresh empty databases on the backend under test: ``new_database_url("name")``."""
    with _database_factory(tmp_path) as make:
        yield make


@pytest.fixture(scope="module")
def module_database_url(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[NewDatabaseUrl]:
    """``new_database_url`` for module-scoped fixtures: the databases live until the module ends."""
    with _database_factory(tmp_path_factory.mktemp("module-db")) as make:
        yield make


@pytest.fixture
def database_url(new_database_url: NewDatabaseUrl) -> str:
    """The test's own empty database: an SQLite file in tmp_path or a new PostgreSQL database."""
    return new_database_url("paperboy")


def sql_rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    """Run ``sql`` on a connection of its own, outside any store's engine; return every row."""
    engine = sqlalchemy.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(sqlalchemy.text(sql))]
    finally:
        engine.dispose()


def assert_consistent(url: str) -> None:
    """The database at ``url`` holds no row without its paper; an SQLite file also passes its
    own integrity and foreign-key checks."""
    if sqlalchemy.make_url(url).get_backend_name() == "sqlite":
        assert sql_rows(url, "PRAGMA integrity_check") == [("ok",)]
        assert sql_rows(url, "PRAGMA foreign_key_check") == []
    for table in ("feed_entries", "embeddings"):
        orphans = f"SELECT count(*) FROM {table} WHERE paper_id NOT IN (SELECT id FROM papers)"
        assert sql_rows(url, orphans) == [(0,)], f"{table} rows without their paper"


def shared_path(relative: str) -> Path:
    """A file of real recorded data by its path under ../shared (``data/...``, ``eval/...``):
    the copy shipped at the same path under ``tests/`` (the small recorded fixtures a user's
    clone needs live in ``tests/data``), else the one under ../shared (the large corpora beside
    the project). Skips, saying why, if neither exists."""
    shipped = DATA.parent / relative
    if shipped.exists():
        return shipped
    path = SHARED / relative
    if not path.exists():
        pytest.skip(
            f"needs the shared real-data folder: {path} is missing "
            "(it sits beside the project checkout on development machines and in CI)"
        )
    return path


@pytest.fixture
def replay() -> Iterator[ArxivReplay]:
    """A loopback server answering like arXiv's API from the recorded answers (skips when they
    are absent). Modules that replay something else (OAI-PMH pages, RSS) override it."""
    with ArxivReplay(shared_path(ATOM_RECORDINGS + "/xml_bodies").parent) as server:
        yield server


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url)


@pytest.fixture
def store(settings: Settings) -> Iterator[SQLStore]:
    s = open_store(settings.database_url)
    yield s
    s.close()


@pytest.fixture
def make_app(settings: Settings, store: SQLStore) -> Callable[..., FastAPI]:
    from paperboy.web.app import create_app

    def _make(today: date | None = None) -> FastAPI:
        return create_app(settings, store=store, today=(lambda: today) if today else None)

    return _make


@pytest.fixture
def client(make_app: Callable[..., FastAPI]) -> Iterator[TestClient]:
    with TestClient(make_app()) as c:
        yield c


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """A real uvicorn server on a free loopback port, in a background thread."""

    def __init__(self, app: FastAPI, port: int | None = None) -> None:
        """``port``: one chosen beforehand (e.g. to put it in the app's ``base_url``)."""
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def app(make_app: Callable[..., FastAPI]) -> FastAPI:
    """The app on the test's store; modules with their own papers or day override it."""
    return make_app()


# Users straight in the store (password ``community.PASSWORD``); ``root`` is a browser logged in
# as the admin, on the module's ``app``.


@pytest.fixture
def alice(store: SQLStore) -> User:
    from community import make_user

    return make_user(store, "alice")


@pytest.fixture
def bob(store: SQLStore) -> User:
    from community import make_user

    return make_user(store, "bob")


@pytest.fixture
def admin(store: SQLStore) -> User:
    from community import make_user

    return make_user(store, "root", admin=True)


@pytest.fixture
def root(app: FastAPI, store: SQLStore, admin: User) -> Iterator[TestClient]:
    """A browser logged in as the admin."""
    from community import log_in

    with TestClient(app) as client:
        log_in(client, store, admin)
        yield client


@pytest.fixture
def live_server(make_app: Callable[..., FastAPI]) -> Iterator[LiveServer]:
    with LiveServer(make_app()) as server:
        yield server
