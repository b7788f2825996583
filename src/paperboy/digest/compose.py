"""Composing digests into the outbox: what each subscriber gets, rendered once per period.

:func:`compose_due` finds the periods due now (:mod:`paperboy.digest.periods`) and every active
subscriber due for them, builds each one's digest and hands it to
``SubscriptionStore.enqueue_digest``, which writes the outbox row, the papers it holds and the
subscriber's ``last_digest_at`` in one transaction and refuses a second digest for the same
period: composing can run any number of times, from any number of processes.

A digest looks back to the subscriber's last digest (``last_digest_at``; for a first digest,
one period length) and holds, never repeating a paper the subscriber was ever sent nor one the
moderators hid, and no paper twice:

1. **Trending** (when the subscriber wants it): the papers that entered the feed since then,
   in trending order (:mod:`paperboy.rank.service`'s formula at its reference time), in the
   subscriber's categories (prefixes: ``cs`` takes ``cs.CL``) with at least their minimum
   upvotes; ``settings.digest_size`` at most.
2. **For you** (a subscription linked to an account): papers new since then (entered the
   feed or published), ranked for the reader by :mod:`paperboy.rank.recommend` (ratings,
   upvotes, collections and follows: the ranking of their ``/for-you`` page), each with its
   strongest reasons and one-click "more like this" / "not for me" links;
   ``settings.digest_for_you`` at most.
3. **Alerts**: for each saved search, new papers that match it (the search service, as the
   search page ranks them), ``ALERT_SIZE`` at most each.

With nothing new the period still counts as done: ``digest_when_empty = "skip"`` stores a
skipped row (no mail), ``"note"`` a short mail that says so and when the next one comes.

Each digest gets its Message-ID here, once (the sender reuses it on every try), and is rendered
by :mod:`paperboy.digest.render` (list-mail headers, text and HTML bodies). The rows composing
reads come from the store's ``digest_rows`` (:class:`paperboy.store.digest_rows.DigestRows`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import TYPE_CHECKING

from paperboy.clock import chunks, utc_now
from paperboy.community.mailer import link
from paperboy.community.ratings import rating_token
from paperboy.digest.content import (
    Digest,
    DigestPaper,
    Section,
    alert_why,
    excerpt,
    for_you_why,
    matches_categories,
    short_authors,
    squash,
    trending_why,
)
from paperboy.digest.periods import Period, as_utc, due_periods
from paperboy.digest.render import Renderer, as_email
from paperboy.models import Alert, Paper, Subscription
from paperboy.rank.personal import Candidates, Reason, rank
from paperboy.rank.trending import Breakdown

if TYPE_CHECKING:
    from paperboy.search.service import SearchService
    from paperboy.services import Services

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""Called after each subscriber with (done, total)."""

ALERT_SIZE = 10  # papers per alert section, at most
ALERT_SEARCH_PAGE = 100  # search hits looked at per alert query
PREFETCH = 500  # subscribers whose sent papers and alerts are read in one query
TRENDING_BATCH = 100  # ranked papers loaded at a time while filling the trending section
MAX_FAILURES_IN_A_ROW = 10  # then composing stops: the store (not one subscriber) is broken

Picked = list[tuple[str, str]]
"""(paper id, why) of the papers chosen for one section, in order."""


@dataclass(slots=True)
class ComposeReport:
    """What one :func:`compose_due` run did."""

    periods: list[str] = field(default_factory=list)  # the period keys due
    due: int = 0  # subscribers due
    queued: int = 0  # digests with papers, waiting in the outbox
    notes: int = 0  # "nothing new" mails queued (digest_when_empty = note)
    skipped: int = 0  # nothing new, nothing to send (digest_when_empty = skip)
    existing: int = 0  # another run had composed the period meanwhile
    errors: int = 0  # subscribers whose digest failed (logged)

    def count(self, outcome: str) -> None:
        """Count one :meth:`Composer.enqueue` outcome."""
        if outcome == "queued":
            self.queued += 1
        elif outcome == "note":
            self.notes += 1
        elif outcome == "skipped":
            self.skipped += 1
        else:
            self.existing += 1


def take(candidates: Iterable[tuple[str, str]], skip: set[str], size: int) -> Picked:
    """The candidates not in ``skip``, in order, until ``size`` are taken (at least one, when
    there is one); each one taken is added to ``skip``."""
    picked: Picked = []
    for pid, why in candidates:
        if pid in skip:
            continue
        picked.append((pid, why))
        skip.add(pid)
        if len(picked) >= size:
            break
    return picked


def worth_mailing(reason: Reason, followed_categories: set[str]) -> bool:
    """Whether a reason alone earns a paper a place in "for you": likeness to rated papers,
    shared words or authors; a category only when the reader follows it (sharing the
    category of everything they read is not news)."""
    if reason.weight <= 0:
        return False
    return reason.kind != "category" or reason.label in followed_categories


class Composer:
    """Builds digests for one run, caching what subscribers share (rankings, new papers,
    vectors, alert searches). Read-only until :meth:`enqueue`."""

    def __init__(self, services: Services, *, now: datetime | None = None) -> None:

        store = services.store
        self.services = services
        self.store = store
        self.settings = settings = services.settings
        self.now = as_utc(now) if now is not None else utc_now()
        self.secret = services.secret
        self.base = settings.site_url
        self.trending = services.trending
        self.reference = self.trending.now(self.now)
        self.hidden = store.activity.hidden_papers()
        self.rows = store.digest_rows
        self._pools: dict[date, Candidates] = {}  # papers new since a day, for "for you"
        self.renderer = Renderer(settings, self.secret, self.now)
        self._search: SearchService | None = None
        self._search_broken = False
        self._rankings: dict[date, list[Breakdown]] = {}
        self._papers: dict[str, Paper] = {}
        self._upvotes: dict[str, int] = {}
        self._new: dict[date, frozenset[str]] = {}
        self._alert_hits: dict[tuple[str, str, date], list[str]] = {}
        self._shown: dict[tuple[str, str], DigestPaper] = {}
        self._sent: dict[int, set[str]] = {}  # prefetched: subscription id -> sent papers
        self._alerts: dict[int, list[Alert]] = {}  # prefetched: subscription id -> alerts

    # -- shared data ------------------------------------------------------------------------

    def _load(self, ids: Sequence[str]) -> None:
        missing = [pid for pid in dict.fromkeys(ids) if pid not in self._papers]
        if missing:
            self._papers.update(self.store.get_papers(missing))

    def _counts(self, ids: Sequence[str]) -> None:
        missing = [pid for pid in dict.fromkeys(ids) if pid not in self._upvotes]
        if missing:
            counts = self.store.vote_counts(missing)
            for pid in missing:
                self._upvotes[pid] = counts.get(pid, (0, 0))[0]

    def ranking(self, first_day: date) -> list[Breakdown]:
        """Papers whose first feed day is ``first_day`` or later, in trending order at the
        reference time (only papers with points, never hidden ones)."""
        if first_day not in self._rankings:
            ranked = self.trending.since(first_day, self.reference)
            self._rankings[first_day] = [b for b in ranked if b.points > 0]
            for b in ranked:
                self._upvotes.setdefault(b.paper_id, b.points)
        return self._rankings[first_day]

    def new_papers(self, first_day: date) -> frozenset[str]:
        """Papers new since ``first_day``: in the feed on that day or later, or first
        published then (hidden ones left out)."""
        if first_day not in self._new:
            self._new[first_day] = frozenset(self.rows.new_paper_ids(first_day) - self.hidden)
        return self._new[first_day]

    def search(self) -> SearchService | None:
        if self._search is None and not self._search_broken:
            try:
                self._search = self.services.search
            except Exception:  # alerts are lost for this run, not the digests
                log.exception("search is unavailable: alert sections left out")
                self._search_broken = True
        return self._search

    # -- sections ---------------------------------------------------------------------------

    def _paper(self, pid: str, why: str) -> DigestPaper:
        shown = self._shown.get((pid, why))
        if shown is None:
            paper = self._papers[pid]
            shown = DigestPaper(
                id=pid,
                title=squash(paper.title) or pid,
                authors=short_authors(paper.authors),
                upvotes=self._upvotes.get(pid, 0),
                why=why,
                excerpt=excerpt(paper.abstract),
                url=f"{self.base}/papers/{pid}",
            )
            self._shown[(pid, why)] = shown
        return shown

    def _rated(self, sub: Subscription, paper: DigestPaper) -> DigestPaper:
        """``paper`` with one-click rating links, in the digest of an account's address."""
        if sub.user_id is None:
            return paper
        more, less = (
            link(self.settings, "/rate", rating_token(self.secret, sub.user_id, paper.id, v))
            for v in (1, -1)
        )
        return replace(paper, more_url=more, less_url=less)

    def _trending_candidates(
        self, sub: Subscription, first_day: date, skip: set[str]
    ) -> Iterator[tuple[str, str]]:
        for chunk in chunks(self.ranking(first_day), TRENDING_BATCH):
            batch = [b for b in chunk if b.paper_id not in skip and b.points >= sub.min_upvotes]
            self._load([b.paper_id for b in batch])
            for b in batch:
                paper = self._papers.get(b.paper_id)
                if paper is not None and matches_categories(paper.categories, sub.categories):
                    yield b.paper_id, trending_why(b)

    def trending_section(self, sub: Subscription, first_day: date, skip: set[str]) -> Picked:
        candidates = self._trending_candidates(sub, first_day, skip)
        return take(candidates, skip, self.settings.digest_size)

    def for_you_section(self, user_id: int, first_day: date, skip: set[str]) -> Picked:
        """The reader's personal ranking (``paperboy.rank.recommend``, the same as their
        ``/for-you`` page) of the papers new since ``first_day``: the best
        ``settings.digest_for_you`` that score above 0, never one they rated."""
        size = self.settings.digest_for_you
        foryou = self.services.foryou
        profile = foryou.profile(user_id)
        if foryou.is_empty(profile):
            return []
        if first_day not in self._pools:
            self._pools[first_day] = foryou.pool(sorted(self.new_papers(first_day)))
        ranked = rank(profile, self._pools[first_day], limit=size * 3)
        followed = set(profile.followed_categories)
        candidates = (
            (r.paper_id, for_you_why(r.why))
            for r in ranked
            if r.score > 0 and any(worth_mailing(reason, followed) for reason in r.why)
        )
        return take(candidates, skip, size)

    def alert_ids(self, alert: Alert, first_day: date) -> list[str]:
        """New papers matching the alert's query, best first (cached per query and day)."""
        key = (alert.query, alert.mode, first_day)
        if key in self._alert_hits:
            return self._alert_hits[key]
        service = self.search()
        if service is None:
            return []
        from paperboy.search.service import MODES

        mode = alert.mode if alert.mode in MODES else "hybrid"
        new = self.new_papers(first_day)
        ids: list[str] = []
        try:
            # the query's best matches that are new, then matches published since the day
            plain = service.search(alert.query, mode=mode, per_page=ALERT_SEARCH_PAGE)
            recent = service.search(
                f"{alert.query} since:{first_day.isoformat()}",
                mode=mode,
                per_page=ALERT_SEARCH_PAGE,
            )
            for hit in [*plain.hits, *recent.hits]:
                if hit.paper.id in new:
                    ids.append(hit.paper.id)
                    self._papers.setdefault(hit.paper.id, hit.paper)
        except Exception:
            log.exception("alert %r could not run", alert.query)
        self._alert_hits[key] = list(dict.fromkeys(ids))
        return self._alert_hits[key]

    def alert_section(self, alert: Alert, first_day: date, skip: set[str]) -> Picked:
        candidates = ((pid, alert_why(alert.query)) for pid in self.alert_ids(alert, first_day))
        return take(candidates, skip, ALERT_SIZE)

    # -- one digest -------------------------------------------------------------------------

    def prefetch(self, subscription_ids: Sequence[int]) -> None:
        """Read the sent papers and alerts of these subscribers in one query each (what
        :meth:`build` would otherwise ask for one subscriber at a time)."""
        ids = list(dict.fromkeys(subscription_ids))
        self._sent = self.rows.sent_papers(ids)
        self._alerts = self.rows.alerts(ids)

    def _sent_of(self, sub: Subscription) -> set[str]:
        if sub.id in self._sent:
            return set(self._sent[sub.id])
        return self.store.subscriptions.sent_paper_ids(sub.id)

    def _alerts_of(self, sub: Subscription) -> list[Alert]:
        if sub.id in self._alerts:
            return self._alerts[sub.id]
        return self.store.subscriptions.alerts_of(sub.id)

    def since(self, sub: Subscription, period: Period) -> datetime:
        return sub.last_digest_at or (self.now - period.length)

    def build(self, sub: Subscription, period: Period) -> Digest:
        """The digest ``sub`` gets for ``period`` now (nothing is written)."""
        since = self.since(sub, period)
        first_day = since.date()
        skip = self._sent_of(sub) | self.hidden
        alerts_of = self._alerts_of(sub)
        parts: list[tuple[str, str, Picked]] = []
        if sub.include_trending:
            heading = "Trending since your last digest" if sub.last_digest_at else "Trending now"
            parts.append(("trending", heading, self.trending_section(sub, first_day, skip)))
        if sub.user_id is not None and self.settings.digest_for_you > 0:
            parts.append(("for_you", "For you", self.for_you_section(sub.user_id, first_day, skip)))
        for alert in alerts_of:
            heading = f"New for your alert “{alert.query}”"
            parts.append(("alert", heading, self.alert_section(alert, first_day, skip)))
        ids = [pid for _k, _h, picked in parts for pid, _why in picked]
        self._load(ids)
        self._counts(ids)
        sections = tuple(
            Section(kind, heading, tuple(self._rated(sub, self._paper(p, w)) for p, w in picked))
            for kind, heading, picked in parts
            if picked
        )
        return self.renderer.render(sub, period, since, sections, [a.query for a in alerts_of])

    def enqueue(self, digest: Digest) -> str:
        """Put the digest in the outbox: "queued", "note", "skipped" or "existing"."""
        empty = digest.empty
        skipped = empty and self.settings.digest_when_empty == "skip"
        outbox_id = self.store.subscriptions.enqueue_digest(
            digest.subscription.id,
            digest.period.key,
            self.now,  # the subscriber's last_digest_at: the next digest starts here
            message_id=digest.message_id,
            to_addr=digest.subscription.email,
            subject=digest.subject,
            body_text=digest.text,
            body_html=None if skipped else digest.html,
            headers=digest.headers,
            paper_ids=digest.paper_ids,
            skipped=skipped,
        )
        if outbox_id is None:
            return "existing"
        if skipped:
            return "skipped"
        return "note" if empty else "queued"


def compose_due(
    services: Services, *, now: datetime | None = None, progress: Progress | None = None
) -> ComposeReport:
    """Compose the digest of every active subscriber due at ``now`` (default: the clock), once
    per period, into the outbox. Safe to run again at any time: done periods are not redone."""
    store, settings = services.store, services.settings
    moment = as_utc(now) if now is not None else utc_now()
    periods = due_periods(settings, moment)
    report = ComposeReport(periods=[p.key for p in periods])
    work = [
        (sub, period)
        for period in periods
        for sub in store.subscriptions.due(period.frequency, period.start)
    ]
    report.due = len(work)
    if progress is not None:
        progress(0, len(work))
    if not work:
        return report
    composer = Composer(services, now=moment)
    failures_in_a_row = 0
    for done, (sub, period) in enumerate(work, start=1):
        if (done - 1) % PREFETCH == 0:
            composer.prefetch([s.id for s, _p in work[done - 1 : done - 1 + PREFETCH]])
        try:
            outcome = composer.enqueue(composer.build(sub, period))
        except Exception:
            report.errors += 1
            failures_in_a_row += 1
            log.exception("digest of subscription %d for %s failed", sub.id, period.key)
            if failures_in_a_row >= MAX_FAILURES_IN_A_ROW:
                raise
        else:
            failures_in_a_row = 0
            report.count(outcome)
        if progress is not None:
            progress(done, len(work))
    return report


__all__ = [
    "ComposeReport",
    "Composer",
    "Digest",
    "DigestPaper",
    "Section",
    "as_email",
    "compose_due",
    "excerpt",
    "matches_categories",
    "short_authors",
    "take",
]
