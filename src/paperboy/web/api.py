"""The JSON API, compatible with Hugging Face's Papers API (``/api/daily_papers``, ``/api/papers``).

Routes stay thin: parse parameters, ask ``paperboy.feed`` or the store, hand the records to
``paperboy.hfapi`` for shaping. Bad input raises domain errors; ``paperboy.web.errors`` turns them
into 400/404 JSON bodies that name the parameter.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from fastapi.types import DecoratedCallable
from pydantic import BaseModel

from paperboy import hfapi
from paperboy.arxiv_ids import parse_arxiv_id
from paperboy.categories import parse_categories
from paperboy.community.papers import shown_paper
from paperboy.community.submit import SubmitRefused
from paperboy.community.votes import Votes
from paperboy.errors import Invalid, NotAllowed
from paperboy.feed import parse_period
from paperboy.hfapi import hf_datetime
from paperboy.models import FeedItem
from paperboy.rank.service import TrendingService, as_json
from paperboy.search.service import Mode, SearchService, Why
from paperboy.web.api_feed import FeedQuery, feed_items
from paperboy.web.auth import current_user, require_user
from paperboy.web.errors import status_of
from paperboy.web.params import (
    MAX_DAILY_LIMIT,
    MAX_SEARCH_LIMIT,
    MAX_SIMILAR,
    PUSH_BODY,
    ApiError,
    ApiPage,
    ArxivRef,
    CategoryText,
    DailyLimit,
    Name,
    PeriodText,
    SearchLimit,
    SearchText,
    SimilarLimit,
    SubmitIn,
    json_body,
)

router = APIRouter(prefix="/api", tags=["papers"])

ApiSort = Literal["publishedAt", "trending", "for-you"]
MAX_LIMIT = MAX_DAILY_LIMIT
TrendingWindow = Literal["day", "week", "month"]


_BAD_REQUEST: dict[int | str, dict[str, Any]] = {
    400: {"model": ApiError, "description": "A parameter is malformed; `parameter` names it."}
}


def _paper_list(
    path: str, summary: str, description: str
) -> Callable[[DecoratedCallable], DecoratedCallable]:
    """The route of a GET that answers a JSON list of papers (400 for a bad parameter)."""
    return router.get(
        path,
        summary=summary,
        response_description=description,
        responses=_BAD_REQUEST,
        response_model=list[dict[str, Any]],
    )


@_paper_list(
    "/daily_papers",
    "Daily papers",
    "Feed items shaped like Hugging Face's /api/daily_papers items.",
)
def daily_papers(
    request: Request,
    day: Annotated[
        PeriodText | None,
        Query(
            alias="date",
            description="Day in ISO format (YYYY-MM-DD). Give at most one of date, week and "
            "month; with none, the latest day that has papers.",
            examples=["2024-05-27"],
        ),
    ] = None,
    week: Annotated[
        PeriodText | None,
        Query(description="ISO week (YYYY-Www), e.g. 2025-W09.", examples=["2025-W09"]),
    ] = None,
    month: Annotated[
        PeriodText | None,
        Query(description="Month (YYYY-MM), e.g. 2025-02.", examples=["2025-02"]),
    ] = None,
    p: Annotated[ApiPage, Query(description="Page number, 0-based.")] = 0,
    limit: Annotated[DailyLimit, Query(description=f"Papers per page, 1 to {MAX_LIMIT}.")] = 50,
    sort: Annotated[
        ApiSort | None,
        Query(
            description="publishedAt: newest feed day first, then newest paper; trending: by "
            "trending score, (imported upvotes + local votes) / (hours since the paper entered "
            "the feed + 2)^gravity, measured at the end of the period. Default: most upvoted "
            "first, as Hugging Face answers without sort. for-you (Paperboy extension): ranked "
            "for the reader of the bearer token (or session) by their ratings, upvotes, "
            "collections and follows."
        ),
    ] = None,
    submitter: Annotated[
        Name | None, Query(description="Only papers submitted by this user name.")
    ] = None,
    cat: Annotated[
        CategoryText,
        Query(
            description="Only these arXiv categories: cs.CL,cs.LG; archives (cs); "
            "exclusions (-cs.CY). Paperboy extension."
        ),
    ] = "",
) -> JSONResponse:
    """Papers in the daily feed for a day, an ISO week or a month, paged."""
    query = FeedQuery(parse_period(day, week, month), p, limit, submitter, parse_categories(cat))
    items = feed_items(request, query, sort or "upvotes")
    # A ready response skips re-validating plain dicts that hfapi already shaped.
    return JSONResponse(hfapi.daily_papers(items))


def why_json(why: Why) -> dict[str, Any]:
    return {
        "matched": why.matched,
        "keywordRank": why.keyword_rank,
        "semanticRank": why.semantic_rank,
        "similarity": round(why.similarity, 4) if why.similarity is not None else None,
        "summary": why.summary(),
    }


@_paper_list(
    "/papers/search",
    "Search papers",
    "Matching papers, best first, shaped like Hugging Face's "
    "/api/papers/search items, each with a `why` object (Paperboy extension).",
)
def search_papers(
    request: Request,
    q: Annotated[
        SearchText,
        Query(
            description='Search text. Words are ranked by keyword and by meaning; "quoted '
            'phrases" must appear; -word excludes; filters: author:name, cat:cs.CL, '
            "since:2024-03, until:2025, year:2024.",
            examples=["bias in language models"],
        ),
    ] = "",
    limit: Annotated[
        SearchLimit, Query(description=f"Papers to return, 1 to {MAX_SEARCH_LIMIT}.")
    ] = 20,
    p: Annotated[
        ApiPage,
        Query(
            description="Page number, 0-based (results stop at the 10,000th: later pages "
            "are empty)."
        ),
    ] = 0,
    mode: Annotated[
        Mode, Query(description="hybrid (default), keyword or semantic ranking.")
    ] = "hybrid",
) -> JSONResponse:
    """Hybrid keyword and semantic search. An empty query gives an empty list."""
    service: SearchService = request.app.state.search
    results = service.search(q, mode=mode, page=p + 1, per_page=limit)
    body = [
        hfapi.search_item(hit.paper, hit.upvotes, hit.comments, why_json(hit.why))
        for hit in results.hits
    ]
    headers = {"X-Total-Count": str(results.total)}
    if results.notes:
        headers["X-Search-Notes"] = " | ".join(results.notes).encode("ascii", "replace").decode()
    return JSONResponse(body, headers=headers)


@_paper_list(
    "/papers/trending",
    "Trending papers",
    "Papers ranked by trending score, best first, shaped like Hugging "
    "Face's /api/daily_papers items, each with a `trending` object (Paperboy extension): "
    "score, points, importedUpvotes, localVotes, ageHours, gravity, enteredAt, asOf, formula "
    "and rank.",
)
def trending_papers(
    request: Request,
    window: Annotated[
        TrendingWindow,
        Query(
            description="day, week (default) or month: papers that entered the feed within that "
            "many days (1, 7, 30) before the reference time."
        ),
    ] = "week",
    limit: Annotated[DailyLimit, Query(description=f"Papers per page, 1 to {MAX_LIMIT}.")] = 50,
    p: Annotated[ApiPage, Query(description="Page number, 0-based.")] = 0,
) -> JSONResponse:
    """Trending: score = (imported upvotes + local votes) / (hours since the paper entered the
    feed + 2)^gravity, measured at the end of the latest day with papers (or now, if earlier).
    Only papers with upvotes are ranked; hidden papers never are."""
    service: TrendingService = request.app.state.services.trending
    ranking = service.window(window)
    body = []
    for index, (b, item) in enumerate(service.page(ranking, p * limit, limit)):
        body.append({**hfapi.daily_paper_item(item), "trending": as_json(b, p * limit + index + 1)})
    headers = {"X-Total-Count": str(ranking.total), "X-Trending-As-Of": hf_datetime(ranking.now)}
    return JSONResponse(body, headers=headers)


class VoteState(BaseModel):
    id: str
    upvoted: bool
    upvotes: int


_VOTE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **_BAD_REQUEST,
    401: {"model": ApiError, "description": "No API token and no session."},
    403: {"model": ApiError, "description": "Email not verified, or a missing CSRF token."},
    404: {"model": ApiError, "description": "No such paper (or it was hidden)."},
    429: {"model": ApiError, "description": "Too many votes; see Retry-After."},
}


def _votes(request: Request) -> Votes:
    votes: Votes = request.app.state.services.votes
    return votes


def _vote_json(request: Request, arxiv_id: str, on: bool) -> JSONResponse:
    outcome = _votes(request).cast(current_user(request), arxiv_id, on)
    state = VoteState(id=outcome.paper_id, upvoted=outcome.voted, upvotes=outcome.count)
    return JSONResponse(state.model_dump())


VotedPaper = Annotated[ArxivRef, Path(description="arXiv id.", examples=["2405.15738"])]


def _vote_route(method: str, summary: str) -> Callable[[DecoratedCallable], DecoratedCallable]:
    """The route of casting (POST) or taking back (DELETE) an upvote."""
    return router.api_route(
        "/papers/{arxiv_id:path}/upvote",
        methods=[method],
        summary=summary,
        response_model=VoteState,
        responses=_VOTE_RESPONSES,
    )


@_vote_route("POST", "Upvote a paper")
def upvote(request: Request, arxiv_id: VotedPaper) -> JSONResponse:
    """Upvote as the token's (``Authorization: Bearer pb_...``) or the session's user (then
    with an ``X-CSRF-Token`` header). Upvoting twice counts once. ``upvotes`` is the total
    shown everywhere: imported upvotes plus votes cast here."""
    return _vote_json(request, arxiv_id, True)


@_vote_route("DELETE", "Take an upvote back")
def remove_upvote(request: Request, arxiv_id: VotedPaper) -> JSONResponse:
    """Remove the user's upvote (nothing changes if there was none)."""
    return _vote_json(request, arxiv_id, False)


@router.post(
    "/papers/submit",
    summary="Submit a paper to today's daily feed",
    response_description="The new feed item, shaped like a Hugging Face /api/daily_papers item.",
    openapi_extra=json_body(SubmitIn.model_json_schema(), 'For example {"paperId": "2401.12345"}.'),
    response_model=dict[str, Any],
    responses={
        **_BAD_REQUEST,
        401: {"model": ApiError, "description": "No API token and no session."},
        403: {"model": ApiError, "description": "Email not verified, paper hidden, or no CSRF."},
        404: {"model": ApiError, "description": "arXiv has no such paper."},
        409: {"model": ApiError, "description": "The paper is already in the daily feed."},
        429: {"model": ApiError, "description": "Daily cap or rate limit reached."},
        503: {"model": ApiError, "description": "arXiv could not be reached."},
    },
)
async def submit_paper(request: Request) -> JSONResponse:
    """Like Hugging Face's: a JSON body ``{"paperId": "2401.12345"}`` (or ``{"arxivId": ...}``,
    an id, ``arXiv:`` reference or arxiv.org URL). Papers can be submitted once, within
    ``submit_max_age_days`` of their first version, up to ``submit_daily_cap`` a day."""
    from starlette.concurrency import run_in_threadpool

    user = require_user(request)
    try:
        body = json.loads(await request.body())
    except (ValueError, RecursionError) as exc:  # not UTF-8, not JSON, a 5,000-digit number
        raise Invalid(f"the body is not JSON: {exc}", "body") from None
    ref = None
    if isinstance(body, dict):
        ref = body.get("paperId", body.get("arxivId"))
    if not isinstance(ref, str) or not ref.strip():
        raise Invalid('give the paper as {"paperId": "2401.12345"}', "paperId")
    try:
        done = await run_in_threadpool(_votes(request).submit, user, ref)
    except SubmitRefused as exc:
        return JSONResponse(
            ApiError(error=str(exc), parameter=exc.field or "paperId").model_dump(),
            status_code=status_of(exc),
        )
    store = request.app.state.store
    entries = await run_in_threadpool(store.feed_entries_for, done.paper.id)
    entry = next(e for e in entries if e.feed_date == done.feed_date)
    return JSONResponse(hfapi.daily_paper_item(FeedItem(paper=done.paper, entry=entry)))


@router.get(
    "/papers/{arxiv_id:path}/similar",
    summary="Similar papers",
    response_description="The nearest papers in meaning, most similar first.",
    response_model=list[dict[str, Any]],
    responses={
        **_BAD_REQUEST,
        404: {"model": ApiError, "description": "No paper with that id in this Paperboy."},
    },
)
def similar_papers(
    request: Request,
    arxiv_id: Annotated[ArxivRef, Path(description="arXiv id.", examples=["2405.15738"])],
    limit: Annotated[
        SimilarLimit, Query(description=f"Papers to return, 1 to {MAX_SIMILAR}.")
    ] = 10,
) -> JSONResponse:
    """Papers nearest in meaning to this one, each with its similarity and shared words."""
    canonical = parse_arxiv_id(arxiv_id).canonical
    service: SearchService = request.app.state.search
    viewer = current_user(request)
    found = service.similar(canonical, limit, include_hidden=bool(viewer and viewer.is_admin))
    counts = request.app.state.store.vote_counts([s.paper.id for s in found])
    body = []
    for item in found:
        votes, comments = counts.get(item.paper.id, (0, 0))
        why = {"similarity": round(item.similarity, 4), "sharedTerms": item.shared}
        body.append(hfapi.search_item(item.paper, votes, comments, why))
    return JSONResponse(body)


# Declare any fixed /api/papers/... route (such as /api/papers/search) above this one: the path
# converter would otherwise capture it as an id.
@router.get(
    "/papers/{arxiv_id:path}",
    summary="One paper",
    response_description="The paper, shaped like Hugging Face's /api/papers/{id}.",
    response_model=dict[str, Any],
    responses={
        **_BAD_REQUEST,
        404: {"model": ApiError, "description": "No paper with that id in this Paperboy."},
    },
)
def paper(
    request: Request,
    arxiv_id: Annotated[
        ArxivRef,
        Path(
            description="arXiv id, with or without version: 2401.12345, 2401.12345v2, "
            "hep-th/9901001.",
            examples=["2405.15738"],
        ),
    ],
) -> JSONResponse:
    """A paper by arXiv id: 400 for a malformed id, 404 when the store does not have it."""
    store = request.app.state.store
    found = shown_paper(
        store,
        arxiv_id,
        current_user(request),
        missing="no paper {id} in this Paperboy",
        hidden="{id} has been hidden by the moderators",
    ).paper
    return JSONResponse(hfapi.paper_detail(found, store.feed_entries_for(found.id)))


class PushResult(BaseModel):
    inserted: int
    updated: int
    unchanged: int
    feed_added: int
    rejected: list[dict[str, Any]]


def _check_ingest_token(request: Request) -> None:
    """Pushing papers needs ``Authorization: Bearer <PAPERBOY_INGEST_TOKEN>``."""
    configured = request.app.state.settings.ingest_token
    if configured is None:
        raise NotAllowed("pushing papers is off: set PAPERBOY_INGEST_TOKEN to allow it")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    expected = configured.get_secret_value().encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
        raise NotAllowed("a valid 'Authorization: Bearer <ingest token>' header is required")


@router.post(
    "/papers/import",
    openapi_extra=json_body(
        PUSH_BODY,
        "Papers in any shape `paperboy import` reads (Hugging Face daily papers, arXiv "
        "records), one object or a list of up to 1,000.",
    ),
    response_model=PushResult,
    responses={**_BAD_REQUEST, 403: {"model": ApiError, "description": "No valid token."}},
    summary="Push papers (any shape `paperboy import` reads) into the store",
)
async def import_papers(
    request: Request,
    date: Annotated[
        PeriodText | None, Query(description="Feed day for items that carry none (YYYY-MM-DD).")
    ] = None,
) -> JSONResponse:
    from starlette.concurrency import run_in_threadpool

    from paperboy.ingest.push import MAX_ITEMS, push_records

    _check_ingest_token(request)
    period = parse_period(date)
    feed_day = period.start if period is not None else None
    try:
        body = json.loads(await request.body())
    except (ValueError, RecursionError) as exc:  # not UTF-8, not JSON, a 5,000-digit number
        raise Invalid(f"the body is not JSON: {exc}", "body") from None
    items = body if isinstance(body, list) else [body]
    if len(items) > MAX_ITEMS:
        raise Invalid(f"at most {MAX_ITEMS} items per request, got {len(items)}", "body")
    report = await run_in_threadpool(push_records, request.app.state.store, items, feed_day)
    result = PushResult(
        inserted=report.inserted,
        updated=report.updated,
        unchanged=report.unchanged,
        feed_added=report.feed_added,
        rejected=[{"index": i, "error": reason} for i, reason in report.rejected],
    )
    return JSONResponse(result.model_dump())
