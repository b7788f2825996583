"""``paperboy serve``'s process model: uvicorn's supervisor over the web workers, always.

The parent process binds the port, then runs ``uvicorn.supervisors.Multiprocess``: it starts
the workers (each builds the app from the environment with ``create_app_from_env``, opening
its own connections), checks every half second that each one is alive and answers a ping, and
starts a fresh one in the place of any that died (a crash, an abort in native code, the OOM
killer, a ``kill -9``) or hung. It does so with the default single worker too: one bad request
that takes a worker down costs the requests in flight on it, not the site. A worker that fails
before it starts serving (a broken database URL, say) would fail again: then the supervisor
stops and ``paperboy serve`` exits with status 3.
"""

from __future__ import annotations

import os

from paperboy.settings import Settings

APP_FACTORY = "paperboy.web.app:create_app_from_env"
HEALTHCHECK_SECONDS = 30
"""How long a worker may take to answer the supervisor's ping before it counts as hung and is
replaced. A dead worker is replaced at once; this only bounds a stuck one, and is generous so
a worker busy in native code (building a search index) is not taken for stuck."""


def supervision(workers: int) -> str:
    """The sentence ``paperboy serve`` prints about how it supervises."""
    count = "1 worker process" if workers == 1 else f"{workers} worker processes"
    return (
        f"Supervised: uvicorn's process manager runs {count} and starts a new one "
        "whenever one dies or stops answering."
    )


def run_supervised(settings: Settings) -> int:
    """Serve until interrupted; the exit status (3 when a worker could not start)."""
    import uvicorn
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess

    # Each worker builds its app from the environment: hand the command line's choices over.
    os.environ["PAPERBOY_DATABASE_URL"] = settings.database_url
    config = uvicorn.Config(
        APP_FACTORY,
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level="info",
        timeout_worker_healthcheck=HEALTHCHECK_SECONDS,
    )
    supervisor = Multiprocess(config, sockets=[config.bind_socket()])
    supervisor.run()
    failed = any(p.exitcode == STARTUP_FAILURE for p in supervisor.processes)
    return STARTUP_FAILURE if failed else 0
