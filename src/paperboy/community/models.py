"""Record shapes of the community features (they live in ``paperboy.models``)."""

from __future__ import annotations

from paperboy.models import Activity, ApiToken, AuditEntry, User, VoteResult

__all__ = ["Activity", "ApiToken", "AuditEntry", "User", "VoteResult"]
