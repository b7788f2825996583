"""File import on real data: Daily Papers (demo, raw API responses), arXiv listings and snapshot.

Real data under ../shared is read through ``shared_path`` (skips when absent); the arXiv bulk
snapshot sample in tests/data holds real arXiv metadata in the Kaggle snapshot's line format.
"""

from __future__ import annotations

import gzip
import itertools
import json
import os
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import assert_consistent, shared_path
from paperboy.ingest import demo_data_path, import_files
from paperboy.models import ImportReport
from paperboy.store import SQLStore, open_store

DATA = Path(__file__).with_name("data")
SNAPSHOT = DATA / "arxiv_snapshot_sample.jsonl"
# Samples of the two large files that ship in tests/data (a clone runs these tests): the first
# 400 Daily Papers records plus the 19 that the first 300 listing lines also hold; the first
# 300 listing lines plus the one of 2505.21558 (line 11,637 of the full file).
HF_DAILY = "data/hf-daily-papers/hf_daily_papers.sample.jsonl.gz"
LISTINGS = "data/arxiv-daily-listings/arxiv_daily_listings.sample.jsonl.gz"
RAW = "data/hf-daily-papers/raw_api_samples"


# -- helpers ----------------------------------------------------------------------------------


@cache
def _head_lines(relative: str, count: int) -> tuple[bytes, ...]:
    with gzip.open(shared_path(relative), "rb") as fh:
        return tuple(itertools.islice(fh, count))


def head_lines(relative: str, count: int) -> list[bytes]:
    """The first ``count`` raw lines of a gzipped JSONL file in ../shared."""
    return list(_head_lines(relative, count))


def write_lines(path: Path, lines: list[bytes], *, gz: bool = False) -> Path:
    body = b"".join(line if line.endswith(b"\n") else line + b"\n" for line in lines)
    path.write_bytes(gzip.compress(body) if gz else body)
    return path


def dumps(obj: Any) -> bytes:
    return json.dumps(obj).encode() + b"\n"


def assert_store_consistent(store: SQLStore) -> None:
    """The store's database, read on a connection of its own, passes the consistency checks."""
    assert_consistent(store.engine.url.render_as_string(hide_password=False))


def problems_by_line(report: ImportReport) -> dict[int | None, str]:
    return {p.line: p.message for p in report.problems}


# -- the demo data set ------------------------------------------------------------------------


def test_demo_imports_whole_and_reimport_is_idempotent(store: SQLStore) -> None:
    report = import_files(store, [demo_data_path()])

    assert report.problems == [] and report.failed_files == []
    assert report.records == 9877
    assert report.counts.inserted == 9877 and report.counts.feed_added == 9877
    assert store.count_papers() == 9877
    assert store.count_feed_entries() == 9877
    first = store.get_paper("2405.15738")
    assert first is not None
    assert first.title.startswith("ConvLLaVA: Hierarchical Backbones")
    assert "\n" not in first.abstract[:200]  # arXiv's hard wraps are unwrapped
    [entry] = store.feed_entries_for("2405.15738")
    assert (entry.feed_date, entry.upvotes, entry.num_comments) == (date(2024, 5, 27), 32, 3)

    again = import_files(store, [demo_data_path()])

    assert again.problems == []
    assert (again.counts.inserted, again.counts.updated) == (0, 0)
    assert (again.counts.feed_added, again.counts.feed_updated) == (0, 0)
    assert again.counts.unchanged == 9877 and again.skipped == 9877
    assert store.count_papers() == 9877 and store.count_feed_entries() == 9877
    assert store.get_paper("2405.15738") == first
    runs = store.ingest_runs()
    assert [(r.status, r.inserted, r.updated, r.errors) for r in runs] == [
        ("ok", 0, 0, 0),
        ("ok", 9877, 0, 0),
    ]
    assert_store_consistent(store)


def test_demo_feed_counts_cover_the_whole_date_range(store: SQLStore) -> None:
    import_files(store, [demo_data_path()])
    days = store.feed_counts("day")
    assert (days[0].period, days[-1].period) == ("2024-05-27", "2026-08-21")
    assert len(days) == 580
    assert sum(d.entries for d in days) == 9877
    months = store.feed_counts("month")
    assert sum(m.upvotes for m in months) == sum(d.upvotes for d in days)


# -- raw /api/daily_papers responses ----------------------------------------------------------


@pytest.mark.parametrize("day", ["2024-05-27", "2025-06-10", "2026-08-21"])
def test_raw_api_sample_imports(store: SQLStore, day: str) -> None:
    path = shared_path(f"{RAW}/{day}.json")
    items = json.loads(path.read_text())

    report = import_files(store, [path])

    assert report.problems == []
    assert report.counts.inserted == len(items) == store.count_papers()
    assert store.count_feed_entries() == len(items)
    for item in items:
        raw = item["paper"]
        stored = store.get_paper(raw["id"])
        assert stored is not None, raw["id"]
        assert stored.title == " ".join(raw["title"].split())
        assert stored.authors == tuple(a["name"] for a in raw["authors"])
        assert stored.github_repo == raw.get("githubRepo")
        [entry] = store.feed_entries_for(raw["id"])
        assert entry.feed_date == date.fromisoformat(day)  # from the file name
        assert entry.source == "daily"
        assert entry.upvotes == raw["upvotes"]
        assert entry.num_comments == item["numComments"]


@pytest.mark.parametrize("day", ["2024-12-11", "2025-01-10"])
def test_python_repr_sample_is_rejected_with_a_clear_message(store: SQLStore, day: str) -> None:
    path = shared_path(f"{RAW}/{day}.json")

    report = import_files(store, [path])

    assert report.failed_files == [str(path)]
    [problem] = report.problems
    assert problem.line is None
    assert f"{day}.json" in str(problem)
    assert "Python" in problem.message
    assert store.count_papers() == 0
    assert store.ingest_runs()[0].status == "failed"


def test_good_files_import_beside_rejected_ones(store: SQLStore) -> None:
    names = ["2024-05-27", "2024-12-11", "2025-01-10", "2025-06-10", "2026-08-21"]
    paths = [shared_path(f"{RAW}/{name}.json") for name in names]

    report = import_files(store, paths)

    assert sorted(Path(f).name for f in report.failed_files) == [
        "2024-12-11.json",
        "2025-01-10.json",
    ]
    assert store.count_papers() == 13 + 28 + 17
    assert {c.period for c in store.feed_counts("day")} == {
        "2024-05-27",
        "2025-06-10",
        "2026-08-21",
    }
    assert store.ingest_runs()[0].status == "partial"


# -- malformed input --------------------------------------------------------------------------


def test_malformed_lines_are_reported_with_line_numbers(store: SQLStore, tmp_path: Path) -> None:
    real = [json.loads(line) for line in head_lines(HF_DAILY, 8)]
    untitled = {k: v for k, v in real[4].items() if k != "title"}
    bad_id = {**real[5], "id": "2405.157381"}
    lines = [
        dumps(real[0]),
        dumps(real[1]),
        b'{"id": "2405.15032", "title": "Stacking Your Tra\n',  # cut off mid-record
        dumps(real[3]),
        dumps(untitled),
        b"\n",
        dumps(bad_id),
        dumps(real[7]),
    ]
    path = write_lines(tmp_path / "daily.jsonl", lines)

    report = import_files(store, [path])

    found = problems_by_line(report)
    assert sorted(found) == [3, 5, 7]
    assert "not valid JSON" in found[3]
    assert "title" in found[5]
    assert "2405.157381" in found[7] and "arXiv id" in found[7]
    assert all(p.path == str(path) for p in report.problems)
    assert report.failed_files == []
    assert report.malformed == 3 and report.records == 7
    assert report.counts.inserted == 4
    assert {real[i]["id"] for i in (0, 1, 3, 7)} == {
        p.paper.id for p in store.feed(date(2000, 1, 1), date(2100, 1, 1)).items
    }
    run = store.ingest_runs()[0]
    assert (run.status, run.inserted, run.errors, run.skipped) == ("partial", 4, 3, 3)
    assert run.message is not None and ":3:" in run.message


def test_truncated_gzip_keeps_whole_batches_and_reimport_completes(
    store: SQLStore, tmp_path: Path
) -> None:
    lines = head_lines(HF_DAILY, 400)
    data = gzip.compress(b"".join(lines))
    broken = tmp_path / "daily-2024.jsonl.gz"
    broken.write_bytes(data[: len(data) // 2])

    report = import_files(store, [broken], batch_size=50)

    assert report.failed_files == [str(broken)]
    [problem] = report.problems
    assert "daily-2024.jsonl.gz" in str(problem) and "truncated" in problem.message
    stored = store.count_papers()
    assert 0 < stored < 400
    assert stored % 50 == 0  # whole batches only: the batch in flight was dropped
    assert store.count_feed_entries() == stored
    assert_store_consistent(store)
    for item in store.feed(date(2000, 1, 1), date(2100, 1, 1), limit=1000).items:
        assert item.paper.title.strip()
        assert store.feed_entries_for(item.paper.id) == [item.entry]
    assert store.ingest_runs()[0].status in ("failed", "partial")

    intact = tmp_path / "daily-2024-repaired.jsonl.gz"
    intact.write_bytes(data)
    again = import_files(store, [intact], batch_size=50)

    assert again.problems == []
    assert again.counts.inserted == 400 - stored
    assert again.counts.unchanged == stored
    assert store.count_papers() == 400 and store.count_feed_entries() == 400
    assert store.ingest_runs()[0].status == "ok"


def test_gzip_header_with_garbage_body_fails_cleanly(store: SQLStore, tmp_path: Path) -> None:
    path = tmp_path / "corrupt.jsonl.gz"
    path.write_bytes(gzip.compress(b"")[:10] + bytes(range(256)) * 4)

    report = import_files(store, [path])

    assert report.failed_files == [str(path)]
    assert "corrupt.jsonl.gz" in str(report.problems[0])
    assert store.count_papers() == 0
    assert store.ingest_runs()[0].status == "failed"


def _not_gzip(tmp_path: Path) -> Path:
    path = tmp_path / "papers.jsonl.gz"
    # A zip archive's header and a binary body: neither gzip nor text.
    path.write_bytes(b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(range(128, 256)) * 16)
    return path


def test_non_gzip_file_named_gz_is_reported_not_crashed(store: SQLStore, tmp_path: Path) -> None:
    path = _not_gzip(tmp_path)

    report = import_files(store, [path])

    assert report.problems
    assert all(p.path == str(path) for p in report.problems)
    assert store.count_papers() == 0
    assert store.ingest_runs()[0].status != "ok"


def test_non_gzip_file_named_gz_fails_as_a_whole(store: SQLStore, tmp_path: Path) -> None:
    path = _not_gzip(tmp_path)

    report = import_files(store, [path])

    assert report.failed_files == [str(path)]
    [problem] = report.problems
    assert problem.line is None and "gzip" in problem.message


def test_missing_file_is_reported_and_the_rest_imports(store: SQLStore, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.jsonl"
    good = write_lines(tmp_path / "good.jsonl", head_lines(HF_DAILY, 3))

    report = import_files(store, [missing, good])

    assert report.failed_files == [str(missing)]
    [problem] = report.problems
    assert "nowhere.jsonl" in str(problem) and problem.line is None
    assert store.count_papers() == 3
    assert store.ingest_runs()[0].status == "partial"


# -- the arXiv bulk metadata snapshot ---------------------------------------------------------


def test_arxiv_snapshot_sample(store: SQLStore) -> None:
    report = import_files(store, [SNAPSHOT])

    assert report.problems == []
    assert report.counts.inserted == 7 and store.count_papers() == 7
    assert store.count_feed_entries() == 0  # a snapshot is not a feed

    first = store.get_paper("0704.0001")
    assert first is not None
    assert first.title == (
        "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
    )
    assert first.authors == ("C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C. -P. Yuan")
    assert first.version == 2
    assert first.published == datetime(2007, 4, 2, 19, 18, 42)
    assert first.updated == datetime(2007, 7, 24, 20, 10, 27)
    assert first.categories == ("hep-ph",)
    assert first.doi == "10.1103/PhysRevD.76.013009"
    assert first.journal_ref == "Phys.Rev.D76:013009,2007"
    assert first.comments == "37 pages, 15 figures; published version"
    assert first.license is None and first.withdrawn is False
    assert first.abstract.startswith("A fully differential calculation in perturbative")
    assert "\n" not in first.abstract

    old = store.get_paper("hep-th/9901001")
    assert old is not None
    assert (old.version, old.authors) == (3, ("Yosuke Imamura",))
    assert old.published == datetime(1999, 1, 1, 1, 1, 10)
    assert old.journal_ref == "Prog.Theor.Phys.101:1155-1164,1999"

    math = store.get_paper("math/0202001")
    assert math is not None
    assert math.categories == ("math.GR", "math.DS") and math.primary_category == "math.GR"
    assert math.authors == (
        "Laurent Bartholdi",
        "Rostislav I. Grigorchuk",
        "Volodymyr V. Nekrashevych",
    )
    assert math.version == 4
    assert "\n\n" in math.abstract  # arXiv's indented paragraphs survive as paragraphs

    attention = store.get_paper("1706.03762")
    assert attention is not None
    assert attention.title == "Attention Is All You Need"
    assert attention.categories == ("cs.CL", "cs.LG")
    assert attention.authors[0] == "Ashish Vaswani" and attention.authors[-1] == "Illia Polosukhin"
    assert len(attention.authors) == 8
    assert attention.version == 5
    assert attention.published == datetime(2017, 6, 12, 17, 57, 34)
    assert attention.updated == datetime(2017, 12, 6, 3, 30, 32)
    assert attention.license == "http://arxiv.org/licenses/nonexclusive-distrib/1.0/"

    withdrawn = store.get_paper("0704.0840")
    assert withdrawn is not None and withdrawn.withdrawn is True
    assert withdrawn.doi == "10.1142/S0217732309026711"
    others = ["0704.0001", "hep-th/9901001", "math/0202001", "0704.0115", "1706.03762"]
    assert not any(store.get_paper(pid).withdrawn for pid in others)  # type: ignore[union-attr]


def test_old_style_ids_with_subject_class_are_stored_canonically(
    store: SQLStore, tmp_path: Path
) -> None:
    line = json.loads(SNAPSHOT.read_text().splitlines()[2])  # math/0202001
    path = write_lines(tmp_path / "subject.jsonl", [dumps({**line, "id": "math.GR/0202001v4"})])

    report = import_files(store, [path])

    assert report.problems == []
    assert store.get_paper("math/0202001") is not None
    assert store.get_paper("math.GR/0202001") is None
    assert store.count_papers() == 1


def test_snapshot_with_older_versions_does_not_overwrite(store: SQLStore, tmp_path: Path) -> None:
    import_files(store, [SNAPSHOT])
    before = store.get_paper("1706.03762")
    assert before is not None
    line = json.loads(SNAPSHOT.read_text().splitlines()[5])
    assert line["id"] == "1706.03762"
    older = {
        **line,
        "title": "Attention Is All You Need (first draft)",
        "abstract": "  An older abstract.\n",
        "comments": "9 pages",
        "versions": line["versions"][:1],
    }
    path = write_lines(tmp_path / "older.jsonl", [dumps(older)])

    report = import_files(store, [path])

    assert report.problems == []
    assert (report.counts.older, report.counts.updated) == (1, 0)
    assert store.get_paper("1706.03762") == before


# -- arXiv daily listings ---------------------------------------------------------------------


def listings_sample(tmp_path: Path, count: int = 300) -> Path:
    return write_lines(tmp_path / "listings.jsonl.gz", head_lines(LISTINGS, count), gz=True)


def test_listings_sample(store: SQLStore, tmp_path: Path) -> None:
    path = listings_sample(tmp_path)
    raw = {r["id"]: r for r in (json.loads(line) for line in head_lines(LISTINGS, 300))}

    report = import_files(store, [path], batch_size=64)

    assert report.problems == []
    assert store.count_papers() == 300 == store.count_feed_entries()
    acm = store.get_paper("2503.12260")  # listed as ["cs.CV", "I.4"]
    assert acm is not None and acm.categories == ("cs.CV",)
    msc = store.get_paper("2503.11954")  # MSC and ACM class strings after six categories
    assert msc is not None
    assert msc.categories == ("eess.IV", "cs.AI", "cs.CV", "cs.IT", "cs.LG", "math.IT")
    assert msc.primary_category == "eess.IV"
    for paper_id, record in raw.items():
        stored = store.get_paper(paper_id)
        assert stored is not None
        assert stored.authors == tuple(record["authors"])
        assert all(c in record["categories"] for c in stored.categories)
        [entry] = store.feed_entries_for(paper_id)
        assert entry.feed_date == date.fromisoformat(record["first_listed"])
        assert entry.source == "arxiv"
        assert entry.upvotes == 0


def test_listing_drops_na_class_string(store: SQLStore, tmp_path: Path) -> None:
    [line] = [raw for raw in head_lines(LISTINGS, 400) if b'"2505.21558"' in raw]
    assert json.loads(line)["categories"] == ["cs.CV", "cs.AI", "cs.LG", "na"]
    path = write_lines(tmp_path / "na.jsonl", [line])

    import_files(store, [path])

    stored = store.get_paper("2505.21558")
    assert stored is not None and stored.categories == ("cs.CV", "cs.AI", "cs.LG")


@pytest.mark.parametrize("listing_first", [True, False], ids=["listing-first", "daily-first"])
def test_daily_record_and_listing_merge_into_one_paper(
    store: SQLStore, tmp_path: Path, listing_first: bool
) -> None:
    listing = {r["id"]: r for r in (json.loads(line) for line in head_lines(LISTINGS, 300))}
    with gzip.open(shared_path(HF_DAILY), "rb") as fh:
        daily_lines = [line for line in fh if json.loads(line)["id"] in listing]
    daily = {r["id"]: r for r in map(json.loads, daily_lines)}
    assert len(daily) == 19  # the overlap in the first 300 listing lines
    daily_path = write_lines(tmp_path / "daily.jsonl", daily_lines)
    listing_path = listings_sample(tmp_path)
    order = [listing_path, daily_path] if listing_first else [daily_path, listing_path]

    for path in order:
        assert import_files(store, [path]).problems == []

    assert store.count_papers() == 300
    for paper_id, record in daily.items():
        stored = store.get_paper(paper_id)
        assert stored is not None
        assert stored.categories == tuple(listing[paper_id]["categories"])  # from the listing
        assert stored.published is not None  # from the Daily Papers record
        entries = {e.feed_date: e for e in store.feed_entries_for(paper_id)}
        daily_day = date.fromisoformat(record["daily_date"])
        listed_day = date.fromisoformat(listing[paper_id]["first_listed"])
        assert entries[daily_day].source == "daily"
        assert entries[daily_day].upvotes == record["upvotes"]
        if listed_day != daily_day:
            assert entries[listed_day].source == "arxiv"
        assert set(entries) == {daily_day, listed_day}


# -- progress and mixed shapes ----------------------------------------------------------------


def test_progress_reports_increasing_bytes_up_to_the_file_size(
    store: SQLStore, tmp_path: Path
) -> None:
    path = listings_sample(tmp_path)
    size = os.path.getsize(path)
    calls: list[tuple[str, int, int]] = []

    import_files(store, [path], batch_size=25, progress=lambda *args: calls.append(args))

    assert len(calls) >= 300 // 25
    assert {name for name, _, _ in calls} == {str(path)}
    assert {total for _, _, total in calls} == {size}
    done = [d for _, d, _ in calls]
    assert done == sorted(done)
    assert 0 < done[0] and done[-1] == size


def test_mixed_shapes_in_one_file(store: SQLStore, tmp_path: Path) -> None:
    daily_record = json.loads(head_lines(HF_DAILY, 1)[0])
    listing = json.loads(head_lines(LISTINGS, 1)[0])
    snapshot = json.loads(SNAPSHOT.read_text().splitlines()[0])
    item = json.loads(shared_path(f"{RAW}/2025-06-10.json").read_text())[0]
    api_paper = {**item["paper"], "id": "2506.07044", "title": "A flat /api/papers object"}
    path = write_lines(
        tmp_path / "mixed.jsonl",
        [dumps(o) for o in (daily_record, listing, snapshot, item, api_paper)],
    )

    report = import_files(store, [path])

    assert report.problems == []
    assert store.count_papers() == 5
    assert store.get_paper(daily_record["id"]) is not None
    assert store.feed_entries_for(listing["id"])[0].source == "arxiv"
    snap = store.get_paper("0704.0001")
    assert snap is not None and snap.version == 2
    [entry] = store.feed_entries_for(item["paper"]["id"])
    assert entry.upvotes == item["paper"]["upvotes"]
    assert entry.feed_date == date(2025, 6, 10)  # submittedOnDailyAt: the name says no date
    flat = store.get_paper("2506.07044")
    assert flat is not None and flat.title == "A flat /api/papers object"
    assert store.feed_entries_for("2506.07044") == []


# -- records that break deeper than the shape checks ------------------------------------------

_GOOD = {"id": "2405.15738", "title": "ConvLLaVA", "daily_date": "2024-05-27", "upvotes": 32}
_OTHER = {"id": "2405.15574", "title": "Meteor", "daily_date": "2024-05-27", "upvotes": 28}


@pytest.mark.parametrize(
    ("bad_line", "rejected"),
    [
        pytest.param(
            dumps({**_GOOD, "id": "2405.15071", "upvotes": 10**20}),
            True,
            id="upvotes-beyond-int64",
        ),
        pytest.param(
            b'{"id": "2405.15071", "title": "Inf", "daily_date": "2024-05-27", '
            b'"upvotes": Infinity}\n',
            True,
            id="upvotes-infinity",
        ),
        pytest.param(
            dumps({"id": "2405.15071", "title": "T", "authors_parsed": [["Last", 1, ""]]}),
            True,
            id="authors-parsed-not-text",
        ),
        pytest.param(
            dumps({**_GOOD, "id": "2405.15071", "published_at": "0001-01-01T00:00:00+01:00"}),
            True,
            id="published-before-year-1-utc",
        ),
        pytest.param(
            b'{"id": "2405.15071", "title": "Lone \\ud800 surrogate", '
            b'"daily_date": "2024-05-27"}\n',
            True,
            id="lone-surrogate-in-title",
        ),
        pytest.param(
            dumps({**_GOOD, "id": "2405.15071", "upvotes": 9.5, "num_comments": "12"}),
            False,
            id="float-and-text-numbers",
        ),
    ],
)
def test_one_bad_record_never_aborts_the_import(
    store: SQLStore, tmp_path: Path, bad_line: bytes, rejected: bool
) -> None:
    """Found as crashes out of import_files (OverflowError, TypeError, UnicodeEncodeError)."""
    path = write_lines(tmp_path / "daily.jsonl", [dumps(_GOOD), bad_line, dumps(_OTHER)])

    report = import_files(store, [path])

    assert [p.line for p in report.problems] == ([2] if rejected else [])
    assert store.get_paper("2405.15738") is not None
    assert store.get_paper("2405.15574") is not None
    assert (store.get_paper("2405.15071") is None) == rejected
    assert store.ingest_runs()[0].status == ("partial" if rejected else "ok")


# -- fuzzing: nothing a JSONL line holds may escape import_files ------------------------------

JSON_LEAVES = st.none() | st.booleans() | st.integers() | st.text(max_size=20)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=16,
)
FIELDS = (
    "id", "title", "paper", "summary", "abstract", "authors", "authors_parsed", "versions",
    "categories", "daily_date", "first_listed", "published_at", "publishedAt",
    "submittedOnDailyAt", "upvotes", "num_comments", "numComments", "github_repo",
    "github_stars", "githubStars", "comments", "comment", "doi", "license", "journal-ref",
    "submitted_by", "submittedBy", "data",
)  # fmt: skip
PLAUSIBLE = st.sampled_from(
    [
        "2405.15738",
        "hep-th/9901001",
        "math.GT/0309136v2",
        "2024-05-27",
        "2024-05-27T17:34:15.000Z",
        "Mon, 2 Apr 2007 19:18:42 GMT",
        "v3",
        "cs.CL cs.LG",
        "https://github.com/openbmb/minicpm",
        "This paper has been withdrawn",
    ]
)
FIELD_VALUES = st.recursive(
    JSON_LEAVES | PLAUSIBLE,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)
# Valid records of each real shape; the fuzzer replaces one to three of their fields.
BASES: tuple[dict[str, Any], ...] = (
    {"id": "2405.15738", "title": "ConvLLaVA", "daily_date": "2024-05-27", "upvotes": 32},
    {
        "id": "2503.11731",
        "title": "Sensor Simulation",
        "authors": ["Xianming Zeng"],
        "categories": ["cs.CV", "cs.RO"],
        "first_listed": "2025-03-18",
    },
    {
        "id": "0704.0001",
        "title": "Calculation of prompt diphoton production cross sections",
        "versions": [{"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"}],
        "authors_parsed": [["Balazs", "C.", ""]],
    },
    {
        "paper": {"id": "2506.08007", "title": "Reinforcement Pre-Training", "upvotes": 97},
        "publishedAt": "2025-06-10T00:43:01.816Z",
        "numComments": 3,
    },
    {"id": "2506.07044", "title": "Lingshu", "summary": "A flat /api/papers object."},
)
RECORD_LIKE = st.builds(
    lambda base, changes: {**base, **changes},
    st.sampled_from(BASES),
    st.dictionaries(st.sampled_from(FIELDS), FIELD_VALUES, min_size=1, max_size=3),
)


def _fuzz_import(store: SQLStore, path: Path, values: list[Any]) -> None:
    path.write_text("".join(json.dumps(v) + "\n" for v in values))
    report = import_files(store, [path], batch_size=4)
    assert report.records == len(values)
    assert all(p.path == str(path) and p.line is not None for p in report.problems)
    assert all(1 <= p.line <= len(values) for p in report.problems)  # type: ignore[operator]
    assert report.failed_files == []


def test_arbitrary_json_lines_never_escape_import(tmp_path: Path, database_url: str) -> None:
    store = open_store(database_url)

    @settings(
        max_examples=150,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(st.lists(JSON_VALUES, min_size=1, max_size=6))
    def check(values: list[Any]) -> None:
        _fuzz_import(store, tmp_path / "fuzz.jsonl", values)

    try:
        check()
        assert_store_consistent(store)
    finally:
        store.close()


def test_record_shaped_json_lines_never_escape_import(tmp_path: Path, database_url: str) -> None:
    store = open_store(database_url)

    @settings(
        max_examples=150,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(st.lists(RECORD_LIKE, min_size=1, max_size=6))
    def check(values: list[Any]) -> None:
        _fuzz_import(store, tmp_path / "fuzz.jsonl", values)

    try:
        check()
    finally:
        store.close()


def test_author_string_with_an_oxford_comma(store: SQLStore, tmp_path: Path) -> None:
    line = {
        "id": "0704.0001",
        "title": "T",
        "authors": "B. Bollobas, Paul Smith, and Andrew Uzzell",
        "versions": [{"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"}],
    }
    path = tmp_path / "snapshot.jsonl"
    path.write_text(json.dumps(line) + "\n")
    import_files(store, [path])
    paper = store.get_paper("0704.0001")
    assert paper is not None
    assert paper.authors == ("B. Bollobas", "Paul Smith", "Andrew Uzzell")
