"""Record shapes of subscriptions, alerts and outbox messages: plain frozen dataclasses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

Frequency = Literal["daily", "weekly", "off"]
FREQUENCIES: tuple[Frequency, ...] = ("daily", "weekly", "off")
SubscriptionStatus = Literal["pending", "active", "unsubscribed", "paused"]


@dataclass(frozen=True, slots=True)
class Subscription:
    id: int
    email: str
    user_id: int | None
    status: str  # SubscriptionStatus
    frequency: str  # Frequency
    categories: tuple[str, ...]
    min_upvotes: int
    include_trending: bool
    created_at: datetime
    confirmed_at: datetime | None
    unsubscribed_at: datetime | None
    last_digest_at: datetime | None
    failures: int
    paused_at: datetime | None
    pause_reason: str | None

    @property
    def active(self) -> bool:
        return self.status == "active"


@dataclass(frozen=True, slots=True)
class Alert:
    id: int
    subscription_id: int
    query: str
    mode: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    id: int
    subscription_id: int
    period: str
    message_id: str
    to_addr: str
    subject: str
    body_text: str
    body_html: str | None
    headers: dict[str, Any]
    status: str  # pending, sending, sent, failed, skipped
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    claimed_by: str | None
    created_at: datetime
    sent_at: datetime | None
