"""The schema as SQLAlchemy Core tables. Alembic migrations create it; this module describes it."""

from __future__ import annotations

from typing import Any

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
    func,
)

metadata = MetaData()


def _id() -> Column[int]:
    """An ``id`` primary key the database numbers."""
    return Column("id", Integer, primary_key=True, autoincrement=True)


def _ref(name: str, type_: Any, target: str, **options: Any) -> Column[Any]:
    """A column referring to ``target`` (``table.column``); its rows go when the target's do."""
    return Column(name, type_, ForeignKey(target, ondelete="CASCADE"), **options)


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
Index("ix_papers_doi", func.lower(papers.c.doi))  # library files match papers by DOI

feed_entries = Table(
    "feed_entries",
    metadata,
    _id(),
    _ref("paper_id", String(64), "papers.id", nullable=False),
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
    _id(),
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
    _ref("paper_id", String(64), "papers.id", primary_key=True),
    Column("model", String(64), primary_key=True),
    Column("paper_seq", BigInteger, nullable=False),  # the paper's change_seq when embedded
    Column("text_hash", String(64), nullable=False),  # digest of the embedded text
    Column("vector", LargeBinary, nullable=False),  # float16, little-endian, L2-normalised
    Column("seq", BigInteger, nullable=False),  # store revision of the write: vector indexes
    Index("ix_embeddings_model_seq", "model", "seq", "paper_id"),  # catch up from it
)
"""One sentence embedding per paper and model, written by ``paperboy embed``."""

# -- community: accounts, votes, comments, collections, moderation (migration 0006) ---------

users = Table(
    "users",
    metadata,
    _id(),
    Column("email", String(320), nullable=False, unique=True),  # lower-cased
    Column("username", String(32), nullable=False),  # as typed; shown as the submitter
    Column("username_key", String(32), nullable=False, unique=True),  # lower-cased
    Column("password_hash", Text, nullable=False),  # argon2id
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("email_verified_at", DateTime, nullable=True),
    Column("hidden_at", DateTime, nullable=True),  # hidden by a moderator: cannot log in
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", DateTime, nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("last_login_at", DateTime, nullable=True),
)

sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),  # sha256 of the cookie value
    _ref("user_id", Integer, "users.id", nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Column("last_seen_at", DateTime, nullable=False),
    Index("ix_sessions_user", "user_id"),
)
"""Server-side sessions: logging out or hiding a user deletes the rows, so a stolen cookie dies."""

api_tokens = Table(
    "api_tokens",
    metadata,
    _id(),
    _ref("user_id", Integer, "users.id", nullable=False),
    Column("name", String(100), nullable=False),
    Column(
        "token_hash", String(64), nullable=False, unique=True
    ),  # sha256; the token is shown once
    Column("prefix", String(16), nullable=False),  # first characters, to tell tokens apart
    Column("created_at", DateTime, nullable=False),
    Column("last_used_at", DateTime, nullable=True),
    Column("revoked_at", DateTime, nullable=True),
    # space-separated: "read", "read write" or "read write admin" (migration 0008)
    Column("scopes", String(64), nullable=False, server_default="read write"),
    Index("ix_api_tokens_user", "user_id"),
)

votes = Table(
    "votes",
    metadata,
    _ref("user_id", Integer, "users.id", primary_key=True),
    _ref("paper_id", String(64), "papers.id", primary_key=True),
    Column("created_at", DateTime, nullable=False),
    Index("ix_votes_paper", "paper_id"),
)
"""One upvote per user and paper; the primary key makes a second one impossible."""

paper_activity = Table(
    "paper_activity",
    metadata,
    _ref("paper_id", String(64), "papers.id", primary_key=True),
    Column("votes", Integer, nullable=False, default=0),  # upvotes cast here (rows in votes)
    Column("comments", Integer, nullable=False, default=0),  # visible comments written here
    Column("hidden_at", DateTime, nullable=True),  # hidden by a moderator
    Column("hidden_by", Integer, nullable=True),
    Column("hidden_reason", Text, nullable=True),
)
"""What happens to a paper on this site, apart from the imported record: counters kept in the
same transaction as the vote or comment that changes them, and moderation."""

comments = Table(
    "comments",
    metadata,
    _id(),
    _ref("paper_id", String(64), "papers.id", nullable=False),
    _ref("user_id", Integer, "users.id", nullable=False),
    Column("body", Text, nullable=False),  # Markdown source, rendered safely on display
    Column("created_at", DateTime, nullable=False),
    Column("edited_at", DateTime, nullable=True),
    Column("deleted_at", DateTime, nullable=True),  # deleted by its author
    Column("hidden_at", DateTime, nullable=True),  # hidden by a moderator
    Column("hidden_by", Integer, nullable=True),
    Index("ix_comments_paper", "paper_id", "created_at"),
    Index("ix_comments_user", "user_id", "created_at"),
)

collections = Table(
    "collections",
    metadata,
    _id(),
    _ref("user_id", Integer, "users.id", nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("is_public", Boolean, nullable=False, default=False),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    UniqueConstraint("user_id", "name", name="uq_collections_user_name"),
)

collection_items = Table(
    "collection_items",
    metadata,
    _ref("collection_id", Integer, "collections.id", primary_key=True),
    _ref("paper_id", String(64), "papers.id", primary_key=True),
    Column("note", Text, nullable=False, default=""),
    Column("added_at", DateTime, nullable=False),
    Index("ix_collection_items_paper", "paper_id"),
)

audit_log = Table(
    "audit_log",
    metadata,
    _id(),
    Column("at", DateTime, nullable=False),
    Column("actor_id", Integer, nullable=True),  # the user; None for the system or anonymous
    Column("action", String(64), nullable=False),  # vote, unvote, submit, comment, hide_paper...
    Column("target_type", String(32), nullable=False),  # paper, comment, user, collection
    Column("target_id", String(128), nullable=False),
    Column("detail", JSON, nullable=True),
    Index("ix_audit_log_at", "at"),
    Index("ix_audit_log_actor", "actor_id", "action", "at"),
    Index("ix_audit_log_target", "target_type", "target_id"),
)
"""Every vote, submission, comment and moderation action, with its time and actor."""

rate_counters = Table(
    "rate_counters",
    metadata,
    Column("key", String(255), primary_key=True),  # e.g. "login:ip:127.0.0.1"
    Column("window", BigInteger, primary_key=True),  # window start, epoch seconds
    Column("count", Integer, nullable=False),
)
"""Fixed-window rate-limit counters shared by every web process (incremented atomically)."""

site_secrets = Table(
    "site_secrets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
)
"""Secrets made on first use (the signing key when PAPERBOY_SECRET_KEY is unset), shared by
every process and kept across restarts so sessions and mailed links stay valid."""

# -- email: subscriptions, saved-search alerts, the outbox (migration 0007) ---------------------

subscriptions = Table(
    "subscriptions",
    metadata,
    _id(),
    Column("email", String(320), nullable=False, unique=True),  # lower-cased
    Column("user_id", Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    # pending (waiting for the confirmation link), active, unsubscribed, paused (bounces)
    Column("status", String(16), nullable=False),
    Column("frequency", String(16), nullable=False),  # daily (weekdays), weekly, off
    Column("categories", JSON, nullable=False),  # category prefixes, e.g. ["cs.CL", "stat"]; [] all
    Column("min_upvotes", Integer, nullable=False, default=0),
    Column("include_trending", Boolean, nullable=False, default=True),
    Column("created_at", DateTime, nullable=False),
    Column("confirmed_at", DateTime, nullable=True),
    Column("unsubscribed_at", DateTime, nullable=True),
    Column("last_digest_at", DateTime, nullable=True),  # end of the last period composed
    Column("failures", Integer, nullable=False, default=0),  # permanent SMTP failures in a row
    Column("paused_at", DateTime, nullable=True),
    Column("pause_reason", Text, nullable=True),
    Index("ix_subscriptions_status", "status", "frequency"),
    Index("ix_subscriptions_user", "user_id"),
)
"""One mailbox that gets digests, with its choices. No account is needed (double opt-in)."""

alerts = Table(
    "alerts",
    metadata,
    _id(),
    _ref("subscription_id", Integer, "subscriptions.id", nullable=False),
    Column("query", Text, nullable=False),  # in the search syntax
    Column("mode", String(16), nullable=False, default="hybrid"),
    Column("created_at", DateTime, nullable=False),
    UniqueConstraint("subscription_id", "query", name="uq_alerts_subscription_query"),
)
"""A saved search: new papers that match it go into the subscriber's digests."""

outbox = Table(
    "outbox",
    metadata,
    _id(),
    _ref("subscription_id", Integer, "subscriptions.id", nullable=False),
    Column("period", String(32), nullable=False),  # e.g. "daily:2026-11-27", "weekly:2026-W48"
    Column("message_id", String(255), nullable=False, unique=True),  # stable across resends
    Column("to_addr", String(320), nullable=False),
    Column("subject", Text, nullable=False),
    Column("body_text", Text, nullable=False),
    Column("body_html", Text, nullable=True),
    Column("headers", JSON, nullable=False),  # extra headers (List-Unsubscribe, ...)
    # pending, sending (claimed by a sender), sent, failed (permanent or out of retries),
    # skipped (nothing new and the site says skip: the period is done, nothing is mailed)
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("claimed_by", String(255), nullable=True),  # host:pid of the sender holding it
    Column("claimed_at", DateTime, nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("sent_at", DateTime, nullable=True),
    UniqueConstraint("subscription_id", "period", name="uq_outbox_subscription_period"),
    Index("ix_outbox_status_next", "status", "next_attempt_at", "id"),
)
"""Composed digests waiting to be sent, and the record of those sent. Composing a period twice
is impossible (unique per subscription and period); a message keeps its Message-ID forever."""

sent_papers = Table(
    "sent_papers",
    metadata,
    _ref("subscription_id", Integer, "subscriptions.id", primary_key=True),
    _ref("paper_id", String(64), "papers.id", primary_key=True),
    _ref("outbox_id", Integer, "outbox.id", nullable=False),
)
"""Which papers went into which subscriber's digests: a paper is never put in twice."""

# -- one reader's radar: private ratings and the profile the personal ranker reads (0009) ------

ratings = Table(
    "ratings",
    metadata,
    _ref("user_id", Integer, "users.id", primary_key=True),
    _ref("paper_id", String(64), "papers.id", primary_key=True),
    Column("value", Integer, nullable=False),  # +1 "more like this", -1 "not for me"
    Column("source", String(16), nullable=False),  # where it was given: card, paper, digest, ...
    Column("created_at", DateTime, nullable=False),
    Index("ix_ratings_user", "user_id", "created_at"),
)
"""A reader's private thumbs up and down; only their owner ever sees them."""

reader_profiles = Table(
    "reader_profiles",
    metadata,
    _ref("user_id", Integer, "users.id", primary_key=True),
    Column("categories", JSON, nullable=False),  # followed arXiv categories, e.g. ["cs.CL"]
    Column("authors", JSON, nullable=False),  # followed author names, as written
    Column("feed_key", String(64), nullable=True, unique=True),  # the secret of the Atom feed
    Column("last_visit_at", DateTime, nullable=True),  # of /for-you: "new since your last visit"
    Column("updated_at", DateTime, nullable=False),
)
"""What a reader told the personal ranker besides ratings: categories and authors to follow."""
