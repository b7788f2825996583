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
2. **For you** (a subscription linked to an account): papers new since then (entered the feed
   or published), ranked by their best cosine similarity to a paper the user upvoted or
   collected (the stored embeddings), each with that paper as its reason;
   ``settings.digest_for_you`` at most, and only papers at least ``MIN_SIMILARITY`` alike.
3. **Alerts**: for each saved search, new papers that match it (the search service, as the
   search page ranks them), ``ALERT_SIZE`` at most each.

With nothing new the period still counts as done: ``digest_when_empty = "skip"`` stores a
skipped row (no mail), ``"note"`` a short mail that says so and when the next one comes.

Each digest gets its Message-ID here, once (the sender reuses it on every try), the headers of
a list mail (``List-Unsubscribe`` with a signed never-expiring token and RFC 8058 one-click
``List-Unsubscribe-Post``, ``List-Id``, ``Auto-Submitted``, ``Precedence``) and a text and an
HTML body from the Jinja2 templates ``web/templates/mail/digest.txt`` and ``digest.html``; the
HTML's ``<style>`` block is inlined (``css_inline``) because many mail clients drop it. Their
"Change what you get" link opens the page that mails a fresh, expiring manage link to the
subscriber (:func:`paperboy.digest.links.manage_request_url`): a digest grants no managing.
"""

from __future__ import annotations

import functools
import logging
import secrets
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any

import css_inline
import numpy as np
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import select, union

from paperboy.community.accounts import site_secret
from paperboy.digest.links import manage_request_url, unsubscribe_url
from paperboy.digest.models import Alert, Subscription
from paperboy.digest.periods import Period, as_utc, due_periods, local_day, next_period
from paperboy.embed.jobs import decode_vector
from paperboy.models import Paper
from paperboy.rank.service import TrendingService, day_start, real_now
from paperboy.rank.trending import Breakdown, TrendingInput, rank
from paperboy.settings import Settings
from paperboy.store.collections import CollectionStore
from paperboy.store.schema import alerts, embeddings, feed_entries, papers, sent_papers
from paperboy.store.sql import SQLStore

if TYPE_CHECKING:
    from paperboy.search.service import SearchService

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""Called after each subscriber with (done, total)."""

ALERT_SIZE = 10  # papers per alert section, at most
MIN_SIMILARITY = 0.3  # cosine below which a paper is not "similar" to anything the user liked
LIKED_MAX = 200  # the user's most recent upvotes (and collected papers) that count
ALERT_SEARCH_PAGE = 100  # search hits looked at per alert query
EXCERPT_CHARS = 140  # about two lines
TEXT_WIDTH = 72  # the text part's excerpt lines (titles and URLs are never broken)
PREFETCH = 500  # subscribers whose sent papers and alerts are read in one query
MAX_AUTHORS = 3
MAX_FAILURES_IN_A_ROW = 10  # then composing stops: the store (not one subscriber) is broken
_CHUNK = 500
TEMPLATES = Path(__file__).resolve().parents[1] / "web" / "templates"
FREQUENCY_TEXT = {"daily": "daily (weekdays)", "weekly": "weekly", "off": "paused"}


@dataclass(frozen=True, slots=True)
class DigestPaper:
    """One paper as a digest shows it."""

    id: str
    title: str
    authors: str  # short: the first few names, "et al."
    upvotes: int
    why: str  # one line: why it is in this digest
    excerpt: str  # the abstract's start, about two lines
    url: str  # {base_url}/papers/{id}

    @property
    def excerpt_lines(self) -> list[str]:
        """The excerpt wrapped for the text part."""
        return _wrapped(self.excerpt)


@dataclass(frozen=True, slots=True)
class Section:
    kind: str  # trending | for_you | alert
    heading: str
    papers: tuple[DigestPaper, ...]


@dataclass(frozen=True, slots=True)
class Digest:
    """One subscriber's digest for one period, rendered and ready for the outbox."""

    subscription: Subscription
    period: Period
    since: datetime  # naive UTC: what "new" means
    sections: tuple[Section, ...]
    message_id: str
    subject: str
    text: str
    html: str
    headers: dict[str, str]

    @property
    def paper_ids(self) -> list[str]:
        return [p.id for s in self.sections for p in s.papers]

    @property
    def empty(self) -> bool:
        return not any(s.papers for s in self.sections)


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


# -- small text helpers ---------------------------------------------------------------------


def _squash(text: str | None) -> str:
    return " ".join((text or "").split())


def short_authors(authors: Sequence[str]) -> str:
    names = [_squash(a) for a in authors if _squash(a)]
    if len(names) > MAX_AUTHORS:
        return ", ".join(names[:MAX_AUTHORS]) + " et al."
    return ", ".join(names) or "Unknown authors"


def excerpt(abstract: str | None, limit: int = EXCERPT_CHARS) -> str:
    text = _squash(abstract)
    if len(text) <= limit:
        return text
    return textwrap.shorten(text, width=limit, placeholder=" …")


@functools.lru_cache(maxsize=4096)
def _wrapped_cached(text: str) -> tuple[str, ...]:
    return tuple(textwrap.wrap(text, width=TEXT_WIDTH))


def _wrapped(text: str) -> list[str]:
    return list(_wrapped_cached(text))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def matches_categories(paper_categories: Sequence[str], wanted: Sequence[str]) -> bool:
    """True when any of the paper's categories starts with a wanted prefix (``cs`` takes
    ``cs.CL``, ``cs.CL`` takes only ``cs.CL``); no prefixes take everything."""
    if not wanted:
        return True
    for category in paper_categories:
        for prefix in wanted:
            if category == prefix or category.startswith(prefix.rstrip(".") + "."):
                return True
    return False


def _trending_why(b: Breakdown) -> str:
    hours = round(b.age_hours)
    return (
        f"Trending: {_plural(b.points, 'upvote')}, {_plural(hours, 'hour')} in the feed "
        f"(score {b.score:.3g})"
    )


# -- rendering ------------------------------------------------------------------------------


class Renderer:
    """The mail templates in a standalone Jinja2 environment (HTML autoescaped)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(enabled_extensions=("html",), default=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self.text_template = self.env.get_template("mail/digest.txt")
        self.html_template = self.env.get_template("mail/digest.html")

    def render(self, context: dict[str, Any]) -> tuple[str, str]:
        text = self.text_template.render(context)
        html = self.html_template.render(context)
        inlined = css_inline.inline(html, load_remote_stylesheets=False)
        return text, inlined


# -- the composer ---------------------------------------------------------------------------


class Composer:
    """Builds digests for one run, caching what subscribers share (rankings, new papers,
    vectors, alert searches). Read-only until :meth:`enqueue`."""

    def __init__(
        self,
        store: SQLStore,
        settings: Settings,
        *,
        now: datetime | None = None,
        search: SearchService | None = None,
    ) -> None:
        from paperboy.embed.model import MODEL_NAME

        self.store = store
        self.settings = settings
        self.now = as_utc(now) if now is not None else real_now()
        self.model = MODEL_NAME
        self.secret = site_secret(settings, store)
        self.base = settings.site_url
        self.host = settings.site_host
        self.trending = TrendingService(store.engine, settings.trending_gravity)
        self.reference = self.trending.now(self.now)
        self.hidden = store.activity.hidden_papers()
        self.collections = CollectionStore(store.engine)
        self.renderer = Renderer(settings)
        self._search = search
        self._own_search = False
        self._search_broken = False
        self._rankings: dict[date, list[Breakdown]] = {}
        self._papers: dict[str, Paper] = {}
        self._upvotes: dict[str, int] = {}
        self._new: dict[date, list[str]] = {}
        self._new_sets: dict[date, frozenset[str]] = {}
        self._vectors: dict[str, np.ndarray | None] = {}
        self._matrices: dict[date, tuple[list[str], np.ndarray]] = {}
        self._alert_hits: dict[tuple[str, str, date], list[str]] = {}
        self._shown: dict[tuple[str, str], DigestPaper] = {}
        self._sent: dict[int, set[str]] = {}  # prefetched: subscription id -> sent papers
        self._alerts: dict[int, list[Alert]] = {}  # prefetched: subscription id -> alerts

    def close(self) -> None:
        if self._own_search and self._search is not None:
            self._search.index.close()

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
            rows = self.trending.queries.candidates(first_day)
            inputs = [
                TrendingInput(r.paper_id, r.imported_upvotes, r.local_votes, day_start(r.entered))
                for r in rows
            ]
            ranked = rank(inputs, self.reference, self.trending.gravity)
            self._rankings[first_day] = [b for b in ranked if b.points > 0]
            for b in ranked:
                self._upvotes.setdefault(b.paper_id, b.points)
        return self._rankings[first_day]

    def new_papers(self, first_day: date) -> list[str]:
        """Papers new since ``first_day``: in the feed on that day or later, or first
        published then (hidden ones left out), by id."""
        if first_day not in self._new:
            since = datetime.combine(first_day, time())
            query = union(
                select(feed_entries.c.paper_id.label("id")).where(
                    feed_entries.c.feed_date >= first_day
                ),
                select(papers.c.id.label("id")).where(papers.c.published >= since),
            )
            with self.store.engine.connect() as conn:
                ids = sorted(set(conn.execute(query).scalars()) - self.hidden)
            self._new[first_day] = ids
            self._new_sets[first_day] = frozenset(ids)
        return self._new[first_day]

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored unit embeddings (float32) of those ``ids`` that have one."""
        missing = [pid for pid in dict.fromkeys(ids) if pid not in self._vectors]
        with self.store.engine.connect() as conn:
            for start in range(0, len(missing), _CHUNK):
                chunk = missing[start : start + _CHUNK]
                query = select(embeddings.c.paper_id, embeddings.c.vector).where(
                    embeddings.c.model == self.model, embeddings.c.paper_id.in_(chunk)
                )
                for pid, blob in conn.execute(query):
                    vector = decode_vector(bytes(blob))
                    norm = float(np.linalg.norm(vector))
                    self._vectors[pid] = vector / norm if norm > 0 else None
                for pid in chunk:
                    self._vectors.setdefault(pid, None)
        out: dict[str, np.ndarray] = {}
        for pid in ids:
            vector = self._vectors.get(pid)
            if vector is not None:
                out[pid] = vector
        return out

    def _new_matrix(self, first_day: date) -> tuple[list[str], np.ndarray]:
        if first_day not in self._matrices:
            found = self.vectors(self.new_papers(first_day))
            ids = list(found)
            matrix = np.stack([found[p] for p in ids]) if ids else np.zeros((0, 1), np.float32)
            self._matrices[first_day] = (ids, matrix)
        return self._matrices[first_day]

    def search(self) -> SearchService | None:
        if self._search is None and not self._search_broken:
            from paperboy.search import open_search

            try:
                self._search = open_search(self.settings, self.store)
                self._own_search = True
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
                title=_squash(paper.title) or pid,
                authors=short_authors(paper.authors),
                upvotes=self._upvotes.get(pid, 0),
                why=why,
                excerpt=excerpt(paper.abstract),
                url=f"{self.base}/papers/{pid}",
            )
            self._shown[(pid, why)] = shown
        return shown

    def trending_section(
        self, sub: Subscription, first_day: date, skip: set[str]
    ) -> list[tuple[str, str]]:
        picked: list[tuple[str, str]] = []
        ranked = self.ranking(first_day)
        size = self.settings.digest_size
        for start in range(0, len(ranked), 100):
            batch = [
                b
                for b in ranked[start : start + 100]
                if b.paper_id not in skip and b.points >= sub.min_upvotes
            ]
            self._load([b.paper_id for b in batch])
            for b in batch:
                paper = self._papers.get(b.paper_id)
                if paper is None or not matches_categories(paper.categories, sub.categories):
                    continue
                picked.append((b.paper_id, _trending_why(b)))
                skip.add(b.paper_id)
                if len(picked) >= size:
                    return picked
        return picked

    def liked(self, user_id: int) -> list[tuple[str, str]]:
        """(paper id, how) of the papers the user upvoted or collected, most recent first."""
        out: dict[str, str] = {}
        for pid, _at in self.store.activity.votes_of(user_id)[:LIKED_MAX]:
            out.setdefault(pid, "you upvoted")
        owned = self.collections.of_user(user_id)
        if owned:
            items = self.collections.notes_of([c.id for c in owned])
            names = {c.id: c.name for c in owned}
            collected = sorted(
                (
                    (added, pid, names[cid])
                    for cid, rows in items.items()
                    for pid, _title, _note, added in rows
                ),
                reverse=True,
            )
            for _added, pid, name in collected[:LIKED_MAX]:
                out.setdefault(pid, f"you collected in “{name}”")
        return list(out.items())

    def for_you_section(
        self, user_id: int, first_day: date, skip: set[str]
    ) -> list[tuple[str, str]]:
        size = self.settings.digest_for_you
        liked = self.liked(user_id)
        if size <= 0 or not liked:
            return []
        liked_vectors = self.vectors([pid for pid, _how in liked])
        sources = [
            (pid, how) for pid, how in liked if pid in liked_vectors and pid not in self.hidden
        ]
        if not sources:
            return []
        ids, matrix = self._new_matrix(first_day)
        if not ids:
            return []
        liked_ids = {pid for pid, _how in liked}
        sims = matrix @ np.stack([liked_vectors[pid] for pid, _how in sources]).T
        best = sims.argmax(axis=1)
        score = sims[np.arange(len(ids)), best]
        picked: list[tuple[str, str]] = []
        chosen_sources: list[int] = []
        for row in np.argsort(-score, kind="stable"):
            if score[row] < MIN_SIMILARITY:
                break
            pid = ids[row]
            if pid in skip or pid in liked_ids:
                continue
            picked.append((pid, ""))
            chosen_sources.append(int(best[row]))
            skip.add(pid)
            if len(picked) >= size:
                break
        self._load([pid for pid, _ in picked] + [sources[i][0] for i in chosen_sources])
        out = []
        for (pid, _), source in zip(picked, chosen_sources, strict=True):
            source_id, how = sources[source]
            source_paper = self._papers.get(source_id)
            title = _squash(source_paper.title) if source_paper is not None else source_id
            out.append((pid, f"Similar to “{title}”, which {how}"))
        return out

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
        self.new_papers(first_day)
        new = self._new_sets[first_day]
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

    # -- one digest -------------------------------------------------------------------------

    def prefetch(self, subscription_ids: Sequence[int]) -> None:
        """Read the sent papers and alerts of these subscribers in one query each (what
        :meth:`build` would otherwise ask for one subscriber at a time)."""
        ids = list(dict.fromkeys(subscription_ids))
        self._sent = {sid: set() for sid in ids}
        self._alerts = {sid: [] for sid in ids}
        with self.store.engine.connect() as conn:
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                query = select(sent_papers.c.subscription_id, sent_papers.c.paper_id).where(
                    sent_papers.c.subscription_id.in_(chunk)
                )
                for sid, pid in conn.execute(query):
                    self._sent[sid].add(pid)
                query = select(alerts).where(alerts.c.subscription_id.in_(chunk))
                for r in conn.execute(query.order_by(alerts.c.id)):
                    self._alerts[r.subscription_id].append(
                        Alert(r.id, r.subscription_id, r.query, r.mode, r.created_at)
                    )

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
        parts: list[tuple[str, str, list[tuple[str, str]]]] = []
        if sub.include_trending:
            heading = "Trending since your last digest" if sub.last_digest_at else "Trending now"
            parts.append(("trending", heading, self.trending_section(sub, first_day, skip)))
        if sub.user_id is not None and self.settings.digest_for_you > 0:
            parts.append(("for_you", "For you", self.for_you_section(sub.user_id, first_day, skip)))
        for alert in alerts_of:
            picked = []
            for pid in self.alert_ids(alert, first_day):
                if pid not in skip:
                    picked.append((pid, f"Matches your alert '{alert.query}'"))
                    skip.add(pid)
                    if len(picked) >= ALERT_SIZE:
                        break
            parts.append(("alert", f"New for your alert “{alert.query}”", picked))
        ids = [pid for _k, _h, picked in parts for pid, _why in picked]
        self._load(ids)
        self._counts(ids)
        sections = tuple(
            Section(kind, heading, tuple(self._paper(pid, why) for pid, why in picked))
            for kind, heading, picked in parts
            if picked
        )
        return self.render(sub, period, since, sections, [a.query for a in alerts_of])

    def render(
        self,
        sub: Subscription,
        period: Period,
        since: datetime,
        sections: tuple[Section, ...],
        alert_queries: Sequence[str] = (),
    ) -> Digest:
        site = self.settings.site_name
        count = sum(len(s.papers) for s in sections)
        when = period.label
        if count == 0:
            subject = f"{site}: nothing new for {when}"
        elif all(s.kind == "trending" for s in sections):
            subject = f"{site}: {_plural(count, 'trending paper')} for {when}"
        else:
            subject = f"{site}: {_plural(count, 'new paper')} for {when}"
        frequency = sub.frequency if sub.frequency in ("daily", "weekly") else "daily"
        upcoming = next_period(frequency, self.settings, self.now)
        unsubscribe = unsubscribe_url(self.settings, self.secret, sub.id)
        context: dict[str, Any] = {
            "site_name": site,
            "base_url": self.base,
            "subject": subject,
            "period": period,
            "sections": sections,
            "count": count,
            "subscription": sub,
            "frequency_text": FREQUENCY_TEXT.get(sub.frequency, sub.frequency),
            "categories": ", ".join(sub.categories),
            "alerts": list(alert_queries),
            "since_day": local_day(self.settings, since),
            "first_digest": sub.last_digest_at is None,
            "next_day": upcoming.day,
            "next_label": f"{upcoming.day:%A}, {upcoming.day:%b} {upcoming.day.day}",
            "unsubscribe_url": unsubscribe,
            "manage_url": manage_request_url(self.settings, self.secret, sub.id),
        }
        text, html = self.renderer.render(context)
        period_part = period.key.replace(":", ".")
        message_id = f"<digest.{sub.id}.{period_part}.{secrets.token_hex(8)}@{self.host}>"
        headers = {
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "List-Id": f"<digest.{self.host}>",
            "Auto-Submitted": "auto-generated",
            "Precedence": "bulk",
        }
        return Digest(sub, period, since, sections, message_id, subject, text, html, headers)

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


def as_email(digest: Digest, settings: Settings) -> EmailMessage:
    """The digest as the multipart message the sender would build (for previews)."""
    from paperboy.mail import SmtpConfig, compose

    return compose(
        sender=SmtpConfig.from_settings(settings).sender,
        to=digest.subscription.email,
        subject=digest.subject,
        text=digest.text,
        html=digest.html,
        headers=digest.headers,
        message_id=digest.message_id,
    )


def compose_due(
    store: SQLStore,
    settings: Settings,
    *,
    now: datetime | None = None,
    search: SearchService | None = None,
    progress: Progress | None = None,
) -> ComposeReport:
    """Compose the digest of every active subscriber due at ``now`` (default: the clock), once
    per period, into the outbox. Safe to run again at any time: done periods are not redone."""
    moment = as_utc(now) if now is not None else real_now()
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
    composer = Composer(store, settings, now=moment, search=search)
    failures_in_a_row = 0
    try:
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
                if outcome == "queued":
                    report.queued += 1
                elif outcome == "note":
                    report.notes += 1
                elif outcome == "skipped":
                    report.skipped += 1
                else:
                    report.existing += 1
            if progress is not None:
                progress(done, len(work))
    finally:
        composer.close()
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
]
