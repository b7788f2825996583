"""Search over the paper store: a BM25 keyword index (tantivy) and retrieval-quality evaluation."""

from paperboy.search.keyword import KeywordIndex, Scored, build_from_store

__all__ = ["KeywordIndex", "Scored", "build_from_store"]
