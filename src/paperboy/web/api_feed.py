"""The items of ``GET /api/daily_papers``: one page of a period's feed by upvotes, by date, by
trending score (``paperboy.rank.service``) or ranked for the reader (``sort=for-you``,
``paperboy.rank.recommend``), narrowed to a submitter and to categories."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request

from paperboy.feed import Period, daily_feed, period_of
from paperboy.models import CategoryFilter, FeedItem
from paperboy.rank.service import TrendingService
from paperboy.store.base import FeedSort
from paperboy.web.auth import require_user

STORE_SORTS: dict[str, FeedSort] = {"upvotes": "upvotes", "publishedAt": "published"}
"""Sorts the store does itself."""


@dataclass(frozen=True, slots=True)
class FeedQuery:
    period: Period | None  # None: the latest day with papers
    page: int  # 0-based
    limit: int
    submitter: str | None
    categories: CategoryFilter


def _narrowed(items: list[FeedItem], query: FeedQuery) -> list[FeedItem]:
    """Only the submitter's entries (when asked), then that page."""
    if query.submitter:
        items = [i for i in items if i.entry.submitted_by == query.submitter]
    return items[query.page * query.limit : (query.page + 1) * query.limit]


def _period(request: Request, query: FeedQuery) -> Period | None:
    if query.period is not None:
        return query.period
    latest = request.app.state.store.latest_feed_date()
    return None if latest is None else period_of("day", latest)


def _stored(request: Request, query: FeedQuery, sort: FeedSort) -> list[FeedItem]:
    """The store pages by upvotes or date itself; with a submitter, the whole period (a day,
    a week or a month of entries) is read and paged in memory."""
    store = request.app.state.store
    wanted = query.categories or None
    view = daily_feed(
        store, query.period, page=query.page, page_size=query.limit, sort=sort, categories=wanted
    )
    if not query.submitter:
        return view.items
    if view.period is None or view.total == 0:
        return []
    everything = daily_feed(
        store, view.period, page=0, page_size=view.total, sort=sort, categories=wanted
    )
    return _narrowed(everything.items, query)


def _trending(request: Request, query: FeedQuery) -> list[FeedItem]:
    """Trending order, measured at the end of the period (never after the reference time)."""
    period = _period(request, query)
    if period is None:
        return []
    service: TrendingService = request.app.state.services.trending
    if not query.submitter and not query.categories:
        offset = query.page * query.limit
        return service.feed_page(period.start, period.end, offset=offset, limit=query.limit)
    scored, _ = service.feed_order(period.start, period.end)
    everything = service.feed_page(period.start, period.end, offset=0, limit=len(scored))
    kept = [i for i in everything if query.categories.matches(i.paper.categories)]
    return _narrowed(kept, query)


def _for_you(request: Request, query: FeedQuery) -> list[FeedItem]:
    """Ranked for the signed-in reader (a bearer token's, or a session's)."""
    user = require_user(request)
    period = _period(request, query)
    if period is None:
        return []
    ranked = request.app.state.services.foryou.for_user(
        user.id, period.start, period.end, categories=query.categories or None, explain=0
    )
    return _narrowed([r.item for r in ranked], query)


_RANKERS: dict[str, Callable[[Request, FeedQuery], list[FeedItem]]] = {
    "trending": _trending,
    "for-you": _for_you,
}


def feed_items(request: Request, query: FeedQuery, sort: str) -> list[FeedItem]:
    """One page of the feed in ``sort`` order (upvotes, publishedAt, trending, for-you)."""
    ranker = _RANKERS.get(sort)
    if ranker is not None:
        return ranker(request, query)
    return _stored(request, query, STORE_SORTS[sort])
