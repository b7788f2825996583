"""Settings: the one place that reads the environment.

Precedence: command-line flag > ``PAPERBOY_*`` environment variable > ``.env`` file > default.
Every field has a default and a description; ``docs/settings.md`` lists them all (a test checks).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

_RATE_PATTERN = r"^\s*\d+\s*/\s*\d*\s*(second|minute|hour|day)s?\s*$"
"""What ``paperboy.community.limits.Rate.parse`` reads: N/unit or N/M units."""


def _rate(default: str, description: str) -> Any:
    """A rate setting (N/period), checked against ``_RATE_PATTERN`` when settings load."""
    return Field(default=default, pattern=_RATE_PATTERN, description=description)


def default_database_url() -> str:
    """A SQLite file in the working directory: easy to find, easy to back up."""
    return f"sqlite:///{Path.cwd() / 'paperboy.db'}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PAPERBOY_", env_file=".env", extra="ignore", frozen=True
    )

    database_url: str = Field(
        default_factory=default_database_url,
        description="SQLAlchemy URL of the store. Default: sqlite:///./paperboy.db.",
    )
    host: str = Field(default="127.0.0.1", description="Address `paperboy serve` binds to.")
    port: int = Field(default=8000, description="Port `paperboy serve` listens on.")
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Web processes `paperboy serve` runs on one port (they share the database).",
    )
    ingest_token: SecretStr | None = Field(
        default=None,
        description="Bearer token that lets scripts push papers with POST /api/papers/import "
        "(unset: that route is off).",
    )
    push_max_bytes: int = Field(
        default=32 << 20,
        ge=1 << 20,
        le=1 << 30,
        description="Largest body POST /api/papers/import accepts, in bytes (every other "
        "request: 1 MiB).",
    )
    response_cache_seconds: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description="Pages served to visitors who are not logged in may be up to this many "
        "seconds behind the store (0: always exact); a burst of votes then re-renders each "
        "page once per interval, not once per vote.",
    )
    site_name: str = Field(default="Paperboy", description="Name shown in page titles.")
    page_size: int = Field(
        default=30, ge=1, le=200, description="Papers per page on the daily feed pages."
    )
    timezone: str = Field(
        default="UTC",
        description="IANA time zone that decides what 'today' is for the 'New' badge.",
    )
    import_batch_size: int = Field(
        default=5000, ge=1, description="Records per transaction when importing files."
    )
    arxiv_api_url: str = Field(
        default="https://export.arxiv.org/api/query",
        description="arXiv's Atom API endpoint (tests point it at a local replay server).",
    )
    arxiv_oai_url: str = Field(
        default="https://oaipmh.arxiv.org/oai",
        description="arXiv's OAI-PMH endpoint (tests point it at a local replay server).",
    )
    arxiv_rss_url: str = Field(
        default="https://rss.arxiv.org/rss",
        description="Base of arXiv's daily announcement RSS feeds; a category's feed is "
        "<base>/<category> (tests point it at a local replay server).",
    )
    arxiv_min_interval: float = Field(
        default=3.0,
        ge=0,
        description="Seconds between two requests to arXiv, shared by every Paperboy process "
        "on this store (arXiv's terms ask for 3).",
    )
    arxiv_timeout: float = Field(
        default=60.0, gt=0, description="Seconds to wait for an arXiv response before retrying."
    )
    arxiv_retries: int = Field(
        default=5, ge=0, description="Retries of a failed arXiv request before giving up."
    )
    arxiv_backoff: float = Field(
        default=5.0,
        ge=0,
        description="First wait in seconds before retrying a failed arXiv request; doubles "
        "each time.",
    )
    harvest_sets: str = Field(
        default="cs",
        description="Comma-separated OAI-PMH sets the daemon harvests (e.g. 'cs,stat,math').",
    )
    harvest_schedule: str = Field(
        default="30 20 * * sun,mon,tue,wed,thu",
        description="When the daemon harvests, as a crontab line (minute hour day month "
        "weekday); default: after arXiv's announcement at 20:00 US Eastern, Sunday to Thursday.",
    )
    harvest_timezone: str = Field(
        default="America/New_York", description="Time zone of harvest_schedule."
    )
    arxiv_max_retry_after: float = Field(
        default=600.0,
        ge=0,
        description="Longest 'Retry-After' from arXiv that is honoured; longer ones give up.",
    )

    index_dir: Path | None = Field(
        default=None,
        description="Directory of the search indexes (derived data, rebuilt from the store "
        "when missing). Default: '<database file>.index' beside an SQLite store.",
    )
    semantic_search: bool = Field(
        default=True,
        description="Rank by meaning too (sentence embeddings); off: keyword search only.",
    )
    embed_after_ingest: bool = Field(
        default=True,
        description="Embed new and changed papers after import, fetch, harvest and "
        "announcements (what `paperboy embed` does).",
    )
    embed_batch_size: int = Field(
        default=32, ge=1, le=1024, description="Texts per batch when embedding papers."
    )
    embed_max_tokens: int = Field(
        default=256,
        ge=16,
        le=512,
        description="Tokens of title and abstract the embedding model reads per paper.",
    )
    search_preload: bool = Field(
        default=True,
        description="Load the embedding model and the vector index when the server starts, "
        "so the first search is not slow.",
    )
    search_rrf_k: float = Field(
        default=30.0, gt=0, description="Reciprocal-rank fusion constant k of hybrid search."
    )
    search_keyword_weight: float = Field(
        default=1.0, ge=0, description="Weight of the keyword (BM25) ranking in hybrid search."
    )
    search_semantic_weight: float = Field(
        default=1.0, ge=0, description="Weight of the meaning (embedding) ranking in hybrid search."
    )
    search_depth: int = Field(
        default=200, ge=10, le=5000, description="Candidates each ranking contributes to a search."
    )
    search_recency_boost: float = Field(
        default=0.0, ge=0, description="Boost for recent papers in search results (0: off)."
    )
    search_popularity_boost: float = Field(
        default=0.0, ge=0, description="Boost for upvoted papers in search results (0: off)."
    )
    job_retries: int = Field(
        default=5,
        ge=0,
        description="Retries of a queued job (PostgreSQL) that failed for a passing reason "
        "(arXiv or the database unavailable) before it is marked failed.",
    )
    job_retry_wait: int = Field(
        default=60,
        ge=0,
        description="Seconds before a failed queued job's first retry; the wait grows by as "
        "much each time.",
    )

    # -- accounts and community -------------------------------------------------------------
    secret_key: SecretStr | None = Field(
        default=None,
        description="Key that signs CSRF tokens and emailed links (verification, password "
        "reset). Unset: one is made on first start and kept in the database, shared by every "
        "process.",
    )
    base_url: str = Field(
        default="http://127.0.0.1:8000",
        max_length=500,
        pattern=r"^[!-~]+$",
        description="The site's public address, for absolute links in emails and feeds "
        "(ASCII, at most 500 characters: an internationalised host in its xn-- form).",
    )
    cookie_secure: bool | None = Field(
        default=None,
        description="Send the session cookie only over HTTPS. Unset: on when base_url is https.",
    )
    session_days: int = Field(
        default=30, ge=1, le=365, description="Days a login lasts (server-side session)."
    )
    signup_open: bool = Field(
        default=True, description="Anyone may create an account (off: only `paperboy user create`)."
    )
    login_failures_per_client: str = _rate(
        "10/15minutes",
        description="Wrong passwords one client address may try (N/period, e.g. 10/15minutes); "
        "past it that address gets 429 with Retry-After until the period ends. No account is "
        "locked by it.",
    )
    login_failures_per_account: str = _rate(
        "20/hour",
        description="Wrong passwords for one account from all addresses together (N/period); "
        "past it the account takes no password until the period ends, but its owner can still "
        "log in with a sign-in link mailed to the account's address (or reset the password).",
    )
    rate_signup: str = Field(
        default="5/hour", description="Accounts created per client address (N/period)."
    )
    rate_mail: str = Field(
        default="3/hour",
        description="Account mails (confirmation resends, password resets, sign-in links) to "
        "one address, whoever asks (N/period).",
    )
    rate_mail_client: str = _rate(
        "20/hour",
        description="Password-reset and sign-in-link mails one client address may ask for, to "
        "any addresses (N/period).",
    )
    manage_link_hours: int = Field(
        default=24,
        ge=1,
        le=720,
        description="Hours a mailed link to change a digest subscription without logging in "
        "works (asked for on /subscription/link; unsubscribe links never expire).",
    )
    rate_vote: str = Field(default="60/minute", description="Votes per user (N/period).")
    rate_submit: str = Field(
        default="10/hour", description="Submission attempts per user (N/period)."
    )
    rate_comment: str = Field(
        default="10/minute", description="Comments and edits per user (N/period)."
    )
    rate_rating: str = Field(
        default="120/minute",
        description="Private ratings ('more like this', 'not for me') per user (N/period).",
    )
    recommend_rate_per_minute: int = Field(
        default=30,
        ge=1,
        le=100_000,
        description="Requests a minute one client (address) may make of the recommendations "
        "API (/api/recommendations, /recommendations/v1/...); a bearer token gets four times "
        "as many.",
    )
    submit_max_age_days: int = Field(
        default=7,
        ge=0,
        description="Papers can be submitted up to this many days after their first version.",
    )
    submit_daily_cap: int = Field(
        default=5, ge=0, description="Papers one user may submit per day (0: no cap)."
    )
    trending_gravity: float = Field(
        default=1.8,
        gt=0,
        description="How fast trending scores fall with age: score = points / (hours + 2)^gravity.",
    )
    smtp_host: str = Field(default="localhost", description="SMTP server that sends mail.")
    smtp_port: int = Field(default=25, ge=1, le=65535, description="SMTP server port.")
    smtp_security: Literal["none", "starttls", "tls"] = Field(
        default="none", description="none, starttls (usually port 587) or tls (port 465)."
    )
    smtp_username: str | None = Field(default=None, description="SMTP login, if required.")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP password.")
    smtp_timeout: float = Field(default=30.0, gt=0, description="Seconds to wait for SMTP.")
    mail_from: str = Field(
        default="Paperboy <paperboy@localhost>", description="The From address of mail sent."
    )

    # -- email digests ----------------------------------------------------------------------
    digest_size: int = Field(
        default=10, ge=1, le=100, description="Trending papers in one digest, at most."
    )
    digest_for_you: int = Field(
        default=5,
        ge=0,
        le=50,
        description="Papers in a signed-in subscriber's 'for you' section, ranked by "
        "similarity to the papers they upvoted or collected (0: no such section).",
    )
    digest_when_empty: Literal["skip", "note"] = Field(
        default="skip",
        description="When a period has nothing new for a subscriber: skip (send nothing) or "
        "note (a short mail saying so).",
    )
    digest_weekly_day: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = Field(
        default="mon", description="Day weekly digests go out (in the site's time zone)."
    )
    mail_rate_per_minute: int = Field(
        default=60,
        ge=1,
        description="Digests sent per minute at most, shared by every sender process.",
    )
    mail_max_attempts: int = Field(
        default=8,
        ge=1,
        description="Tries of one digest after temporary SMTP failures before it is marked failed.",
    )
    mail_retry_seconds: float = Field(
        default=60.0,
        ge=0,
        description="Wait before retrying a digest after a temporary SMTP failure; doubles "
        "with each try (capped at 6 hours).",
    )
    mail_pause_after: int = Field(
        default=3,
        ge=1,
        description="Permanent SMTP failures (5xx) in a row after which an address is "
        "paused (no more digests until it is resumed).",
    )
    mail_claim_seconds: float = Field(
        default=300.0,
        gt=0,
        description="A digest claimed by a sender on another machine that has not reported "
        "back after this many seconds is taken over (on the same machine a dead sender is "
        "detected at once).",
    )

    @property
    def site_url(self) -> str:
        """``base_url`` without a trailing slash: absolute links are ``site_url + path``."""
        return self.base_url.rstrip("/")

    @property
    def site_host(self) -> str:
        """The host of ``base_url`` (Message-ID and List-Id domains); localhost if it has none."""
        return urlsplit(self.base_url).hostname or "localhost"


def load_settings(**overrides: object) -> Settings:
    """Read settings once; explicit overrides (from CLI flags) win over the environment."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**clean)  # type: ignore[arg-type]
