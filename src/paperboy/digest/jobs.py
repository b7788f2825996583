"""Digests on the schedule: compose the due ones after every harvest, send the outbox often.

``paperboy.ingest.schedule.harvest_job`` calls :func:`run_digests` at the end of each run, so
the SQLite daemon does it in-process and a PostgreSQL worker's queued harvest (which runs
``harvest_job`` too) does it as well. It sends for at most ``SEND_BUDGET`` seconds, so a large
outbox paced at ``mail_rate_per_minute`` never holds up the next harvest: the rest goes out
through :func:`send_outbox`, which the daemon runs every minute (and the PostgreSQL job queue
as its periodic ``paperboy.send_outbox`` task). Nothing here raises: a failure is logged, and
whatever was not done is picked up by the next run (composing is once per period, the outbox
keeps unsent digests).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from paperboy.settings import Settings

if TYPE_CHECKING:
    from paperboy.digest.compose import ComposeReport
    from paperboy.digest.sender import SendReport
    from paperboy.store.sql import SQLStore

log = logging.getLogger(__name__)

SEND_BUDGET = 50.0  # seconds of sending per run: the periodic sender runs every minute


@dataclass(slots=True)
class DigestRun:
    composed: ComposeReport | None = None  # None: composing failed (logged)
    sent: SendReport | None = None  # None: sending failed or did not run


def run_digests(
    settings: Settings, store: SQLStore | None = None, *, now: datetime | None = None
) -> DigestRun:
    """Compose the due digests, then send the outbox (one pass). Opens its own store unless
    given one. Never raises (except KeyboardInterrupt and the like)."""
    run = DigestRun()
    own = store is None
    try:
        if store is None:
            from paperboy.store import open_store

            store = open_store(settings.database_url, upgrade=False)
        from paperboy.digest.compose import compose_due
        from paperboy.services import built

        try:
            with built(settings, store) as services:
                run.composed = compose_due(services, now=now)
            if run.composed.due:
                log.info("digests composed: %s", run.composed)
        except Exception:
            log.exception("composing digests failed")
        run.sent = send_outbox(settings, store)
    except Exception:
        log.exception("digests did not run")
    finally:
        if own and store is not None:
            store.close()
    return run


def send_outbox(
    settings: Settings, store: SQLStore | None = None, *, budget: float = SEND_BUDGET
) -> SendReport | None:
    """Send due outbox messages for at most ``budget`` seconds (the message in flight when
    it ends is finished and marked). Opens its own store unless given one. Never raises."""
    import threading

    from paperboy.digest.sender import send_pending

    own = store is None
    stop = threading.Event()
    timer = threading.Timer(budget, stop.set)
    timer.daemon = True
    try:
        if store is None:
            from paperboy.store import open_store

            store = open_store(settings.database_url, upgrade=False)
        timer.start()
        report = send_pending(store, settings, stop=stop)
        if report.attempted or report.error:
            log.info("digests sent: %s", report)
        if report.error:
            log.error("sending digests stopped: %s", report.error)
        return report
    except Exception:
        log.exception("sending digests failed")
        return None
    finally:
        timer.cancel()
        if own and store is not None:
            store.close()
