"""The one way Paperboy speaks HTTP to arXiv: paced, retried, honest about failures.

Every request takes a slot from the store's shared pacer first, so all Paperboy processes on
one store together send at most one request per ``arxiv_min_interval`` seconds (arXiv's terms:
one every 3 seconds, one connection). Network errors, cut-off bodies and 5xx answers are
retried with exponential backoff; ``503`` with ``Retry-After`` waits as told. 4xx answers are
returned, not retried: arXiv explains them in the body.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx2 as httpx

from paperboy import __version__
from paperboy.errors import PaperboyError
from paperboy.settings import Settings
from paperboy.store.base import Store

log = logging.getLogger(__name__)

USER_AGENT = f"paperboy/{__version__} (self-hosted paper radar)"


class ArxivUnavailable(PaperboyError):
    """arXiv did not answer usefully after every retry; nothing was stored from this request."""


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    status: int
    body: bytes
    url: str


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class ArxivHttp:
    """A paced, retrying HTTP client for arXiv's API and OAI-PMH endpoints."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.sleep = sleep
        self.client = httpx.Client(
            timeout=settings.arxiv_timeout,
            headers={"User-Agent": USER_AGENT},
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            follow_redirects=True,
            transport=transport,
        )

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> ArxivHttp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _pace(self) -> None:
        interval_ms = int(self.settings.arxiv_min_interval * 1000)
        wait_ms = self.store.reserve_slot("arxiv", interval_ms, int(time.time() * 1000))
        if wait_ms > 0:
            self.sleep(wait_ms / 1000)

    def get(self, url: str, params: Mapping[str, str | int]) -> HttpAnswer:
        """GET ``url``; the answer of the first attempt that arXiv completed (status < 500)."""
        attempts = self.settings.arxiv_retries + 1
        delay = self.settings.arxiv_backoff
        reason = ""
        for attempt in range(1, attempts + 1):
            self._pace()
            wait = delay
            try:
                response = self.client.get(url, params=dict(params))
                body = response.read()
            except httpx.TransportError as exc:  # refused, reset, cut off, timed out
                reason = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 500:
                    return HttpAnswer(response.status_code, body, str(response.url))
                reason = f"HTTP {response.status_code}"
                told = retry_after_seconds(response.headers.get("Retry-After"))
                if response.status_code == 503 and told is not None:
                    if told > self.settings.arxiv_max_retry_after:
                        raise ArxivUnavailable(
                            f"arXiv asked to retry after {told:.0f} s, more than the "
                            f"{self.settings.arxiv_max_retry_after:.0f} s allowed; try later"
                        )
                    wait = told
            if attempt == attempts:
                break
            log.warning(
                "arXiv request failed (%s); retry %d of %d in %.1f s",
                reason,
                attempt,
                attempts - 1,
                wait,
            )
            self.sleep(wait)
            delay *= 2
        raise ArxivUnavailable(f"arXiv did not answer after {attempts} attempts ({reason}): {url}")
