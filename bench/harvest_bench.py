"""OAI-PMH harvest rate (records/s parsed and stored) and peak memory as the harvest grows.

    .venv/bin/python bench/harvest_bench.py [--pages 60]

Builds a large page set from the real recorded ListRecords page (387 arXivRaw records) by
replicating its records with fresh ids, serves it from a loopback server that speaks OAI-PMH
(resumption tokens, one page per request, no pacing delay), and harvests it with the production
client into a fresh SQLite store. Baseline in the same run: parsing the same pages without
storing them. Memory: peak RSS after 10% of the pages and at the end; a streaming harvest keeps
the two close however many pages there are.
"""

from __future__ import annotations

import argparse
import re
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _common import emit, shared_file  # noqa: E402
from arxiv_replay import ArxivReplay  # noqa: E402
from paperboy.ingest.harvest import harvest  # noqa: E402
from paperboy.ingest.http import ArxivHttp  # noqa: E402
from paperboy.ingest.oai import parse_list_records  # noqa: E402
from paperboy.settings import Settings  # noqa: E402
from paperboy.store import open_store  # noqa: E402

PAGE = "data/arxiv-fixtures/oai_pmh/ListRecords_arXivRaw_2016-10-20.xml"
_ID = re.compile(rb"<id>(\d{4}\.\d{4,5}|[a-z-]+(?:\.[A-Z]{2})?/\d{7})</id>")
_IDENTIFIER = re.compile(rb"oai:arXiv\.org:[^<]+")
_TOKEN = re.compile(rb"<resumptionToken[^>]*>[^<]*</resumptionToken>|<resumptionToken[^>]*/>")


def fresh_page(real: bytes, copy: int, token: str | None, total: int) -> bytes:
    """The real page with every paper id replaced by a fresh, valid, unique one."""
    counter = iter(range(1, 100_000))
    year = 15 + copy // 12
    month = copy % 12 + 1

    def new_id(_: re.Match[bytes]) -> bytes:
        return f"<id>{year:02d}{month:02d}.{next(counter):05d}</id>".encode()

    body = _ID.sub(new_id, real)
    counter2 = iter(range(1, 100_000))
    body = _IDENTIFIER.sub(
        lambda _: f"oai:arXiv.org:{year:02d}{month:02d}.{next(counter2):05d}".encode(), body
    )
    end = (
        f'<resumptionToken cursor="{copy}" completeListSize="{total}">{token}</resumptionToken>'
        if token
        else f'<resumptionToken cursor="{copy}" completeListSize="{total}"/>'
    )
    return _TOKEN.sub(end.encode(), body)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=60, help="pages of 387 records")
    args = parser.parse_args()
    real = shared_file(PAGE).read_bytes()
    records_per_page = len(parse_list_records(real).records)
    total = records_per_page * args.pages
    pages = [
        fresh_page(real, k, f"t{k + 1}" if k + 1 < args.pages else None, total)
        for k in range(args.pages)
    ]
    start = time.perf_counter()
    parsed = sum(len(parse_list_records(page).records) for page in pages)
    parse_s = time.perf_counter() - start

    marks: dict[str, float] = {}
    with ArxivReplay() as replay, tempfile.TemporaryDirectory() as tmp:
        replay.oai_first = pages[0]
        replay.oai_pages = {f"t{k}": pages[k] for k in range(1, args.pages)}
        settings = Settings(
            database_url=f"sqlite:///{tmp}/bench.db",
            arxiv_oai_url=f"{replay.url}/oai",
            arxiv_min_interval=0,
        )
        store = open_store(settings.database_url)

        def progress(done_pages: int, _records: int, _total: int | None) -> None:
            if done_pages == max(1, args.pages // 10):
                marks["early"] = peak_rss_mib()

        with ArxivHttp(settings, store) as http:
            start = time.perf_counter()
            report = harvest(store, http, set_spec="cs", from_date="2016-10-20", progress=progress)
            harvest_s = time.perf_counter() - start
        stored = store.count_papers()
        store.close()
    emit(
        bench="harvest",
        pages=args.pages,
        records=report.records,
        papers_stored=stored,
        harvest_s=round(harvest_s, 2),
        records_per_s=round(report.records / harvest_s),
        baseline_parse_only_records_per_s=round(parsed / parse_s),
        harvest_vs_parse=round(harvest_s / parse_s, 2),
        peak_rss_mib_after_10pct=round(marks.get("early", float("nan")), 1),
        peak_rss_mib_at_end=round(peak_rss_mib(), 1),
    )


if __name__ == "__main__":
    main()
