"""The reader's own radar: ``/for-you``, its cold start, and its Atom feed.

- ``GET /for-you?days=1|7|30&cat=&page=``: the recent feed ranked for the signed-in reader
  (``paperboy.rank.recommend``), each paper with the reasons for its place, "New" on the papers
  that arrived since the last visit. A reader with nothing rated or followed gets the cold start.
- ``GET /for-you/setup``: the cold start forms: categories and authors to follow, seed papers
  (arXiv ids, URLs or DOIs, one a line), a library file (BibTeX or CSL JSON).
  ``POST /for-you/follow``, ``/for-you/seeds`` and ``/for-you/library`` take them; the last two
  answer one line per entry (matched, fetched from arXiv, not found).
- ``GET /for-you/{key}.atom``: the same ranking as an Atom feed, at a secret address shown on
  the page (``POST /for-you/feed-key`` replaces it; the old address stops working).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from paperboy.categories import CategoryFilter, parse_categories
from paperboy.community.library import MAX_BYTES, Resolution
from paperboy.errors import Invalid, NotFound
from paperboy.rank.personal_records import Profile
from paperboy.rank.recommend import Ranked, Recommender
from paperboy.syndication import ATOM_TYPE, FeedDoc, atom
from paperboy.web.auth import current_user, require_user
from paperboy.web.feeds import base_url, paper_item
from paperboy.web.params import Page
from paperboy.web.ratings import rated, ratings_service
from paperboy.web.responses import redirect, render

router = APIRouter(include_in_schema=False)

DAYS = (1, 7, 30)
PAGE_SIZE = 30
FEED_ITEMS = 30
SEEDS_MAX = 20_000  # characters of pasted seed papers
AUTHORS_MAX = 20_000  # characters of the followed authors' box


def recommender(request: Request) -> Recommender:
    foryou: Recommender = request.app.state.services.foryou
    return foryou


def _filter(cat: str) -> CategoryFilter | None:
    return parse_categories(cat) if cat.strip() else None


def ranked_for(
    request: Request,
    user_id: int,
    days: int,
    cat: str,
    explain: int,
    profile: Profile | None = None,
) -> list[Ranked]:
    """The papers of the last ``days`` feed days the reader has not rated, ranked for them,
    the first ``explain`` with reasons (empty for an empty store)."""
    store = request.app.state.store
    end = store.latest_feed_date()
    if end is None:
        return []
    start = end - timedelta(days=days - 1)
    return recommender(request).for_user(
        user_id,
        start,
        end,
        categories=_filter(cat),
        explain=explain,
        unrated_only=True,
        profile=profile,
    )


@router.get("/for-you", response_class=HTMLResponse)
def for_you(
    request: Request,
    days: Annotated[int, Query(ge=1, le=30)] = 7,
    cat: Annotated[str, Query(max_length=200)] = "",
    page: Annotated[Page, Query()] = 1,
) -> Response:
    """Recent papers ranked for you, each with why."""
    user = current_user(request)
    if user is None:
        return render(request, "foryou.html", {"signed_out": True})
    if days not in DAYS:
        raise Invalid(f"days must be one of {', '.join(map(str, DAYS))}", "days")
    service = recommender(request)
    profile = service.profile(user.id)
    if service.is_empty(profile):
        return redirect("/for-you/setup")
    follows = request.app.state.store.ratings.profile(user.id)
    ranking = ranked_for(request, user.id, days, cat, page * PAGE_SIZE, profile)
    window = ranking[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    pages = max(1, -(-len(ranking) // PAGE_SIZE))
    base = f"/for-you?days={days}" + (f"&cat={cat}" if cat else "")
    since = follows.last_visit_at
    if page == 1:
        request.app.state.store.ratings.visited(user.id)
    context: dict[str, Any] = {
        "ranking": window,
        "total": len(ranking),
        "days": days,
        "day_links": [(d, f"/for-you?days={d}" + (f"&cat={cat}" if cat else "")) for d in DAYS],
        "cat": cat,
        "first_rank": (page - 1) * PAGE_SIZE + 1,
        "since": since,
        "new_count": sum(
            1 for r in ranking if since is not None and r.item.entry.feed_date > since.date()
        ),
        "ratings": rated(request, [r.item.paper.id for r in window]),
        "voted": request.app.state.services.votes.voted(user, [r.item.paper.id for r in window]),
        "previous_page": f"{base}&page={page - 1}" if page > 1 else None,
        "next_page": f"{base}&page={page + 1}" if page < pages else None,
        "page": page,
        "feed_url": f"/for-you/{request.app.state.store.ratings.feed_key(user.id)}.atom",
        "profile": follows,
        "today": request.app.state.today(),
    }
    return render(request, "foryou.html", context)


# -- cold start -------------------------------------------------------------------------------


def _setup(request: Request, **extra: Any) -> HTMLResponse:
    user = require_user(request)
    context: dict[str, Any] = {
        "profile": ratings_service(request).profile(user),
        "counts": request.app.state.store.ratings.count_of(user.id),
        "max_kib": MAX_BYTES // 1024,
        "lines": None,
        "error": None,
        **extra,
    }
    status = 400 if context["error"] else 200
    return render(request, "foryou_setup.html", context, status_code=status)


@router.get("/for-you/setup", response_class=HTMLResponse)
def setup(request: Request) -> HTMLResponse:
    """Tell Paperboy what you read: categories, authors, papers, a library file."""
    return _setup(request)


@router.post("/for-you/follow")
def follow(
    request: Request,
    categories: str = Form("", max_length=200),
    authors: str = Form("", max_length=AUTHORS_MAX),
) -> Response:
    """Replace the categories and authors you follow."""
    user = require_user(request)
    names = [line.strip() for line in authors.splitlines()]
    ratings_service(request).follow(user, categories=categories, authors=names)
    return redirect("/for-you/setup#follow")


def _seeded(request: Request, resolutions: list[Resolution]) -> HTMLResponse:
    added = sum(1 for r in resolutions if r.paper is not None and r.how != "duplicate")
    return _setup(request, lines=[r.message for r in resolutions], added=added)


@router.post("/for-you/seeds", response_class=HTMLResponse)
def seeds(request: Request, papers: str = Form("", max_length=SEEDS_MAX)) -> HTMLResponse:
    """Papers you like, one arXiv id, arXiv URL or DOI a line: each becomes "more like this"."""
    user = require_user(request)
    if not papers.strip():
        return _setup(request, error="Paste at least one arXiv id, arXiv URL or DOI.")
    done = request.app.state.services.cold_start.seed(user, papers.encode(), None, "seed")
    return _seeded(request, done)


@router.post("/for-you/library", response_class=HTMLResponse)
async def library(request: Request, file: Annotated[UploadFile, File()]) -> HTMLResponse:
    """A library file (BibTeX or CSL JSON): its papers become "more like this"."""
    from starlette.concurrency import run_in_threadpool

    user = require_user(request)
    data = await file.read(MAX_BYTES + 1)
    cold = request.app.state.services.cold_start
    done = await run_in_threadpool(cold.seed, user, data, file.filename, "library")
    return _seeded(request, done)


# -- the reader's Atom feed -------------------------------------------------------------------


@router.post("/for-you/feed-key")
def renew_feed_key(request: Request) -> Response:
    """A new secret address for your feed; the old one stops working."""
    request.app.state.store.ratings.feed_key(require_user(request).id, renew=True)
    return redirect("/for-you#feed")


@router.get("/for-you/{key}.atom")
def feed(request: Request, key: Annotated[str, Path(min_length=8, max_length=64)]) -> Response:
    """Your papers of the last week, best first, as Atom (the address is the credential)."""
    store = request.app.state.store
    user_id = store.ratings.user_of_feed_key(key)
    if user_id is None:
        raise NotFound("No such feed: its address may have been replaced.")
    base = base_url(request)
    ranking = ranked_for(request, user_id, 7, "", FEED_ITEMS)[:FEED_ITEMS]
    items = []
    for r in ranking:
        why = "; ".join(reason.label for reason in r.why[:3])
        summary = (f"Why: {why}\n\n" if why else "") + (r.item.paper.abstract or "")
        items.append(paper_item(base, r.item.paper, updated=None, summary=summary))
    doc = FeedDoc(
        title=f"{request.app.state.settings.site_name}: for you",
        link=f"{base}/for-you",
        self_link=f"{base}/for-you/{key}.atom",
        description="The week's papers ranked for one reader.",
        items=tuple(items),
    )
    return Response(atom(doc), media_type=ATOM_TYPE)
