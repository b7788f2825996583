"""Fetch papers by arXiv id from arXiv's Atom API into the store.

Ids are checked locally first (:func:`~paperboy.arxiv_ids.parse_arxiv_id`); only valid ones are
sent, deduplicated, in batches of at most 100 (``id_list``). Each batch's records are upserted
in one transaction, and the whole run is logged in the ingest log (source ``arxiv-api``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from paperboy.arxiv_ids import parse_arxiv_id
from paperboy.clock import chunks
from paperboy.errors import InvalidArxivId, PaperboyError
from paperboy.ingest.atom import ArxivApiError, AtomError, AtomPage, parse_atom
from paperboy.ingest.http import ArxivHttp
from paperboy.ingest.runs import logged_run
from paperboy.models import Record, UpsertCounts
from paperboy.store.base import Store

__all__ = ["MAX_BATCH", "SOURCE", "FetchError", "FetchReport", "fetch_papers"]

SOURCE = "arxiv-api"
MAX_BATCH = 100
"""arXiv answers at most this many entries per request here (``max_results``)."""


class FetchError(PaperboyError):
    """arXiv's answer for a batch could not be used, even after retrying."""


@dataclass
class FetchReport:
    requested: list[str]  # as given
    found: list[str] = field(default_factory=list)  # canonical ids stored
    missing: list[str] = field(default_factory=list)  # valid ids (as given) arXiv did not return
    invalid: list[tuple[str, str]] = field(default_factory=list)  # (as given, reason)
    counts: UpsertCounts = field(default_factory=UpsertCounts)
    problems: list[str] = field(default_factory=list)  # entries arXiv sent that were unusable

    @property
    def complete(self) -> bool:
        return not (self.missing or self.invalid)


def _params(batch: Sequence[str]) -> dict[str, str | int]:
    return {"search_query": "", "id_list": ",".join(batch), "start": 0, "max_results": MAX_BATCH}


def _query(http: ArxivHttp, batch: Sequence[str]) -> AtomPage:
    """One API request for ``batch``; a 200 body that is not an Atom feed is asked for again.

    Raises :class:`ArxivApiError` (arXiv refused the request), :class:`FetchError` (unusable
    answers every time) or :class:`~paperboy.ingest.http.ArxivUnavailable`.
    """
    settings = http.settings
    attempts = settings.arxiv_retries + 1
    delay = settings.arxiv_backoff
    label = _label(batch)
    for attempt in range(1, attempts + 1):
        answer = http.get(settings.arxiv_api_url, _params(batch))
        try:
            return parse_atom(answer.body)
        except AtomError as exc:
            if answer.status != 200:
                raise FetchError(
                    f"arXiv answered HTTP {answer.status} for {label}, not an Atom feed: {exc}"
                ) from exc
            if attempt == attempts:
                raise FetchError(
                    f"arXiv's answer for {label} was not a usable Atom feed after {attempts} "
                    f"attempts ({exc}); nothing from this batch was stored"
                ) from exc
        http.sleep(delay)
        delay *= 2
    raise AssertionError("unreachable")  # pragma: no cover


def _label(batch: Sequence[str]) -> str:
    if len(batch) == 1:
        return f"id {batch[0]}"
    return f"the batch of {len(batch)} ids {batch[0]} .. {batch[-1]}"


def _fetch_batch(
    http: ArxivHttp, batch: list[str], invalid: list[tuple[str, str]]
) -> tuple[list[Record], list[str]]:
    """Records for ``batch`` and the problems of their pages; refused ids go to ``invalid``."""
    try:
        page = _query(http, batch)
        return page.records, [f"entry {i}: {why}" for i, why in page.problems]
    except ArxivApiError as exc:
        if len(batch) == 1:
            invalid.append((batch[0], f"arXiv refused it: {exc.message}"))
            return [], []
    records: list[Record] = []
    problems: list[str] = []
    for one in batch:  # find the id(s) arXiv refused
        found, more = _fetch_batch(http, [one], invalid)
        records.extend(found)
        problems.extend(more)
    return records, problems


def fetch_papers(
    store: Store, http: ArxivHttp, ids: Sequence[str], *, batch: int = MAX_BATCH
) -> FetchReport:
    """Fetch ``ids`` from arXiv's API and upsert them; logged in the ingest log.

    Raises :class:`FetchError` when a batch's answers are unusable and lets
    :class:`~paperboy.ingest.http.ArxivUnavailable` through; batches stored before stay stored.
    """
    size = max(1, min(batch, MAX_BATCH))
    report = FetchReport(requested=list(ids))
    given: dict[str, str] = {}  # id as sent -> id as given (first occurrence)
    canonical: dict[str, str] = {}  # id as sent -> canonical id
    for raw in report.requested:
        try:
            parsed = parse_arxiv_id(raw)
        except InvalidArxivId as exc:
            report.invalid.append((raw, str(exc)))
            continue
        sent = parsed.versioned
        if sent not in given:
            given[sent] = raw
            canonical[sent] = parsed.canonical
    to_send = list(given)

    returned: set[str] = set()
    c = report.counts

    def tally() -> tuple[int, int, int, int]:
        errors = len(report.invalid) + len(report.missing) + len(report.problems)
        return c.inserted, c.updated, c.unchanged + c.older, errors

    with logged_run(store, SOURCE, ", ".join(report.requested), tally) as run:
        for chunk in chunks(to_send, size):
            refused: list[tuple[str, str]] = []
            records, problems = _fetch_batch(http, chunk, refused)
            report.invalid.extend((given[sent], why) for sent, why in refused)
            report.problems.extend(problems)
            if records:
                report.counts.add(store.upsert(records))
            returned.update(r.paper.id for r in records)
        refused_ids = {raw for raw, _ in report.invalid}
        for sent in to_send:
            if canonical[sent] in returned:
                if canonical[sent] not in report.found:
                    report.found.append(canonical[sent])
            elif given[sent] not in refused_ids:
                report.missing.append(given[sent])
        if report.complete and not report.problems:
            run.status = "ok"
        elif report.found:
            run.status = "partial"
        lines = [f"invalid {raw}: {why}" for raw, why in report.invalid]
        lines += [f"not found on arXiv: {raw}" for raw in report.missing]
        lines += report.problems
        run.message = "; ".join(lines[:5])[:1000] or None
    return report
