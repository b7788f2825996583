"""The stateless recommendations API: papers for lists of liked and disliked paper ids.

- ``POST /api/recommendations``: Paperboy's own shape, with the reasons of every score.
- ``POST /recommendations/v1/papers`` and ``GET /recommendations/v1/papers/forpaper/{id}``:
  Semantic Scholar's Recommendations API shape, so its clients (the ``semanticscholar``
  package with ``api_url`` set to this instance) work unchanged. Paper ids are arXiv ids
  (``arXiv:2405.15738``, plain, versioned or abs URLs); answers say ``arXiv:<id>``.

Both are rate limited per client address (``recommend_rate_per_minute``; four times that for
a bearer token) and take anonymous JSON POSTs without a CSRF token when no cookie is sent
(``COOKIELESS_JSON`` in ``web/app.py``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from paperboy.arxiv_ids import parse_arxiv_id
from paperboy.community import limits
from paperboy.errors import Invalid, InvalidArxivId
from paperboy.models import Paper
from paperboy.rank.personal_records import Recommendation, Signals
from paperboy.rank.recommend import MAX_IDS, Recommender
from paperboy.web.params import ApiError, json_body
from paperboy.web.responses import settings_of, store_of

__all__ = ["router"]

router = APIRouter(tags=["recommendations"])

MAX_ID_CHARS = 64
MAX_WINDOW_DAYS = 31
DEFAULT_DAYS = 7
S2_FIELDS = ("paperId", "title", "abstract", "authors", "year", "externalIds", "url")
S2_FIELDS += ("publicationDate",)
Id = Annotated[str, Field(max_length=MAX_ID_CHARS)]
IdList = Annotated[list[Id], Field(max_length=MAX_IDS)]

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ApiError, "description": "A malformed body, id, date or limit."},
    401: {"model": ApiError, "description": "An invalid or revoked API token."},
    403: {"model": ApiError, "description": "A cookie was sent without a CSRF token."},
    429: {"model": ApiError, "description": "Rate limit reached (see Retry-After)."},
}
_BODY_ERRORS: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    413: {"model": ApiError, "description": "The body is over 1 MiB."},
}


class SignalsIn(BaseModel):
    authors: bool = True
    categories: bool = True
    popularity: bool = False


class RecommendIn(BaseModel):
    """The body of ``POST /api/recommendations``."""

    positive: IdList = Field(default_factory=list, description="Papers the reader likes.")
    negative: IdList = Field(default_factory=list, description="Papers the reader does not.")
    candidates: IdList | None = Field(
        default=None, description="Papers to rank; absent: the feed of since..until."
    )
    since: date | None = Field(default=None, description="YYYY-MM-DD; default: until - 6 days.")
    until: date | None = Field(default=None, description="YYYY-MM-DD; default: the latest day.")
    signals: SignalsIn = Field(default_factory=SignalsIn)
    limit: int = Field(default=20, ge=1, le=100)


class ReasonOut(BaseModel):
    kind: str
    label: str
    weight: float
    paper: str | None = None


class PaperOut(BaseModel):
    id: str
    title: str
    score: float
    why: list[ReasonOut]


class RecommendOut(BaseModel):
    papers: list[PaperOut]
    unknown: list[str]


class S2ListsIn(BaseModel):
    """The body of Semantic Scholar's ``POST /recommendations/v1/papers``."""

    positivePaperIds: IdList = Field(default_factory=list)
    negativePaperIds: IdList | None = None


class S2Out(BaseModel):
    recommendedPapers: list[dict[str, Any]]


M = TypeVar("M", bound=BaseModel)


def _parse(model: type[M], raw: bytes) -> M:
    """The body as ``model``; a 400 naming the first wrong field otherwise."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise Invalid(f"the body is not JSON: {exc}", "body") from None
    if not isinstance(data, dict):
        raise Invalid("the body is a JSON object", "body")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise Invalid(f"{where}: {first['msg']}", where.split(".")[0]) from None


def _canonical(ids: Sequence[str], field: str) -> list[str]:
    out: list[str] = []
    for text in ids:
        try:
            pid = parse_arxiv_id(text.strip()).canonical
        except InvalidArxivId:
            raise Invalid(f"not an arXiv id: {text[:MAX_ID_CHARS]!r}", field) from None
        if pid not in out:
            out.append(pid)
    return out


def _check_date(day: date | None, field: str) -> None:
    if day is not None and not 1900 <= day.year <= 2200:
        raise Invalid(f"{field} is a date between the years 1900 and 2200", field)


def _throttle(request: Request) -> None:
    from paperboy.web.account_common import client_ip

    per_minute = settings_of(request).recommend_rate_per_minute
    via = getattr(request.state, "auth_via", None)
    user = getattr(request.state, "user", None)
    if via == "token" and user is not None:
        key, rate = f"recommend:token:{user.id}", per_minute * 4
    else:
        key, rate = f"recommend:ip:{client_ip(request)}", per_minute
    store = store_of(request)
    limits.check(store.accounts, key, f"{max(rate, 1)}/minute", "recommendation requests")


def _recommender(request: Request) -> Recommender:
    foryou: Recommender = request.app.state.services.foryou
    return foryou


def _window_ids(request: Request, since: date | None, until: date | None) -> list[str]:
    """The feed's paper ids of ``since..until`` (at most 31 days; default the last 7)."""
    if until is None:
        until = store_of(request).latest_feed_date()
        if until is None:
            return []
    since = since or until - timedelta(days=DEFAULT_DAYS - 1)
    if since > until:
        raise Invalid("since is on or before until", "since")
    if (until - since).days + 1 > MAX_WINDOW_DAYS:
        raise Invalid(f"since..until spans at most {MAX_WINDOW_DAYS} days", "since")
    return _recommender(request).window(since, until).order[: MAX_IDS * 10]


def _rank(
    request: Request,
    positive: list[str],
    negative: list[str],
    candidates: list[str],
    signals: Signals,
    limit: int,
) -> tuple[list[Recommendation], dict[str, Paper], list[str]]:
    """The ranking, the visible stored papers it names, and the ids this instance lacks."""
    every = list(dict.fromkeys([*positive, *negative, *candidates]))
    store = store_of(request)
    found = store.get_papers(every)
    hidden = store.activity.hidden_papers()
    papers = {pid: p for pid, p in found.items() if pid not in hidden}
    unknown = [pid for pid in [*positive, *negative] if pid not in papers]
    ranked_ids = [p for p in candidates if p not in positive and p not in negative]
    recs = _recommender(request).for_ids(
        positive, negative, ranked_ids, signals=signals, limit=limit
    )
    return [r for r in recs if r.paper_id in papers], papers, unknown


@router.post(
    "/api/recommendations",
    summary="Papers for lists of liked and disliked papers",
    response_description="Best first, each with the reasons of its score.",
    response_model=RecommendOut,
    openapi_extra=json_body(
        RecommendIn.model_json_schema(), 'For example {"positive": ["2405.15738"]}.'
    ),
    responses=_BODY_ERRORS,
)
async def recommend(request: Request) -> RecommendOut:
    """Rank ``candidates`` (or the feed of ``since..until``, by default the last 7 days) for a
    reader who likes ``positive`` and dislikes ``negative``. Ids this instance does not hold
    (or hides) are listed under ``unknown``."""
    _throttle(request)
    body = _parse(RecommendIn, await request.body())
    _check_date(body.since, "since")
    _check_date(body.until, "until")
    positive = _canonical(body.positive, "positive")
    negative = [p for p in _canonical(body.negative, "negative") if p not in positive]
    if body.candidates is not None:
        candidates = _canonical(body.candidates, "candidates")
    else:
        candidates = await run_in_threadpool(_window_ids, request, body.since, body.until)
    signals = Signals(**body.signals.model_dump())
    recs, papers, unknown = await run_in_threadpool(
        _rank, request, positive, negative, candidates, signals, body.limit
    )
    if body.candidates is not None:
        unknown += [p for p in candidates if p not in papers and p not in unknown]
    out = [
        PaperOut(
            id=r.paper_id,
            title=papers[r.paper_id].title,
            score=round(r.score, 6),
            why=[
                ReasonOut(kind=w.kind, label=w.label, weight=w.weight, paper=w.paper_id)
                for w in r.why
            ],
        )
        for r in recs
    ]
    return RecommendOut(papers=out, unknown=unknown)


# -- Semantic Scholar's shape ---------------------------------------------------------------


def _fields(text: str | None) -> list[str]:
    if not text:
        return ["paperId", "title"]
    return [f.strip() for f in text.split(",") if f.strip()][:50]


def _s2_paper(request: Request, paper: Paper, fields: list[str]) -> dict[str, Any]:
    """One paper in Semantic Scholar's shape: the fields asked that Paperboy knows (always
    ``paperId``); numbers it does not hold (citation counts...) are left out."""
    published = paper.published.date() if paper.published else None
    known: dict[str, Any] = {
        "paperId": f"arXiv:{paper.id}",
        "title": paper.title,
        "abstract": paper.abstract or None,
        "authors": [{"authorId": None, "name": name} for name in paper.authors],
        "year": published.year if published else None,
        "externalIds": {"ArXiv": paper.id, "DOI": paper.doi},
        "url": str(request.base_url).rstrip("/") + f"/papers/{paper.id}",
        "publicationDate": published.isoformat() if published else None,
    }
    return {"paperId": known["paperId"]} | {f: known[f] for f in fields if f in known}


def _s2_answer(
    request: Request,
    positive: list[str],
    negative: list[str],
    candidates: list[str],
    fields: list[str],
    limit: int,
) -> S2Out:
    recs, papers, _unknown = _rank(request, positive, negative, candidates, Signals(), limit)
    return S2Out(recommendedPapers=[_s2_paper(request, papers[r.paper_id], fields) for r in recs])


S2Limit = Annotated[int, Query(ge=1, le=500, description="At most this many papers (1-500).")]
S2Fields = Annotated[
    str | None,
    Query(max_length=1000, description="Comma-separated: " + ",".join(S2_FIELDS)),
]


@router.post(
    "/recommendations/v1/papers",
    summary="Semantic Scholar's recommendations from lists of papers",
    response_model=S2Out,
    openapi_extra=json_body(
        S2ListsIn.model_json_schema(), 'For example {"positivePaperIds": ["arXiv:2405.15738"]}.'
    ),
    responses=_BODY_ERRORS,
)
@router.post("/recommendations/v1/papers/", include_in_schema=False)
async def s2_from_lists(request: Request, fields: S2Fields = None, limit: S2Limit = 100) -> S2Out:
    """Like Semantic Scholar's: papers of the last 7 feed days for ``positivePaperIds``
    and against ``negativePaperIds``."""
    _throttle(request)
    body = _parse(S2ListsIn, await request.body())
    positive = _canonical(body.positivePaperIds, "positivePaperIds")
    negative = _canonical(body.negativePaperIds or [], "negativePaperIds")
    negative = [p for p in negative if p not in positive]
    candidates = await run_in_threadpool(_window_ids, request, None, None)
    return await run_in_threadpool(
        _s2_answer, request, positive, negative, candidates, _fields(fields), limit
    )


@router.get(
    "/recommendations/v1/papers/forpaper/{paper_id:path}",
    summary="Semantic Scholar's recommendations for one paper",
    response_model=S2Out,
    responses=_ERRORS,
)
async def s2_for_paper(
    request: Request,
    paper_id: Annotated[str, Path(max_length=300, description="e.g. arXiv:2405.15738")],
    fields: S2Fields = None,
    limit: S2Limit = 100,
    pool: Annotated[Literal["recent", "all-cs"], Query(alias="from")] = "recent",
) -> S2Out:
    """Papers like ``paper_id`` among the last 7 feed days (``from=recent``) or 31
    (``from=all-cs``)."""
    _throttle(request)
    positive = _canonical([paper_id], "paper_id")
    end = await run_in_threadpool(store_of(request).latest_feed_date)
    candidates: list[str] = []
    if end is not None:
        days = DEFAULT_DAYS if pool == "recent" else MAX_WINDOW_DAYS
        since = end - timedelta(days=days - 1)
        candidates = await run_in_threadpool(_window_ids, request, since, end)
    return await run_in_threadpool(
        _s2_answer, request, positive, [], candidates, _fields(fields), limit
    )
