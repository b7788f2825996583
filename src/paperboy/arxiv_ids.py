"""Parse, validate and normalise arXiv identifiers.

Two schemes exist (https://info.arxiv.org/help/arxiv_identifier.html):

* New scheme, from April 2007: ``YYMM.NNNN`` (0704 to 1412, four-digit number) and
  ``YYMM.NNNNN`` (1501 on, five-digit number), e.g. ``0704.0001``, ``2401.12345``.
* Old scheme, until March 2007: ``archive(.SUBJ)/YYMMNNN``, e.g. ``hep-th/9901001`` or
  ``math.GT/0309136``.

Either may carry a version suffix ``vN`` (N >= 1, no leading zero). The parser also accepts
surrounding whitespace, an ``arXiv:`` prefix (any case) and ``arxiv.org`` abs/pdf URLs.

Normalisation:

* The canonical form has no version and, for old ids, no subject class:
  ``math.GT/0309136v2`` -> canonical ``math/0309136``, version 2, subject class ``GT``.
* The archive is matched case-insensitively and stored in lowercase.
* A two-letter subject class (``GT``, ``CO``, ``AI``, ...) is stored in uppercase, as arXiv
  writes it; longer ones (``stat-mech``, ``acc-ph``) are stored exactly as given.
* The subject class is informational only: it is not part of an :class:`ArxivId`'s equality
  or hash, because ``math.GT/0309136`` and ``math/0309136`` name the same paper.

Only the shape of an id is checked: a well-formed id for a month that has not happened yet,
or a number arXiv never assigned, is accepted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from paperboy.errors import InvalidArxivId

__all__ = [
    "OLD_ARCHIVES",
    "ArxivId",
    "abs_url",
    "canonical_id",
    "is_valid_arxiv_id",
    "parse_arxiv_id",
    "pdf_url",
]

ARXIV_BASE_URL = "https://arxiv.org"

#: Archives that appear in old-scheme ids, current and retired.
OLD_ARCHIVES: frozenset[str] = frozenset(
    {
        # current
        "astro-ph",
        "cond-mat",
        "cs",
        "gr-qc",
        "hep-ex",
        "hep-lat",
        "hep-ph",
        "hep-th",
        "math",
        "math-ph",
        "nlin",
        "nucl-ex",
        "nucl-th",
        "physics",
        "quant-ph",
        "q-bio",
        "q-fin",
        "stat",
        # retired (merged into others)
        "acc-phys",
        "adap-org",
        "alg-geom",
        "ao-sci",
        "atom-ph",
        "bayes-an",
        "chao-dyn",
        "chem-ph",
        "cmp-lg",
        "comp-gas",
        "dg-ga",
        "funct-an",
        "mtrl-th",
        "patt-sol",
        "plasm-ph",
        "q-alg",
        "solv-int",
        "supr-con",
    }
)

_FORMAT_HELP = (
    "a valid arXiv id looks like 2401.12345 (YYMM.NNNNN from 2015), 0704.0001 "
    "(YYMM.NNNN, April 2007 to 2014) or hep-th/9901001 (archive/YYMMNNN, until March 2007), "
    "optionally with a version such as v2"
)

# re.ASCII so that [0-9] / [A-Za-z] never match other Unicode digits or letters.
_URL_RE = re.compile(
    r"https?://(?:www\.|export\.)?arxiv\.org/(?P<kind>abs|pdf)/"
    r"(?P<id>[^?#]*?)(?P<pdf_suffix>\.pdf)?/?(?:[?#].*)?",
    re.IGNORECASE | re.ASCII | re.DOTALL,
)
_PREFIX_RE = re.compile(r"arxiv:", re.IGNORECASE | re.ASCII)
_NEW_RE = re.compile(
    r"(?P<yy>[0-9]{2})(?P<mm>[0-9]{2})\.(?P<number>[0-9]+)(?:v(?P<version>[0-9]+))?",
    re.ASCII,
)
_OLD_RE = re.compile(
    r"(?P<archive>[A-Za-z][A-Za-z-]*)(?:\.(?P<subject>[A-Za-z][A-Za-z-]{0,11}))?"
    r"/(?P<yy>[0-9]{2})(?P<mm>[0-9]{2})(?P<number>[0-9]{3})(?:v(?P<version>[0-9]+))?",
    re.ASCII,
)


@dataclass(frozen=True, slots=True)
class ArxivId:
    """A parsed arXiv identifier. Build one with :func:`parse_arxiv_id`.

    ``subject_class`` is excluded from equality and hashing (see the module docstring).
    """

    canonical: str
    version: int | None
    scheme: Literal["new", "old"]
    subject_class: str | None = field(default=None, compare=False)

    @property
    def versioned(self) -> str:
        """The canonical id with its version suffix, if it has one."""
        if self.version is None:
            return self.canonical
        return f"{self.canonical}v{self.version}"

    @property
    def abs_url(self) -> str:
        """URL of the abstract page (of this exact version when one is set)."""
        return f"{ARXIV_BASE_URL}/abs/{self.versioned}"

    @property
    def pdf_url(self) -> str:
        """URL of the PDF (of this exact version when one is set)."""
        return f"{ARXIV_BASE_URL}/pdf/{self.versioned}"

    def __str__(self) -> str:
        return self.versioned


def _invalid(text: object, reason: str) -> InvalidArxivId:
    return InvalidArxivId(f"{text!r} is not a valid arXiv id: {reason}; {_FORMAT_HELP}")


def _parse_version(original: str, raw: str | None) -> int | None:
    if raw is None:
        return None
    if raw.startswith("0"):
        raise _invalid(original, f"version 'v{raw}' must be a positive number, no leading zeros")
    return int(raw)


def _parse_new(original: str, match: re.Match[str]) -> ArxivId:
    yy, mm = int(match["yy"]), int(match["mm"])
    number = match["number"]
    yymm = match["yy"] + match["mm"]
    if not 1 <= mm <= 12:
        raise _invalid(original, f"month {match['mm']} in {yymm!r} is not 01..12")
    if (yy, mm) < (7, 4):
        raise _invalid(original, f"new-style ids start in April 2007 (0704), not {yymm!r}")
    expected_digits = 4 if yy < 15 else 5
    if len(number) != expected_digits:
        period = "April 2007 to December 2014" if expected_digits == 4 else "2015 onwards"
        raise _invalid(
            original,
            f"ids from {period} have a {expected_digits}-digit number after the dot, "
            f"got {len(number)} digits in {yymm}.{number}",
        )
    version = _parse_version(original, match["version"])
    return ArxivId(canonical=f"{yymm}.{number}", version=version, scheme="new")


def _parse_old(original: str, match: re.Match[str]) -> ArxivId:
    archive = match["archive"].lower()
    if archive not in OLD_ARCHIVES:
        raise _invalid(original, f"{match['archive']!r} is not an arXiv archive")
    yy, mm = int(match["yy"]), int(match["mm"])
    yymm = match["yy"] + match["mm"]
    if not 1 <= mm <= 12:
        raise _invalid(original, f"month {match['mm']} in {yymm!r} is not 01..12")
    year = 1900 + yy if yy >= 91 else 2000 + yy
    if not (1991 <= year <= 2007 and (year, mm) <= (2007, 3)):
        raise _invalid(
            original, f"old-style ids run from 1991 to March 2007 (YYMM 9101..0703), not {yymm!r}"
        )
    subject = match["subject"]
    if subject is not None and len(subject) == 2 and subject.isalpha():
        subject = subject.upper()
    version = _parse_version(original, match["version"])
    return ArxivId(
        canonical=f"{archive}/{yymm}{match['number']}",
        version=version,
        scheme="old",
        subject_class=subject,
    )


def parse_arxiv_id(text: str) -> ArxivId:
    """Parse an arXiv id, ``arXiv:`` reference or arxiv.org abs/pdf URL.

    Raises :class:`~paperboy.errors.InvalidArxivId` for anything else.
    """
    if not isinstance(text, str):
        raise _invalid(text, f"expected a string, got {type(text).__name__}")
    candidate = text.strip()
    if not candidate:
        raise _invalid(text, "it is empty")

    url = _URL_RE.fullmatch(candidate)
    if url is not None:
        if url["pdf_suffix"] is not None and url["kind"].lower() != "pdf":
            raise _invalid(text, "only /pdf/ URLs may end in .pdf")
        candidate = url["id"]
    else:
        prefix = _PREFIX_RE.match(candidate)
        if prefix is not None:
            candidate = candidate[prefix.end() :].lstrip()

    new = _NEW_RE.fullmatch(candidate)
    if new is not None:
        return _parse_new(text, new)
    old = _OLD_RE.fullmatch(candidate)
    if old is not None:
        return _parse_old(text, old)
    raise _invalid(text, "it matches neither the new nor the old id format")


_PLAIN_NEW_RE = re.compile(r"(\d\d)(0[1-9]|1[0-2])\.(\d{4,5})", re.ASCII)


def canonical_id(text: str) -> str:
    """Canonical form (no version, no subject class): ``parse_arxiv_id(text).canonical``."""
    plain = _PLAIN_NEW_RE.fullmatch(text) if isinstance(text, str) else None
    if plain is not None:  # fast path for bulk imports: an already canonical new-style id
        yy = plain[1]
        if len(plain[3]) == (4 if yy < "15" else 5) and yy + plain[2] >= "0704":
            return text
    return parse_arxiv_id(text).canonical


def is_valid_arxiv_id(text: str) -> bool:
    """Whether :func:`parse_arxiv_id` accepts ``text``."""
    try:
        parse_arxiv_id(text)
    except InvalidArxivId:
        return False
    return True


def abs_url(text: str) -> str:
    """Abstract-page URL for the id in ``text``, keeping its version if it has one."""
    return parse_arxiv_id(text).abs_url


def pdf_url(text: str) -> str:
    """PDF URL for the id in ``text``, keeping its version if it has one."""
    return parse_arxiv_id(text).pdf_url
