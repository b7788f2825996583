"""The arXiv HTTP client against a real local server replaying recorded arXiv answers."""

from __future__ import annotations

import pytest

from arxiv_replay import ArxivReplay, Fault, recording_http, replay_settings
from paperboy.ingest.http import ArxivHttp, ArxivUnavailable, retry_after_seconds
from paperboy.store import SQLStore

ONE_ID = {"id_list": "1605.08386", "search_query": "", "start": "0", "max_results": "100"}


def client_for(
    replay: ArxivReplay, store: SQLStore, database_url: str, **overrides: object
) -> tuple[ArxivHttp, list[float]]:
    """A client of ``replay`` (conftest's, with the recorded answers) and its recorded waits."""
    values: dict[str, object] = {
        "arxiv_min_interval": 0.05,
        "arxiv_backoff": 0.01,
        "arxiv_timeout": 1.0,
        **overrides,
    }
    settings = replay_settings(replay, database_url, **values)
    return recording_http(settings, store, longest_sleep=0.5)


def test_recorded_answer_comes_back(
    replay: ArxivReplay, store: SQLStore, database_url: str
) -> None:
    http, _ = client_for(replay, store, database_url)
    answer = http.get(http.settings.arxiv_api_url, ONE_ID)
    assert answer.status == 200 and b"1605.08386" in answer.body
    assert replay.seen[0].params["id_list"] == "1605.08386"


def test_requests_are_paced_across_clients(
    replay: ArxivReplay, store: SQLStore, database_url: str
) -> None:
    first, _ = client_for(replay, store, database_url, arxiv_min_interval=0.3)
    second, _ = client_for(replay, store, database_url, arxiv_min_interval=0.3)
    for http in (first, second, first, second):
        http.get(http.settings.arxiv_api_url, ONE_ID)
    gaps = [b.at - a.at for a, b in zip(replay.seen, replay.seen[1:], strict=False)]
    assert all(gap >= 0.28 for gap in gaps), gaps


def test_503_retry_after_is_honoured(
    replay: ArxivReplay, store: SQLStore, database_url: str
) -> None:
    http, waits = client_for(replay, store, database_url)
    replay.faults.append(Fault("status", 503, b"busy", {"Retry-After": "2"}))
    answer = http.get(http.settings.arxiv_api_url, ONE_ID)
    assert answer.status == 200 and 2.0 in waits and len(replay.seen) == 2


def test_reset_and_cut_off_bodies_are_retried(
    replay: ArxivReplay, store: SQLStore, database_url: str
) -> None:
    http, _ = client_for(replay, store, database_url)
    replay.faults.extend([Fault("reset"), Fault("truncate")])
    answer = http.get(http.settings.arxiv_api_url, ONE_ID)
    assert answer.status == 200 and answer.body.rstrip().endswith(b"</feed>")
    assert len(replay.seen) == 3


def test_slow_answer_times_out_then_retries(
    replay: ArxivReplay, store: SQLStore, database_url: str
) -> None:
    http, _ = client_for(replay, store, database_url, arxiv_timeout=0.3)
    replay.faults.append(Fault("slow", delay=1.0))
    assert http.get(http.settings.arxiv_api_url, ONE_ID).status == 200
    assert len(replay.seen) == 2


def test_client_errors_are_returned_not_retried(
    replay: ArxivReplay, store: SQLStore, database_url: str
) -> None:
    http, _ = client_for(replay, store, database_url)
    params = {**ONE_ID, "id_list": "abc"}
    answer = http.get(http.settings.arxiv_api_url, params)
    assert answer.status == 400 and b"incorrect id format for abc" in answer.body
    assert len(replay.seen) == 1


def test_gives_up_clearly(replay: ArxivReplay, store: SQLStore, database_url: str) -> None:
    http, _ = client_for(replay, store, database_url, arxiv_retries=2)
    replay.faults.extend(Fault("status", 500, b"oops") for _ in range(3))
    with pytest.raises(ArxivUnavailable, match="after 3 attempts"):
        http.get(http.settings.arxiv_api_url, ONE_ID)


def test_retry_after_too_long_gives_up(
    replay: ArxivReplay, store: SQLStore, database_url: str
) -> None:
    http, _ = client_for(replay, store, database_url, arxiv_max_retry_after=10)
    replay.faults.append(Fault("status", 503, b"", {"Retry-After": "3600"}))
    with pytest.raises(ArxivUnavailable, match="retry after 3600"):
        http.get(http.settings.arxiv_api_url, ONE_ID)


def test_retry_after_forms() -> None:
    assert retry_after_seconds("120") == 120.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None
