"""Record shapes of subscriptions, alerts and outbox messages (they live in ``paperboy.models``)."""

from __future__ import annotations

from paperboy.models import (
    FREQUENCIES,
    Alert,
    Frequency,
    OutboxMessage,
    Subscription,
    SubscriptionStatus,
)

__all__ = [
    "FREQUENCIES",
    "Alert",
    "Frequency",
    "OutboxMessage",
    "Subscription",
    "SubscriptionStatus",
]
