"""The refusals community services raise: the shared hierarchy of ``paperboy.errors`` (what went
wrong, with a message and the form field it is about; no HTTP status), named here for the
community modules."""

from __future__ import annotations

from paperboy.errors import (
    Conflict,
    Invalid,
    LoginRequired,
    NotAllowed,
    NotFound,
    RateLimited,
    Refusal,
)

__all__ = [
    "AccountError",
    "Conflict",
    "Invalid",
    "LoginRequired",
    "NotAllowed",
    "NotFound",
    "RateLimited",
    "Refusal",
]


class AccountError(Invalid):
    """A sign-up, login, address or token refused, with a message for the person and the form
    field it is about. (Defined here so ``community.addresses`` can raise it without importing
    the accounts service; ``paperboy.community.accounts`` re-exports it.)"""
