"""Build the shipped demo data set from ../shared/data/hf-daily-papers/hf_daily_papers.jsonl.gz.

Keeps the arXiv metadata (CC0), feed dates, upvote and comment counts, code and project links;
drops user names and generated text, which are not ours to redistribute.

    python scripts/build_demo_data.py [SOURCE] [DEST]
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

KEEP = (
    "id",
    "title",
    "abstract",
    "authors",
    "published_at",
    "daily_date",
    "upvotes",
    "num_comments",
    "github_repo",
    "github_stars",
    "project_page",
)
ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    source = (
        Path(sys.argv[1])
        if len(sys.argv) > 1
        else (ROOT.parent / "shared/data/hf-daily-papers/hf_daily_papers.jsonl.gz")
    )
    dest = (
        Path(sys.argv[2])
        if len(sys.argv) > 2
        else (ROOT / "src/paperboy/demo/daily_papers.jsonl.gz")
    )
    count = 0
    with (
        gzip.open(source, "rt", encoding="utf-8") as src,
        gzip.GzipFile(dest, "wb", mtime=0) as raw,
    ):
        for line in src:
            record = json.loads(line)
            slim = {key: record.get(key) for key in KEEP}
            raw.write((json.dumps(slim, ensure_ascii=False) + "\n").encode())
            count += 1
    print(f"wrote {count} records to {dest}")


if __name__ == "__main__":
    main()
