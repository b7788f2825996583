"""The search box's query language: words, "phrases", -exclusions and a few filters.

User text comes from the web, so :func:`parse_query` never raises: whatever it cannot use is
dropped, and the parts a user could have meant otherwise are reported in
:attr:`ParsedQuery.problems` (human-readable, safe to show next to the results).

Syntax
======

``attention mechanism``
    Free words. Ranked: a paper needs only some of them (BM25 over title, abstract and
    authors), and they are what meaning-based search embeds. A word is a run of letters and
    digits in any script (Latin, Greek, Cyrillic, Chinese, Devanagari with its vowel signs...);
    everything else (emoji, ``* ( ) ^ ~ [ ] { } \\ + :``) only separates words. Hyphens,
    apostrophes, dots and underscores *inside* a word keep it whole: ``self-supervised``,
    ``GPT-3.5``, ``don't`` and ``cs.CL`` are one word each. The keyword index splits such a word
    into its parts (``self`` and ``supervised``, ranked like any other words, not a required
    phrase), while meaning-based search sees it as typed. ``AND``, ``OR``, ``NOT`` and ``NEAR``
    are ordinary words in any case: there are no operators.
``"in-context learning"``
    A phrase: required, its words next to each other in this order, in the title, abstract or
    authors. A quoted single word is a required word. Punctuation inside quotes only separates
    words. A quote mark without a partner is ignored (as if it were not there). Typographic
    quotes (“ ” „ « ») work like ``"``.
``-word``, ``-"a phrase"``
    Excluded: papers with that word (or phrase) in the title or abstract are dropped. The ``-``
    must start the word (after a space, ``(`` or the start of the query): in ``t-SNE`` it is
    part of the word.
``author:lecun``, ``author:"Yann LeCun"``, ``au:bengio``
    Papers by that author (all of them, when given several). A comma separates names:
    ``author:lecun,bengio`` is two filters. Write a full name as "First Last", as arXiv lists it.
``cat:cs.CL``, ``cat:cs``, ``category:hep-th``
    Papers listed in that arXiv category, or in any category of that archive (``cat:cs``).
    Several ``cat:`` filters mean any of them. The category is normalised the way arXiv writes
    it: archive lowercase, a two-letter subject class uppercase (``cat:CS.cl`` -> ``cs.CL``).
``since:2024``, ``since:2024-03``, ``since:2024-03-15``
    Published on or after the first day of that year, month or day.
``until:2024``, ``until:2024-02``, ``until:2024-02-10``
    Published on or before the *last* day of that period: ``until:2024-02`` includes
    2024-02-29, ``until:2024`` all of 2024.
``year:2024``
    The whole year (``since:2024 until:2024``).

Filter names are case-insensitive (``Author:``, ``CAT:``); the value must follow the colon
directly (``author: lecun`` is an empty filter plus the word "lecun"), and may be quoted. Several
date filters narrow each other (the latest start and the earliest end win). A filter can't be
negated (``-author:x`` is ignored, with a problem). Anything else shaped like ``name:value``
(``title:``, ``before:``, a URL's ``https:``) is not a filter: both sides are used as words and
a problem says so.

Limits: the text is cut to ``max_chars`` (1,000) characters and to ``max_terms`` (64) words in
all (the words of phrases, exclusions and author names count; each category counts one); both
cuts are reported as problems.

:func:`analyze_terms` turns text into the keyword index's terms (same analyzer chain), for
term queries, highlighting and "matched terms" explanations.
"""

from __future__ import annotations

import calendar
import re
import threading
import unicodedata
from dataclasses import dataclass
from datetime import date

import tantivy

__all__ = ["TOKEN_RE", "WORD_RE", "ParsedQuery", "analyze_terms", "parse_query"]

MAX_CHARS = 1000
MAX_TERMS = 64
MAX_PROBLEMS = 10


def _mark_class() -> str:
    """Regex class body of the combining marks that continue a word (Mn, Mc).

    Python's ``\\w`` leaves them out, which would cut "हिन्दी" or a decomposed "é" into pieces.
    Variation selectors and enclosing marks (emoji modifiers, keycaps) are left out.
    """
    ranges: list[tuple[int, int]] = []
    category = unicodedata.category
    # The big blocks with no marks (CJK ideographs, Hangul syllables, surrogates, private use)
    # are skipped: building the class takes a few milliseconds instead of tens.
    for low, high in ((0x300, 0x3400), (0xA000, 0xAC00), (0xF900, 0x1E950)):
        for code in range(low, high):
            if 0xFE00 <= code <= 0xFE0F or category(chr(code)) not in ("Mn", "Mc"):
                continue
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))
    return "".join(f"\\U{lo:08x}" if lo == hi else f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in ranges)


_MARKS = _mark_class()
_LETTER = r"[^\W_]"  # a letter or digit, any script
_WORD_CHAR = rf"(?:[^\W_]|[{_MARKS}])"
_CONNECTOR = "[-'\u2019._\u200c\u2010\u2011]"  # hyphens, apostrophes, dot, underscore, ZWNJ

#: A run of letters and digits (any script) with their combining marks: one token of the text,
#: close to what the index's simple tokenizer cuts. Used for highlighting.
TOKEN_RE = re.compile(rf"{_LETTER}{_WORD_CHAR}*+")
#: A word of the query language: tokens joined by single hyphens, apostrophes, dots or
#: underscores (``self-supervised``, ``GPT-3.5``, ``don't``).
WORD_RE = re.compile(rf"{_LETTER}{_WORD_CHAR}*+(?:{_CONNECTOR}{_LETTER}{_WORD_CHAR}*+)*+")

_SKIP = re.compile(r'(?:[^\w"\-]|_)*+')  # characters that can't start anything
_KEY = re.compile(r"([A-Za-z]+):")
_VALUE = re.compile(r'"([^"]*)"|([^\s"]+)')
_QUOTES = str.maketrans(dict.fromkeys("\u201c\u201d\u201e\u201f\u00ab\u00bb\uff02", '"'))
_DATE = re.compile(r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?")
_CATEGORY = re.compile(r"([A-Za-z]+(?:-[A-Za-z]+)*)(?:\.([A-Za-z]+(?:-[A-Za-z]+)*))?")
_TRAILING = ".,;:!?)]}'"

_FILTERS = {
    "author": "author",
    "au": "author",
    "cat": "cat",
    "category": "cat",
    "since": "since",
    "until": "until",
    "year": "year",
}
_FILTER_LIST = "author:, cat:, since:, until:, year:"


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    """A user query taken apart. Every string is non-empty and has no ``"`` in it."""

    words: tuple[str, ...] = ()  # free words as typed, in order, duplicates (any case) dropped
    phrases: tuple[str, ...] = ()  # required phrases, words joined by one space
    excluded: tuple[str, ...] = ()  # -word / -"a phrase"
    authors: tuple[str, ...] = ()  # each required, words joined by one space
    categories: tuple[str, ...] = ()  # any of them; "cs.CL" or an archive "cs"
    date_from: date | None = None  # inclusive
    date_to: date | None = None  # inclusive
    problems: tuple[str, ...] = ()  # what was ignored or cut, for the user

    @property
    def semantic_text(self) -> str:
        """The text to embed: free words, then phrases. "" when there are none."""
        return " ".join((*self.words, *self.phrases))

    @property
    def has_filters(self) -> bool:
        """Whether anything restricts the result set (phrases and exclusions included)."""
        return bool(
            self.phrases
            or self.excluded
            or self.authors
            or self.categories
            or self.date_from is not None
            or self.date_to is not None
        )

    @property
    def is_empty(self) -> bool:
        """No words, phrases or filters: nothing to search for."""
        return not self.words and not self.has_filters

    def describe(self) -> str:
        """The query in canonical syntax: ``parse_query`` of it gives this query back (but
        for problems), as long as it fits ``max_chars``."""
        parts: list[str] = list(self.words)
        parts += [f'"{p}"' for p in self.phrases]
        parts += [f"-{_quoted(x)}" for x in self.excluded]
        parts += [f"author:{_quoted(a)}" for a in self.authors]
        parts += [f"cat:{c}" for c in self.categories]
        start, end = self.date_from, self.date_to
        if (
            start is not None
            and end is not None
            and start.year == end.year
            and (start.month, start.day) == (1, 1)
            and (end.month, end.day) == (12, 31)
        ):
            parts.append(f"year:{start.year:04d}")
        else:
            if start is not None:
                parts.append(f"since:{_period_text(start, first=True)}")
            if end is not None:
                parts.append(f"until:{_period_text(end, first=False)}")
        return " ".join(parts)


def _quoted(text: str) -> str:
    return text if " " not in text else f'"{text}"'


def _period_text(day: date, *, first: bool) -> str:
    """The shortest YYYY[-MM[-DD]] whose first (or last) day is ``day``."""
    month_end = calendar.monthrange(day.year, day.month)[1]
    if first and day.day == 1 or not first and day.day == month_end:
        if first and day.month == 1 or not first and day.month == 12:
            return f"{day.year:04d}"
        return f"{day.year:04d}-{day.month:02d}"
    return f"{day.year:04d}-{day.month:02d}-{day.day:02d}"


def _period(value: str) -> tuple[date, date] | None:
    """First and last day of YYYY, YYYY-MM or YYYY-MM-DD; None if it is not a date."""
    match = _DATE.fullmatch(value)
    if match is None:
        return None
    year_text, month_text, day_text = match.groups()
    year = int(year_text)
    try:
        if day_text is not None:
            day = date(year, int(month_text), int(day_text))
            return day, day
        if month_text is not None:
            month = int(month_text)
            last = calendar.monthrange(year, month)[1] if 1 <= month <= 12 else 0
            return date(year, month, 1), date(year, month, last)
        return date(year, 1, 1), date(year, 12, 31)
    except ValueError:
        return None


def _category(value: str) -> str | None:
    """``cs.CL``-shaped text in arXiv's spelling, or None."""
    match = _CATEGORY.fullmatch(value)
    if match is None:
        return None
    archive, subject = match.groups()
    if subject is None:
        return archive.lower()
    subject = subject.upper() if len(subject) == 2 else subject.lower()
    return f"{archive.lower()}.{subject}"


def _shown(text: str) -> str:
    """A piece of the query quoted in a problem message, kept short."""
    text = " ".join(text.split())
    return text if len(text) <= 40 else text[:39] + "\u2026"


class _Parse:
    """Collects the parts of one query, with the term budget and de-duplication."""

    def __init__(self, max_terms: int) -> None:
        self.max_terms = max(0, max_terms)
        self.budget = self.max_terms
        self.cut = False
        self.parts: dict[str, list[str]] = {
            k: [] for k in ("words", "phrases", "excluded", "authors", "categories")
        }
        self.seen: dict[str, set[str]] = {k: set() for k in self.parts}
        self.date_from: date | None = None
        self.date_to: date | None = None
        self.problems: list[str] = []

    def problem(self, message: str) -> None:
        if message not in self.problems and len(self.problems) < MAX_PROBLEMS:
            self.problems.append(message)

    def add(self, kind: str, value: str, cost: int) -> None:
        key = value.casefold()
        if not value or key in self.seen[kind]:
            return
        if cost > self.budget:
            self.cut = True
            self.budget = 0  # the words that follow are dropped too, even short ones
            return
        self.budget -= cost
        self.seen[kind].add(key)
        self.parts[kind].append(value)

    def add_text(self, kind: str, text: str) -> bool:
        """Add the words of ``text`` as one item (phrase, exclusion, name); False if none."""
        words = WORD_RE.findall(text)
        if words:
            self.add(kind, " ".join(words), len(words))
        return bool(words)

    def add_filter(self, key: str, value: str | None, quoted: bool, shown: str) -> None:
        if value is not None and not quoted and key != "author":
            value = value.rstrip(_TRAILING)  # cat:cs.CL, since:2024)
        if not value or not value.strip():
            example = {
                "author": 'author:name or author:"First Last"',
                "cat": "cat:cs.CL",
                "year": "year:2024",
            }.get(key, f"{key}:2024-03")
            self.problem(f'ignored "{_shown(shown)}": no value (write {example})')
            return
        if key == "author":
            added = [self.add_text("authors", name) for name in value.split(",")]
            if not any(added):
                self.problem(f'ignored "{_shown(shown)}": no name in it')
        elif key == "cat":
            category = _category(value.strip())
            if category is None:
                self.problem(
                    f'ignored "{_shown(shown)}": not an arXiv category (like cs.CL, hep-th or math)'
                )
            else:
                self.add("categories", category, 1)
        else:
            value = value.strip()
            period = _period(value) if key != "year" or len(value) == 4 else None
            if period is None:
                usage = "YYYY" if key == "year" else "YYYY, YYYY-MM or YYYY-MM-DD"
                what = "a year" if key == "year" else "a date"
                self.problem(f'ignored "{_shown(shown)}": not {what} (use {usage})')
                return
            start, end = period
            if key in ("since", "year") and (self.date_from is None or start > self.date_from):
                self.date_from = start
            if key in ("until", "year") and (self.date_to is None or end < self.date_to):
                self.date_to = end

    def result(self) -> ParsedQuery:
        if self.cut:
            self.problem(f"query cut to its first {self.max_terms:,} words")
        if (
            self.date_from is not None
            and self.date_to is not None
            and self.date_from > self.date_to
        ):
            self.problem(
                f"the dates leave nothing: from {self.date_from.isoformat()} "
                f"until {self.date_to.isoformat()}"
            )
        p = self.parts
        if (
            p["excluded"]
            and not (p["words"] or p["phrases"] or p["authors"] or p["categories"])
            and self.date_from is None
            and self.date_to is None
        ):
            self.problem("only excluded words: add words or filters to search for")
        return ParsedQuery(
            words=tuple(p["words"]),
            phrases=tuple(p["phrases"]),
            excluded=tuple(p["excluded"]),
            authors=tuple(p["authors"]),
            categories=tuple(p["categories"]),
            date_from=self.date_from,
            date_to=self.date_to,
            problems=tuple(self.problems),
        )


def _clean(text: str, max_chars: int, parse: _Parse) -> str:
    """Cut, normalise (NFC, typographic quotes) and drop an unpaired quote mark."""
    max_chars = max(0, max_chars)
    if len(text) > max_chars:
        text = text[:max_chars]
        parse.problem(f"query cut to {max_chars:,} characters")
    if not text.isascii():
        text = unicodedata.normalize("NFC", text).translate(_QUOTES)
    if text.count('"') % 2:
        last = text.rindex('"')
        # After a filter's colon the quote is dropped (author:"Yann -> author:Yann); anywhere
        # else it becomes a space, so it can't glue two words together.
        glue = "" if last and text[last - 1] == ":" else " "
        text = text[:last] + glue + text[last + 1 :]
        parse.problem('ignored an unpaired quote mark (")')
    return text


def parse_query(
    text: str, *, max_chars: int = MAX_CHARS, max_terms: int = MAX_TERMS
) -> ParsedQuery:
    """Take user text apart into words, phrases, exclusions and filters. Never raises."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    parse = _Parse(max_terms)
    text = _clean(text, max_chars, parse)
    pos, end = 0, len(text)
    while True:
        pos = _SKIP.match(text, pos).end()  # type: ignore[union-attr]
        if pos >= end:
            break
        char = text[pos]
        negated = False
        if char == "-":
            before = text[pos - 1] if pos else " "
            if pos + 1 < end and (before.isspace() or before in "([{"):
                negated = True
            pos += 1
            if not negated:
                continue
            char = text[pos]
        if char == '"':
            close = text.index('"', pos + 1)  # quotes are paired by _clean
            parse.add_text("excluded" if negated else "phrases", text[pos + 1 : close])
            pos = close + 1
            continue
        key_match = _KEY.match(text, pos)
        if key_match is not None:
            key = _FILTERS.get(key_match.group(1).lower())
            after = key_match.end()
            if key is not None:
                value_match = _VALUE.match(text, after)
                stop = value_match.end() if value_match else after
                shown = text[pos - negated : stop]
                if negated:
                    parse.problem(f'ignored "{_shown(shown)}": filters cannot be negated')
                elif value_match is None:
                    parse.add_filter(key, None, False, shown)
                else:
                    quoted, bare = value_match.groups()
                    parse.add_filter(key, bare if quoted is None else quoted, bare is None, shown)
                pos = stop
                continue
            if after < end and not text[after].isspace():
                parse.problem(
                    f'unknown filter "{key_match.group(1)}:" treated as words '
                    f"(filters are {_FILTER_LIST})"
                )
        word = WORD_RE.match(text, pos)
        if word is None:  # a lone "-" before something that is not a word
            continue
        parse.add("excluded" if negated else "words", word.group(), 1)
        pos = word.end()
    return parse.result()


# -- the index's analyzer -----------------------------------------------------------------------


def build_analyzer() -> tantivy.TextAnalyzer:
    """The keyword index's analyzer ("en_stem_fold"): simple tokenizer, long-token removal,
    lowercase, ASCII folding, English stemmer. The index registers it and ``analyze_terms``
    uses it, so query terms are always made the way indexed terms were."""
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(40))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .filter(tantivy.Filter.stemmer("english"))
        .build()
    )


_analyzer: tantivy.TextAnalyzer | None = None
_analyzer_lock = threading.Lock()


def analyze_terms(text: str) -> list[str]:
    """The keyword index's terms for ``text``: split on anything but letters and digits,
    lowercased, ASCII-folded, English-stemmed ("Transformers" -> ["transform"])."""
    global _analyzer
    if not text:
        return []
    if _analyzer is None:
        with _analyzer_lock:
            if _analyzer is None:
                _analyzer = build_analyzer()
    try:
        return list(_analyzer.analyze(text))
    except UnicodeEncodeError:  # lone surrogates (broken JSON escapes) can't cross to Rust
        return list(_analyzer.analyze(text.encode("utf-8", "replace").decode("utf-8")))
