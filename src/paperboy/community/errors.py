"""The one shape of a refused community action: a message for the person, the form field it is
about, and the HTTP status a view gives it."""

from __future__ import annotations


class Refusal(Exception):
    status = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class AccountError(Exception):
    """A sign-up, login, address or token refused, with a message for the person and the form
    field it is about. (Defined here so ``community.addresses`` can raise it without importing
    the accounts service; ``paperboy.community.accounts`` re-exports it.)"""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
