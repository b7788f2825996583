"""Mark the words of a text that match query terms, as safe HTML, and say which words matched.

Terms are the keyword index's analyzed terms (``paperboy.search.query.analyze_terms``): a word of
the text matches when one of its own analyzed terms is among them, so "Transformers" matches the
term of "transformer" and "Timothée" the term of "timothee". Text comes from feeds and users:
everything but the ``<mark>`` tags is HTML-escaped.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Mapping
from functools import lru_cache

from markupsafe import Markup, escape

from paperboy.search.query import TOKEN_RE, analyze_terms

__all__ = ["ELLIPSIS", "highlight", "matched_terms"]

ELLIPSIS = "\u2026"
MAX_MATCHED = 8
_BOUNDARY_SEARCH = 25  # how far a snippet's cut may move to reach a word boundary


@lru_cache(maxsize=65_536)
def _terms_of(word: str) -> tuple[str, ...]:
    """Analyzed terms of one lowercased word (NFC first, so a decomposed "é" folds too)."""
    if not word.isascii():
        word = unicodedata.normalize("NFC", word)
    return tuple(analyze_terms(word))


def _as_set(terms: Collection[str]) -> frozenset[str]:
    return terms if isinstance(terms, frozenset) else frozenset(terms)


@lru_cache(maxsize=256)
def _prefixes(terms: frozenset[str]) -> frozenset[str]:
    return frozenset(term[:2] for term in terms)


@lru_cache(maxsize=256)
def _candidates(prefixes: frozenset[str]) -> re.Pattern[str]:
    """Where a matching word can start in ASCII text: a word start with one of the prefixes."""
    alternatives = "|".join(sorted(map(re.escape, prefixes), key=len, reverse=True))
    return re.compile(rf"(?<![^\W_])(?:{alternatives})", re.IGNORECASE)


def _spans(text: str, frozen: frozenset[str]) -> list[tuple[int, int]]:
    if not frozen or not text:
        return []
    spans: list[tuple[int, int]] = []
    if text.isascii():
        # An ASCII word keeps its first two letters through lowercasing, folding and English
        # stemming, so only words starting like a term are analyzed (most words never are).
        end = 0
        for start in _candidates(_prefixes(frozen)).finditer(text):
            if start.start() < end:
                continue
            token = TOKEN_RE.match(text, start.start())
            if token is None:
                continue
            end = token.end()
            if any(term in frozen for term in _terms_of(token.group().lower())):
                spans.append(token.span())
        return spans
    for match in TOKEN_RE.finditer(text):
        if any(term in frozen for term in _terms_of(match.group().lower())):
            spans.append(match.span())
    return spans


def _word_char(char: str) -> bool:
    return char.isalnum() or unicodedata.category(char) in ("Mn", "Mc")


def _in_word(text: str, index: int) -> bool:
    """Whether cutting ``text`` at ``index`` would split a word."""
    return 0 < index < len(text) and _word_char(text[index - 1]) and _word_char(text[index])


def _window(text: str, spans: list[tuple[int, int]], max_chars: int) -> tuple[int, int]:
    """About ``max_chars`` of text around the densest run of matches, cut between words."""
    size = len(text)
    start = 0
    if spans:
        # The most matches that fit in one window (two pointers over the match starts).
        best, best_i, best_j, j = 0, 0, 0, 0
        for i, (first, _) in enumerate(spans):
            j = max(j, i)
            while j + 1 < len(spans) and spans[j + 1][1] - first <= max_chars:
                j += 1
            if j - i + 1 > best and spans[j][1] - first <= max_chars:
                best, best_i, best_j = j - i + 1, i, j
        cluster_start, cluster_end = spans[best_i][0], spans[best_j][1]
        if best == 0:  # one match longer than the window
            cluster_end = cluster_start + max_chars
        slack = max(0, max_chars - (cluster_end - cluster_start))
        start = max(0, min(cluster_start - slack // 2, size - max_chars))
    end = min(size, start + max_chars)
    # Move both cuts inwards to word boundaries, unless that would eat too much (long runs of
    # CJK text or URLs have no boundaries): then cut hard.
    if _in_word(text, start):
        moved = start
        while moved < end and _in_word(text, moved) and moved - start < _BOUNDARY_SEARCH:
            moved += 1
        if not _in_word(text, moved):
            start = moved
    if _in_word(text, end):
        moved = end
        while moved > start and _in_word(text, moved) and end - moved < _BOUNDARY_SEARCH:
            moved -= 1
        if not _in_word(text, moved) and moved > start:
            end = moved
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def highlight(text: str, terms: Collection[str], *, max_chars: int | None = None) -> Markup:
    """``text`` as HTML with each word matching one of ``terms`` in ``<mark>``.

    With ``max_chars``, a snippet instead: about ``max_chars`` characters around the densest
    cluster of matches (or the start of the text when nothing matches), cut between words, with
    "…" where text was cut off.
    """
    if not text:
        return Markup("")
    spans = _spans(text, _as_set(terms))
    start, end = 0, len(text)
    if max_chars is not None and len(text) > max_chars:
        start, end = _window(text, spans, max(1, max_chars))
    parts: list[str] = [ELLIPSIS] if start > 0 else []
    pos = start
    for first, last in spans:
        if last <= start or first >= end:
            continue
        first, last = max(first, start), min(last, end)
        parts += [escape(text[pos:first]), "<mark>", escape(text[first:last]), "</mark>"]
        pos = last
    parts.append(escape(text[pos:end]))
    if end < len(text):
        parts.append(ELLIPSIS)
    return Markup("".join(parts))


def matched_terms(
    fields: Mapping[str, str | None], terms: Collection[str], *, limit: int = MAX_MATCHED
) -> dict[str, list[str]]:
    """For each field, the distinct words of its text that match ``terms``, as written there,
    in order of first appearance (at most ``limit``; case-insensitively distinct). Fields
    without a match get an empty list."""
    wanted = _as_set(terms)
    found: dict[str, list[str]] = {}
    for name, text in fields.items():
        words: list[str] = []
        seen: set[str] = set()
        for first, last in _spans(text or "", wanted):
            word = (text or "")[first:last]
            key = word.lower()
            if key not in seen:
                seen.add(key)
                words.append(word)
                if len(words) >= limit:
                    break
        found[name] = words
    return found
