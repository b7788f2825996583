from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from paperboy.clock import chunks, utc_now


def test_utc_now_is_naive_utc() -> None:
    now = utc_now()
    assert now.tzinfo is None
    assert abs(now - datetime.now(UTC).replace(tzinfo=None)) < timedelta(seconds=5)


def test_chunks_cover_every_item_once_in_order() -> None:
    items = list(range(1001))
    parts = list(chunks(items, 500))
    assert [len(p) for p in parts] == [500, 500, 1]
    assert [x for p in parts for x in p] == items
    assert list(chunks([], 10)) == []
    with pytest.raises(ValueError):
        list(chunks(items, 0))
