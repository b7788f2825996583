"""How deep any search may go: no engine (tantivy, usearch, SQL) is ever asked for more.

Callers page through at most ``MAX_RESULTS`` results, as Elasticsearch's ``max_result_window``
(also 10,000) allows: a page beyond it is empty. Every search method passes its size through
``bounded`` before an engine sees it, whoever the caller, so a huge page number can never
become a huge allocation (tantivy's top-k collector aborts the process when it cannot allocate
``limit`` slots) or an integer the engine cannot hold.
"""

from __future__ import annotations

MAX_RESULTS = 10_000
"""The deepest result any search returns (offset + limit)."""

MAX_PER_PAGE = 120
"""The most results one page of a search holds (Hugging Face's ``/api/papers/search``
allows up to 120 as well)."""


def bounded(size: int) -> int:
    """``size`` clamped to ``0 .. MAX_RESULTS`` (any int, however large or negative)."""
    return max(0, min(int(size), MAX_RESULTS))
