"""The category filter of the feed pages, feeds and API (``?cat=cs.CL,cs.LG``, ``?cat=cs,-cs.CY``).

One pure place parses it; the filter itself (``paperboy.models.CategoryFilter``) matches papers,
and the store turns it into SQL (``paperboy.store.dialects.category_clause``); the web layer
only passes the text through.

Syntax: tokens separated by commas or spaces, at most ``MAX_TOKENS`` of them in at most
``MAX_CHARS`` characters. A token is an arXiv archive (``cs``, ``hep-th``, ``stat``), which
matches any of its categories, or an archive and subject class (``cs.CL``, ``math.AP``,
``q-bio.NC``), which matches only that category. A leading minus excludes: ``-cs.CY``. A paper
matches when any of its categories (cross-lists count) matches an included token, or when no
token is included, and none of its categories matches an excluded one.

Tokens are written as arXiv writes them: the archive lower case, a two-letter subject class
upper case (``cs.cl`` becomes ``cs.CL``), a longer one lower case (``physics.optics``).
Matching ignores case, in Python and in SQL alike.
"""

from __future__ import annotations

import re
from typing import Final

from paperboy.errors import Invalid
from paperboy.models import CategoryFilter

__all__ = ["CategoryFilter", "InvalidCategories", "parse_categories"]

PARAMETER: Final = "cat"
"""The query parameter the filter comes in."""

MAX_TOKENS: Final = 20
MAX_CHARS: Final = 200

TOKEN: Final = re.compile(r"^-?[a-z][a-z-]*(\.[A-Za-z-]+)?$")
"""One token once its archive is lower-cased: an optional minus, an archive, a subject class."""

_SEPARATORS: Final = re.compile(r"[\s,]+")


class InvalidCategories(Invalid):
    """A ``cat`` filter that is not a list of arXiv categories (the message says why)."""

    def __init__(self, message: str, field: str = PARAMETER) -> None:
        super().__init__(message, field)


def _shown(text: str) -> str:
    """A piece of the input quoted in a message, kept short (the pages escape it)."""
    return text if len(text) <= 40 else text[:39] + "\u2026"


def _spelled(token: str) -> str:
    """``CS.cl`` -> ``cs.CL``; ``physics.Optics`` -> ``physics.optics``."""
    archive, dot, subject = token.partition(".")
    if not dot:
        return archive.lower()
    subject = subject.upper() if len(subject) == 2 else subject.lower()
    return f"{archive.lower()}.{subject}"


def parse_categories(text: str) -> CategoryFilter:
    """The filter in ``text`` (empty or blank: the empty filter); ``InvalidCategories`` for
    anything that is not at most ``MAX_TOKENS`` tokens in ``MAX_CHARS`` characters."""
    if len(text) > MAX_CHARS:
        raise InvalidCategories(f"cat is too long: at most {MAX_CHARS} characters.")
    include: list[str] = []
    exclude: list[str] = []
    count = 0
    for raw in _SEPARATORS.split(text):
        if not raw:
            continue
        count += 1
        if count > MAX_TOKENS:
            raise InvalidCategories(f"cat takes at most {MAX_TOKENS} categories.")
        negative, token = raw.startswith("-"), _spelled(raw.removeprefix("-"))
        if not raw.isascii() or not TOKEN.match(("-" if negative else "") + token):
            raise InvalidCategories(
                f"cat: \u201c{_shown(raw)}\u201d is not an arXiv category; use categories "
                "such as cs.CL, math.AP or hep-th, or archives such as cs, separated by "
                "commas or spaces (a leading minus excludes one: -cs.CY)."
            )
        chosen = exclude if negative else include
        if token not in chosen:
            chosen.append(token)
    return CategoryFilter(tuple(include), tuple(exclude))
