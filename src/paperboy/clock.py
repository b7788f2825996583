"""Time and batching helpers every layer may use (the shared base, like ``models``).

- :func:`utc_now`: the current time in UTC as a naive ``datetime``, the form every timestamp
  column holds on both backends;
- :func:`chunks`: a sequence cut into slices of at most ``size`` items, so that no SQL
  statement, ``IN (...)`` list or engine call ever sees an unbounded number of parameters.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import TypeVar

T = TypeVar("T")

SQL_CHUNK = 500
"""Items per ``IN (...)`` list: well under SQLite's 32,766 bound parameters per statement."""


def utc_now() -> datetime:
    """Now, in UTC, without a time zone (as stored)."""
    return datetime.now(UTC).replace(tzinfo=None)


def chunks(items: Sequence[T], size: int = SQL_CHUNK) -> Iterator[Sequence[T]]:
    """``items`` in consecutive slices of at most ``size`` (none for an empty sequence)."""
    if size < 1:
        raise ValueError(f"chunk size must be at least 1, not {size}")
    for start in range(0, len(items), size):
        yield items[start : start + size]
