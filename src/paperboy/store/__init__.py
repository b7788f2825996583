"""The store: the only package that speaks SQL."""

from __future__ import annotations

from paperboy.store.base import FeedPage, PeriodCount, Store
from paperboy.store.sql import SQLStore
from paperboy.store.upgrade import head_revision, migrate, open_store

__all__ = [
    "FeedPage",
    "PeriodCount",
    "SQLStore",
    "Store",
    "head_revision",
    "migrate",
    "open_store",
]
