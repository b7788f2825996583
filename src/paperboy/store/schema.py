"""The schema as SQLAlchemy Core tables. Alembic migrations create it; this module describes it."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

papers = Table(
    "papers",
    metadata,
    Column("id", String(64), primary_key=True),  # canonical arXiv id, no version
    Column("version", Integer, nullable=True),
    Column("title", Text, nullable=False),
    Column("abstract", Text, nullable=False, default=""),
    Column("authors", JSON, nullable=False),  # list of names, in order
    Column("categories", JSON, nullable=False),  # primary first
    Column("primary_category", String(64), nullable=True),
    Column("published", DateTime, nullable=True),
    Column("updated", DateTime, nullable=True),
    Column("comments", Text, nullable=True),
    Column("journal_ref", Text, nullable=True),
    Column("doi", String(255), nullable=True),
    Column("license", String(255), nullable=True),
    Column("github_repo", String(512), nullable=True),
    Column("github_stars", Integer, nullable=True),
    Column("project_page", String(1024), nullable=True),
    Column("withdrawn", Boolean, nullable=False, default=False),
    Column("created_at", DateTime, nullable=False),
    Column("modified_at", DateTime, nullable=False),
    # the store revision of the write that last changed this row: indexes catch up from it
    Column("change_seq", BigInteger, nullable=False, default=0, server_default="0"),
    Index("ix_papers_primary_category", "primary_category"),
    Index("ix_papers_change_seq", "change_seq", "id"),
    Index("ix_papers_published", "published"),
)

feed_entries = Table(
    "feed_entries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("paper_id", String(64), ForeignKey("papers.id", ondelete="CASCADE"), nullable=False),
    Column("feed_date", Date, nullable=False),
    Column("source", String(16), nullable=False),  # "daily" or "arxiv"
    Column("submitted_by", String(255), nullable=True),
    Column("upvotes", Integer, nullable=False, default=0),
    Column("num_comments", Integer, nullable=False, default=0),
    Column("created_at", DateTime, nullable=False),
    Column("announce_type", String(16), nullable=True),  # arXiv listing: "new" or "cross"
    UniqueConstraint("paper_id", "feed_date", name="uq_feed_entries_paper_date"),
    Index("ix_feed_entries_date_upvotes", "feed_date", "upvotes", "paper_id"),
)

ingest_log = Table(
    "ingest_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(64), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime, nullable=True),
    Column("status", String(16), nullable=False),  # running, ok, partial, failed, interrupted
    Column("inserted", Integer, nullable=False, default=0),
    Column("updated", Integer, nullable=False, default=0),
    Column("skipped", Integer, nullable=False, default=0),
    Column("errors", Integer, nullable=False, default=0),
    Column("message", Text, nullable=True),
    Column("host", String(255), nullable=True),  # where the run's process lives
    Column("pid", Integer, nullable=True),
    Index("ix_ingest_log_source_started", "source", "started_at"),
)

store_state = Table(
    "store_state",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", BigInteger, nullable=False),
)
"""Small counters. ``revision`` grows with every write transaction, so readers can tell cheaply
whether anything changed (the web layer keys its response cache on it); ``pace:<name>`` holds
the epoch millisecond of the last reserved request slot of a rate-limited remote service."""

harvest_state = Table(
    "harvest_state",
    metadata,
    Column("set_spec", String(64), primary_key=True),  # OAI-PMH set, e.g. "cs"
    Column("last_datestamp", String(10), nullable=True),  # YYYY-MM-DD of the last completed run
    Column("from_date", String(10), nullable=True),  # the harvest in progress: its from ...
    Column("until_date", String(10), nullable=True),  # ... and until arguments
    Column("resumption_token", Text, nullable=True),  # next page to fetch; None: none in progress
    Column("max_datestamp", String(10), nullable=True),  # largest datestamp seen in progress
    Column("pages_done", Integer, nullable=False, default=0),
    Column("records_done", Integer, nullable=False, default=0),
    Column("updated_at", DateTime, nullable=False),
)
"""One OAI-PMH harvest checkpoint per set, advanced in the transaction that stores each page."""

embeddings = Table(
    "embeddings",
    metadata,
    Column("paper_id", String(64), ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("model", String(64), primary_key=True),
    Column("paper_seq", BigInteger, nullable=False),  # the paper's change_seq when embedded
    Column("text_hash", String(64), nullable=False),  # digest of the embedded text
    Column("vector", LargeBinary, nullable=False),  # float16, little-endian, L2-normalised
    Column("seq", BigInteger, nullable=False),  # store revision of the write: vector indexes
    Index("ix_embeddings_model_seq", "model", "seq", "paper_id"),  # catch up from it
)
"""One sentence embedding per paper and model, written by ``paperboy embed``."""
