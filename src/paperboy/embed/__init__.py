"""Sentence embeddings for semantic search: the packaged all-MiniLM-L6-v2 model (``model``),
the text embedded for each paper and its digest (``text``), and the store job (``jobs``).

Importing this package is cheap: torch and transformers load with the first ``load_embedder``.
"""

from paperboy.embed.model import (
    DIM,
    MODEL_NAME,
    Embedder,
    EmbedderUnavailable,
    load_embedder,
)
from paperboy.embed.text import paper_text, text_hash

__all__ = [
    "DIM",
    "MODEL_NAME",
    "Embedder",
    "EmbedderUnavailable",
    "load_embedder",
    "paper_text",
    "text_hash",
]
