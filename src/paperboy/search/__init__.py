"""Search over the paper store: BM25 keyword index, vector index, hybrid ranking, evaluation.

``open_search`` wires them for a store from the settings; views call the returned service.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import platformdirs

from paperboy.search.index import SearchIndex, default_index_dir
from paperboy.search.pg import PgSearchIndex
from paperboy.search.service import FusionParams, QueryEncoder, SearchService
from paperboy.settings import Settings
from paperboy.store.sql import SQLStore

__all__ = ["FusionParams", "SearchIndex", "SearchService", "index_dir", "open_search"]


def index_dir(settings: Settings) -> Path:
    """Where the store's search indexes live (see ``Settings.index_dir``)."""
    if settings.index_dir is not None:
        return Path(settings.index_dir)
    beside = default_index_dir(settings.database_url)
    if beside is not None:
        return beside
    digest = hashlib.blake2b(settings.database_url.encode(), digest_size=8).hexdigest()
    return Path(platformdirs.user_cache_dir("paperboy")) / "index" / digest


def _load_encoder(settings: Settings) -> QueryEncoder:
    from paperboy.embed.model import load_embedder

    return load_embedder(max_tokens=settings.embed_max_tokens)


def open_search(settings: Settings, store: SQLStore) -> SearchService:
    """The search service of ``store``: indexes in ``index_dir(settings)``, the packaged model."""
    from paperboy.embed.model import MODEL_NAME

    index: SearchIndex | PgSearchIndex
    if store.backend == "postgresql":
        index = PgSearchIndex(store, MODEL_NAME)  # searches inside the database
    else:
        index = SearchIndex(store, index_dir(settings), MODEL_NAME)
    encoder = (lambda: _load_encoder(settings)) if settings.semantic_search else None
    params = FusionParams(
        k=settings.search_rrf_k,
        keyword_weight=settings.search_keyword_weight,
        semantic_weight=settings.search_semantic_weight,
        depth=settings.search_depth,
        recency=settings.search_recency_boost,
        popularity=settings.search_popularity_boost,
    )
    return SearchService(store, index, encoder, params)
