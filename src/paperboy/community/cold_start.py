"""Cold start of a reader's radar: seed papers pasted as ids, URLs or DOIs, or a library file
(BibTeX as Zotero, Mendeley and Google Scholar export it; CSL JSON), turned into "more like
this" ratings, one line of outcome per entry.

Entries are matched in the store by arXiv id, DOI, then title (``paperboy.community.library``);
arXiv papers not yet here are fetched through the project's arXiv API client, at most
``FETCH_AT_ONCE`` per upload so a web request never waits long (the rest say so).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from paperboy.community.library import Resolution, parse_library, resolve_library
from paperboy.community.models import User
from paperboy.community.ratings import MAX_RATINGS, RatingInvalid, reader
from paperboy.errors import PaperboyError
from paperboy.models import Paper
from paperboy.settings import Settings
from paperboy.store import SQLStore

if TYPE_CHECKING:
    from paperboy.search.service import SearchService

FETCH_AT_ONCE = 20  # arXiv papers fetched per upload
TITLE_HITS = 5  # keyword hits looked at per title

__all__ = ["FETCH_AT_ONCE", "ColdStart"]


class ColdStart:
    """Seeds a reader's ratings from pasted ids or a library file."""

    def __init__(
        self,
        store: SQLStore,
        settings: Settings,
        search: Callable[[], SearchService],
        fetch: Callable[[Sequence[str]], Mapping[str, Paper]] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.search = search
        self.fetch = fetch if fetch is not None else self._fetch_from_arxiv

    def _titles(self, title: str) -> Sequence[Paper]:
        try:
            results = self.search().search(title, mode="keyword", per_page=TITLE_HITS)
        except PaperboyError:
            return []
        return [hit.paper for hit in results.hits]

    def _fetch_from_arxiv(self, ids: Sequence[str]) -> Mapping[str, Paper]:
        from paperboy.community.submit import quick_settings
        from paperboy.ingest.arxiv_api import fetch_papers
        from paperboy.ingest.http import ArxivHttp

        with ArxivHttp(quick_settings(self.settings), self.store) as http:
            report = fetch_papers(self.store, http, list(ids))
        return self.store.get_papers(report.found)

    def seed(
        self, user: User | None, data: bytes, filename: str | None, source: str
    ) -> list[Resolution]:
        """Parse ``data``, match each entry, and rate the papers found "more like this"
        (``source``: "seed" for pasted ids, "library" for a file). Raises LibraryInvalid for
        a file that cannot be read at all."""
        who = reader(user)
        entries = parse_library(data, filename)
        resolutions = resolve_library(
            entries,
            by_ids=self.store.get_papers,
            by_dois=self.store.papers_by_doi,
            search_titles=self._titles,
            fetch_arxiv=self.fetch,
            limit_fetch=FETCH_AT_ONCE,
        )
        hidden = self.store.activity.hidden_papers()
        found = [
            r.paper.id
            for r in resolutions
            if r.paper is not None and r.how != "duplicate" and r.paper.id not in hidden
        ]
        held = sum(self.store.ratings.count_of(who.id).values())
        if held + len(found) > MAX_RATINGS:
            raise RatingInvalid(
                f"that would make more than {MAX_RATINGS:,} ratings; upload a smaller file",
                "library",
            )
        self.store.ratings.rate_many(who.id, found, 1, source)
        return resolutions
