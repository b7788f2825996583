"""What gets embedded for a paper, and a digest of it so changed papers get re-embedded."""

from __future__ import annotations

import hashlib
import re

_SPACE = re.compile(r"\s+")


def _squash(text: str | None) -> str:
    return _SPACE.sub(" ", text or "").strip()


def paper_text(title: str, abstract: str | None) -> str:
    """The text embedded for a paper: ``title + ". " + abstract``, whitespace normalised.

    Runs of whitespace (newlines of the arXiv listings included) become one space; a missing
    title or abstract leaves just the other, with no dangling separator.
    """
    title, abstract = _squash(title), _squash(abstract)
    if not title or not abstract:
        return title or abstract
    return f"{title}. {abstract}"


def text_hash(text: str) -> str:
    """A short stable digest of ``text`` (32 hex characters, blake2b of its UTF-8 bytes)."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()
