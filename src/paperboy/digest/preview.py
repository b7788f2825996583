"""The digest a subscriber would get now, rendered and written nowhere.

Same code path as composing (:class:`paperboy.digest.compose.Composer`), minus the outbox: no
row, no "sent papers", no ``last_digest_at`` change. The period is the current one of the
subscriber's frequency (a daily one for ``off``), even on a day no digest goes out, so an
operator can always see what the next one would hold.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from paperboy.digest.compose import Composer
from paperboy.digest.content import Digest
from paperboy.digest.periods import current_period
from paperboy.errors import PaperboyError

if TYPE_CHECKING:
    from paperboy.services import Services


class NoSubscription(PaperboyError):
    """No subscription for that address."""


def preview_digest(services: Services, email: str, *, now: datetime | None = None) -> Digest:
    """Render the digest ``email``'s subscription would get now; raises NoSubscription."""
    sub = services.store.subscriptions.by_email(email.strip().lower())
    if sub is None:
        raise NoSubscription(f"no subscription for {email.strip()!r}")
    composer = Composer(services, now=now)
    period = current_period(sub.frequency, services.settings, composer.now)
    return composer.build(sub, period)
