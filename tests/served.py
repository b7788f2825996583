"""`paperboy serve` run for real as a subprocess: its supervisor parent and its workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from tests.conftest import free_port


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def worker_pids(self) -> list[int]:
        """The server's child processes (uvicorn's workers)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        if not children.exists():
            return []
        pids = [int(pid) for pid in children.read_text().split()]
        return [pid for pid in pids if b"resource_tracker" not in _cmdline(pid)]

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def wait_until_serving(server: Server, workers: int, seconds: float = 90) -> None:
    """Until the site answers and ``workers`` worker processes run."""
    deadline = time.monotonic() + seconds
    while True:
        assert server.process.poll() is None, server.output()
        try:
            if httpx.get(server.url + "/api/daily_papers", timeout=5).status_code == 200:
                if len(server.worker_pids()) >= workers:
                    return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "server did not start:\n" + server.output()
        time.sleep(0.3)


def serve(
    url: str, workers: int | None, tmp_path: Path, env: dict[str, str] | None = None
) -> Iterator[Server]:
    """``paperboy serve`` on a free port (``workers`` None: the default); stopped with SIGINT."""
    port = free_port()
    log = tmp_path / "serve.log"
    environment = {**os.environ, "PAPERBOY_INDEX_DIR": str(tmp_path / "index"), **(env or {})}
    cmd = [str(Path(sys.executable).parent / "paperboy"), "serve"]
    if workers is not None:
        cmd += ["--workers", str(workers)]
    cmd += ["--port", str(port), "--database-url", url]
    with log.open("wb") as out:
        process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=environment)
    server = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        wait_until_serving(server, workers or 1)
        yield server
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
