"""Shared fixtures: a real SQLite store in a temp dir, the app, and a real uvicorn server."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from paperboy.settings import Settings
from paperboy.store import SQLStore, open_store

SHARED = Path(__file__).resolve().parents[1].parent / "shared"

# Tests never reach the real arXiv: unless a test points the client at its replay server, every
# arXiv address is a closed local port, so a forgotten setting fails fast instead of going out.
for _name, _path in (("API", "/api/query"), ("OAI", "/oai"), ("RSS", "/rss")):
    os.environ.setdefault(f"PAPERBOY_ARXIV_{_name}_URL", f"http://127.0.0.1:9{_path}")
# Embedding takes seconds per hundred papers on a CPU: tests that want vectors ask for them.
os.environ.setdefault("PAPERBOY_EMBED_AFTER_INGEST", "0")
os.environ.setdefault("PAPERBOY_SEARCH_PRELOAD", "0")


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


@pytest.fixture
def new_database_url(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """Makes fresh empty databases on the backend under test: ``new_database_url("name")``."""
    created: list[str] = []

    def make(name: str = "paperboy") -> str:
        if not TEST_PG_URL:
            return f"sqlite:///{tmp_path / (name + '.db')}"
        database = f"t_{name[:20].lower()}_{uuid.uuid4().hex[:12]}"
        _pg_admin(f'CREATE DATABASE "{database}" TEMPLATE template1')
        created.append(database)
        return TEST_PG_URL.rsplit("/", 1)[0] + "/" + database

    yield make
    for database in created:
        _pg_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.fixture
def database_url(new_database_url: Callable[[str], str]) -> str:
    """The test's own empty database: an SQLite file in tmp_path or a new PostgreSQL database."""
    return new_database_url("paperboy")


def shared_path(relative: str) -> Path:
    """A file under ../shared (real data beside the project). Skips, saying why, if absent."""
    path = SHARED / relative
    if not path.exists():
        pytest.skip(
            f"needs the shared real-data folder: {path} is missing "
            "(it sits beside the project checkout on development machines and in CI)"
        )
    return path


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

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
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
def live_server(make_app: Callable[..., FastAPI]) -> Iterator[LiveServer]:
    with LiveServer(make_app()) as server:
        yield server
