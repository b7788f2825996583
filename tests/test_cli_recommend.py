"""``paperboy recommend USER``: the latest feed ranked for one reader, from the command line."""

from __future__ import annotations

import json
from datetime import date

from typer.testing import CliRunner

from community import make_user  # tests/community.py
from paperboy.cli import app
from paperboy.models import FeedEntry, Paper, Record
from paperboy.store import SQLStore

runner = CliRunner()
DAY = date(2024, 5, 6)
TOPICS = {
    "2405.00001": "Sparse attention for long documents",
    "2405.00002": "Linear attention transformers at scale",
    "2405.00003": "Graph neural networks for molecules",
    "2405.00004": "Message passing on molecular graphs",
}


def _papers(store: SQLStore) -> None:
    store.upsert(
        [
            Record(
                Paper(pid, title, f"We study {title.lower()}.", (f"Author {i}",), ("cs.LG",)),
                FeedEntry(pid, DAY, upvotes=9 - i),
            )
            for i, (pid, title) in enumerate(TOPICS.items())
        ]
    )


def test_recommend_ranks_for_the_reader(store: SQLStore, database_url: str) -> None:
    _papers(store)
    ada = make_user(store, "ada")
    store.ratings.rate(ada.id, "2405.00003", 1, "card")
    result = runner.invoke(app, ["recommend", "ada", "--json", "--database-url", database_url])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert [line["id"] for line in lines][0] == "2405.00004"
    assert "2405.00003" not in [line["id"] for line in lines]  # rated: left out
    assert lines[0]["why"] and lines[0]["rank"] == 1
    table = runner.invoke(app, ["recommend", "ada", "--database-url", database_url])
    assert table.exit_code == 0 and "Message passing" in table.output


def test_recommend_explains_its_errors(store: SQLStore, database_url: str) -> None:
    missing = runner.invoke(app, ["recommend", "nobody", "--database-url", database_url])
    assert missing.exit_code == 1 and "No user named" in missing.output
    make_user(store, "ada")
    empty = runner.invoke(app, ["recommend", "ada", "--database-url", database_url])
    assert empty.exit_code == 1 and "no papers yet" in empty.output
    bad = runner.invoke(app, ["recommend", "ada", "--days", "99", "--database-url", database_url])
    assert bad.exit_code == 2
    assert "ranked for one reader" in runner.invoke(app, ["recommend", "--help"]).output
