"""Shared fixtures: a real SQLite store in a temp dir, the app, and a real uvicorn server."""

from __future__ import annotations

import os
import socket
import threading
import time
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
def settings(tmp_path: Path) -> Settings:
    return Settings(database_url=f"sqlite:///{tmp_path / 'paperboy.db'}")


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
