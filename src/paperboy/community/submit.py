"""Submitting a paper to the daily feed: the rules, shared by the web page and the API.

A signed-in, verified user names a paper (an arXiv id, an ``arXiv:`` reference or an arxiv.org
abs/pdf URL). Its metadata comes from the store when the paper is known, else from arXiv's API
(``paperboy.ingest.arxiv_api.fetch_papers``). The paper then enters the daily feed of ``today``
through the store's one upsert path, with the user as its submitter, and the submission is
audited (action ``submit``).

Refused, with a message that says why (a ``SubmitRefused``, also the ``paperboy.errors`` class
named; the web gives the HTTP status in brackets):

* the user has not verified their email (403);
* too many attempts (``settings.rate_submit``; ``RateLimited``, 429);
* not an arXiv id (400);
* the user already submitted ``settings.submit_daily_cap`` papers today (429; 0: no cap);
* the moderators hid the paper (403);
* the paper already has a community ("daily") feed entry: each paper is submitted once (409);
* arXiv does not know the id (404) or cannot be reached (503; nothing is stored);
* its first version is more than ``settings.submit_max_age_days`` days older than today (400).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time

from paperboy.arxiv_ids import parse_arxiv_id
from paperboy.community import limits
from paperboy.community.models import User
from paperboy.errors import (
    Conflict,
    Invalid,
    InvalidArxivId,
    NotAllowed,
    NotFound,
    PaperboyError,
    Refusal,
    TooMany,
    Unavailable,
)
from paperboy.models import FeedEntry, Paper, Record
from paperboy.settings import Settings
from paperboy.store.base import Store

Fetch = Callable[[str], Paper | None]
"""Looks a canonical arXiv id up at arXiv: the paper, or None when arXiv has no such paper.
Raises a ``PaperboyError`` (e.g. ``ArxivUnavailable``) when arXiv cannot answer."""

MAX_REF_CHARS = 300


class SubmitRefused(Refusal):
    """A submission the rules refuse; the message says why, ``field`` the input it is about."""


class SubmitInvalid(SubmitRefused, Invalid):
    pass


class SubmitNotAllowed(SubmitRefused, NotAllowed):
    pass


class SubmitNotFound(SubmitRefused, NotFound):
    pass


class SubmitConflict(SubmitRefused, Conflict):
    pass


class SubmitCapReached(SubmitRefused, TooMany):
    pass


class SubmitUnavailable(SubmitRefused, Unavailable):
    pass


@dataclass(frozen=True, slots=True)
class SubmitResult:
    paper: Paper
    feed_date: date
    submitted_by: str
    fetched: bool  # the metadata came from arXiv (the paper was not in the store)


def _day(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d}" if moment is not None else "an unknown day"


def submit_paper(
    store: Store, settings: Settings, user: User, ref: str, today: date, fetch: Fetch
) -> SubmitResult:
    """Submit the paper named by ``ref`` to the daily feed of ``today`` as ``user``."""
    if not user.can_write:
        raise SubmitNotAllowed("Please verify your email first: then you can submit papers.")
    limits.check(store.accounts, f"submit:user:{user.id}", settings.rate_submit, "submissions")
    text = (ref or "").strip()
    if not text:
        raise SubmitInvalid("Give an arXiv id, an arXiv: reference or an arxiv.org link.")
    try:
        paper_id = parse_arxiv_id(text[:MAX_REF_CHARS]).canonical
    except InvalidArxivId as exc:
        reason = str(exc).rstrip(".")
        raise SubmitInvalid(
            f"{reason}. Give an id such as 2401.12345 or an arxiv.org link."
        ) from exc
    cap = settings.submit_daily_cap
    if cap > 0:
        since = datetime.combine(today, time())
        done = store.activity.count_actions(user.id, "submit", since)
        if done >= cap:
            raise SubmitCapReached(
                f"You have already submitted {done} papers today, the daily limit of {cap}. "
                "Try again tomorrow."
            )
    activity = store.activity.activity([paper_id]).get(paper_id)
    if activity is not None and activity.hidden_at is not None:
        raise SubmitNotAllowed(f"{paper_id} has been hidden by the moderators.")
    for entry in store.feed_entries_for(paper_id):
        if entry.source == "daily":
            who = f"by {entry.submitted_by}" if entry.submitted_by else "from the imported list"
            raise SubmitConflict(
                f"{paper_id} is already in the daily feed: it was submitted on "
                f"{entry.feed_date:%Y-%m-%d} {who}. Each paper can be submitted once."
            )
    paper = store.get_paper(paper_id)
    fetched = paper is None
    if paper is None:
        try:
            paper = fetch(paper_id)
        except PaperboyError as exc:
            raise SubmitUnavailable(
                f"arXiv could not be reached to look up {paper_id} ({exc}). Nothing was "
                "submitted; please try again later."
            ) from exc
        if paper is None:
            raise SubmitNotFound(f"arXiv has no paper {paper_id}. Check the id.")
    max_age = settings.submit_max_age_days
    if paper.published is not None and (today - paper.published.date()).days > max_age:
        age = (today - paper.published.date()).days
        raise SubmitInvalid(
            f"{paper_id} is too old to submit: its first version is from "
            f"{_day(paper.published)}, {age} days ago, and papers can be submitted up to "
            f"{max_age} days after their first version."
        )
    store.upsert(
        [Record(paper, FeedEntry(paper_id, today, source="daily", submitted_by=user.username))]
    )
    store.activity.record(
        user.id, "submit", "paper", paper_id, {"feed_date": today.isoformat(), "fetched": fetched}
    )
    return SubmitResult(paper, today, user.username, fetched)


def quick_settings(settings: Settings) -> Settings:
    """``settings`` with the arXiv client's retries and waits kept short: a web request should
    not wait minutes."""
    return settings.model_copy(
        update={
            "arxiv_retries": min(settings.arxiv_retries, 1),
            "arxiv_timeout": min(settings.arxiv_timeout, 20.0),
            "arxiv_backoff": min(settings.arxiv_backoff, 2.0),
            "arxiv_max_retry_after": min(settings.arxiv_max_retry_after, 10.0),
        }
    )


def arxiv_fetch(settings: Settings, store: Store) -> Fetch:
    """A ``Fetch`` through the project's arXiv API client (paced, retried, logged in the ingest
    log), with the short waits of ``quick_settings``."""
    from paperboy.ingest.arxiv_api import fetch_papers
    from paperboy.ingest.http import ArxivHttp

    quick = quick_settings(settings)

    def fetch(paper_id: str) -> Paper | None:
        with ArxivHttp(quick, store) as http:
            report = fetch_papers(store, http, [paper_id])
        return store.get_paper(paper_id) if paper_id in report.found else None

    return fetch
