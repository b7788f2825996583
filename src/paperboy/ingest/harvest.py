"""Harvest arXiv's OAI-PMH ``ListRecords`` (``arXivRaw``) into the store, incrementally.

Each page is stored together with the checkpoint that names the next page, in one transaction
(:meth:`~paperboy.store.base.Store.save_harvest_page`): a harvest killed at any moment resumes
from exactly the first page it had not stored, and nothing of a page is ever half stored.

* Incremental: ``from`` is the datestamp of the last completed harvest of the set (OAI ``from``
  is inclusive, so that day is fetched again; upserting is idempotent) or an explicit date.
* ``noRecordsMatch`` is a normal, empty harvest; ``badResumptionToken`` restarts the harvest
  from its ``from`` once; any other OAI-PMH error is raised as is (:class:`OaiError`).
* A page that does not parse (cut off, not XML) is fetched again up to ``arxiv_retries`` times,
  then the harvest fails with nothing of that page stored.
* Deleted headers mark stored papers withdrawn; nothing is ever deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from paperboy.errors import PaperboyError
from paperboy.ingest.http import ArxivHttp
from paperboy.ingest.oai import OaiError, OaiPage, OaiParseError, parse_list_records
from paperboy.ingest.runs import owner, reap_interrupted
from paperboy.store.base import HarvestProgress, HarvestState, Store

__all__ = ["HarvestProgressFn", "HarvestReport", "harvest"]

log = logging.getLogger(__name__)

HarvestProgressFn = Callable[[int, int, int | None], None]
"""Called as ``progress(pages_done, records_done, complete_list_size)`` after each page."""


@dataclass(slots=True)
class HarvestReport:
    pages: int = 0  # pages stored by this run
    records: int = 0  # good records on those pages
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0  # unchanged or an older version than the one stored
    deleted: int = 0  # deleted headers seen (papers marked withdrawn when stored)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (record, reason) skipped
    resumed: bool = False  # continued an interrupted harvest from its checkpoint
    from_date: str | None = None  # the OAI ``from`` of the harvest (None: everything)
    until_date: str | None = None
    last_datestamp: str | None = None  # recorded when the harvest completed
    restarted: bool = False  # an expired resumption token made it start over once
    message: str = ""

    @property
    def status(self) -> str:
        return "partial" if self.problems else "ok"


def _fetch_page(http: ArxivHttp, params: dict[str, str]) -> OaiPage:
    """One ``ListRecords`` page; a body that does not parse is fetched again."""
    attempts = http.settings.arxiv_retries + 1
    reason = ""
    for attempt in range(1, attempts + 1):
        answer = http.get(http.settings.arxiv_oai_url, params)
        try:
            return parse_list_records(answer.body)
        except OaiParseError as exc:
            if answer.status >= 400:
                raise PaperboyError(
                    f"arXiv's OAI-PMH endpoint answered HTTP {answer.status}: {answer.url}"
                ) from exc
            reason = str(exc)
            if attempt < attempts:
                log.warning("unusable OAI-PMH page (%s); fetching it again", reason)
    raise OaiParseError(
        f"the OAI-PMH page was unusable after {attempts} attempts ({reason}); nothing of it "
        "was stored; run the harvest again to resume from the last stored page"
    )


def _later(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return a or b
    return max(a, b)


@dataclass(slots=True)
class _Cursor:
    """Where a harvest stands: the next page's token and the checkpoint's running totals."""

    token: str | None = None
    pages_done: int = 0
    records_done: int = 0
    max_datestamp: str | None = None

    def checkpoint(self, report: HarvestReport) -> HarvestProgress:
        return HarvestProgress(
            report.from_date,
            report.until_date,
            self.pages_done,
            self.records_done,
            self.max_datestamp,
        )


def _begin(
    state: HarvestState | None, from_date: str | None, until: str | None
) -> tuple[HarvestReport, _Cursor]:
    """The report and cursor of a harvest: resumed from ``state``'s checkpoint when it names
    a next page for the same dates, else a fresh harvest from the last completed one."""
    resume = (
        state is not None
        and state.resumption_token is not None
        and from_date in (None, state.from_date)
        and until in (None, state.until_date)
    )
    report = HarvestReport(resumed=resume)
    cursor = _Cursor()
    if resume and state is not None:
        report.from_date, report.until_date = state.from_date, state.until_date
        cursor = _Cursor(
            state.resumption_token, state.pages_done, state.records_done, state.max_datestamp
        )
    else:
        report.from_date = from_date or (state.last_datestamp if state else None)
        report.until_date = until
    return report, cursor


def _run_detail(set_spec: str, report: HarvestReport, cursor: _Cursor) -> str:
    detail = f"set {set_spec}, from {report.from_date or 'the beginning'}"
    if report.until_date:
        detail += f" until {report.until_date}"
    if report.resumed:
        detail += f", resumed after page {cursor.pages_done}"
    return detail


def _page_params(set_spec: str, report: HarvestReport, token: str | None) -> dict[str, str]:
    if token is not None:
        return {"verb": "ListRecords", "resumptionToken": token}
    params = {"verb": "ListRecords", "metadataPrefix": "arXivRaw", "set": set_spec}
    if report.from_date:
        params["from"] = report.from_date
    if report.until_date:
        params["until"] = report.until_date
    return params


def _on_oai_error(
    exc: OaiError, store: Store, set_spec: str, report: HarvestReport, cursor: _Cursor
) -> bool:
    """Whether the harvest goes on after ``exc``: False for an empty harvest (noRecordsMatch),
    True after restarting it once for a refused resumption token; anything else is raised."""
    if exc.code == "noRecordsMatch" and cursor.token is None:
        report.message = (
            f"nothing new in set {set_spec} since {report.from_date}"
            if report.from_date
            else f"set {set_spec} holds no records"
        )
        return False
    if exc.code == "badResumptionToken" and cursor.token is not None and not report.restarted:
        log.warning(
            "resumption token %r was refused (%s); restarting the harvest of %s from %s",
            cursor.token,
            exc.detail,
            set_spec,
            report.from_date or "the beginning",
        )
        report.restarted = True
        cursor.token, cursor.pages_done, cursor.records_done = None, 0, 0
        cursor.max_datestamp = None
        store.save_harvest_page(set_spec, [], next_token=None, progress=cursor.checkpoint(report))
        return True
    raise exc


def _store_page(
    store: Store, set_spec: str, page: OaiPage, report: HarvestReport, cursor: _Cursor
) -> None:
    """Store ``page`` with the checkpoint naming the next one, in one transaction."""
    if page.resumption_token is not None and page.resumption_token == cursor.token:
        raise PaperboyError(
            f"arXiv returned the same resumption token twice ({cursor.token!r}); stopping"
        )
    cursor.pages_done += 1
    cursor.records_done += len(page.records)
    cursor.max_datestamp = _later(cursor.max_datestamp, page.max_datestamp)
    counts = store.save_harvest_page(
        set_spec,
        page.records,
        next_token=page.resumption_token,
        progress=cursor.checkpoint(report),
        deleted=page.deleted,
    )
    report.pages += 1
    report.records += len(page.records)
    report.inserted += counts.inserted
    report.updated += counts.updated
    report.unchanged += counts.unchanged + counts.older
    report.deleted += len(page.deleted)
    report.problems.extend(page.problems)


def _harvest_pages(
    store: Store,
    http: ArxivHttp,
    set_spec: str,
    report: HarvestReport,
    cursor: _Cursor,
    progress: HarvestProgressFn | None,
) -> None:
    """Fetch and store pages until the list ends (or is empty)."""
    while True:
        try:
            page = _fetch_page(http, _page_params(set_spec, report, cursor.token))
        except OaiError as exc:
            if _on_oai_error(exc, store, set_spec, report, cursor):
                continue
            return
        _store_page(store, set_spec, page, report, cursor)
        if progress is not None:
            progress(cursor.pages_done, cursor.records_done, page.complete_list_size)
        if page.resumption_token is None:
            return
        cursor.token = page.resumption_token


def _complete(
    store: Store, set_spec: str, report: HarvestReport, cursor: _Cursor, previous: str | None
) -> None:
    """Record the completed harvest and write the report's message."""
    report.last_datestamp = _later(previous, cursor.max_datestamp)
    store.finish_harvest(set_spec, report.last_datestamp)
    if not report.message:
        report.message = (
            f"harvested {report.records} records in {report.pages} pages of set {set_spec}"
        )
    if report.problems:
        skipped = "; ".join(f"{what}: {why}" for what, why in report.problems[:5])
        report.message += f"; {len(report.problems)} records skipped ({skipped})"


def harvest(
    store: Store,
    http: ArxivHttp,
    *,
    set_spec: str = "cs",
    from_date: str | None = None,
    until: str | None = None,
    progress: HarvestProgressFn | None = None,
) -> HarvestReport:
    """Harvest ``set_spec`` into ``store``; resumes an interrupted harvest. Logged as a run.

    Raises :class:`OaiError` (other than noRecordsMatch), :class:`OaiParseError`,
    :class:`~paperboy.ingest.http.ArxivUnavailable` or :class:`PaperboyError`; every page
    stored before the failure stays stored and the next call resumes after it.
    """
    reap_interrupted(store)
    state = store.harvest_state(set_spec)
    report, cursor = _begin(state, from_date, until)
    previous = state.last_datestamp if state else None
    host, pid = owner()
    run_id = store.start_ingest(
        f"oai:{set_spec}", _run_detail(set_spec, report, cursor), host=host, pid=pid
    )
    status = "failed"
    message: str | None = None
    try:
        _harvest_pages(store, http, set_spec, report, cursor, progress)
        _complete(store, set_spec, report, cursor, previous)
        status, message = report.status, report.message
    except PaperboyError as exc:
        message = (
            f"{exc}; {report.pages} pages stored by this run, the checkpoint is after page "
            f"{cursor.pages_done}: run the harvest again to resume"
        )
        raise
    finally:
        store.finish_ingest(
            run_id,
            status,
            inserted=report.inserted,
            updated=report.updated,
            skipped=report.unchanged + len(report.problems),
            errors=len(report.problems) + (status == "failed"),
            message=message[:2000] if message else None,
        )
    return report
