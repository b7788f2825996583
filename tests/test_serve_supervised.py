"""Crash containment: ``paperboy serve`` runs its workers under uvicorn's supervisor, so a worker
that dies (here: SIGKILL, as an abort in native code or the OOM killer would) is replaced and the
site answers again, with the default single worker too."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest
from tests.served import serve


def _answers(url: str) -> bool:
    try:
        return httpx.get(url + "/api/daily_papers", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


@pytest.mark.slow
def test_a_killed_worker_is_replaced_with_the_default_single_worker(
    database_url: str, tmp_path: Path
) -> None:
    for server in serve(database_url, None, tmp_path):
        assert "runs 1 worker process and starts a new one" in server.output()
        [first] = server.worker_pids()
        for round_ in range(2):  # killed twice: the replacement is supervised as well
            victim = server.worker_pids()[0]
            os.kill(victim, signal.SIGKILL)
            deadline = time.monotonic() + 60
            while True:
                pids = server.worker_pids()
                if pids and victim not in pids and _answers(server.url):
                    break
                assert server.process.poll() is None, server.output()
                assert time.monotonic() < deadline, f"no new worker:\n{server.output()}"
                time.sleep(0.2)
            assert len(pids) == 1 and pids[0] != first
            assert server.output().count("died") == round_ + 1
        assert _answers(server.url)
