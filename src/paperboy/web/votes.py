"""Upvotes, paper submissions and the trending view (pages; the JSON routes are in ``api``).

- ``POST /papers/{id}/vote`` with ``vote=up`` or ``vote=none``: the state the user wants, so a
  double-click never counts twice. With htmx (``HX-Request``) the answer is the re-rendered vote
  box; without JavaScript, a 303 back to ``next``.
- ``GET/POST /submit``: add a recent arXiv paper to today's daily feed
  (``paperboy.community.submit`` holds the rules).
- ``GET /papers/trending?window=day|week|month&page=``: the ranking of
  ``paperboy.rank.service`` with each paper's score and a link to its breakdown.

The paper page gets its vote box, submitter and trending breakdown from the panels registered
here in ``paperboy.web.pages.PAPER_PANELS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from paperboy.arxiv_ids import parse_arxiv_id
from paperboy.community import limits
from paperboy.community.models import User
from paperboy.community.submit import SubmitRefused, SubmitResult, arxiv_fetch, submit_paper
from paperboy.errors import PaperNotFound
from paperboy.models import Paper
from paperboy.rank.service import DEFAULT_WINDOW, TrendingService
from paperboy.rank.trending import WINDOWS
from paperboy.store import SQLStore
from paperboy.web.auth import current_user, require_user, safe_next
from paperboy.web.errors import BadRequest, Forbidden
from paperboy.web.pages import PAPER_PANELS, NavLink
from paperboy.web.params import ArxivRef, Page, Word
from paperboy.web.templating import templates

router = APIRouter(include_in_schema=False)

VERIFY_FIRST = "Please verify your email first: the link is in the mail we sent you."


def _store(request: Request) -> SQLStore:
    store: SQLStore = request.app.state.store
    return store


def trending_service(request: Request) -> TrendingService:
    return TrendingService(_store(request).engine, request.app.state.settings.trending_gravity)


def hours(value: float) -> str:
    """Hours as ``Breakdown.formula()`` writes them: at most two decimals, no trailing zeros."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


# -- votes ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VoteOutcome:
    paper_id: str
    voted: bool  # the user's vote after the request
    changed: bool
    count: int  # the count every page shows: imported upvotes + votes here


def writer(request: Request) -> User:
    """The signed-in user, allowed to vote, submit and comment; else LoginRequired/Forbidden."""
    user = require_user(request)
    if not user.can_write:
        raise Forbidden(VERIFY_FIRST)
    return user


def visible_paper(store: SQLStore, arxiv_id: str) -> Paper:
    """The stored, not hidden paper named by ``arxiv_id`` (PaperNotFound otherwise)."""
    canonical = parse_arxiv_id(arxiv_id).canonical
    paper = store.get_paper(canonical)
    if paper is None:
        raise PaperNotFound(f"No paper {canonical} in this radar yet.")
    activity = store.activity.activity([canonical]).get(canonical)
    if activity is not None and activity.hidden_at is not None:
        raise PaperNotFound(f"{canonical} has been hidden by the moderators.")
    return paper


def cast_vote(request: Request, arxiv_id: str, on: bool) -> VoteOutcome:
    """Make the signed-in user's vote on the paper ``on`` or off (idempotent, rate limited)."""
    user = writer(request)
    store = _store(request)
    settings = request.app.state.settings
    limits.check(store.accounts, f"vote:user:{user.id}", settings.rate_vote, "votes")
    paper = visible_paper(store, arxiv_id)
    result = store.activity.set_vote(user.id, paper.id, on)
    count = store.vote_counts([paper.id]).get(paper.id, (0, 0))[0]
    return VoteOutcome(paper.id, result.voted, result.changed, count)


@router.post("/papers/{arxiv_id:path}/vote")
def vote(
    request: Request,
    arxiv_id: Annotated[ArxivRef, Path()],
    choice: str = Form("", alias="vote"),
    next_url: str = Form("", alias="next"),
) -> Response:
    """Upvote (``vote=up``) or take the upvote back (``vote=none``)."""
    if choice not in ("up", "none"):
        raise BadRequest("vote must be 'up' or 'none'", "vote")
    outcome = cast_vote(request, arxiv_id, choice == "up")
    back = safe_next(next_url, f"/papers/{outcome.paper_id}")
    if request.headers.get("hx-request"):
        return templates.TemplateResponse(
            request,
            "partials/vote.html",
            {
                "vote_paper_id": outcome.paper_id,
                "vote_count": outcome.count,
                "vote_voted": outcome.voted,
                "vote_next": back,
            },
        )
    return RedirectResponse(back, status_code=303)


def voted_set(request: Request, paper_ids: list[str]) -> set[str]:
    """Which of ``paper_ids`` the signed-in user upvoted (empty when nobody is signed in)."""
    user = current_user(request)
    if user is None or not paper_ids:
        return set()
    return _store(request).activity.voted(user.id, paper_ids)


# -- the paper page's panels ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PaperVote:
    count: int
    imported: int
    local: int
    voted: bool
    submitted_by: str | None
    submitted_on: date | None


def paper_votes_panel(request: Request, paper: Paper) -> dict[str, Any]:
    store = _store(request)
    count = store.vote_counts([paper.id]).get(paper.id, (0, 0))[0]
    local = store.activity.activity([paper.id]).get(paper.id)
    local_votes = local.votes if local is not None else 0
    daily = [e for e in store.feed_entries_for(paper.id) if e.source == "daily" and e.submitted_by]
    first = min(daily, key=lambda e: e.feed_date) if daily else None
    return {
        "paper_vote": PaperVote(
            count=count,
            imported=count - local_votes,
            local=local_votes,
            voted=bool(voted_set(request, [paper.id])),
            submitted_by=first.submitted_by if first is not None else None,
            submitted_on=first.feed_date if first is not None else None,
        )
    }


def paper_trending_panel(request: Request, paper: Paper) -> dict[str, Any]:
    return {
        "paper_trend": trending_service(request).paper(paper.id),
        "trend_hours": hours,
        "trend_days": dict(WINDOWS),
    }


for _panel in (paper_votes_panel, paper_trending_panel):
    if all(getattr(p, "__qualname__", None) != _panel.__qualname__ for p in PAPER_PANELS):
        PAPER_PANELS.append(_panel)


# -- trending ---------------------------------------------------------------------------------


@router.get("/papers/trending", response_class=HTMLResponse)
def trending(
    request: Request,
    window: Annotated[Word, Query()] = DEFAULT_WINDOW,
    page: Annotated[Page, Query()] = 1,
) -> HTMLResponse:
    """Papers ranked by trending score within the day, week (default) or month."""
    if window not in WINDOWS:
        raise BadRequest(f"window must be one of {', '.join(WINDOWS)}, got {window!r}", "window")
    service = trending_service(request)
    ranking = service.window(window)
    size = request.app.state.settings.page_size
    entries = service.page(ranking, (page - 1) * size, size)
    pages_count = max(1, -(-ranking.total // size))
    base = f"/papers/trending?window={window}"

    def href(n: int) -> str:
        return base if n == 1 else f"{base}&page={n}"

    context: dict[str, Any] = {
        "ranking": ranking,
        "entries": entries,
        "window_days": WINDOWS[window],
        "windows": [
            NavLink(name.capitalize(), f"/papers/trending?window={name}", name == window)
            for name in WINDOWS
        ],
        "pages": [NavLink(str(n), href(n), n == page) for n in range(1, pages_count + 1)]
        if ranking.total > size
        else [],
        "previous_page": href(page - 1) if page > 1 else None,
        "next_page": href(page + 1) if page < pages_count else None,
        "first_rank": (page - 1) * size + 1,
        "voted": voted_set(request, [b.paper_id for b, _ in entries]),
    }
    return templates.TemplateResponse(request, "trending.html", context)


# -- submissions ------------------------------------------------------------------------------


def submit_as(request: Request, user: User, ref: str) -> SubmitResult:
    """Run the submission rules for ``user`` (shared by the page and the API)."""
    store = _store(request)
    settings = request.app.state.settings
    today: date = request.app.state.today()
    return submit_paper(store, settings, user, ref, today, arxiv_fetch(settings, store))


def _submit_page(
    request: Request,
    *,
    ref: str = "",
    error: str | None = None,
    done: SubmitResult | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    settings = request.app.state.settings
    context = {
        "ref": ref,
        "error": error,
        "done": done,
        "max_age_days": settings.submit_max_age_days,
        "daily_cap": settings.submit_daily_cap,
    }
    return templates.TemplateResponse(request, "submit.html", context, status_code=status_code)


@router.get("/submit", response_class=HTMLResponse)
def submit_form(request: Request) -> HTMLResponse:
    """The submission form (signed-in users only)."""
    require_user(request)
    return _submit_page(request)


@router.post("/submit", response_class=HTMLResponse)
async def submit(request: Request, ref: str = Form("", max_length=2000)) -> HTMLResponse:
    """Submit a paper; the form comes back with the result or the reason it was refused."""
    user = require_user(request)
    try:
        done = await run_in_threadpool(submit_as, request, user, ref)
    except SubmitRefused as exc:
        return _submit_page(request, ref=ref, error=exc.message, status_code=exc.status)
    return _submit_page(request, done=done)
