"""The OAI-PMH harvester against a real loopback server replaying a real arXiv page, split
into real-shaped pages; faults come from the server, nothing inside Paperboy is patched."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator

import pytest
from lxml import etree
from typer.testing import CliRunner

from arxiv_replay import ArxivReplay, Fault, oai_error, recording_http, replay_settings
from conftest import shared_path
from paperboy.errors import PaperboyError
from paperboy.ingest.harvest import HarvestReport, harvest
from paperboy.ingest.http import ArxivHttp, ArxivUnavailable
from paperboy.ingest.oai import OaiError, OaiParseError
from paperboy.settings import Settings
from paperboy.store import SQLStore
from paperboy.store.base import HarvestProgress

OAI = "{http://www.openarchives.org/OAI/2.0/}"
RAW = "{http://arxiv.org/OAI/arXivRaw/}"
REAL_PAGE = "data/arxiv-fixtures/oai_pmh/ListRecords_arXivRaw_2016-10-20.xml"
TOTAL = 387


def real_page() -> bytes:
    return shared_path(REAL_PAGE).read_bytes()


def split_pages(
    body: bytes,
    per_page: int,
    edit: Callable[[int, list[etree._Element]], None] | None = None,
) -> tuple[bytes, dict[str, bytes]]:
    """The real page's records as consecutive pages in the real envelope.

    Page i (from 1) carries resumption token ``t<i>``; the last one an empty token with
    ``completeListSize``. ``edit(i, records)`` may change a page's record elements in place.
    Returns (first page, {token: page}) as the replay server wants them.
    """
    root = etree.fromstring(body)
    records = root.find(f"{OAI}ListRecords").findall(f"{OAI}record")
    chunks = [records[i : i + per_page] for i in range(0, len(records), per_page)]
    bodies: list[bytes] = []
    for number, chunk in enumerate(chunks, 1):
        page = copy.deepcopy(root)
        listing = page.find(f"{OAI}ListRecords")
        for child in list(listing):
            listing.remove(child)
        elements = [copy.deepcopy(r) for r in chunk]
        if edit is not None:
            edit(number, elements)
        listing.extend(elements)
        token = etree.SubElement(listing, f"{OAI}resumptionToken")
        token.set("cursor", str((number - 1) * per_page))
        token.set("completeListSize", str(len(records)))
        token.text = f"t{number}" if number < len(chunks) else None
        bodies.append(etree.tostring(page, xml_declaration=True, encoding="UTF-8"))
    pages = {f"t{number}": page for number, page in enumerate(bodies[1:], 1)}
    return bodies[0], pages


def install(replay: ArxivReplay, pages: tuple[bytes, dict[str, bytes]]) -> None:
    replay.oai_first, replay.oai_pages = pages[0], dict(pages[1])


@pytest.fixture(scope="module")
def three_pages() -> tuple[bytes, dict[str, bytes]]:
    return split_pages(real_page(), 130)


@pytest.fixture
def replay(three_pages: tuple[bytes, dict[str, bytes]]) -> Iterator[ArxivReplay]:
    with ArxivReplay() as server:
        install(server, three_pages)
        yield server


@pytest.fixture
def make_http(
    replay: ArxivReplay, store: SQLStore, database_url: str
) -> Iterator[Callable[..., ArxivHttp]]:
    clients: list[ArxivHttp] = []

    def make(**overrides: object) -> ArxivHttp:
        values: dict[str, object] = {
            "arxiv_min_interval": 0.01,
            "arxiv_backoff": 0.01,
            "arxiv_timeout": 2.0,
            "arxiv_retries": 2,
            **overrides,
        }
        settings = replay_settings(replay, database_url, **values)
        http, waits = recording_http(settings, store, longest_sleep=0.05)
        http.waits = waits  # type: ignore[attr-defined]
        clients.append(http)
        return http

    yield make
    for http in clients:
        http.close()


def first_params(**more: str) -> dict[str, str]:
    return {"verb": "ListRecords", "metadataPrefix": "arXivRaw", "set": "cs", **more}


def assert_complete(store: SQLStore, report: HarvestReport) -> None:
    assert store.count_papers() == TOTAL
    state = store.harvest_state("cs")
    assert state is not None and state.resumption_token is None
    assert state.last_datestamp == "2016-10-21"
    assert report.last_datestamp == "2016-10-21"


def after_page(n: int, faults: list[Fault], replay: ArxivReplay) -> Callable[..., None]:
    """A progress callback that queues ``faults`` once page ``n`` is stored."""

    def progress(pages: int, records: int, total: int | None) -> None:
        if pages == n:
            replay.faults.extend(faults)

    return progress


# -- the normal path ---------------------------------------------------------------------------


def test_full_harvest_stores_every_paper(
    replay: ArxivReplay, store: SQLStore, make_http: Callable[..., ArxivHttp]
) -> None:
    seen: list[tuple[int, int, int | None]] = []
    report = harvest(store, make_http(), progress=lambda *a: seen.append(a))
    assert (report.pages, report.records, report.inserted) == (3, TOTAL, TOTAL)
    assert not report.problems and not report.resumed and report.status == "ok"
    assert_complete(store, report)
    assert seen == [(1, 130, TOTAL), (2, 260, TOTAL), (3, TOTAL, TOTAL)]
    assert [s.params for s in replay.seen] == [
        first_params(),
        {"verb": "ListRecords", "resumptionToken": "t1"},
        {"verb": "ListRecords", "resumptionToken": "t2"},
    ]
    paper = store.get_paper("0803.4354")
    assert paper is not None and paper.withdrawn  # its latest version is an empty 0kb one
    [run] = store.ingest_runs()
    assert (run.source, run.status, run.inserted) == ("oai:cs", "ok", TOTAL)


def test_second_harvest_starts_from_the_stored_datestamp(
    replay: ArxivReplay, store: SQLStore, make_http: Callable[..., ArxivHttp]
) -> None:
    harvest(store, make_http())
    report = harvest(store, make_http())
    assert replay.seen[3].params == first_params(**{"from": "2016-10-21"})
    assert (report.inserted, report.updated, report.unchanged) == (0, 0, TOTAL)
    assert_complete(store, report)


def test_explicit_from_and_until(
    replay: ArxivReplay, store: SQLStore, make_http: Callable[..., ArxivHttp]
) -> None:
    harvest(store, make_http(), set_spec="cs", from_date="2016-10-01", until="2016-10-31")
    assert replay.seen[0].params == first_params(**{"from": "2016-10-01", "until": "2016-10-31"})


def test_deleted_header_marks_the_paper_withdrawn(
    replay: ArxivReplay, store: SQLStore, make_http: Callable[..., ArxivHttp]
) -> None:
    def edit(number: int, records: list[etree._Element]) -> None:
        if number == 3:
            deleted = etree.fromstring(
                f'<record xmlns="{OAI[1:-1]}"><header status="deleted">'
                "<identifier>oai:arXiv.org:0910.4952</identifier>"
                "<datestamp>2016-10-21</datestamp><setSpec>cs</setSpec></header></record>"
            )
            records.append(deleted)

    install(replay, split_pages(real_page(), 130, edit))
    report = harvest(store, make_http(), until="2016-10-21")
    assert report.deleted == 1
    paper = store.get_paper("0910.4952")
    assert paper is not None and paper.withdrawn
    assert store.count_papers() == TOTAL  # marked, never deleted


# -- faults from the server --------------------------------------------------------------------


def test_503_retry_after_is_honoured(
    replay: ArxivReplay, store: SQLStore, make_http: Callable[..., ArxivHttp]
) -> None:
    http = make_http()
    replay.faults.append(Fault("status", 503, b"busy", {"Retry-After": "1"}))
    report = harvest(store, http)
    assert 1.0 in http.waits  # type: ignore[attr-defined]
    assert len(replay.seen) == 4
    assert_complete(store, report)


def test_reset_and_cut_off_bodies_are_fetched_again(
    replay: ArxivReplay, store: SQLStore, make_http: Callable[..., ArxivHttp]
) -> None:
    report = harvest(
        store, make_http(), progress=after_page(1, [Fault("reset"), Fault("truncate")], replay)
    )
    assert len(replay.seen) == 5
    assert_complete(store, report)


def test_slow_answer_times_out_and_is_retried(
    replay: ArxivReplay, store: SQLStore, make_http: Callable[..., ArxivHttp]
) -> None:
    replay.faults.append(Fault("slow", delay=1.0))
    report = harvest(store, make_http(arxiv_timeout=0.3))
    assert len(replay.seen) == 4
    assert_complete(store, report)


def test_truncated_xml_once_is_fetched_again(
    replay: ArxivReplay,
    store: SQLStore,
    make_http: Callable[..., ArxivHttp],
    three_pages: tuple[bytes, dict[str, bytes]],
) -> None:
    half = three_pages[1]["t1"][: len(three_pages[1]["t1"]) // 2]
    report = harvest(store, make_http(), progress=after_page(1, [Fault("body", body=half)], replay))
    assert len(replay.seen) == 4
    assert_complete(store, report)


def test_truncated_xml_beyond_retries_fails_then_resumes(
    replay: ArxivReplay,
    store: SQLStore,
    make_http: Callable[..., ArxivHttp],
    three_pages: tuple[bytes, dict[str, bytes]],
) -> None:
    half = three_pages[1]["t1"][: len(three_pages[1]["t1"]) // 2]
    faults = [Fault("body", body=half) for _ in range(3)]  # arxiv_retries=2: 3 attempts
    with pytest.raises(OaiParseError, match="unusable after 3 attempts.*nothing of it"):
        harvest(store, make_http(), progress=after_page(1, faults, replay))
    assert store.count_papers() == 130  # page 1 only: nothing of page 2
    state = store.harvest_state("cs")
    assert state is not None and state.resumption_token == "t1" and state.pages_done == 1
    assert state.last_datestamp is None
    [run] = store.ingest_runs()
    assert run.status == "failed" and "run the harvest again" in (run.message or "")

    report = harvest(store, make_http())
    assert report.resumed and report.pages == 2 and report.inserted == TOTAL - 130
    assert replay.seen[-2].params == {"verb": "ListRecords", "resumptionToken": "t1"}
    assert_complete(store, report)


def test_invalid_xml_fails_clearly_and_stores_nothing(
    replay: ArxivReplay, store: SQLStore, make_http: Callable[..., ArxivHttp]
) -> None:
    html = b"<html><body><h1>Service temporarily unavailable</h1></body></html>"
    replay.faults.extend(Fault("body", body=html) for _ in range(3))
    with pytest.raises(OaiParseError, match="unusable after 3 attempts"):
        harvest(store, make_http())
    assert store.count_papers() == 0 and store.harvest_state("cs") is None
    report = harvest(store, make_http())
    assert not report.resumed
    assert_complete(store, report)


def test_arxiv_unavailable_stores_nothing_of_the_page(
    replay: ArxivReplay, store: SQLStore, make_http: Callable[..., ArxivHttp]
) -> None:
    faults = [Fault("status", 500, b"oops") for _ in range(3)]
    with pytest.raises(ArxivUnavailable):
        harvest(store, make_http(), progress=after_page(2, faults, replay))
    assert store.count_papers() == 260
    assert store.ingest_runs()[0].status == "failed"
    assert_complete(store, harvest(store, make_http()))


# -- odd content -------------------------------------------------------------------------------


def test_record_without_title_is_reported_and_the_rest_stored(
    replay: ArxivReplay, store: SQLStore, make_http: Callable[..., ArxivHttp]
) -> None:
    def edit(number: int, records: list[etree._Element]) -> None:
        if number == 2:
            title = records[5].find(f".//{RAW}title")
            title.getparent().remove(title)

    install(replay, split_pages(real_page(), 130, edit))
    report = harvest(store, make_http())
    assert len(report.problems) == 1 and "title" in report.problems[0][1]
    assert report.status == "partial" and store.count_papers() == TOTAL - 1
    run = store.ingest_runs()[0]
    assert run.status == "partial" and run.errors == 1 and "title" in (run.message or "")


def test_same_record_on_two_pages_is_stored_once(
    replay: ArxivReplay, store: SQLStore, make_http: Callable[..., ArxivHttp]
) -> None:
    first: list[etree._Element] = []

    def edit(number: int, records: list[etree._Element]) -> None:
        if number == 1:
            first.append(copy.deepcopy(records[0]))
        if number == 3:
            records.append(first[0])

    install(replay, split_pages(real_page(), 130, edit))
    report = harvest(store, make_http())
    assert report.records == TOTAL + 1 and report.inserted == TOTAL and report.unchanged == 1
    assert_complete(store, report)


def test_expired_token_restarts_once_and_completes(
    replay: ArxivReplay, store: SQLStore, make_http: Callable[..., ArxivHttp]
) -> None:
    progress = HarvestProgress(None, None, 1, 130, "2016-10-21")
    store.save_harvest_page("cs", [], next_token="expired", progress=progress)
    report = harvest(store, make_http())
    assert report.resumed and report.restarted and report.pages == 3
    assert replay.seen[0].params == {"verb": "ListRecords", "resumptionToken": "expired"}
    assert replay.seen[1].params == first_params()
    assert_complete(store, report)


def test_expired_token_twice_fails(
    replay: ArxivReplay, store: SQLStore, make_http: Callable[..., ArxivHttp]
) -> None:
    del replay.oai_pages["t2"]
    with pytest.raises(OaiError) as failure:
        harvest(store, make_http())
    assert failure.value.code == "badResumptionToken"
    assert store.count_papers() == 260
    assert [s.params.get("resumptionToken") for s in replay.seen] == [None, "t1", "t2"] * 2
    store.save_harvest_page(
        "cs", [], next_token="expired", progress=HarvestProgress(None, None, 0, 0, None)
    )
    replay.seen.clear()
    with pytest.raises(OaiError, match="badResumptionToken"):
        harvest(store, make_http())  # expired, restart, t1, t2 expired again: give up
    assert len(replay.seen) == 4


def test_no_records_match_is_an_empty_success(
    replay: ArxivReplay, store: SQLStore, make_http: Callable[..., ArxivHttp]
) -> None:
    replay.oai_first = oai_error("noRecordsMatch", "No records match the request.")
    report = harvest(store, make_http(), from_date="2016-10-22")
    assert (report.pages, report.records) == (0, 0) and report.status == "ok"
    assert "nothing new in set cs since 2016-10-22" in report.message
    assert store.count_papers() == 0 and store.ingest_runs()[0].status == "ok"


def test_bad_argument_is_raised_with_the_oai_message(
    replay: ArxivReplay, store: SQLStore, make_http: Callable[..., ArxivHttp]
) -> None:
    replay.oai_first = oai_error("badArgument", "Illegal date 2016-13-01")
    with pytest.raises(PaperboyError, match="badArgument.*Illegal date 2016-13-01"):
        harvest(store, make_http(), from_date="2016-13-01")
    run = store.ingest_runs()[0]
    assert run.status == "failed" and "Illegal date" in (run.message or "")


# -- the command line --------------------------------------------------------------------------


def test_cli_harvest(replay: ArxivReplay, settings: Settings, store: SQLStore) -> None:
    from paperboy.cli import app

    env = {
        "PAPERBOY_DATABASE_URL": settings.database_url,
        "PAPERBOY_ARXIV_OAI_URL": f"{replay.url}/oai",
        "PAPERBOY_ARXIV_MIN_INTERVAL": "0.01",
        "PAPERBOY_ARXIV_RETRIES": "1",
        "PAPERBOY_ARXIV_BACKOFF": "0.01",
    }
    runner = CliRunner()
    bad = runner.invoke(app, ["harvest", "--from", "yesterday"], env=env)
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output
    done = runner.invoke(app, ["harvest", "--set", "cs"], env=env)
    assert done.exit_code == 0, done.output
    assert "Harvest summary" in done.output and store.count_papers() == TOTAL
    replay.oai_first = oai_error("badArgument", "Illegal set")
    failed = runner.invoke(app, ["harvest", "--set", "nope", "--from", "2016-10-01"], env=env)
    assert failed.exit_code == 2 and "Illegal set" in failed.output
