"""The one wiring function: settings and a store in, every domain service the views need out.

``build`` is what the web app (``paperboy.web.app.create_app``), the CLI (``paperboy.cli``) and
the digest runs of the daemon and the job queue (``paperboy.digest.jobs``) call; a script can
call it too and get the same services, signed with the same key, under the
same rules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from zoneinfo import ZoneInfo

from paperboy.community.account_flows import AccountFlows
from paperboy.community.accounts import Accounts, LoginPolicy, Signer, site_secret
from paperboy.community.cold_start import ColdStart
from paperboy.community.collections import Collections
from paperboy.community.comments import CommentService
from paperboy.community.moderation import Moderation
from paperboy.community.ratings import Ratings
from paperboy.community.votes import Votes
from paperboy.digest.subscribe import SubscriptionService
from paperboy.embed.model import MODEL_NAME
from paperboy.rank.recommend import Recommender
from paperboy.rank.service import TrendingService
from paperboy.search.service import SearchService
from paperboy.settings import Settings
from paperboy.store import SQLStore, open_store


@dataclass(frozen=True)
class Services:
    """What the views call: the store and the domain services over it. The search service is
    opened on first use (its index files or connections cost something), the rest at once."""

    settings: Settings
    store: SQLStore
    today: Callable[[], date]  # the site's date (injectable so tests can pin 'New')
    secret: str  # the signing key of sessions' CSRF tokens and every mailed link
    accounts: Accounts
    account_flows: AccountFlows  # sign-up, mailed links, resets: limits, mail and audit
    votes: Votes
    comments: CommentService
    collections: Collections
    moderation: Moderation
    ratings: Ratings  # a reader's private ratings and follows
    foryou: Recommender  # the personal ranker over the store, for every surface
    trending: TrendingService
    subscriptions: SubscriptionService  # the email digest: subscribe, manage, unsubscribe

    @cached_property
    def search(self) -> SearchService:
        """Hybrid search and similar papers over the store's indexes."""
        from paperboy.search import open_search

        return open_search(self.settings, self.store)

    @cached_property
    def cold_start(self) -> ColdStart:
        """Seed papers and library files turned into a reader's first ratings."""
        return ColdStart(self.store, self.settings, lambda: self.search)

    def close(self) -> None:
        """Close the search indexes if they were opened; the store stays open (its opener
        closes it)."""
        search = self.__dict__.pop("search", None)
        if search is not None:
            search.index.close()


@contextmanager
def built(settings: Settings, store: SQLStore) -> Iterator[Services]:
    """``build`` over an open store for one job (a digest run, a CLI command), closing what
    the services opened when it ends."""
    services = build(settings, store)
    try:
        yield services
    finally:
        services.close()


def site_today(settings: Settings) -> Callable[[], date]:
    """Today's date in the site's time zone (``settings.timezone``)."""
    zone = ZoneInfo(settings.timezone)
    return lambda: datetime.now(zone).date()


def build(
    settings: Settings,
    store: SQLStore | None = None,
    today: Callable[[], date] | None = None,
) -> Services:
    """Open the store (unless given) and build every service over it: what the web app, the
    CLI and scripts call, so each gets the same services under the same rules."""
    store = store or open_store(settings.database_url)
    today = today or site_today(settings)
    secret = site_secret(settings, store)
    accounts = Accounts(store.accounts, Signer(secret), LoginPolicy.from_settings(settings))
    return Services(
        settings=settings,
        store=store,
        today=today,
        secret=secret,
        accounts=accounts,
        account_flows=AccountFlows(accounts, store, settings),
        votes=Votes(store, settings, today),
        comments=CommentService(store, settings.rate_comment),
        collections=Collections(store),
        moderation=Moderation(store),
        ratings=Ratings(store, settings),
        foryou=Recommender(store, MODEL_NAME),
        trending=TrendingService(store.engine, settings.trending_gravity),
        subscriptions=SubscriptionService(settings, store, secret),
    )
