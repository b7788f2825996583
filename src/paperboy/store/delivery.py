"""The outbox's delivering side: claim one message at a time, record how sending it went.

The protocol that makes a sender safe to kill at any moment:

* :meth:`DeliveryStore.claim` moves ONE due ``pending`` row to ``sending`` (with who took it,
  when, and one more attempt) in a short write transaction of its own. On PostgreSQL the row
  is picked with ``SELECT ... FOR UPDATE SKIP LOCKED``, so concurrent senders each get a
  different row without waiting for one another; on SQLite the transaction starts with
  ``BEGIN IMMEDIATE`` (:func:`write_options`), which lets one writer in at a time.
* The sender hands the message to the SMTP server, then records the outcome:
  :meth:`mark_sent`, :meth:`mark_retry` (a temporary failure: back to ``pending`` with a later
  ``next_attempt_at``), :meth:`mark_failed` or :meth:`release` (not tried after all).
* A row left in ``sending`` is the only one that may have been sent without being marked: its
  sender died (or hangs) between claiming and recording. :meth:`recover` returns such rows to
  ``pending``, so the message is sent again with its stored Message-ID: at most one duplicate
  per crash, never a lost digest.

Permanent failures count against the address (:meth:`count_failure`): after
``mail_pause_after`` of them in a row the subscription is paused and its other unsent digests
are dropped (marked failed with the reason), like :meth:`SubscriptionStore.unsubscribe` does.
A successful send resets the count (:meth:`mark_sent` does it in its own transaction).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, select, update

from paperboy.clock import utc_now
from paperboy.models import OutboxMessage
from paperboy.store.schema import outbox, subscriptions
from paperboy.store.subscriptions import message_from_row
from paperboy.store.substore import SubStore

UNSENDABLE = ("paused", "unsubscribed")
"""Subscription statuses whose digests are never sent."""


def _sendable() -> Any:
    """SQL condition: the outbox row's subscription is neither paused nor unsubscribed."""
    return ~exists().where(
        subscriptions.c.id == outbox.c.subscription_id,
        subscriptions.c.status.in_(UNSENDABLE),
    )


def _paused_note(reason: str | None) -> str:
    return f"not sent: the address is paused ({reason or 'too many permanent failures'})"


class DeliveryStore(SubStore):
    """Claiming and marking outbox rows (see the module docstring for the protocol)."""

    # -- claiming ---------------------------------------------------------------------------

    def claim(
        self, claimer: str, *, due: datetime | None = None, now: datetime | None = None
    ) -> OutboxMessage | None:
        """Take the oldest due ``pending`` row (``next_attempt_at <= due``, default now) of a
        subscription that is neither paused nor unsubscribed: it becomes ``sending``, claimed
        by ``claimer`` ("host:pid") at ``now``, with one more attempt. None when nothing is
        due. Concurrent callers never get the same row."""
        now = now or utc_now()
        due = due or now
        pick = (
            select(outbox.c.id)
            .where(outbox.c.status == "pending", outbox.c.next_attempt_at <= due, _sendable())
            .order_by(outbox.c.next_attempt_at, outbox.c.id)
            .limit(1)
            # PostgreSQL: lock the row, skipping rows other senders hold; SQLite ignores this
            # (its BEGIN IMMEDIATE already admits one writer at a time).
            .with_for_update(skip_locked=True, of=outbox)
        )
        with self._writer() as conn, conn.begin():
            outbox_id = conn.execute(pick).scalar_one_or_none()
            if outbox_id is None:
                return None
            row = conn.execute(
                update(outbox)
                .where(outbox.c.id == outbox_id)
                .values(
                    status="sending",
                    claimed_by=claimer,
                    claimed_at=now,
                    attempts=outbox.c.attempts + 1,
                )
                .returning(*outbox.c)
            ).one()
        return message_from_row(row)

    def due(self, *, due: datetime | None = None, limit: int | None = None) -> list[OutboxMessage]:
        """The rows :meth:`claim` would take, in its order, without taking them (dry runs)."""
        query = (
            select(outbox)
            .where(
                outbox.c.status == "pending",
                outbox.c.next_attempt_at <= (due or utc_now()),
                _sendable(),
            )
            .order_by(outbox.c.next_attempt_at, outbox.c.id)
        )
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            return [message_from_row(r) for r in conn.execute(query)]

    # -- outcomes ---------------------------------------------------------------------------

    def mark_sent(self, outbox_id: int, *, now: datetime | None = None) -> None:
        """The SMTP server accepted the message. Also resets the subscriber's count of
        permanent failures in a row (same transaction). Recorded whatever the row's status:
        even a row taken over by another sender was delivered."""
        now = now or utc_now()
        with self._writer() as conn, conn.begin():
            subscription_id = conn.execute(
                update(outbox)
                .where(outbox.c.id == outbox_id)
                .values(status="sent", sent_at=now)
                .returning(outbox.c.subscription_id)
            ).scalar_one_or_none()
            if subscription_id is not None:
                self._reset_failures(conn, subscription_id)

    def mark_retry(self, outbox_id: int, error: str, next_attempt_at: datetime) -> bool:
        """A temporary failure: back to ``pending``, not before ``next_attempt_at``. Only a row
        still in ``sending`` changes (one another sender already finished stays as it is);
        True when it changed."""
        return self._finish(
            outbox_id, status="pending", last_error=error, next_attempt_at=next_attempt_at
        )

    def mark_failed(self, outbox_id: int, error: str) -> bool:
        """Given up (permanent failure, or out of attempts); ``error`` says why. Only a row still
        in ``sending`` changes; True when it changed."""
        return self._finish(outbox_id, status="failed", last_error=error)

    def release(self, outbox_id: int, error: str | None = None) -> bool:
        """Hand a claimed row back untried (the sender stopped, or the SMTP server itself is
        unusable): ``pending`` again, due as before, the attempt not counted."""
        values: dict[str, Any] = {"status": "pending", "attempts": outbox.c.attempts - 1}
        if error is not None:
            values["last_error"] = error
        return self._finish(outbox_id, **values)

    def _finish(self, outbox_id: int, **values: Any) -> bool:
        with self._writer() as conn, conn.begin():
            done = conn.execute(
                update(outbox)
                .where(outbox.c.id == outbox_id, outbox.c.status == "sending")
                .values(**values)
            )
        return done.rowcount == 1

    # -- crashed senders --------------------------------------------------------------------

    def recover(
        self,
        claimer_is_dead: Callable[[str], bool],
        lease: float | timedelta,
        *,
        now: datetime | None = None,
    ) -> int:
        """Return to ``pending`` every ``sending`` row whose claimer is dead
        (``claimer_is_dead(claimed_by)``, e.g. a process of this host that is gone) or whose
        claim is older than ``lease`` (seconds: a sender on another host that stopped
        reporting). Their messages may have gone out unmarked; sending them again, with the
        same Message-ID, is the one duplicate a crash can cost. Returns how many."""
        now = now or utc_now()
        if not isinstance(lease, timedelta):
            lease = timedelta(seconds=lease)
        expired = now - lease
        query = select(outbox.c.id, outbox.c.claimed_by, outbox.c.claimed_at).where(
            outbox.c.status == "sending"
        )
        with self.engine.connect() as conn:
            held = conn.execute(query).all()
        stale = [
            (row.id, row.claimed_by)
            for row in held
            if row.claimed_by is None
            or claimer_is_dead(row.claimed_by)
            or row.claimed_at is None
            or row.claimed_at < expired
        ]
        recovered = 0
        with self._writer() as conn, conn.begin():
            for outbox_id, claimer in stale:
                same_claim = (
                    outbox.c.claimed_by.is_(None)
                    if claimer is None
                    else outbox.c.claimed_by == claimer
                )
                done = conn.execute(
                    update(outbox)
                    .where(outbox.c.id == outbox_id, outbox.c.status == "sending", same_claim)
                    .values(status="pending")
                )
                recovered += done.rowcount
        return recovered

    def drop_unsendable(self) -> int:
        """Mark failed the pending rows of paused subscriptions (paused by hand, or by another
        sender) with the reason: they are never sent. Returns how many."""
        query = (
            select(outbox.c.id, subscriptions.c.pause_reason)
            .join(subscriptions, subscriptions.c.id == outbox.c.subscription_id)
            .where(outbox.c.status == "pending", subscriptions.c.status == "paused")
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        if not rows:
            return 0
        dropped = 0
        with self._writer() as conn, conn.begin():
            for outbox_id, reason in rows:
                done = conn.execute(
                    update(outbox)
                    .where(outbox.c.id == outbox_id, outbox.c.status == "pending")
                    .values(status="failed", last_error=_paused_note(reason))
                )
                dropped += done.rowcount
        return dropped

    # -- the subscriber's failure count -------------------------------------------------------

    def count_failure(
        self, subscription_id: int, reply: str, pause_after: int, *, now: datetime | None = None
    ) -> tuple[int, bool]:
        """Count one permanent failure (5xx) against the subscription. When it reaches
        ``pause_after`` failures in a row an active subscription is paused (``paused_at``,
        ``pause_reason`` = ``reply``) and its other pending digests are dropped, all in one
        transaction. Returns (failures in a row, paused by this call)."""
        now = now or utc_now()
        with self._writer() as conn, conn.begin():
            row = conn.execute(
                update(subscriptions)
                .where(subscriptions.c.id == subscription_id)
                .values(failures=subscriptions.c.failures + 1)
                .returning(subscriptions.c.failures, subscriptions.c.status)
            ).first()
            if row is None:
                return 0, False
            failures, status = int(row.failures), row.status
            if failures < pause_after or status != "active":
                return failures, False
            conn.execute(
                update(subscriptions)
                .where(subscriptions.c.id == subscription_id)
                .values(status="paused", paused_at=now, pause_reason=reply)
            )
            conn.execute(
                update(outbox)
                .where(outbox.c.subscription_id == subscription_id, outbox.c.status == "pending")
                .values(status="failed", last_error=_paused_note(reply))
            )
        return failures, True

    def reset_failures(self, subscription_id: int) -> None:
        """A message reached the address: its count of permanent failures starts again."""
        with self._writer() as conn, conn.begin():
            self._reset_failures(conn, subscription_id)

    @staticmethod
    def _reset_failures(conn: Any, subscription_id: int) -> None:
        conn.execute(
            update(subscriptions)
            .where(and_(subscriptions.c.id == subscription_id, subscriptions.c.failures != 0))
            .values(failures=0)
        )
