"""Bounds for every value that enters from a URL, a form or a JSON body.

Routes annotate their parameters with these types (``page: Annotated[Page, Query(...)]``), so
each integer, date and string is bounded where it enters: FastAPI refuses anything outside with
a 400 that names the parameter (a friendly 404 page for a path id on an HTML page; see
``paperboy.web.errors``), and no store, index or calendar ever sees a number it cannot hold.

The ranges follow Hugging Face's Papers API where it has one (``p`` from 0, ``limit`` 1 to 100
on the daily papers, 1 to 120 on search); ids are positive and fit the id columns (PostgreSQL's
32-bit ``INTEGER``); dates are parsed by ``paperboy.feed`` within its years.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from annotated_types import Ge, Le, MaxLen
from fastapi import Form, Path
from pydantic import BaseModel, Field

from paperboy.search.limits import MAX_PER_PAGE

MAX_ID: Final = 2**31 - 1
"""The largest id any table holds: every id column is an ``INTEGER``, 32 bits on PostgreSQL
(SQLite's would hold 64, but one limit holds for both backends)."""

MAX_PAGE: Final = 10_000
"""The last page any listing pages to (1-based); the API's 0-based ``p`` stops one before."""

MAX_DAILY_LIMIT: Final = 100
"""Papers per page of ``/api/daily_papers`` and ``/api/papers/trending`` (as Hugging Face)."""

MAX_SEARCH_LIMIT: Final = MAX_PER_PAGE
"""Results per page of ``/api/papers/search`` (Hugging Face allows 120 too)."""

MAX_SIMILAR: Final = 50
"""Neighbours ``/api/papers/{id}/similar`` returns at most."""

Id = Annotated[int, Ge(1), Le(MAX_ID)]
"""A row id in a path or form (collections, comments, users, tokens, alerts)."""

Page = Annotated[int, Ge(1), Le(MAX_PAGE)]
"""A 1-based page number (the HTML pages' ``page``)."""

ApiPage = Annotated[int, Ge(0), Le(MAX_PAGE - 1)]
"""The JSON API's 0-based page number ``p`` (Hugging Face's convention)."""

DailyLimit = Annotated[int, Ge(1), Le(MAX_DAILY_LIMIT)]
SearchLimit = Annotated[int, Ge(1), Le(MAX_SEARCH_LIMIT)]
SimilarLimit = Annotated[int, Ge(1), Le(MAX_SIMILAR)]
PerPage = Annotated[int, Ge(1), Le(MAX_DAILY_LIMIT)]

PeriodText = Annotated[str, MaxLen(20)]
"""A date (YYYY-MM-DD), ISO week (YYYY-Www) or month (YYYY-MM): ``paperboy.feed`` parses it,
refusing what is not one or lies outside its years, with a message naming the parameter."""

ArxivRef = Annotated[str, MaxLen(300)]
"""An arXiv id, ``arXiv:`` reference or arxiv.org URL."""

SearchText = Annotated[str, MaxLen(20_000)]
"""A search query (the search syntax bounds what it makes of it)."""

FeedSearchText = Annotated[str, MaxLen(2_000)]
"""The query of a search feed."""

FilterText = Annotated[str, MaxLen(200)]
"""A search filter field: category or author."""

CategoryText = Annotated[str, MaxLen(200)]
"""A category filter of the feed pages and feeds (``cs.CL,-cs.CY``: ``paperboy.categories``)."""

DateFilterText = Annotated[str, MaxLen(20)]
"""A search filter date: YYYY, YYYY-MM or YYYY-MM-DD."""

Name = Annotated[str, MaxLen(200)]
"""A user name, a collection or token name as it appears in a URL or query."""

Word = Annotated[str, MaxLen(64)]
"""A short keyword: a mode, a window, a sort, an action name, a format."""

Token = Annotated[str, MaxLen(1_000)]
"""A signed token from a mailed link."""

Note = Annotated[str, MaxLen(2_000)]
"""A short free text in a URL (a notice, a next-page path)."""

IdPath = Annotated[Id, Path()]
"""A row id as a path segment (``/collections/{collection_id}``, ``/comments/{comment_id}``)."""

PaperPath = Annotated[ArxivRef, Path()]
"""A paper's arXiv id or reference as a path segment."""

FormText = Annotated[str, Form()]
"""A text form field; routes default each to "" so a missing one gets the form's own message."""


# -- JSON bodies that routes read themselves (documented in the OpenAPI schema) ---------------


class ApiError(BaseModel):
    """The body of every 4xx answer under /api (see ``paperboy.web.errors``)."""

    error: str
    parameter: str | None = None


class SubmitIn(BaseModel):
    """The body of ``POST /api/papers/submit`` (read by hand: either key will do)."""

    paperId: str | None = Field(
        default=None,
        max_length=300,
        description="arXiv id, `arXiv:` reference or arxiv.org URL.",
        examples=["2401.12345"],
    )
    arxivId: str | None = Field(default=None, max_length=300, description="Same as paperId.")


PUSH_BODY: Final[dict[str, Any]] = {
    "oneOf": [{"type": "array", "items": {"type": "object"}}, {"type": "object"}]
}
"""The body of ``POST /api/papers/import``: one paper object or a list of them."""


def json_body(schema: dict[str, Any], description: str) -> dict[str, Any]:
    """``openapi_extra`` documenting a JSON body that the route reads itself."""
    content = {"application/json": {"schema": schema}}
    return {"requestBody": {"required": True, "description": description, "content": content}}
