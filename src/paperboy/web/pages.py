"""Server-rendered HTML pages: the daily feed (day, week, month) and one page per paper.

Pages work without JavaScript; ``static/app.js`` only adds KaTeX rendering and a copy button.
Paper text is always escaped by Jinja (autoescape on, never ``|safe``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paperboy.arxiv_ids import parse_arxiv_id
from paperboy.bibtex import bibtex
from paperboy.categories import parse_categories
from paperboy.community.papers import shown_paper
from paperboy.errors import Invalid, InvalidArxivId, InvalidPeriod
from paperboy.feed import FeedView, Period, daily_feed, parse_period, period_of
from paperboy.models import Paper
from paperboy.search.service import MODES, SearchService
from paperboy.store.base import Store
from paperboy.web.auth import csrf_input, csrf_token, current_user, login_url
from paperboy.web.feed_order import FEED_SORTS, feed_tail, personal_view, sort_links
from paperboy.web.params import (
    ArxivRef,
    CategoryText,
    DateFilterText,
    FilterText,
    Page,
    PeriodText,
    SearchText,
    Word,
)
from paperboy.web.responses import redirect, render, store_of
from paperboy.web.search_form import SearchFilters, search_text

router = APIRouter(include_in_schema=False)

PaperPanel = Callable[[Request, Paper], dict[str, Any]]
"""Extra context for a paper's page, one per community feature (votes, comments, collections,
trending): ``paperboy.web.app.PAPER_PANELS`` lists them; the page includes each partial."""


_UNSAFE_IN_URL = re.compile(r"[\x00-\x1f\s]")


def http_url(value: object) -> str | None:
    """``value`` if it is an absolute http(s) URL, else None (so ``javascript:`` never links)."""
    if not isinstance(value, str):
        return None
    url = value.strip()
    if not url or _UNSAFE_IN_URL.search(url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url


def paragraphs(text: str | None) -> list[str]:
    """Abstract paragraphs (``clean_abstract`` separates them with blank lines)."""
    if not text:
        return []
    return [p.strip() for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]


def site_context(request: Request) -> dict[str, Any]:
    """What base.html needs on every page, error pages included."""
    state = request.app.state
    today: date = state.today()
    try:
        latest = state.store.latest_feed_date()
    except Exception:  # an error page must render even when the store is down
        latest = None
    nav_day = latest or today
    try:
        week_query, month_query = (period_of(k, nav_day).query() for k in ("week", "month"))
    except InvalidPeriod:  # a feed day at the calendar's very end: link to today's instead
        week_query, month_query = (period_of(k, today).query() for k in ("week", "month"))
    return {
        "site_name": state.settings.site_name,
        "user": current_user(request),
        "csrf_input": lambda: csrf_input(request),
        "csrf_token": lambda: csrf_token(request),
        "login_url": lambda: login_url(request),
        "today": today,
        "week_query": week_query,
        "month_query": month_query,
    }


@dataclass(frozen=True, slots=True)
class NavLink:
    label: str
    href: str
    current: bool = False


def _focus_day(store: Store, period: Period) -> date:
    """The latest day with papers inside ``period`` (its first day when it has none)."""
    if period.kind == "day":
        return period.start
    day = store.feed_date_before(period.end + timedelta(days=1))
    return day if day is not None and day >= period.start else period.start


def _views(store: Store, period: Period, tail: str = "") -> list[NavLink]:
    """Links that show the same stretch of time as a day, a week or a month."""
    day = _focus_day(store, period)
    links = []
    for kind, label in (("day", "Day"), ("week", "Week"), ("month", "Month")):
        target = period if kind == period.kind else period_of(kind, day)  # type: ignore[arg-type]
        links.append(NavLink(label, f"/papers?{target.query()}{tail}", kind == period.kind))
    return links


def _page_links(view: FeedView, tail: str = "") -> list[NavLink]:
    if view.period is None or view.total <= view.page_size:
        return []
    base = f"/papers?{view.period.query()}{tail}"
    return [
        NavLink(str(n), base if n == 1 else f"{base}&page={n}", n == view.page + 1)
        for n in range(1, view.pages + 1)
    ]


def _feed_page(
    request: Request, period: Period | None, page: int, cat: str = "", sort: str = "upvotes"
) -> HTMLResponse:
    settings = request.app.state.settings
    store = store_of(request)
    if sort not in FEED_SORTS:
        raise Invalid(f"sort must be one of {', '.join(FEED_SORTS)}", "sort")
    wanted = parse_categories(cat)
    user = current_user(request)
    view = daily_feed(
        store, period, page=page - 1, page_size=settings.page_size, categories=wanted or None
    )
    why: dict[str, Any] = {}
    if sort == "for-you" and user is not None and view.period is not None:
        view, why = personal_view(request, user.id, view, wanted or None)
    tail = feed_tail(wanted.as_param(), sort)
    context: dict[str, Any] = {
        "view": view,
        "period": view.period,
        "why": why,
        "tail": tail,
        "sort": sort,
        "cat": wanted.as_param(),
        "cat_words": wanted.describe() if wanted else "",
    }
    ids = [item.paper.id for item in view.items]
    context["voted"] = store.activity.voted(user.id, ids) if user is not None and ids else set()
    if view.period is not None:
        base = f"/papers?{view.period.query()}{tail}"
        context["sort_links"] = sort_links(
            f"/papers?{view.period.query()}{feed_tail(wanted.as_param(), '')}", sort
        )
        context.update(
            views=_views(store, view.period, tail),
            pages=_page_links(view, tail),
            previous_page=(
                f"{base}&page={view.page}" if view.page > 1 else base if view.page == 1 else None
            ),
            next_page=f"{base}&page={view.page + 2}" if view.has_more else None,
            picker_date=_focus_day(store, view.period).isoformat(),
            first_rank=view.page * view.page_size + 1,
        )
    return render(request, "feed.html", context)


@router.get("/", response_class=HTMLResponse)
def home(
    request: Request,
    page: Annotated[Page, Query()] = 1,
    cat: Annotated[CategoryText, Query()] = "",
    sort: Annotated[Word, Query()] = "upvotes",
) -> HTMLResponse:
    """The latest day that has papers (``cat``: categories, ``sort=for-you``: ranked for you)."""
    return _feed_page(request, None, page, cat, sort)


@router.get("/papers", response_class=HTMLResponse)
def papers(
    request: Request,
    day: Annotated[PeriodText | None, Query(alias="date")] = None,
    week: PeriodText | None = None,
    month: PeriodText | None = None,
    page: Annotated[Page, Query()] = 1,
    cat: Annotated[CategoryText, Query()] = "",
    sort: Annotated[Word, Query()] = "upvotes",
) -> HTMLResponse:
    """One day (``date=YYYY-MM-DD``), ISO week (``week=YYYY-Www``) or month (``month=YYYY-MM``);
    ``cat=cs.CL,-cs.CY`` narrows it to categories, ``sort=for-you`` ranks it for the reader."""
    return _feed_page(request, parse_period(day, week, month), page, cat, sort)


@router.get("/open")
def open_paper(ref: Annotated[ArxivRef, Query(alias="id")] = "") -> Response:
    """The header box: an arXiv id, ``arXiv:`` reference or arxiv.org URL opens that paper."""
    if not ref.strip():
        return redirect("/")
    parsed = parse_arxiv_id(ref)  # InvalidArxivId becomes the friendly 404 page
    return redirect(f"/papers/{parsed.canonical}")


@router.get("/papers/{arxiv_id:path}", response_class=HTMLResponse)
def paper(request: Request, arxiv_id: Annotated[ArxivRef, Path()]) -> Response:
    """One paper: abstract, authors, dates, links and BibTeX."""
    parsed = parse_arxiv_id(arxiv_id)
    if arxiv_id != parsed.canonical:
        return RedirectResponse(f"/papers/{parsed.canonical}", status_code=301)
    store = store_of(request)
    shown = shown_paper(store, parsed.canonical, current_user(request))
    found = shown.paper
    entries = store.feed_entries_for(parsed.canonical)
    service: SearchService = request.app.state.search
    context: dict[str, Any] = {
        "paper": found,
        "arxiv": parsed,
        "entries": entries,
        "bibtex": bibtex(found),
        "similar": service.similar(parsed.canonical, 8, include_hidden=True),  # checked above
        "day_link": lambda day: f"/papers?{period_of('day', day).query()}",
        "hidden": shown.hidden,
    }
    for panel in request.app.state.paper_panels:
        context.update(panel(request, found))
    return render(request, "paper.html", context)


@router.get("/search", response_class=HTMLResponse)
def search(
    request: Request,
    q: SearchText = "",
    mode: Word = "hybrid",
    cat: FilterText = "",
    author: FilterText = "",
    since: DateFilterText = "",
    until: DateFilterText = "",
    page: Page = 1,
) -> Response:
    """Search results with highlights, reasons, filters and pages. An arXiv id opens the paper."""
    fields = SearchFilters(mode, cat, author, since, until)
    filters = fields.filters
    stripped = q.strip()
    if stripped and not any(filters.values()) and len(stripped) < 200:
        try:
            ref = parse_arxiv_id(stripped)
        except InvalidArxivId:
            ref = None
        if ref is not None and store_of(request).get_paper(ref.canonical) is not None:
            return redirect(f"/papers/{ref.canonical}")
    chosen = fields.chosen
    text = search_text(q, filters)
    service: SearchService = request.app.state.search
    results = service.search(text, mode=chosen, page=page, per_page=20)
    params = {"q": q, "mode": chosen, **{k: v for k, v in filters.items() if v}}

    def page_href(n: int) -> str:
        return "/search?" + urlencode({**params, "page": n} if n > 1 else params)

    pages = [NavLink(str(n), page_href(n), n == page) for n in range(1, results.pages + 1)]
    user = current_user(request)
    hit_ids = [hit.paper.id for hit in results.hits]
    voted = (
        store_of(request).activity.voted(user.id, hit_ids)
        if user is not None and hit_ids
        else set()
    )
    return render(
        request,
        "search.html",
        {
            "q": q,
            "mode": chosen,
            "modes": MODES,
            "filters": filters,
            "results": results,
            "terms": results.terms,
            "pages": pages if len(pages) > 1 else [],
            "previous_page": page_href(page - 1) if page > 1 else None,
            "next_page": page_href(page + 1) if page < results.pages else None,
            "first_rank": (page - 1) * 20 + 1,
            "voted": voted,
        },
    )
