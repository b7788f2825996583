"""A reader's private ratings on the site: the buttons' target, the ratings page, and the
one-click rating links of digest mails.

- ``POST /papers/{id}/rate`` with ``value`` 1 ("more like this"), -1 ("not for me") or 0 (undo)
  and ``source`` (where the buttons were: card, paper, search, similar). With htmx the answer
  is the re-rendered buttons; without JavaScript, a 303 back to ``next``.
- ``GET /settings/ratings?page=``: every rating, newest first, each with undo; what the reader
  follows; a button to delete them all.
- ``GET /rate?token=``: a digest's link. It only shows what the link would do and a button: a
  link scanner that fetches every URL of a mail rates nothing. ``POST /rate`` (the button)
  takes the rating, authorised by the signed token alone (no cookie or login needed; the path
  is CSRF-exempt like ``/unsubscribe``).

The rules are in ``paperboy.community.ratings``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from paperboy.community.accounts import AccountError
from paperboy.community.ratings import Ratings, mailed_rating
from paperboy.errors import Invalid, PaperNotFound
from paperboy.models import RATING_SOURCES
from paperboy.web.auth import current_user, require_user, safe_next
from paperboy.web.params import ArxivRef, Page
from paperboy.web.responses import redirect, render

router = APIRouter(include_in_schema=False)

TOKEN_MAX = 1000  # characters of a rating link's token


def ratings_service(request: Request) -> Ratings:
    ratings: Ratings = request.app.state.services.ratings
    return ratings


def rated(request: Request, paper_ids: list[str]) -> dict[str, int]:
    """The signed-in reader's ratings of ``paper_ids`` (empty for a visitor)."""
    return ratings_service(request).of(current_user(request), paper_ids)


def _value(text: str) -> int:
    if text not in ("1", "-1", "0"):
        raise Invalid("value must be 1 (more like this), -1 (not for me) or 0 (undo)", "value")
    return int(text)


@router.post("/papers/{arxiv_id:path}/rate")
def rate(
    request: Request,
    arxiv_id: Annotated[ArxivRef, Path()],
    value: str = Form("", max_length=2),
    source: str = Form("card", max_length=16),
    next_url: str = Form("", alias="next", max_length=2000),
) -> Response:
    """Rate a paper for yourself: more like this (1), not for me (-1), or undo (0)."""
    if source not in RATING_SOURCES:
        raise Invalid(f"source must be one of {', '.join(RATING_SOURCES)}", "source")
    service = ratings_service(request)
    user = require_user(request)
    outcome = service.rate(user, arxiv_id, _value(value), source)
    back = safe_next(next_url, f"/papers/{outcome.paper_id}")
    if request.headers.get("hx-request"):
        context = {
            "rate_paper_id": outcome.paper_id,
            "rate_value": outcome.value,
            "rate_source": source,
            "rate_next": back,
        }
        return render(request, "partials/rate.html", context)
    return redirect(back)


@router.get("/settings/ratings", response_class=HTMLResponse)
def ratings_page(request: Request, page: Annotated[Page, Query()] = 1) -> HTMLResponse:
    """Your ratings, newest first, with undo; what you follow."""
    user = require_user(request)
    service = ratings_service(request)
    rows, total = service.page(user, page)
    size = 50
    pages = max(1, -(-total // size))
    context = {
        "rows": rows,
        "total": total,
        "profile": service.profile(user),
        "previous_page": f"/settings/ratings?page={page - 1}" if page > 1 else None,
        "next_page": f"/settings/ratings?page={page + 1}" if page < pages else None,
        "page": page,
    }
    return render(request, "account/ratings.html", context)


@router.post("/settings/ratings/delete")
def delete_ratings(request: Request) -> Response:
    """Delete every rating and follow of yours (the account stays)."""
    ratings_service(request).forget(require_user(request))
    return redirect("/settings/ratings")


def _mailed_page(request: Request, token: str) -> Response:
    """The page of a rating link that was not (or could not be) taken: what it would do, with
    its button, or why the link does not work."""
    context: dict[str, object] = {"token": token, "done": False, "error": None, "paper": None}
    try:
        mailed = mailed_rating(request.app.state.secret, token)
        paper = ratings_service(request).store.get_paper(mailed.paper_id)
        if paper is None:
            raise PaperNotFound(mailed.paper_id)
    except AccountError as exc:  # the token is the credential
        return render(request, "rate_link.html", {**context, "error": str(exc)}, 403)
    except PaperNotFound:
        error = "That paper is not here any more."
        return render(request, "rate_link.html", {**context, "error": error}, 404)
    return render(request, "rate_link.html", {**context, "value": mailed.value, "paper": paper})


@router.get("/rate", response_class=HTMLResponse)
def rate_link(
    request: Request, token: Annotated[str, Query(max_length=TOKEN_MAX)] = ""
) -> Response:
    """What a digest's rating link would do, with the button that does it."""
    return _mailed_page(request, token)


@router.post("/rate", response_class=HTMLResponse)
def rate_link_post(request: Request, token: str = Form("", max_length=TOKEN_MAX)) -> Response:
    """Take the rating a digest's link names (its signed token is the only credential)."""
    try:
        mailed, paper = ratings_service(request).rate_mailed(request.app.state.secret, token)
    except (AccountError, PaperNotFound):
        return _mailed_page(request, token)
    context = {"token": token, "done": True, "error": None, "value": mailed.value, "paper": paper}
    return render(request, "rate_link.html", context)
