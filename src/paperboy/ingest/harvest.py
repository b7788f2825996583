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
from paperboy.store.base import HarvestProgress, Store

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
    resume = (
        state is not None
        and state.resumption_token is not None
        and from_date in (None, state.from_date)
        and until in (None, state.until_date)
    )
    report = HarvestReport(resumed=resume)
    token: str | None = None
    pages_done = records_done = 0
    max_datestamp: str | None = None
    if resume and state is not None:
        report.from_date, report.until_date = state.from_date, state.until_date
        token = state.resumption_token
        pages_done, records_done = state.pages_done, state.records_done
        max_datestamp = state.max_datestamp
    else:
        report.from_date = from_date or (state.last_datestamp if state else None)
        report.until_date = until
    previous = state.last_datestamp if state else None

    detail = f"set {set_spec}, from {report.from_date or 'the beginning'}"
    if report.until_date:
        detail += f" until {report.until_date}"
    if resume:
        detail += f", resumed after page {pages_done}"
    host, pid = owner()
    run_id = store.start_ingest(f"oai:{set_spec}", detail, host=host, pid=pid)
    status = "failed"
    message: str | None = None
    try:
        while True:
            if token is None:
                params = {"verb": "ListRecords", "metadataPrefix": "arXivRaw", "set": set_spec}
                if report.from_date:
                    params["from"] = report.from_date
                if report.until_date:
                    params["until"] = report.until_date
            else:
                params = {"verb": "ListRecords", "resumptionToken": token}
            try:
                page = _fetch_page(http, params)
            except OaiError as exc:
                if exc.code == "noRecordsMatch" and token is None:
                    report.message = (
                        f"nothing new in set {set_spec} since {report.from_date}"
                        if report.from_date
                        else f"set {set_spec} holds no records"
                    )
                    break
                if exc.code == "badResumptionToken" and token is not None and not report.restarted:
                    log.warning(
                        "resumption token %r was refused (%s); restarting the harvest of %s "
                        "from %s",
                        token,
                        exc.detail,
                        set_spec,
                        report.from_date or "the beginning",
                    )
                    report.restarted = True
                    token = None
                    pages_done = records_done = 0
                    max_datestamp = None
                    store.save_harvest_page(
                        set_spec,
                        [],
                        next_token=None,
                        progress=HarvestProgress(report.from_date, report.until_date, 0, 0, None),
                    )
                    continue
                raise
            if page.resumption_token is not None and page.resumption_token == token:
                raise PaperboyError(
                    f"arXiv returned the same resumption token twice ({token!r}); stopping"
                )
            pages_done += 1
            records_done += len(page.records)
            max_datestamp = _later(max_datestamp, page.max_datestamp)
            counts = store.save_harvest_page(
                set_spec,
                page.records,
                next_token=page.resumption_token,
                progress=HarvestProgress(
                    report.from_date, report.until_date, pages_done, records_done, max_datestamp
                ),
                deleted=page.deleted,
            )
            report.pages += 1
            report.records += len(page.records)
            report.inserted += counts.inserted
            report.updated += counts.updated
            report.unchanged += counts.unchanged + counts.older
            report.deleted += len(page.deleted)
            report.problems.extend(page.problems)
            if progress is not None:
                progress(pages_done, records_done, page.complete_list_size)
            if page.resumption_token is None:
                break
            token = page.resumption_token
        report.last_datestamp = _later(previous, max_datestamp)
        store.finish_harvest(set_spec, report.last_datestamp)
        if not report.message:
            report.message = (
                f"harvested {report.records} records in {report.pages} pages of set {set_spec}"
            )
        if report.problems:
            skipped = "; ".join(f"{what}: {why}" for what, why in report.problems[:5])
            report.message += f"; {len(report.problems)} records skipped ({skipped})"
        status, message = report.status, report.message
    except PaperboyError as exc:
        message = (
            f"{exc}; {report.pages} pages stored by this run, the checkpoint is after page "
            f"{pages_done}: run the harvest again to resume"
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
