"""The ``paperboy`` command line, run in-process with Typer's CliRunner, on either backend."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner, Result

from conftest import shared_path
from paperboy import cli
from paperboy.cli import app
from paperboy.store import SQLStore, open_store

runner = CliRunner(env={"COLUMNS": "240", "NO_COLOR": "1"})


@pytest.fixture(autouse=True)
def wide_consoles(monkeypatch: pytest.MonkeyPatch) -> None:
    """Wide output, so rich neither wraps file names nor truncates table cells.

    The CLI's consoles are built at import time and freeze COLUMNS if it was set then (as
    pytest-xdist workers do), so the runner's COLUMNS alone is not enough.
    """
    for console in (cli.err, cli.out):
        monkeypatch.setattr(console, "_width", 240)


def invoke(*args: str | Path) -> Result:
    return runner.invoke(app, [str(a) for a in args])


def table_names(url: str) -> set[str]:
    """The tables in the database at ``url``, read on a connection of its own."""
    engine = sqlalchemy.create_engine(url, poolclass=NullPool)
    try:
        return set(sqlalchemy.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def untouched(url: str) -> bool:
    """True while nothing has created the database file (SQLite) or any table in it."""
    parsed = sqlalchemy.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return not Path(parsed.database or "").exists()
    return table_names(url) == set()


@pytest.fixture(scope="module")
def demo_db(module_database_url: Callable[[str], str]) -> str:
    """The URL of a store holding the demo data set, imported once through the command line."""
    url = module_database_url("cli-demo")
    result = invoke("import", "--demo", "--database-url", url)
    assert result.exit_code == 0, result.output
    return url


@pytest.fixture
def demo_store(demo_db: str) -> Iterator[SQLStore]:
    store = open_store(demo_db)
    yield store
    store.close()


# -- help -------------------------------------------------------------------------------------

EXAMPLES = {
    ("import",): "paperboy import --demo",
    ("stats",): "paperboy stats --by day --last 14",
    ("serve",): "paperboy serve --port 8001",
    ("status",): "paperboy status --limit 50",
    ("db", "upgrade"): "paperboy db upgrade",
}


@pytest.mark.parametrize("command", list(EXAMPLES), ids=" ".join)
def test_help_shows_examples(command: tuple[str, ...]) -> None:
    result = invoke(*command, "--help")
    assert result.exit_code == 0, result.output
    assert "Examples" in result.output
    assert EXAMPLES[command] in result.output
    assert "--database-url" in result.output


def test_import_help_documents_exit_codes() -> None:
    result = invoke("import", "--help")
    assert "Exit codes" in result.output and "2 bad usage" in result.output


# -- import -----------------------------------------------------------------------------------


def summary_value(output: str, label: str) -> str:
    match = re.search(rf"{re.escape(label)}\s*│\s*([\d,]+(?: / [\d,]+)?)", output)
    assert match, f"no {label!r} row in:\n{output}"
    return match[1]


def test_import_demo_summary_then_if_empty_does_nothing(database_url: str) -> None:
    url = database_url

    first = invoke("import", "--demo", "--database-url", url)

    assert first.exit_code == 0, first.output
    assert summary_value(first.output, "records read") == "9,877"
    assert summary_value(first.output, "papers inserted") == "9,877"
    assert summary_value(first.output, "papers updated") == "0"
    assert summary_value(first.output, "skipped (unchanged)") == "0"
    assert summary_value(first.output, "skipped (malformed)") == "0"
    assert summary_value(first.output, "feed entries added / updated") == "9,877 / 0"

    second = invoke("import", "--demo", "--if-empty", "--database-url", url)

    assert second.exit_code == 0, second.output
    assert "nothing imported" in second.output
    assert "Import summary" not in second.output
    store = open_store(url)
    try:
        assert store.count_papers() == 9877
        assert len(store.ingest_runs()) == 1  # --if-empty started no run
    finally:
        store.close()


def test_reimport_summary_counts_skipped(database_url: str) -> None:
    url = database_url
    sample = shared_path("data/hf-daily-papers/raw_api_samples/2025-06-10.json")
    assert invoke("import", sample, "--database-url", url).exit_code == 0

    again = invoke("import", sample, "--database-url", url)

    assert again.exit_code == 0, again.output
    assert summary_value(again.output, "papers inserted") == "0"
    assert summary_value(again.output, "papers updated") == "0"
    assert summary_value(again.output, "skipped (unchanged)") == "28"


def test_import_broken_file_exits_1_and_names_it(tmp_path: Path, database_url: str) -> None:
    url = database_url
    with gzip.open(shared_path("data/hf-daily-papers/hf_daily_papers.sample.jsonl.gz"), "rb") as fh:
        lines = [next(fh) for _ in range(120)]
    data = gzip.compress(b"".join(lines))
    broken = tmp_path / "broken-daily.jsonl.gz"
    broken.write_bytes(data[: len(data) // 2])

    result = invoke("import", broken, "--database-url", url, "--batch-size", "20")

    assert result.exit_code == 1, result.output
    assert "broken-daily.jsonl.gz" in result.output
    assert "truncated" in result.output
    assert isinstance(result.exception, SystemExit)  # a clean exit, not a crash


def test_import_python_repr_file_exits_1_and_names_it(database_url: str) -> None:
    sample = shared_path("data/hf-daily-papers/raw_api_samples/2024-12-11.json")

    result = invoke("import", sample, "--database-url", database_url)

    assert result.exit_code == 1, result.output
    assert "2024-12-11.json" in result.output and "Python" in result.output


def test_import_malformed_line_exits_1_with_line_number(tmp_path: Path, database_url: str) -> None:
    path = tmp_path / "daily.jsonl"
    good = {"id": "2405.15738", "title": "ConvLLaVA", "daily_date": "2024-05-27", "upvotes": 32}
    path.write_text(json.dumps(good) + "\n{not json\n")

    result = invoke("import", path, "--database-url", database_url)

    assert result.exit_code == 1, result.output
    assert f"{path}:2" in result.output
    assert summary_value(result.output, "papers inserted") == "1"
    assert summary_value(result.output, "skipped (malformed)") == "1"


def test_import_missing_file_exits_1(tmp_path: Path, database_url: str) -> None:
    result = invoke("import", tmp_path / "absent.jsonl", "--database-url", database_url)
    assert result.exit_code == 1, result.output
    assert "absent.jsonl" in result.output


def test_import_out_of_range_number_is_reported_not_crashed(
    tmp_path: Path, database_url: str
) -> None:
    path = tmp_path / "daily.jsonl"
    bad = {"id": "2405.15738", "title": "T", "daily_date": "2024-05-27", "upvotes": 10**20}
    path.write_text(json.dumps(bad) + "\n")

    result = invoke("import", path, "--database-url", database_url)

    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 1 and "daily.jsonl" in result.output


def test_import_without_arguments_exits_2(database_url: str) -> None:
    result = invoke("import", "--database-url", database_url)
    assert result.exit_code == 2
    assert "Nothing to import" in result.output
    assert untouched(database_url)  # usage errors touch nothing


def test_no_command_exits_2_with_usage() -> None:
    result = invoke()
    assert result.exit_code == 2
    assert "Usage" in result.output and "import" in result.output


# -- stats, status, db upgrade ----------------------------------------------------------------


def table_row(output: str, period: str) -> list[str]:
    for line in output.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃]", line) if c.strip()]
        if cells and cells[0] == period:
            return cells
    raise AssertionError(f"no row for {period} in:\n{output}")


def test_stats_by_day_last_3_matches_the_store(demo_db: str, demo_store: SQLStore) -> None:
    result = invoke("stats", "--by", "day", "--last", "3", "--database-url", demo_db)

    assert result.exit_code == 0, result.output
    counts = demo_store.feed_counts("day")
    for row in counts[-3:]:
        assert table_row(result.output, row.period) == [
            row.period,
            f"{row.entries:,}",
            f"{row.upvotes:,}",
        ]
    assert counts[-4].period not in result.output
    assert f"({len(counts) - 3} earlier days not shown; use --last 0)" in result.output
    assert "Papers: 9,877" in result.output
    assert "Feed entries: 9,877" in result.output


def test_stats_by_month_matches_the_store(demo_db: str, demo_store: SQLStore) -> None:
    result = invoke("stats", "--by", "month", "--last", "0", "--database-url", demo_db)

    assert result.exit_code == 0, result.output
    counts = demo_store.feed_counts("month")
    assert len(counts) == 28  # 2024-05 .. 2026-08
    for row in counts:
        assert table_row(result.output, row.period) == [
            row.period,
            f"{row.entries:,}",
            f"{row.upvotes:,}",
        ]
    assert sum(row.entries for row in counts) == 9877
    assert "not shown" not in result.output


def test_stats_rejects_week(demo_db: str) -> None:
    result = invoke("stats", "--by", "week", "--database-url", demo_db)
    assert result.exit_code == 2
    assert "'day' or 'month'" in result.output


def test_status_lists_import_runs(database_url: str) -> None:
    url = database_url
    empty = invoke("status", "--database-url", url)
    assert empty.exit_code == 0 and "No ingest runs yet" in empty.output

    sample = shared_path("data/hf-daily-papers/raw_api_samples/2026-08-21.json")
    broken = shared_path("data/hf-daily-papers/raw_api_samples/2025-01-10.json")
    invoke("import", sample, "--database-url", url)
    invoke("import", broken, "--database-url", url)

    result = invoke("status", "--database-url", url)

    assert result.exit_code == 0, result.output
    first = table_row(result.output, "1")
    second = table_row(result.output, "2")
    assert first[1:2] + first[3:8] == ["import", "ok", "17", "0", "0", "0"]
    assert second[1:2] + second[3:8] == ["import", "failed", "0", "0", "0", "1"]
    assert "2025-01-10.json" in second[8]
    assert result.output.index("│ 2 ") < result.output.index("│ 1 ")  # newest first


def test_db_upgrade_creates_and_keeps_the_schema(database_url: str) -> None:
    assert untouched(database_url)
    first = invoke("db", "upgrade", "--database-url", database_url)
    assert first.exit_code == 0, first.output
    assert "up to date" in first.output
    assert {"papers", "feed_entries", "ingest_log", "alembic_version"} <= table_names(database_url)

    again = invoke("db", "upgrade", "--database-url", database_url)
    assert again.exit_code == 0, again.output
    store = open_store(database_url, upgrade=False)
    try:
        assert store.count_papers() == 0 and store.ingest_runs() == []
    finally:
        store.close()


def test_version_flag() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert re.fullmatch(r"paperboy \d+\.\d+\.\d+\S*\n", result.output)


@pytest.mark.parametrize(
    ("command", "sentence"),
    [
        (["migrate-store"], "stop it at any time and run the same command again"),
        (["serve"], "They keep no state of their own that matters"),
        (["index", "rebuild"], "on PostgreSQL they are the database's own GIN and HNSW"),
    ],
)
def test_help_paragraphs_are_not_broken_mid_sentence(command: list[str], sentence: str) -> None:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "400"})
    assert result.exit_code == 0
    assert sentence in " ".join(line.strip(" │") for line in result.output.splitlines())
    assert sentence in result.output  # on one line: the paragraph was reflowed
