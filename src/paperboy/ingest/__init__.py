"""Ingest sources: every one yields ``Record`` values into the store's one upsert path."""

from paperboy.ingest.files import demo_data_path, demo_embeddings_path, import_files

__all__ = ["demo_data_path", "demo_embeddings_path", "import_files"]
