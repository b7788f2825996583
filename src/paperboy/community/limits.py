"""Rate limits ("10/minute", "10/15minutes") counted in the store, so every web process shares
them.

Windows are fixed (aligned on multiples of their length since the epoch): ``check`` counts an
event and refuses once the window's limit is passed; ``refuse_if_spent`` only looks, for limits
that count failures (``record`` counts one when it happens).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from paperboy.errors import RateLimited
from paperboy.store.accounts import AccountStore

__all__ = [
    "Rate",
    "RateLimited",
    "as_rate",
    "check",
    "forget",
    "record",
    "refuse_if_spent",
    "spent",
]

_PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*(second|minute|hour|day)s?\s*$")


@dataclass(frozen=True, slots=True)
class Rate:
    limit: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> Rate:
        """``N/unit`` or ``N/M units`` with unit second, minute, hour or day."""
        match = _RATE.match(text)
        if not match or int(match[2] or 1) < 1:
            raise ValueError(
                "a rate looks like '10/minute' or '10/15minutes' (second, minute, hour, day): "
                f"{text!r}"
            )
        return cls(int(match[1]), int(match[2] or 1) * _PERIODS[match[3]])

    def describe(self) -> str:
        for unit, length in sorted(_PERIODS.items(), key=lambda item: -item[1]):
            if self.seconds % length == 0:
                count = self.seconds // length
                return (
                    f"{self.limit} per {unit}"
                    if count == 1
                    else (f"{self.limit} per {count} {unit}s")
                )
        raise AssertionError("every whole number of seconds is a number of seconds")

    def retry_after(self, now: float) -> int:
        """Seconds until the current window ends (at least one)."""
        return int(self.seconds - now % self.seconds) + 1


def as_rate(rate: Rate | str) -> Rate:
    return Rate.parse(rate) if isinstance(rate, str) else rate


def limited(what: str, rate: Rate, retry_after: int) -> RateLimited:
    """The refusal for one limit too many of ``what``."""
    return RateLimited(
        f"Too many {what}: at most {rate.describe()}. Try again in {retry_after} s.", retry_after
    )


def check(store: AccountStore, key: str, rate: Rate | str, what: str) -> None:
    """Count one event for ``key``; raise ``RateLimited`` once the window's limit is passed."""
    parsed = as_rate(rate)
    now = time.time()
    if store.hit(key, parsed.seconds, now) > parsed.limit:
        raise limited(what, parsed, parsed.retry_after(now))


def spent(store: AccountStore, key: str, rate: Rate | str) -> int | None:
    """Seconds until ``key`` may be counted again when its window already holds the limit;
    None while there is room. Counts nothing."""
    parsed = as_rate(rate)
    now = time.time()
    if store.count(key, parsed.seconds, now) >= parsed.limit:
        return parsed.retry_after(now)
    return None


def refuse_if_spent(store: AccountStore, key: str, rate: Rate | str, what: str) -> None:
    """Raise ``RateLimited`` when ``key``'s window already holds the limit; counts nothing."""
    retry = spent(store, key, rate)
    if retry is not None:
        raise limited(what, as_rate(rate), retry)


def record(store: AccountStore, key: str, rate: Rate | str) -> bool:
    """Count one event for ``key``; True when the window's limit is now reached."""
    parsed = as_rate(rate)
    return store.hit(key, parsed.seconds, time.time()) >= parsed.limit


def forget(store: AccountStore, key: str) -> None:
    """Start ``key`` afresh (its owner proved who they are)."""
    store.forget_counter(key)
