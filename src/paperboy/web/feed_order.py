"""The order of the feed pages besides upvotes: ``sort=for-you``, the period ranked for the
signed-in reader by the personal ranker (``paperboy.rank.recommend``), and the query tail
(``&cat=...&sort=...``) every link of the page keeps."""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import urlencode

from fastapi import Request

from paperboy.feed import FeedView
from paperboy.models import CategoryFilter

FEED_SORTS = ("upvotes", "for-you")


def feed_tail(cat: str, sort: str) -> str:
    """``&cat=...&sort=...`` for the links of a feed page (empty for the defaults)."""
    query = urlencode({k: v for k, v in (("cat", cat), ("sort", sort)) if v and v != "upvotes"})
    return f"&{query}" if query else ""


def sort_links(base: str, sort: str) -> list[tuple[str, str, bool]]:
    """(label, href, current) of a feed page's sort switch; ``base``: the page's address with
    its period and categories."""
    return [
        ("Upvotes", base, sort != "for-you"),
        ("For you", f"{base}&sort=for-you", sort == "for-you"),
    ]


def personal_view(
    request: Request, user_id: int, view: FeedView, categories: CategoryFilter | None
) -> tuple[FeedView, dict[str, Any]]:
    """``view``'s period ranked for the reader: that page of it, and each paper's reasons."""
    assert view.period is not None
    size = view.page_size
    ranked = request.app.state.services.foryou.for_user(
        user_id,
        view.period.start,
        view.period.end,
        categories=categories,
        explain=(view.page + 1) * size,
    )
    shown = ranked[view.page * size : (view.page + 1) * size]
    why = {r.item.paper.id: r.why for r in shown}
    page = dataclasses.replace(view, items=[r.item for r in shown], total=len(ranked))
    return page, why
