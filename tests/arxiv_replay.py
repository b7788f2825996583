"""A real HTTP server on loopback that answers like arXiv, from recorded responses.

The production client is pointed at it through settings (``arxiv_api_url``, ``arxiv_oai_url``,
``arxiv_rss_url``: :func:`replay_settings`); nothing inside Paperboy is patched. Tests queue
faults (``503`` with ``Retry-After``, a connection reset mid-body, a cut-off body, a slow
answer, ...) that the next requests get.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

if TYPE_CHECKING:
    from paperboy.ingest.http import ArxivHttp
    from paperboy.settings import Settings
    from paperboy.store import SQLStore

ATOM_RECORDINGS = "data/arxiv-fixtures/atom_api"
"""The recorded arXiv API answers, by their path under ../shared (or tests/)."""


@dataclass
class Fault:
    """What the next request gets instead of the normal answer.

    kind: "status" (send ``status`` with ``headers`` and ``body``), "reset" (send the headers
    and half the body, then reset the connection), "truncate" (declare the full length, send
    half, close), "slow" (wait ``delay`` seconds first, then answer normally), "body" (status
    200 with ``body`` instead of the recording).
    """

    kind: str
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Seen:
    path: str
    params: dict[str, str]
    at: float


class ArxivReplay:
    def __init__(self, atom_dir: Path | None = None) -> None:
        self.api: dict[tuple[str, str, str, str], tuple[int, bytes]] = {}
        self.empty_api: bytes | None = None
        if atom_dir is not None:
            self._load_atom(atom_dir)
        self.oai_first: bytes | None = None
        self.oai_pages: dict[str, bytes] = {}
        self.rss: dict[str, bytes] = {}  # category -> RSS body, served at /rss/<category>
        self.faults: deque[Fault] = deque()
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # -- recordings ---------------------------------------------------------------------------

    @staticmethod
    def _api_key(params: dict[str, str]) -> tuple[str, str, str, str]:
        return (
            params.get("id_list", ""),
            params.get("search_query", ""),
            params.get("start", "0"),
            params.get("max_results", "10"),
        )

    def _load_atom(self, folder: Path) -> None:
        for recording in sorted(folder.glob("*.json")):
            data = json.loads(recording.read_text(encoding="utf-8"))
            params = dict(parse_qsl(urlsplit(data["url"]).query, keep_blank_values=True))
            body = data["body"].encode("utf-8")
            self.api[self._api_key(params)] = (int(data["status_code"]), body)
            if recording.name.startswith("id_0000.0000"):
                self.empty_api = body

    def add_api(self, params: dict[str, str], body: bytes, status: int = 200) -> None:
        self.api[self._api_key(params)] = (status, body)

    # -- serving ------------------------------------------------------------------------------

    def _answer(self, path: str, params: dict[str, str]) -> tuple[int, bytes]:
        if path.startswith("/rss/"):
            category = path[len("/rss/") :]
            if category in self.rss:
                return 200, self.rss[category]
            return 404, b"<html><body>Not Found</body></html>"
        if path.endswith("/oai"):
            token = params.get("resumptionToken")
            if token is None and self.oai_first is not None:
                return 200, self.oai_first
            if token is not None and token in self.oai_pages:
                return 200, self.oai_pages[token]
            return 200, oai_error(
                "badResumptionToken",
                "The value of the resumptionToken argument is invalid or expired.",
            )
        key = self._api_key(params)
        if key in self.api:
            return self.api[key]
        if self.empty_api is not None:
            return 200, self.empty_api
        return 404, b"no recording"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        replay = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet
                return

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                parts = urlsplit(self.path)
                params = dict(parse_qsl(parts.query, keep_blank_values=True))
                with replay.lock:
                    replay.seen.append(Seen(parts.path, params, time.monotonic()))
                    fault = replay.faults.popleft() if replay.faults else None
                status, body = replay._answer(parts.path, params)
                headers = {"Content-Type": "application/xml; charset=utf-8"}
                if fault is not None:
                    if fault.kind == "slow":
                        time.sleep(fault.delay)
                    elif fault.kind == "status":
                        status, body = fault.status, fault.body
                        headers.update(fault.headers)
                    elif fault.kind == "body":
                        status, body = 200, fault.body
                    elif fault.kind in ("reset", "truncate"):
                        self.send_response(200)
                        self.send_header("Content-Type", headers["Content-Type"])
                        self.send_header("Content-Length", str(len(body)))
                        self.end_headers()
                        self.wfile.write(body[: len(body) // 2])
                        self.wfile.flush()
                        if fault.kind == "reset":
                            self.connection.setsockopt(
                                socket.SOL_SOCKET,
                                socket.SO_LINGER,
                                b"\x01\x00\x00\x00\x00\x00\x00\x00",
                            )
                        self.close_connection = True
                        return
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler

    def __enter__(self) -> ArxivReplay:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


OAI = "http://www.openarchives.org/OAI/2.0/"


def oai_error(code: str, message: str) -> bytes:
    """A real-shaped OAI-PMH error answer."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<OAI-PMH xmlns="{OAI}"><responseDate>2026-11-29T00:00:00Z</responseDate>'
        '<request verb="ListRecords">https://oaipmh.arxiv.org/oai</request>'
        f'<error code="{code}">{message}</error></OAI-PMH>'
    ).encode()


def replay_settings(replay: ArxivReplay, database_url: str, **values: Any) -> Settings:
    """Settings with every arXiv address (API, OAI-PMH, RSS) on ``replay``, plus ``values``
    (the pacing and retry settings a test wants: ``arxiv_min_interval``, ``arxiv_backoff``,
    ``arxiv_timeout``, ``arxiv_retries``, ...)."""
    from paperboy.settings import Settings

    addresses = {
        "arxiv_api_url": f"{replay.url}/api/query",
        "arxiv_oai_url": f"{replay.url}/oai",
        "arxiv_rss_url": f"{replay.url}/rss",
    }
    return Settings(**{"database_url": database_url, **addresses, **values})


def recording_http(
    settings: Settings, store: SQLStore, *, longest_sleep: float
) -> tuple[ArxivHttp, list[float]]:
    """The production arXiv client, and the list of every wait it asks for: a wait is
    recorded, and slept for at most ``longest_sleep`` seconds (long waits are not sat out)."""
    from paperboy.ingest.http import ArxivHttp

    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(min(seconds, longest_sleep))

    return ArxivHttp(settings, store, sleep=sleep), waits
