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
from typing import Annotated

import typer

from paperboy.cli.options import DatabaseOpt, err, opened_store, settings_for
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


def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (default 8000).")] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=64,
            help="Web processes sharing the port and the database (default 1; "
            "PAPERBOY_WORKERS). Use several on PostgreSQL.",
        ),
    ] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Serve the web pages and the JSON API, under a supervisor that restarts workers.

    Every worker runs under uvicorn's process supervisor, the default single one included: a
    worker that dies (a crash, an abort in native code, a kill) or stops answering is replaced
    at once, so one bad request cannot take the site down. If a worker fails before it starts
    serving (say, the database cannot be opened), the supervisor stops and the exit status is 3.

    With --workers N, N processes answer on the same port. They keep no state of their own
    that matters: the store (and on PostgreSQL the search indexes) live in the database, and
    each process's response cache is keyed on the store's revision, so a write made through one
    process is seen by all.

    \b
    Examples:
      paperboy serve
      paperboy serve --port 8001
      PAPERBOY_DATABASE_URL=postgresql+psycopg://paperboy@db/paperboy paperboy serve --workers 4
    """
    settings = settings_for(database_url, host=host, port=port)
    if workers is not None:
        settings = settings.model_copy(update={"workers": workers})
    with opened_store(settings) as store:
        count = store.count_papers()
        plural = f" with {settings.workers} workers" if settings.workers > 1 else ""
        err.print(
            f"Serving {count:,} papers from {settings.database_url} "
            f"on http://{settings.host}:{settings.port}{plural}"
        )
        err.print(supervision(settings.workers))
        if count == 0:
            err.print("The store is empty: run `paperboy import --demo` to load the demo data.")
        if settings.workers > 1 and store.backend == "sqlite":
            err.print(
                "Note: on SQLite every write waits for the one writer; several workers help "
                "reads only. PostgreSQL is the backend for many workers."
            )
    status = run_supervised(settings)
    if status:
        raise typer.Exit(status)
