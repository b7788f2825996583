"""The ``Store`` Protocol matches the SQL implementation, and names its sub-stores' classes."""

from __future__ import annotations

import inspect
from typing import Any, get_type_hints

from paperboy.store import SQLStore, base
from paperboy.store.accounts import AccountStore
from paperboy.store.activity import ActivityStore
from paperboy.store.collections import CollectionStore
from paperboy.store.comments import CommentStore
from paperboy.store.delivery import DeliveryStore
from paperboy.store.digest_rows import DigestRows
from paperboy.store.ratings import RatingStore
from paperboy.store.subscriptions import SubscriptionStore
from paperboy.store.trending import TrendingQueries


def _methods(cls: type) -> dict[str, Any]:
    return {
        name: member
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }


def _shape(func: Any) -> list[tuple[str, Any, Any]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(func).parameters.values()]


def test_every_public_method_is_described_with_the_same_parameters() -> None:
    described, offered = _methods(base.Store), _methods(SQLStore)
    assert sorted(set(offered) - set(described)) == []
    assert sorted(set(described) - set(offered)) == []
    for name, func in described.items():
        assert _shape(func) == _shape(offered[name]), name


def test_the_store_holds_every_sub_store_the_protocol_names(store: SQLStore) -> None:
    hints = get_type_hints(base.Store)
    for name in hints:
        assert hasattr(store, name), name
    for name, cls in [
        ("accounts", AccountStore),
        ("activity", ActivityStore),
        ("subscriptions", SubscriptionStore),
        ("delivery", DeliveryStore),
        ("collections", CollectionStore),
        ("comments", CommentStore),
        ("trending", TrendingQueries),
        ("digest_rows", DigestRows),
        ("ratings", RatingStore),
    ]:
        assert hints[name] is cls
        assert isinstance(getattr(store, name), cls)
        assert getattr(store, name).engine is store.engine
