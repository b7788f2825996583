"""Feeds and exports: RSS 2.0 / Atom 1.0 feeds, BibTeX lists and a user's data export.

Feeds (``/feeds/daily``, ``/feeds/trending``, ``/collections/{id}/feed``, ``/search/feed``,
each as ``.rss`` and ``.atom``) are built by ``paperboy.syndication`` with absolute links from
``settings.base_url``; every item links to the paper's page on this site. Feeds are for anyone:
they never show a private collection (404, as for a missing one) or a paper hidden by the
moderators.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import date, datetime, time
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from paperboy.arxiv_ids import parse_arxiv_id
from paperboy.bibtex import bibtex
from paperboy.categories import parse_categories
from paperboy.community.collections import Collections
from paperboy.community.export import export_user
from paperboy.community.papers import hidden_from
from paperboy.errors import Invalid, InvalidArxivId, NotFound
from paperboy.feed import daily_feed, parse_date, period_of
from paperboy.models import Paper
from paperboy.rank.service import FORMULA, TrendingService
from paperboy.rank.trending import WINDOWS
from paperboy.search.service import SearchService
from paperboy.syndication import ATOM_TYPE, RSS_TYPE, FeedDoc, FeedItemDoc, atom, rss
from paperboy.web.auth import current_user, login_url
from paperboy.web.params import (
    CategoryText,
    DateFilterText,
    FeedSearchText,
    FilterText,
    PeriodText,
    Word,
)
from paperboy.web.params import (
    IdPath as CollectionId,
)
from paperboy.web.responses import redirect
from paperboy.web.search_form import SearchFilters, search_text

router = APIRouter(include_in_schema=False)

Format = Annotated[Word, Path()]

FORMATS = {"rss": (rss, RSS_TYPE), "atom": (atom, ATOM_TYPE)}
DAILY_ITEMS = 200
TRENDING_ITEMS = 50
COLLECTION_ITEMS = 100
SEARCH_ITEMS = 50
MAX_BIBTEX_IDS = 200
BIBTEX_TYPE = "application/x-bibtex; charset=utf-8"
_ECHO_ID = re.compile(r"[^A-Za-z0-9._/:-]")


def base_url(request: Request) -> str:
    return str(request.app.state.settings.site_url)


def _site(request: Request) -> str:
    return str(request.app.state.settings.site_name)


def _format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise NotFound(f"Feeds come as .rss or .atom, not .{fmt}.")
    return fmt


def _respond(fmt: str, doc: FeedDoc) -> Response:
    build, media_type = FORMATS[fmt]
    return Response(build(doc), media_type=media_type)


def _self(request: Request, path: str, params: dict[str, str] | None = None) -> str:
    query = urlencode({k: v for k, v in (params or {}).items() if v})
    return base_url(request) + path + (f"?{query}" if query else "")


def paper_item(
    base: str, paper: Paper, *, updated: datetime | None, summary: str | None = None
) -> FeedItemDoc:
    """A paper as a feed entry, linking to its page here (also its id: unique per paper)."""
    link = f"{base}/papers/{paper.id}"
    return FeedItemDoc(
        id=link,
        title=paper.title,
        link=link,
        summary=paper.abstract if summary is None else summary,
        authors=tuple(paper.authors),
        published=paper.published,
        updated=updated,
        categories=tuple(paper.categories),
    )


def _visible(request: Request, pairs: Iterable[tuple[Paper, Any]]) -> list[tuple[Paper, Any]]:
    """Each paper once, none hidden by the moderators, in the given order."""
    hidden = hidden_from(request.app.state.store)
    seen: set[str] = set()
    out = []
    for paper, extra in pairs:
        if paper.id in hidden or paper.id in seen:
            continue
        seen.add(paper.id)
        out.append((paper, extra))
    return out


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time())


# -- daily ------------------------------------------------------------------------------------


@router.get("/feeds/daily.{fmt}")
def daily(
    request: Request,
    fmt: Format,
    day: Annotated[PeriodText | None, Query(alias="date")] = None,
    cat: Annotated[CategoryText, Query()] = "",
) -> Response:
    """The papers of one day (the latest with papers, or ``?date=YYYY-MM-DD``), in the order
    of the daily page; ``cat`` narrows them to categories as on the page."""
    fmt = _format(fmt)
    wanted = parse_categories(cat)
    store = request.app.state.store
    base = base_url(request)
    chosen = parse_date(day) if day else store.latest_feed_date()
    items: list[FeedItemDoc] = []
    if chosen is not None:
        view = daily_feed(
            store, period_of("day", chosen), page_size=DAILY_ITEMS, categories=wanted or None
        )
        pairs = _visible(request, ((item.paper, item.entry.feed_date) for item in view.items))
        items = [paper_item(base, p, updated=_midnight(d)) for p, d in pairs]
    title = f"{_site(request)}: daily {wanted.describe() if wanted else 'papers'}"
    if chosen is not None:
        title += f" of {chosen:%B %-d, %Y}"
    doc = FeedDoc(
        title=title,
        link=f"{base}/papers?date={chosen.isoformat()}" if chosen else f"{base}/",
        self_link=_self(request, f"/feeds/daily.{fmt}", {"date": day or "", "cat": cat}),
        description="The day's papers, most upvoted first.",
        items=tuple(items),
        updated=_midnight(chosen) if chosen else None,
    )
    return _respond(fmt, doc)


# -- trending ---------------------------------------------------------------------------------


def trending_papers(request: Request, window: str, limit: int) -> tuple[list[Any], datetime]:
    """The window's trending ranking (the order of ``/papers/trending``): (paper, day it
    entered the feed) pairs, best first, and the reference time the scores are measured at."""
    trending_service: TrendingService = request.app.state.services.trending
    ranking = trending_service.window(window)
    pairs = [(item.paper, b.entered) for b, item in trending_service.page(ranking, 0, limit)]
    return pairs, ranking.now


@router.get("/feeds/trending.{fmt}")
def trending(request: Request, fmt: Format, window: Word = "week") -> Response:
    """What is trending over a window (``day``, ``week`` or ``month``)."""
    fmt = _format(fmt)
    if window not in WINDOWS:
        known = ", ".join(WINDOWS)
        raise Invalid(f"window must be one of {known}, not {window!r}.", "window")
    base = base_url(request)
    ranked, now = trending_papers(request, window, TRENDING_ITEMS)
    items = [paper_item(base, p, updated=entered) for p, entered in _visible(request, ranked)]
    doc = FeedDoc(
        title=f"{_site(request)}: trending this {window}",
        link=f"{base}/papers/trending?{urlencode({'window': window})}",
        self_link=_self(request, f"/feeds/trending.{fmt}", {"window": window}),
        description=f"The papers trending over the last {window}, best first: {FORMULA}.",
        items=tuple(items),
        updated=now,
    )
    return _respond(fmt, doc)


# -- collections ------------------------------------------------------------------------------


@router.get("/collections/{collection_id:int}/feed.{fmt}")
def collection_feed(request: Request, collection_id: CollectionId, fmt: Format) -> Response:
    """A public collection, newest added first; each entry's summary starts with its note.
    A private collection has no feed (404 for everyone, its owner included)."""
    fmt = _format(fmt)
    collections: Collections = request.app.state.services.collections
    found = collections.visible(None, collection_id)
    items_, _total = collections.store.items(found.id, limit=COLLECTION_ITEMS)
    base = base_url(request)
    items = []
    for item in items_:
        summary = item.paper.abstract
        if item.note:
            summary = f"Note: {item.note}\n\n{summary}"
        items.append(paper_item(base, item.paper, updated=item.added_at, summary=summary))
    doc = FeedDoc(
        title=f"{found.name} ({found.owner}) · {_site(request)}",
        link=f"{base}/collections/{found.id}",
        self_link=_self(request, f"/collections/{found.id}/feed.{fmt}"),
        description=found.description or f"A collection of papers by {found.owner}.",
        items=tuple(items),
        updated=found.updated_at,
    )
    return _respond(fmt, doc)


# -- search -----------------------------------------------------------------------------------


@router.get("/search/feed.{fmt}")
def search_feed(
    request: Request,
    fmt: Format,
    q: FeedSearchText = "",
    mode: Word = "hybrid",
    cat: FilterText = "",
    author: FilterText = "",
    since: DateFilterText = "",
    until: DateFilterText = "",
) -> Response:
    """The newest of a search's best results: the top matches, newest published first."""
    fmt = _format(fmt)
    fields = SearchFilters(mode, cat, author, since, until)
    chosen, filters = fields.chosen, fields.filters
    text = search_text(q, filters)
    search: SearchService = request.app.state.search
    results = search.search(text, mode=chosen, page=1, per_page=SEARCH_ITEMS)
    hits = sorted(
        (hit.paper for hit in results.hits),
        key=lambda p: (p.published is not None, p.published or datetime.min, p.id),
        reverse=True,
    )
    pairs = _visible(request, ((paper, None) for paper in hits))
    base = base_url(request)
    items = [paper_item(base, p, updated=p.updated or p.published) for p, _ in pairs]
    params = {"q": q, "mode": chosen if chosen != "hybrid" else "", **filters}
    described = results.query.describe() if not results.query.is_empty else "nothing"
    doc = FeedDoc(
        title=f"{_site(request)}: search for {text or 'nothing'}",
        link=_self(request, "/search", params),
        self_link=_self(request, f"/search/feed.{fmt}", params),
        description=f"The newest papers among the best matches for {described}.",
        items=tuple(items),
    )
    return _respond(fmt, doc)


# -- BibTeX -----------------------------------------------------------------------------------


def _bibtex_response(entries: list[str], missing: list[str], filename: str) -> Response:
    lines = [f"% not found: {ref}\n" for ref in missing]
    body = "".join(lines) + ("\n" if lines and entries else "") + "\n".join(entries)
    return Response(
        body,
        media_type=BIBTEX_TYPE,
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )


@router.get("/bibtex")
def bibtex_list(request: Request, ids: str = Query("", max_length=20_000)) -> Response:
    """BibTeX for a comma-separated list of arXiv ids (at most 200); ids that name no paper
    here are listed first as ``% not found: ...`` comments."""
    refs = [ref.strip() for ref in ids.split(",") if ref.strip()]
    if not refs:
        raise Invalid("Give arXiv ids: /bibtex?ids=2401.12345,2402.00001", "ids")
    if len(refs) > MAX_BIBTEX_IDS:
        raise Invalid(f"At most {MAX_BIBTEX_IDS} ids at a time ({len(refs)} given).", "ids")
    store = request.app.state.store
    canonical: list[str | None] = []
    for ref in refs:
        try:
            canonical.append(parse_arxiv_id(ref).canonical)
        except InvalidArxivId:
            canonical.append(None)
    found = store.get_papers([c for c in canonical if c is not None])
    user = current_user(request)
    hidden = hidden_from(store, user)
    entries: dict[str, str] = {}
    missing: list[str] = []
    for ref, paper_id in zip(refs, canonical, strict=True):
        paper = found.get(paper_id) if paper_id is not None else None
        if paper is None or paper.id in hidden:
            # only id characters are echoed: nothing can start an entry or unbalance braces
            missing.append(_ECHO_ID.sub("", paper_id or ref)[:64] or "(unreadable id)")
        elif paper.id not in entries:
            entries[paper.id] = bibtex(paper)
    return _bibtex_response(list(entries.values()), missing, "papers.bib")


@router.get("/collections/{collection_id:int}.bib")
def collection_bibtex(request: Request, collection_id: CollectionId) -> Response:
    """BibTeX for every paper of a collection (same visibility as its page)."""
    user = current_user(request)
    collections: Collections = request.app.state.services.collections
    found = collections.visible(user, collection_id)
    owner = user is not None and user.id == found.user_id
    items, _total = collections.store.items(found.id, limit=None, include_hidden=owner)
    entries = [bibtex(item.paper) for item in items]
    return _bibtex_response(entries, [], f"collection-{found.id}.bib")


# -- the user's data --------------------------------------------------------------------------


@router.get("/settings/export.json")
def export(request: Request) -> Response:
    """Everything the logged-in user made here, as one JSON file to download."""
    user = current_user(request)
    if user is None:
        return redirect(login_url(request))
    document = export_user(request.app.state.store, user)
    filename = re.sub(r"[^A-Za-z0-9_.-]", "_", user.username)
    return Response(
        json.dumps(document, ensure_ascii=False, indent=2),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="paperboy-{filename}.json"',
            "Cache-Control": "no-store",
        },
    )
