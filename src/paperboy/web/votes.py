"""Upvotes, paper submissions and the trending view (pages; the JSON routes are in ``api``).

- ``POST /papers/{id}/vote`` with ``vote=up`` or ``vote=none``: the state the user wants, so a
  double-click never counts twice. With htmx (``HX-Request``) the answer is the re-rendered vote
  box; without JavaScript, a 303 back to ``next``.
- ``GET/POST /submit``: add a recent arXiv paper to today's daily feed
  (``paperboy.community.submit`` holds the rules).
- ``GET /papers/trending?window=day|week|month&page=``: the ranking of
  ``paperboy.rank.service`` with each paper's score and a link to its breakdown.

The rules (who may vote or submit, rate limits, hidden papers) are in
``paperboy.community.votes``; the paper page's vote box, submitter and trending breakdown come
from the panels here, listed in ``paperboy.web.app.PAPER_PANELS``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from paperboy.community.submit import SubmitRefused, SubmitResult
from paperboy.community.votes import Votes
from paperboy.errors import Invalid
from paperboy.models import Paper
from paperboy.rank.service import DEFAULT_WINDOW, TrendingService
from paperboy.rank.trending import WINDOWS
from paperboy.web.auth import current_user, require_user, safe_next
from paperboy.web.errors import status_of
from paperboy.web.pages import NavLink
from paperboy.web.params import ArxivRef, Page, Word
from paperboy.web.responses import redirect, render, settings_of

router = APIRouter(include_in_schema=False)


def votes_service(request: Request) -> Votes:
    """The vote and submission rules over this app's store (cheap to build per request)."""
    votes: Votes = request.app.state.services.votes
    return votes


def trending_service(request: Request) -> TrendingService:
    trending: TrendingService = request.app.state.services.trending
    return trending


def hours(value: float) -> str:
    """Hours as ``Breakdown.formula()`` writes them: at most two decimals, no trailing zeros."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


# -- votes ------------------------------------------------------------------------------------


@router.post("/papers/{arxiv_id:path}/vote")
def vote(
    request: Request,
    arxiv_id: Annotated[ArxivRef, Path()],
    choice: str = Form("", alias="vote"),
    next_url: str = Form("", alias="next"),
) -> Response:
    """Upvote (``vote=up``) or take the upvote back (``vote=none``)."""
    if choice not in ("up", "none"):
        raise Invalid("vote must be 'up' or 'none'", "vote")
    outcome = votes_service(request).cast(current_user(request), arxiv_id, choice == "up")
    back = safe_next(next_url, f"/papers/{outcome.paper_id}")
    if request.headers.get("hx-request"):
        return render(
            request,
            "partials/vote.html",
            {
                "vote_paper_id": outcome.paper_id,
                "vote_count": outcome.count,
                "vote_voted": outcome.voted,
                "vote_next": back,
            },
        )
    return redirect(back)


def voted_set(request: Request, paper_ids: list[str]) -> set[str]:
    """Which of ``paper_ids`` the signed-in user upvoted (empty when nobody is signed in)."""
    return votes_service(request).voted(current_user(request), paper_ids)


# -- the paper page's panels ------------------------------------------------------------------


def paper_votes_panel(request: Request, paper: Paper) -> dict[str, Any]:
    return {"paper_vote": votes_service(request).paper(current_user(request), paper)}


def paper_trending_panel(request: Request, paper: Paper) -> dict[str, Any]:
    return {
        "paper_trend": trending_service(request).paper(paper.id),
        "trend_hours": hours,
        "trend_days": dict(WINDOWS),
    }


# -- trending ---------------------------------------------------------------------------------


@router.get("/papers/trending", response_class=HTMLResponse)
def trending(
    request: Request,
    window: Annotated[Word, Query()] = DEFAULT_WINDOW,
    page: Annotated[Page, Query()] = 1,
) -> HTMLResponse:
    """Papers ranked by trending score within the day, week (default) or month."""
    if window not in WINDOWS:
        raise Invalid(f"window must be one of {', '.join(WINDOWS)}, got {window!r}", "window")
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
    return render(request, "trending.html", context)


# -- submissions ------------------------------------------------------------------------------


def _submit_page(
    request: Request,
    *,
    ref: str = "",
    error: str | None = None,
    done: SubmitResult | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    settings = settings_of(request)
    context = {
        "ref": ref,
        "error": error,
        "done": done,
        "max_age_days": settings.submit_max_age_days,
        "daily_cap": settings.submit_daily_cap,
    }
    return render(request, "submit.html", context, status_code=status_code)


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
        done = await run_in_threadpool(votes_service(request).submit, user, ref)
    except SubmitRefused as exc:
        return _submit_page(request, ref=ref, error=str(exc), status_code=status_of(exc))
    return _submit_page(request, done=done)
