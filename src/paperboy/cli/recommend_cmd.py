"""``paperboy recommend USER``: the recent feed ranked for one reader, as ``/for-you`` ranks
it (their ratings, upvotes, collections and follows), each paper with its strongest reason."""

from __future__ import annotations

import json
import unicodedata
from datetime import timedelta
from typing import Annotated

from rich.table import Table

from paperboy.cli.options import (
    DatabaseOpt,
    argument,
    fail,
    opened_store,
    option,
    out,
    settings_for,
)
from paperboy.services import built


def recommend_command(
    username: Annotated[str, argument(help="The reader's user name.")],
    days: Annotated[
        int, option("--days", "-d", help="Feed days to rank, up to the latest (1 to 31).")
    ] = 1,
    limit: Annotated[int, option("--limit", "-n", help="Papers to show (1 to 500).")] = 20,
    as_json: Annotated[
        bool, option("--json", help="One JSON object a line instead of a table.")
    ] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """Show the latest feed days ranked for one reader, best first, with the reason of each.

    The ranking is the reader's own (what /for-you shows): their "more like this" and "not
    for me" ratings, upvotes, collected papers and followed authors and categories. Papers the
    reader already rated are left out. A reader who rated nothing gets the feed by upvotes.

    Examples:

      paperboy recommend ada
      paperboy recommend ada --days 7 --limit 50 --json
    """
    if not 1 <= days <= 31:
        raise fail("--days is between 1 and 31.", 2)
    if not 1 <= limit <= 500:
        raise fail("--limit is between 1 and 500.", 2)
    settings = settings_for(database_url)
    with opened_store(settings) as store, built(settings, store) as services:
        user = store.accounts.user_by_name(unicodedata.normalize("NFKC", username).strip())
        if user is None:
            raise fail(f"No user named {username!r}: `paperboy user list` shows them.")
        end = store.latest_feed_date()
        if end is None:
            raise fail("The store has no papers yet: `paperboy import --demo` loads some.")
        start = end - timedelta(days=days - 1)
        ranked = services.foryou.for_user(
            user.id, start, end, limit=limit, explain=limit, unrated_only=True
        )
    if as_json:
        for n, r in enumerate(ranked, start=1):
            why = [{"kind": w.kind, "label": w.label, "weight": round(w.weight, 4)} for w in r.why]
            line = {
                "rank": n,
                "id": r.item.paper.id,
                "title": r.item.paper.title,
                "score": round(r.score, 4),
                "why": why,
            }
            out.print(json.dumps(line), highlight=False, soft_wrap=True)
        return
    table = Table(title=f"For {user.username}: {start} to {end}")
    for column in ("#", "arXiv id", "title", "score", "why"):
        table.add_column(column)
    for n, r in enumerate(ranked, start=1):
        top = r.why[0].label if r.why else "by upvotes (nothing rated yet)"
        table.add_row(str(n), r.item.paper.id, r.item.paper.title, f"{r.score:.3f}", top)
    out.print(table)
