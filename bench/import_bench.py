"""Import rate (records/s) for the Daily Papers file and the 74k-paper arXiv listings file.

    .venv/bin/python bench/import_bench.py [--repeat N]

Baseline in the same run: reading the same file with gzip + json.loads and nothing else, so the
ratio ``import_vs_parse`` says what the store and record conversion cost on top of the floor.
Each import goes into a fresh SQLite file (WAL, synchronous=FULL); a second run over the same
store measures the idempotent re-import.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, shared_file  # noqa: E402
from paperboy.ingest import import_files  # noqa: E402
from paperboy.store import open_store  # noqa: E402

FILES = {
    "daily_papers": "data/hf-daily-papers/hf_daily_papers.jsonl.gz",
    "arxiv_listings": "data/arxiv-daily-listings/arxiv_daily_listings.jsonl.gz",
}


def parse_only(path: Path) -> tuple[int, float]:
    start = time.perf_counter()
    count = 0
    with gzip.open(path, "rb") as stream:
        for line in stream:
            json.loads(line)
            count += 1
    return count, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="runs per file (best is kept)")
    args = parser.parse_args()
    for name, relative in FILES.items():
        path = shared_file(relative)
        records, parse_s = min((parse_only(path) for _ in range(args.repeat)), key=lambda r: r[1])
        best_first = best_again = float("inf")
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as tmp:
                store = open_store(f"sqlite:///{tmp}/bench.db")
                start = time.perf_counter()
                report = import_files(store, [path])
                first = time.perf_counter() - start
                start = time.perf_counter()
                import_files(store, [path])
                again = time.perf_counter() - start
                store.close()
            best_first, best_again = min(best_first, first), min(best_again, again)
        emit(
            bench="import",
            file=name,
            records=report.records,
            problems=len(report.problems),
            import_s=round(best_first, 3),
            records_per_s=round(records / best_first),
            reimport_records_per_s=round(records / best_again),
            baseline_parse_only_records_per_s=round(records / parse_s),
            import_vs_parse=round(best_first / parse_s, 2),
        )


if __name__ == "__main__":
    main()
