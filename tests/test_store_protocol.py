"""The ``Store`` Protocol and its sub-store Protocols match the SQL implementation."""

from __future__ import annotations

import inspect
from typing import Any, get_type_hints

import pytest

from paperboy.store import SQLStore, base, interfaces
from paperboy.store.accounts import AccountStore
from paperboy.store.activity import ActivityStore
from paperboy.store.collections import CollectionStore
from paperboy.store.comments import CommentStore
from paperboy.store.delivery import DeliveryStore
from paperboy.store.digest_rows import DigestRows
from paperboy.store.subscriptions import SubscriptionStore
from paperboy.store.trending import TrendingQueries

PAIRS: list[tuple[type, type]] = [
    (base.Store, SQLStore),
    (interfaces.AccountsProtocol, AccountStore),
    (interfaces.ActivityProtocol, ActivityStore),
    (interfaces.SubscriptionsProtocol, SubscriptionStore),
    (interfaces.DeliveryProtocol, DeliveryStore),
    (interfaces.CollectionsProtocol, CollectionStore),
    (interfaces.CommentsProtocol, CommentStore),
    (interfaces.TrendingProtocol, TrendingQueries),
    (interfaces.DigestRowsProtocol, DigestRows),
]


def _methods(cls: type) -> dict[str, Any]:
    return {
        name: member
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }


def _shape(func: Any) -> list[tuple[str, Any, Any]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(func).parameters.values()]


@pytest.mark.parametrize(("protocol", "concrete"), PAIRS, ids=lambda c: c.__name__)
def test_every_public_method_is_described_with_the_same_parameters(
    protocol: type, concrete: type
) -> None:
    described, offered = _methods(protocol), _methods(concrete)
    assert sorted(set(offered) - set(described)) == []
    assert sorted(set(described) - set(offered)) == []
    for name, func in described.items():
        assert _shape(func) == _shape(offered[name]), name


def test_the_store_holds_every_sub_store_the_protocol_names(store: SQLStore) -> None:
    hints = get_type_hints(base.Store)
    for name in hints:
        assert hasattr(store, name), name
    for name, protocol in [
        ("accounts", interfaces.AccountsProtocol),
        ("activity", interfaces.ActivityProtocol),
        ("subscriptions", interfaces.SubscriptionsProtocol),
        ("delivery", interfaces.DeliveryProtocol),
        ("collections", interfaces.CollectionsProtocol),
        ("comments", interfaces.CommentsProtocol),
        ("trending", interfaces.TrendingProtocol),
        ("digest_rows", interfaces.DigestRowsProtocol),
    ]:
        assert hints[name] is protocol
        assert getattr(store, name).engine is store.engine
