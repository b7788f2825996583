"""Subscriptions and saved-search alerts in the store, and the outbox's composing side.

``enqueue_digest`` writes a composed digest, the papers it holds and the subscriber's new
``last_digest_at`` in ONE transaction, and refuses a second digest for the same subscriber and
period (a unique key): composing can run any number of times, after any crash.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from paperboy.clock import utc_now
from paperboy.models import Alert, OutboxMessage, Subscription
from paperboy.store.dialects import insert_for
from paperboy.store.rows import record_from_row
from paperboy.store.schema import alerts, outbox, sent_papers, subscriptions
from paperboy.store.substore import SubStore


def subscription_from_row(row: Any) -> Subscription:
    m = row._mapping
    return record_from_row(
        Subscription,
        row,
        categories=tuple(m["categories"] or ()),
        min_upvotes=int(m["min_upvotes"]),
        include_trending=bool(m["include_trending"]),
        failures=int(m["failures"]),
    )


def message_from_row(row: Any) -> OutboxMessage:
    m = row._mapping
    return record_from_row(
        OutboxMessage, row, headers=dict(m["headers"] or {}), attempts=int(m["attempts"])
    )


class SubscriptionStore(SubStore):
    # -- subscriptions ----------------------------------------------------------------------

    def create(
        self,
        email: str,
        *,
        user_id: int | None = None,
        frequency: str = "daily",
        categories: Sequence[str] = (),
        min_upvotes: int = 0,
        include_trending: bool = True,
        confirmed: bool = False,
    ) -> tuple[Subscription, bool]:
        """The subscription of ``email`` (lower-cased by the caller): a new one (pending
        unless ``confirmed``), or the existing one unchanged. Returns (it, created)."""
        now = utc_now()
        stmt = (
            insert_for(self.engine, subscriptions)
            .values(
                email=email,
                user_id=user_id,
                status="active" if confirmed else "pending",
                frequency=frequency,
                categories=list(categories),
                min_upvotes=min_upvotes,
                include_trending=include_trending,
                created_at=now,
                confirmed_at=now if confirmed else None,
                failures=0,
            )
            .on_conflict_do_nothing(index_elements=[subscriptions.c.email])
        )
        with self._writer() as conn, conn.begin():
            # an INSERT's rowcount is kept with psycopg only when asked for
            result = conn.execute(stmt, execution_options={"preserve_rowcount": True})
            created = result.rowcount == 1
            row = conn.execute(select(subscriptions).where(subscriptions.c.email == email)).one()
        return subscription_from_row(row), created

    def get(self, subscription_id: int) -> Subscription | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(subscriptions).where(subscriptions.c.id == subscription_id)
            ).first()
        return subscription_from_row(row) if row is not None else None

    def by_email(self, email: str) -> Subscription | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(subscriptions).where(subscriptions.c.email == email)).first()
        return subscription_from_row(row) if row is not None else None

    def for_user(self, user_id: int) -> Subscription | None:
        query = select(subscriptions).where(subscriptions.c.user_id == user_id)
        with self.engine.connect() as conn:
            row = conn.execute(query.order_by(subscriptions.c.id)).first()
        return subscription_from_row(row) if row is not None else None

    def update(self, subscription_id: int, **values: Any) -> None:
        """Set columns (frequency, categories, min_upvotes, include_trending, user_id...)."""
        if "categories" in values:
            values["categories"] = list(values["categories"])
        with self._writer() as conn, conn.begin():
            conn.execute(
                update(subscriptions).where(subscriptions.c.id == subscription_id).values(**values)
            )

    def confirm(self, subscription_id: int) -> bool:
        """Pending (or unsubscribed, by a new confirmation link) becomes active; True when it
        changed. An active or paused subscription stays as it is."""
        with self._writer() as conn, conn.begin():
            done = conn.execute(
                update(subscriptions)
                .where(
                    subscriptions.c.id == subscription_id,
                    subscriptions.c.status.in_(("pending", "unsubscribed")),
                )
                .values(status="active", confirmed_at=utc_now(), unsubscribed_at=None, failures=0)
            )
        return done.rowcount == 1

    def unsubscribe(self, subscription_id: int) -> bool:
        """Stop every mail to the subscriber; True when it changed (repeating is harmless).
        Digests already composed but not sent are dropped (marked failed, not sent)."""
        now = utc_now()
        with self._writer() as conn, conn.begin():
            done = conn.execute(
                update(subscriptions)
                .where(
                    subscriptions.c.id == subscription_id,
                    subscriptions.c.status != "unsubscribed",
                )
                .values(status="unsubscribed", unsubscribed_at=now)
            )
            conn.execute(
                update(outbox)
                .where(outbox.c.subscription_id == subscription_id, outbox.c.status == "pending")
                .values(status="failed", last_error="unsubscribed before it was sent")
            )
        return done.rowcount == 1

    def resume(self, subscription_id: int) -> bool:
        """A paused subscription (too many permanent failures) becomes active again."""
        with self._writer() as conn, conn.begin():
            done = conn.execute(
                update(subscriptions)
                .where(subscriptions.c.id == subscription_id, subscriptions.c.status == "paused")
                .values(status="active", paused_at=None, pause_reason=None, failures=0)
            )
        return done.rowcount == 1

    def due(
        self, frequency: str, period_start: datetime, *, limit: int | None = None
    ) -> list[Subscription]:
        """Active subscriptions of ``frequency`` whose last digest ended before ``period_start``."""
        query = (
            select(subscriptions)
            .where(
                subscriptions.c.status == "active",
                subscriptions.c.frequency == frequency,
                (subscriptions.c.last_digest_at.is_(None))
                | (subscriptions.c.last_digest_at < period_start),
            )
            .order_by(subscriptions.c.id)
        )
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            return [subscription_from_row(r) for r in conn.execute(query)]

    def counts(self) -> dict[str, int]:
        return self._count_by(subscriptions.c.status)

    def list(self, *, offset: int = 0, limit: int = 50) -> list[Subscription]:
        query = select(subscriptions).order_by(subscriptions.c.id).offset(offset).limit(limit)
        with self.engine.connect() as conn:
            return [subscription_from_row(r) for r in conn.execute(query)]

    # -- alerts -----------------------------------------------------------------------------

    def add_alert(self, subscription_id: int, query: str, mode: str = "hybrid") -> Alert:
        """Save a search as an alert (saving the same query twice keeps one)."""
        stmt = (
            insert_for(self.engine, alerts)
            .values(subscription_id=subscription_id, query=query, mode=mode, created_at=utc_now())
            .on_conflict_do_nothing(index_elements=[alerts.c.subscription_id, alerts.c.query])
        )
        with self._writer() as conn, conn.begin():
            conn.execute(stmt)
            row = conn.execute(
                select(alerts).where(
                    alerts.c.subscription_id == subscription_id, alerts.c.query == query
                )
            ).one()
        return Alert(row.id, row.subscription_id, row.query, row.mode, row.created_at)

    def alerts_of(self, subscription_id: int) -> list[Alert]:
        query = (
            select(alerts).where(alerts.c.subscription_id == subscription_id).order_by(alerts.c.id)
        )
        with self.engine.connect() as conn:
            return [
                Alert(r.id, r.subscription_id, r.query, r.mode, r.created_at)
                for r in conn.execute(query)
            ]

    def delete_alert(self, subscription_id: int, alert_id: int) -> bool:
        with self._writer() as conn, conn.begin():
            done = conn.execute(
                delete(alerts).where(
                    alerts.c.id == alert_id, alerts.c.subscription_id == subscription_id
                )
            )
        return done.rowcount == 1

    # -- the outbox: composing ----------------------------------------------------------------

    def sent_paper_ids(self, subscription_id: int) -> set[str]:
        """Every paper already put into one of the subscriber's digests."""
        query = select(sent_papers.c.paper_id).where(
            sent_papers.c.subscription_id == subscription_id
        )
        with self.engine.connect() as conn:
            return set(conn.execute(query).scalars())

    def enqueue_digest(
        self,
        subscription_id: int,
        period: str,
        period_end: datetime,
        *,
        message_id: str,
        to_addr: str,
        subject: str,
        body_text: str,
        body_html: str | None,
        headers: dict[str, Any],
        paper_ids: Sequence[str],
        skipped: bool = False,
    ) -> int | None:
        """Store a composed digest (or, with ``skipped``, the fact that the period had nothing
        to send), the papers it holds, and the subscriber's ``last_digest_at``, in ONE
        transaction. None when the period already has a digest (nothing is written)."""
        now = utc_now()
        try:
            with self._writer() as conn, conn.begin():
                outbox_id = conn.execute(
                    insert(outbox)
                    .values(
                        subscription_id=subscription_id,
                        period=period,
                        message_id=message_id,
                        to_addr=to_addr,
                        subject=subject,
                        body_text=body_text,
                        body_html=body_html,
                        headers=headers,
                        status="skipped" if skipped else "pending",
                        attempts=0,
                        next_attempt_at=now,
                        created_at=now,
                    )
                    .returning(outbox.c.id)
                ).scalar_one()
                if paper_ids:
                    conn.execute(
                        insert_for(self.engine, sent_papers).on_conflict_do_nothing(
                            index_elements=[sent_papers.c.subscription_id, sent_papers.c.paper_id]
                        ),
                        [
                            {
                                "subscription_id": subscription_id,
                                "paper_id": p,
                                "outbox_id": outbox_id,
                            }
                            for p in dict.fromkeys(paper_ids)
                        ],
                    )
                conn.execute(
                    update(subscriptions)
                    .where(subscriptions.c.id == subscription_id)
                    .values(last_digest_at=period_end)
                )
        except IntegrityError:
            return None  # this subscriber's digest for the period exists already
        return int(outbox_id)

    def message(self, outbox_id: int) -> OutboxMessage | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(outbox).where(outbox.c.id == outbox_id)).first()
        return message_from_row(row) if row is not None else None

    def messages_of(self, subscription_id: int) -> list[OutboxMessage]:
        query = (
            select(outbox).where(outbox.c.subscription_id == subscription_id).order_by(outbox.c.id)
        )
        with self.engine.connect() as conn:
            return [message_from_row(r) for r in conn.execute(query)]

    def outbox_counts(self) -> dict[str, int]:
        return self._count_by(outbox.c.status)

    def _count_by(self, column: Any) -> dict[str, int]:
        """Rows of ``column``'s table by its value."""
        query = select(column, func.count()).group_by(column)
        with self.engine.connect() as conn:
            return {value: int(n) for value, n in conn.execute(query)}
