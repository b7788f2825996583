"""What a digest subscriber chooses, checked: frequency, categories, minimum upvotes, trending
papers or not, and saved-search alerts. The same rules for web forms, the JSON API and scripts."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from paperboy.models import FREQUENCIES, Subscription
from paperboy.search.service import MODES

MAX_CATEGORIES = 20
MAX_UPVOTES = 10_000
MAX_ALERT_CHARS = 300
MAX_ALERTS = 50
CATEGORY = re.compile(r"^[a-z][a-z-]{0,19}(\.[A-Za-z][A-Za-z-]{0,19})?$")
"""An arXiv category or archive prefix: ``cs``, ``cs.CL``, ``astro-ph.GA``,
``cond-mat.mes-hall``."""

FREQUENCY_LABELS = {
    "daily": "daily, on weekdays",
    "weekly": "weekly",
    "off": "off (no digests for now)",
}


class InvalidChoices(ValueError):
    """Subscription choices that do not make sense; ``errors`` maps each field to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class Choices:
    """What a subscriber gets: how often, which categories (prefixes; none: all), the fewest
    upvotes a trending paper needs, and whether trending papers are included at all."""

    frequency: str = "daily"
    categories: tuple[str, ...] = ()
    min_upvotes: int = 0
    include_trending: bool = True

    @classmethod
    def of(cls, subscription: Subscription) -> Choices:
        return cls(
            subscription.frequency,
            tuple(subscription.categories),
            subscription.min_upvotes,
            subscription.include_trending,
        )

    def columns(self) -> dict[str, Any]:
        """The choices as the subscription columns (keyword arguments of the store)."""
        return {
            "frequency": self.frequency,
            "categories": self.categories,
            "min_upvotes": self.min_upvotes,
            "include_trending": self.include_trending,
        }

    def describe(self) -> list[str]:
        """The choices in words, one line each (for mails and pages)."""
        return [
            f"Frequency: {FREQUENCY_LABELS.get(self.frequency, self.frequency)}",
            "Categories: " + (", ".join(self.categories) if self.categories else "all"),
            "Trending papers: "
            + (
                f"yes, with at least {self.min_upvotes} upvote"
                f"{'' if self.min_upvotes == 1 else 's'}"
                if self.include_trending
                else "no (only your alerts)"
            ),
        ]


def _category(text: str) -> str:
    """``cs.cl`` -> ``cs.CL``: arXiv's two-letter subject classes are upper case, the longer
    ones (``physics.optics``, ``cond-mat.mes-hall``) lower case; the archive is lower case."""
    archive, dot, subject = text.partition(".")
    archive = archive.lower()
    if not dot:
        return archive
    return f"{archive}.{subject.upper() if len(subject) == 2 else subject.lower()}"


def parse_categories(text: str | Iterable[str]) -> tuple[str, ...]:
    """Category prefixes from a comma- or space-separated list (duplicates dropped, order
    kept); raises ValueError naming the first one that is not a category."""
    items = re.split(r"[\s,;]+", text) if isinstance(text, str) else list(text)
    found: list[str] = []
    for item in items:
        item = item.strip()
        if not item:
            continue
        if not CATEGORY.match(item) or item.endswith("-") or "--" in item:
            shown = item if len(item) <= 40 else item[:40] + "…"
            raise ValueError(
                f"“{shown}” is not an arXiv category: use prefixes such as cs.CL, stat or "
                "astro-ph, separated by commas or spaces."
            )
        found.append(_category(item))
    unique = tuple(dict.fromkeys(found))
    if len(unique) > MAX_CATEGORIES:
        raise ValueError(f"Choose at most {MAX_CATEGORIES} categories.")
    return unique


def parse_choices(
    frequency: str = "daily",
    categories: str | Iterable[str] = "",
    min_upvotes: str | int = 0,
    include_trending: bool = True,
) -> Choices:
    """Choices from form or JSON values; raises :class:`InvalidChoices` with every field that
    is wrong."""
    errors: dict[str, str] = {}
    frequency = (frequency or "").strip().lower()
    if frequency not in FREQUENCIES:
        errors["frequency"] = "Choose how often: " + ", ".join(FREQUENCIES) + "."
    try:
        parsed_categories = parse_categories(categories)
    except ValueError as exc:
        errors["categories"] = str(exc)
        parsed_categories = ()
    upvotes = 0
    try:
        upvotes = int(str(min_upvotes).strip() or "0")
    except ValueError:
        errors["min_upvotes"] = "The minimum upvotes is a whole number, e.g. 0 or 5."
    else:
        if not 0 <= upvotes <= MAX_UPVOTES:
            errors["min_upvotes"] = f"The minimum upvotes is between 0 and {MAX_UPVOTES}."
    if errors:
        raise InvalidChoices(errors)
    return Choices(frequency, parsed_categories, upvotes, bool(include_trending))


def check_alert(query: str, mode: str = "hybrid") -> tuple[str, str]:
    """A saved search's query (whitespace collapsed) and ranking mode; raises ValueError."""
    text = " ".join((query or "").split())
    if not text:
        raise ValueError("Type a search to save as an alert.")
    if len(text) > MAX_ALERT_CHARS:
        raise ValueError(f"An alert's search has at most {MAX_ALERT_CHARS} characters.")
    if any(ord(c) < 32 for c in text):
        raise ValueError("An alert's search cannot hold control characters.")
    chosen = mode if mode in MODES else "hybrid"
    return text, chosen
