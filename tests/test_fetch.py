"""`paperboy fetch`: papers by id from a real local server replaying recorded arXiv answers."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from arxiv_replay import ArxivReplay, Fault, recording_http, replay_settings
from paperboy import cli
from paperboy.cli import app
from paperboy.ingest.arxiv_api import FetchError, fetch_papers
from paperboy.ingest.http import ArxivHttp
from paperboy.store import SQLStore, open_store

runner = CliRunner(env={"COLUMNS": "240", "NO_COLOR": "1"})


def client_for(
    replay: ArxivReplay, database_url: str, store: SQLStore, **overrides: object
) -> tuple[ArxivHttp, list[float]]:
    """A client of ``replay`` (conftest's, with the recorded answers) and its recorded waits."""
    values: dict[str, object] = {
        "arxiv_min_interval": 0.0,
        "arxiv_backoff": 0.01,
        "arxiv_timeout": 2.0,
        **overrides,
    }
    settings = replay_settings(replay, database_url, **values)
    return recording_http(settings, store, longest_sleep=0.05)


def sent(replay: ArxivReplay) -> list[str]:
    return [seen.params["id_list"] for seen in replay.seen]


def test_fetch_one_paper(replay: ArxivReplay, store: SQLStore, database_url: str) -> None:
    http, _ = client_for(replay, database_url, store)
    report = fetch_papers(store, http, ["1605.08386"])
    assert report.found == ["1605.08386"] and not report.missing and not report.invalid
    assert report.counts.inserted == 1
    paper = store.get_paper("1605.08386")
    assert paper is not None and paper.title and paper.authors
    assert replay.seen[0].params == {
        "search_query": "",
        "id_list": "1605.08386",
        "start": "0",
        "max_results": "100",
    }
    run = store.ingest_runs(1)[0]
    assert (run.source, run.status, run.inserted, run.detail) == (
        "arxiv-api",
        "ok",
        1,
        "1605.08386",
    )


def test_old_style_and_versioned_ids_sent_as_recorded(
    replay: ArxivReplay, store: SQLStore, database_url: str
) -> None:
    http, _ = client_for(replay, database_url, store)
    report = fetch_papers(store, http, ["astro-ph/0601001", "quant-ph/0201082v1"], batch=1)
    assert sent(replay) == ["astro-ph/0601001", "quant-ph/0201082v1"]
    assert report.found == ["astro-ph/0601001", "quant-ph/0201082"]
    assert store.get_paper("astro-ph/0601001") is not None
    assert store.get_paper("quant-ph/0201082") is not None


def test_invalid_id_is_never_sent(replay: ArxivReplay, store: SQLStore, database_url: str) -> None:
    http, _ = client_for(replay, database_url, store)
    report = fetch_papers(store, http, ["abc", "1605.08386"])
    assert [raw for raw, _ in report.invalid] == ["abc"]
    assert "not a valid arXiv id" in report.invalid[0][1]
    assert "abc" not in ",".join(sent(replay)) and sent(replay) == ["1605.08386"]
    assert report.found == ["1605.08386"]
    assert store.ingest_runs(1)[0].status == "partial"


def test_unknown_id_is_missing(replay: ArxivReplay, store: SQLStore, database_url: str) -> None:
    http, _ = client_for(replay, database_url, store)
    report = fetch_papers(store, http, ["2301.99999"])  # valid, no recording: the empty feed
    assert report.missing == ["2301.99999"] and report.found == [] and not report.invalid
    assert store.count_papers() == 0
    run = store.ingest_runs(1)[0]
    assert run.status == "failed" and "2301.99999" in (run.message or "")


def test_refetch_is_idempotent(replay: ArxivReplay, store: SQLStore, database_url: str) -> None:
    http, _ = client_for(replay, database_url, store)
    # batch=1: the replay holds recordings of these ids one at a time
    first = fetch_papers(store, http, ["1605.08386", "1707.08567"], batch=1)
    again = fetch_papers(store, http, ["1605.08386", "1707.08567", "1605.08386"], batch=1)
    assert first.counts.inserted == 2 and again.found == first.found
    assert (again.counts.inserted, again.counts.updated, again.counts.unchanged) == (0, 0, 2)
    assert sent(replay)[2:] == ["1605.08386", "1707.08567"]  # deduplicated
    assert store.count_papers() == 2


def test_503_retry_after_then_success(
    replay: ArxivReplay, store: SQLStore, database_url: str
) -> None:
    http, waits = client_for(replay, database_url, store)
    replay.faults.append(Fault("status", 503, b"busy", {"Retry-After": "2"}))
    report = fetch_papers(store, http, ["1605.08386"])
    assert report.found == ["1605.08386"] and 2.0 in waits and len(replay.seen) == 2


def test_unusable_xml_every_time_fails_clearly(
    replay: ArxivReplay, store: SQLStore, database_url: str
) -> None:
    http, _ = client_for(replay, database_url, store, arxiv_retries=2)
    replay.faults.extend(Fault("body", body=b"<feed") for _ in range(4))
    with pytest.raises(FetchError, match="id 1605.08386.*not a usable Atom feed after 3"):
        fetch_papers(store, http, ["1605.08386"])
    assert len(replay.seen) == 3 and store.count_papers() == 0
    run = store.ingest_runs(1)[0]
    assert run.status == "failed" and "not a usable Atom feed" in (run.message or "")


def test_refused_batch_is_split_to_find_the_culprit(
    replay: ArxivReplay, store: SQLStore, database_url: str
) -> None:
    error = replay.api[("abc", "", "0", "100")]
    base = {"search_query": "", "start": "0", "max_results": "100"}
    replay.add_api({**base, "id_list": "1605.08386,2301.00001"}, error[1], status=400)
    replay.add_api({**base, "id_list": "2301.00001"}, error[1], status=400)
    http, _ = client_for(replay, database_url, store)
    report = fetch_papers(store, http, ["1605.08386", "2301.00001"])
    assert sent(replay) == ["1605.08386,2301.00001", "1605.08386", "2301.00001"]
    assert report.found == ["1605.08386"] and not report.missing
    assert report.invalid == [("2301.00001", "arXiv refused it: incorrect id format for abc")]


def test_batches_of_at_most_100(replay: ArxivReplay, store: SQLStore, database_url: str) -> None:
    http, _ = client_for(replay, database_url, store)
    ids = [f"2301.{n:05d}" for n in range(1, 251)]
    report = fetch_papers(store, http, ids)
    batches = [batch.split(",") for batch in sent(replay)]
    assert [len(b) for b in batches] == [100, 100, 50]
    assert [i for b in batches for i in b] == ids
    assert report.missing == ids


# -- the command line -------------------------------------------------------------------------


@pytest.fixture
def wide_consoles(monkeypatch: pytest.MonkeyPatch) -> None:
    for console in (cli.err, cli.out):
        monkeypatch.setattr(console, "_width", 240)


def invoke(replay: ArxivReplay, db: str, *args: str) -> tuple[int, str]:
    env = {
        "PAPERBOY_ARXIV_API_URL": f"{replay.url}/api/query",
        "PAPERBOY_ARXIV_MIN_INTERVAL": "0",
        "PAPERBOY_ARXIV_BACKOFF": "0",
    }
    result = runner.invoke(app, ["fetch", "--database-url", db, *args], env=env)
    return result.exit_code, result.output


def test_cli_fetch_found(replay: ArxivReplay, database_url: str, wide_consoles: None) -> None:
    db = database_url
    code, output = invoke(replay, db, "arXiv:1605.08386", "1605.08386")  # one paper, deduped
    assert code == 0, output
    assert "Fetched from arXiv" in output and "1 found: 1 inserted" in output
    line = next(line for line in output.splitlines() if "1605.08386" in line)
    assert "v1" in line or "v2" in line or "v3" in line
    s = open_store(db)
    try:
        paper = s.get_paper("1605.08386")
        assert paper is not None and paper.title[:20] in line
        assert (paper.primary_category or "") in line
    finally:
        s.close()


def test_cli_invalid_and_missing(
    replay: ArxivReplay, tmp_path: Path, database_url: str, wide_consoles: None
) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("# my list\n1605.08386\n\nabc  # a typo\n", encoding="utf-8")
    code, output = invoke(replay, database_url, "--file", str(ids))
    assert code == 1, output
    assert "invalid abc: 'abc' is not a valid arXiv id" in output
    assert "1 found" in output
    code, output = invoke(replay, database_url, "2301.99999")
    assert code == 1, output
    assert "missing 2301.99999: arXiv has no such paper" in output


def test_cli_unavailable_and_usage(
    replay: ArxivReplay, database_url: str, wide_consoles: None
) -> None:
    replay.faults.extend(Fault("status", 500, b"oops") for _ in range(10))
    code, output = invoke(replay, database_url, "1605.08386")
    assert code == 2 and "arXiv unavailable" in output
    code, output = invoke(replay, database_url)
    assert code == 2 and "Nothing to fetch" in output


def test_cli_help_has_examples() -> None:
    result = runner.invoke(app, ["fetch", "--help"])
    assert result.exit_code == 0
    assert "paperboy fetch 1605.08386" in result.output
    assert "paperboy fetch --file ids.txt" in result.output
