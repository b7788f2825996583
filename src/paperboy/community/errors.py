"""The one shape of a refused community action: a message for the person, the form field it is
about, and the HTTP status a view gives it."""

from __future__ import annotations


class Refusal(Exception):
    status = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
