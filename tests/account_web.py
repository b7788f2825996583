"""Helpers for the account tests: clients of an app whose mail goes to the SMTP sink (from any
client address), the account forms, and reading links out of the mails."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from datetime import date
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from community import PASSWORD, form
from paperboy.settings import Settings
from paperboy.store import SQLStore
from paperboy.web.app import create_app
from smtp_sink import SmtpSink

BASE = "http://paperboy.test"
NEW_PASSWORD = "a brand new passphrase"

ClientFactory = Callable[..., TestClient]


def mail_settings(database_url: str, smtp_sink: SmtpSink, base_url: str) -> dict[str, Any]:
    """Settings values of an app on ``database_url`` whose mail goes to ``smtp_sink``."""
    return {
        "database_url": database_url,
        "base_url": base_url,
        "smtp_host": smtp_sink.host,
        "smtp_port": smtp_sink.port,
        "smtp_timeout": 5.0,
        "mail_from": "Paperboy <robot@paperboy.test>",
    }


@contextlib.contextmanager
def app_clients(
    store: SQLStore,
    values: dict[str, Any],
    *,
    today: date | None = None,
    share_apps: bool = False,
) -> Iterator[ClientFactory]:
    """A maker of clients (each with no cookies yet) of apps on ``store`` with the settings
    ``values``, overridden by the maker's keyword arguments; ``peer`` is the client's network
    address (what rate limits count by). With ``share_apps``, clients with the same overrides
    share one app (and so its rate limits). Every client is closed at the end."""
    clients: list[TestClient] = []
    apps: dict[tuple[tuple[str, Any], ...], FastAPI] = {}

    def make(
        *, client_url: str = "http://testserver", peer: str = "testclient", **overrides: Any
    ) -> TestClient:
        key = tuple(sorted(overrides.items()))
        if not share_apps or key not in apps:
            settings = Settings(**{**values, **overrides})
            apps[key] = create_app(settings, store=store, today=(lambda: today) if today else None)
        client = TestClient(apps[key], base_url=client_url, client=(peer, 50000))
        client.__enter__()
        clients.append(client)
        return client

    try:
        yield make
    finally:
        for client in clients:
            client.__exit__(None, None, None)


@pytest.fixture(name="make_client")
def make_client_fixture(
    database_url: str, store: SQLStore, smtp_sink: SmtpSink
) -> Iterator[ClientFactory]:
    """Clients of an app whose mail goes to the sink; ``peer`` is the client's network address
    (what rate limits count by); other keyword arguments override settings."""
    with app_clients(store, mail_settings(database_url, smtp_sink, BASE)) as make:
        yield make


@pytest.fixture(name="web")
def web_fixture(make_client: ClientFactory) -> TestClient:
    return make_client()


def sign_up(client: TestClient, **fields: str) -> Any:
    values = {
        "email": "ada@example.org",
        "username": "ada",
        "password": PASSWORD,
        "password2": PASSWORD,
        **fields,
    }
    return client.post("/signup", data=form(client, **values))


def log_in_form(client: TestClient, login: str, password: str, **more: str) -> Any:
    return client.post(
        "/login",
        data=form(client, login=login, password=password, **more),
        follow_redirects=False,
    )


def mail_link(message: EmailMessage, path: str) -> str:
    """The local part (path and query) of the link to ``path`` in the mail's text part."""
    text = message.get_body(preferencelist=("plain",))
    assert text is not None
    match = re.search(re.escape(BASE + path) + r"\?token=[\w.\-%]+", text.get_content())
    assert match, text.get_content()
    parts = urlsplit(match.group(0))
    return f"{parts.path}?{parts.query}"


def link_token(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


def whoami(client: TestClient, **headers: str) -> Any:
    return client.get("/api/whoami", headers=headers)


def page_error(response: Any) -> str:
    """The messages a form page shows (field and form errors), as text."""
    found = re.findall(r'class="(?:field|form)-error"[^>]*>([^<]*)<', response.text)
    return " ".join(found)


def created_secret(response: Any) -> str:
    match = re.search(r'<code class="token-secret">(pb_[\w-]+)</code>', response.text)
    assert match, response.text
    return match.group(1)
