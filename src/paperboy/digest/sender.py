"""Sending the outbox over SMTP: lose nothing, resend at most the message in flight.

:func:`send_pending` makes one pass over the digests due when it starts:

1. Rows left in ``sending`` by a dead sender of this host (or claimed longer ago than
   ``mail_claim_seconds``, for senders elsewhere) go back to ``pending``: they are the only
   messages that may have been sent without being marked, and sending them again, with their
   stored Message-ID, costs at most one duplicate per crash. Pending rows of paused
   subscriptions are marked failed (``drop_unsendable``): they are never sent.
2. Then, one message at a time: claim ONE row (``sending``, one more attempt, in its own short
   transaction), build the message from the row (:func:`paperboy.mail.compose`: its stored
   Message-ID, subject, bodies, extra headers such as ``List-Unsubscribe``; ``Date`` = now),
   wait for a slot of the shared send rate (``store.reserve_slot("smtp", ...)``), send it
   (:func:`paperboy.mail.send`) and mark it sent (which also resets the address's count of
   permanent failures).

How failures are handled (each one is logged):

* temporary (4xx, a dropped connection): ``pending`` again, due after ``mail_retry_seconds``
  doubled with each attempt (``* 2**(attempts-1)``, at most 6 hours); after
  ``mail_max_attempts`` attempts the row is marked failed. A pass tries a message once: a retry
  waits for a later pass, even with a zero delay.
* permanent (5xx for the recipient or the message): the row is failed with the reply, and the
  failure counts against the subscription; ``mail_pause_after`` of them in a row pause it
  (``pause_reason`` = the reply), and its other unsent digests are marked failed ("not sent:
  the address is paused ..."); they are not sent later, even after it is resumed. An address
  Paperboy never sends to (:class:`paperboy.mail.UnsendableAddress`: a non-ASCII mailbox name
  stored before such addresses were refused) is refused before connecting and paused at once.
* a message that cannot be built (a stored header with a line break, a list header too long
  to write): failed with the reason, the pass goes on.
* the server itself unusable (nothing listens, connection refused or timed out, login or
  sender refused, no STARTTLS, an untrusted certificate): no message is at fault, so the row
  is handed back untried (its attempt not counted), the pass stops, and ``SendReport.error``
  says why. Nothing is lost however long the server stays down.
"""

from __future__ import annotations

import logging
import smtplib
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from paperboy.clock import utc_now
from paperboy.ingest.runs import alive, owner
from paperboy.mail import MailError, SmtpConfig, UnsendableAddress, compose, send
from paperboy.models import OutboxMessage
from paperboy.store.delivery import DeliveryStore

if TYPE_CHECKING:
    from paperboy.settings import Settings
    from paperboy.store.sql import SQLStore

log = logging.getLogger(__name__)

MAX_RETRY_DELAY = timedelta(hours=6)
"""The longest wait between two tries of a message after temporary failures."""

PACE_KEY = "smtp"
"""The ``store.reserve_slot`` key of the send rate (``store_state`` key ``pace:smtp``)."""

Outcome = Literal["sent", "retry", "failed", "bounced", "returned", "would send"]
"""What happened to one message, as :func:`send_pending` tells ``progress``: ``bounced`` is a
permanent failure counted against the address, ``returned`` a message handed back untried."""

Progress = Callable[[OutboxMessage, Outcome], None]


@dataclass(slots=True)
class SendReport:
    """What one or more :func:`send_pending` passes did.

    ``sent``, ``retried`` (temporary failure, tried again later), ``failed`` (permanent failure
    or out of attempts), ``paused`` (subscriptions paused by this pass), ``skipped_dry_run``
    (messages a dry run would have sent), ``recovered`` (rows of dead senders put back),
    ``dropped`` (pending rows of paused subscriptions marked failed), ``error`` (why a pass
    stopped early: the SMTP server itself is unusable).
    """

    sent: int = 0
    retried: int = 0
    failed: int = 0
    paused: int = 0
    skipped_dry_run: int = 0
    recovered: int = 0
    dropped: int = 0
    error: str | None = None

    @property
    def attempted(self) -> int:
        """Messages handed to the SMTP server (successfully or not)."""
        return self.sent + self.retried + self.failed

    def add(self, other: SendReport) -> None:
        """Add ``other``'s counts to these (the last error wins)."""
        for counter in fields(self):
            if counter.name != "error":
                setattr(
                    self, counter.name, getattr(self, counter.name) + getattr(other, counter.name)
                )
        self.error = other.error or self.error

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def claimer_id() -> str:
    """``host:pid`` of this process, recorded on the rows it claims."""
    host, pid = owner()
    return f"{host}:{pid}"


def claimer_is_dead(claimed_by: str) -> bool:
    """Whether the process named by ``claimed_by`` ("host:pid") is known to be gone: a process
    of this host that no longer exists. Claims of other hosts wait for their lease to end."""
    host, _, pid = claimed_by.rpartition(":")
    if host != owner()[0] or not pid.isdigit():
        return False
    return not alive(int(pid))


def pacing_interval_ms(rate_per_minute: int) -> int:
    """Milliseconds between two sends for at most ``rate_per_minute`` a minute: 60000/rate
    rounded up (integer arithmetic, so the rate is never exceeded), 0 (no pacing) above one
    message a millisecond."""
    if rate_per_minute < 1:
        raise ValueError(f"mail rate must be at least 1 a minute, not {rate_per_minute}")
    if rate_per_minute > 60_000:
        return 0
    return -(-60_000 // rate_per_minute)


def retry_delay(retry_seconds: float, attempts: int) -> timedelta:
    """The wait before the next try after ``attempts`` tries: ``retry_seconds`` doubled per
    attempt after the first, at most :data:`MAX_RETRY_DELAY`."""
    cap = MAX_RETRY_DELAY.total_seconds()
    exponent = max(attempts - 1, 0)
    if exponent > 64:  # 2**64 seconds exceed any cap; skip the huge float
        return MAX_RETRY_DELAY if retry_seconds > 0 else timedelta(0)
    return timedelta(seconds=min(retry_seconds * 2**exponent, cap))


def _reply(error: MailError) -> str:
    """The server's reply in ``error`` (``550 5.1.1 no such user``), else its message."""
    cause = error.__cause__
    if error.refused:
        code, text = next(iter(error.refused.values()))
        return f"{code} {text}"
    if isinstance(cause, smtplib.SMTPResponseException):
        text = cause.smtp_error
        if isinstance(text, bytes):
            text = text.decode("utf-8", errors="replace")
        return f"{cause.smtp_code} {' '.join(str(text).split())}"
    return str(error)


def _fault(error: MailError) -> Literal["retry", "bounce", "server"]:
    """Whose failure ``error`` is: the message's, for now (``retry``), the address's for good
    (``bounce``: the recipient or the message refused with 5xx), or the server's (``server``:
    unreachable, timed out, or refusing us rather than the message)."""
    cause = error.__cause__
    if isinstance(cause, OSError) and not isinstance(cause, smtplib.SMTPException):
        return "server"  # refused, unreachable, timed out: no message got through
    if error.temporary:
        return "retry"
    if error.refused or isinstance(cause, smtplib.SMTPDataError):
        return "bounce"
    return "server"


def _build(message: OutboxMessage, sender: str) -> Any:
    return compose(
        sender=sender,
        to=message.to_addr,
        subject=message.subject,
        text=message.body_text,
        html=message.body_html,
        headers={str(name): str(value) for name, value in message.headers.items()},
        message_id=message.message_id,
    )


def _wait(seconds: float, stop: threading.Event | None) -> bool:
    """Sleep ``seconds``; False when ``stop`` was set meanwhile."""
    if stop is None:
        time.sleep(seconds)
        return True
    return not stop.wait(seconds)


def send_pending(
    store: SQLStore,
    settings: Settings,
    *,
    limit: int | None = None,
    dry_run: bool = False,
    stop: threading.Event | None = None,
    progress: Progress | None = None,
) -> SendReport:
    """One pass over the digests due now (see the module docstring); at most ``limit``
    messages. ``dry_run``: tell ``progress`` each message that would be sent, change nothing.
    ``stop`` (set from another thread) ends the pass between messages."""
    delivery: DeliveryStore = getattr(store, "delivery", None) or DeliveryStore(store.engine)
    report = SendReport()
    started = utc_now()
    if dry_run:
        for message in delivery.due(due=started, limit=limit):
            report.skipped_dry_run += 1
            if progress is not None:
                progress(message, "would send")
        return report

    report.recovered = delivery.recover(claimer_is_dead, settings.mail_claim_seconds)
    report.dropped = delivery.drop_unsendable()
    config = SmtpConfig.from_settings(settings)
    interval_ms = pacing_interval_ms(settings.mail_rate_per_minute)
    me = claimer_id()
    claimed = 0

    def tell(message: OutboxMessage, outcome: Outcome) -> None:
        if progress is not None:
            progress(message, outcome)

    while limit is None or claimed < limit:
        if stop is not None and stop.is_set():
            break
        message = delivery.claim(me, due=started)
        if message is None:
            break
        claimed += 1
        try:
            email = _build(message, settings.mail_from)
        except ValueError as error:  # a stored header that cannot be sent (line break...)
            log.error("digest %s to %s cannot be built: %s", message.id, message.to_addr, error)
            delivery.mark_failed(message.id, f"cannot build the message: {error}")
            report.failed += 1
            tell(message, "failed")
            continue
        if interval_ms:
            wait_ms = store.reserve_slot(PACE_KEY, interval_ms, int(time.time() * 1000))
            if wait_ms > 0 and not _wait(wait_ms / 1000, stop):
                delivery.release(message.id)
                tell(message, "returned")
                break
        try:
            send(config, email)
        except MailError as error:
            if not _handle_failure(delivery, settings, message, error, started, report, tell):
                break
            continue
        except BaseException:
            # Not a delivery problem (a bug, an interrupt): hand the row back for a later pass.
            delivery.release(message.id, "interrupted while sending")
            raise
        delivery.mark_sent(message.id)
        report.sent += 1
        tell(message, "sent")
    return report


def _handle_failure(
    delivery: DeliveryStore,
    settings: Settings,
    message: OutboxMessage,
    error: MailError,
    started: datetime,
    report: SendReport,
    tell: Callable[[OutboxMessage, Outcome], None],
) -> bool:
    """Record a failed send of ``message``; False when the pass must stop."""
    fault = _fault(error)
    what = f"digest {message.id} ({message.message_id}) to {message.to_addr}"
    if fault == "server":
        log.error("%s not sent, stopping: the SMTP server is unusable: %s", what, error)
        delivery.release(message.id, str(error))
        report.error = str(error)
        tell(message, "returned")
        return False
    if fault == "retry":
        if message.attempts >= settings.mail_max_attempts:
            log.error("%s failed after %d attempts: %s", what, message.attempts, error)
            delivery.mark_failed(message.id, f"gave up after {message.attempts} attempts: {error}")
            report.failed += 1
            tell(message, "failed")
            return True
        # Later than the pass's start, so this pass does not take the row again.
        base = max(utc_now(), started + timedelta(microseconds=1))
        delay = retry_delay(settings.mail_retry_seconds, message.attempts)
        log.warning("%s: temporary failure, retry in %s: %s", what, delay, error)
        delivery.mark_retry(message.id, str(error), base + delay)
        report.retried += 1
        tell(message, "retry")
        return True
    reply = _reply(error)
    log.error("%s refused for good: %s", what, error)
    delivery.mark_failed(message.id, f"permanent failure: {error}")
    # An address that can never be sent to (UnsendableAddress: a non-ASCII mailbox name) is
    # paused at once; a server's 5xx counts toward mail_pause_after.
    pause_after = 1 if isinstance(error, UnsendableAddress) else settings.mail_pause_after
    failures, paused = delivery.count_failure(message.subscription_id, reply, pause_after)
    report.failed += 1
    if paused:
        report.paused += 1
        log.error(
            "subscription %s (%s) paused after %d permanent failures in a row: %s",
            message.subscription_id,
            message.to_addr,
            failures,
            reply,
        )
    tell(message, "bounced")
    return True
