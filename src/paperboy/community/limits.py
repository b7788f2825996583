"""Rate limits ("10/minute") counted in the store, so every web process shares them."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from paperboy.store.accounts import AccountStore

_PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(second|minute|hour|day)s?\s*$")


@dataclass(frozen=True, slots=True)
class Rate:
    limit: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> Rate:
        match = _RATE.match(text)
        if not match:
            raise ValueError(f"a rate looks like '10/minute' (second, minute, hour, day): {text!r}")
        return cls(int(match[1]), _PERIODS[match[2]])

    def describe(self) -> str:
        unit = {1: "second", 60: "minute", 3600: "hour", 86400: "day"}[self.seconds]
        return f"{self.limit} per {unit}"


class RateLimited(Exception):
    """Too many requests; ``retry_after`` seconds until the window ends."""

    def __init__(self, what: str, rate: Rate, retry_after: int) -> None:
        super().__init__(
            f"Too many {what}: at most {rate.describe()}. Try again in {retry_after} s."
        )
        self.retry_after = retry_after


def check(store: AccountStore, key: str, rate: Rate | str, what: str) -> None:
    """Count one event for ``key``; raise ``RateLimited`` once the window's limit is passed."""
    parsed = Rate.parse(rate) if isinstance(rate, str) else rate
    now = time.time()
    if store.hit(key, parsed.seconds, now) > parsed.limit:
        retry = int(parsed.seconds - now % parsed.seconds) + 1
        raise RateLimited(what, parsed, retry)
