"""Safe XML reading shared by the arXiv feed parsers (Atom API, OAI-PMH, RSS).

arXiv's feeds are untrusted input: no entity expansion, no network, no DTD, libxml2's size
limits on, so a hostile body cannot make the parser read files, reach hosts or blow up memory.
The helpers every parser needs live here too: :class:`Skip` (one unusable record, entry or
item), :func:`line_of`, :func:`count_of`, :func:`naive_utc` and :func:`parse_each`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TypeVar

from lxml import etree

T = TypeVar("T")
E = TypeVar("E")

_COUNT = re.compile(r"[0-9]{1,18}", re.ASCII)


class Skip(Exception):
    """One record, entry or item cannot be used; its reason goes to the page's problems."""


def line_of(element: etree._Element | None) -> str | None:
    """An element's text on one line, or None when absent or blank."""
    text = " ".join(text_of(element).split())
    return text or None


def count_of(value: str | None) -> int | None:
    """A non-negative count written in decimal digits, else None."""
    text = (value or "").strip()
    return int(text) if _COUNT.fullmatch(text) else None


def naive_utc(moment: datetime) -> datetime:
    """An aware datetime in UTC without its time zone (as stored); a naive one as it is."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo is not None else moment


def parse_each(
    elements: Iterable[E], parse: Callable[[E], T]
) -> tuple[list[T], list[tuple[int, str]]]:
    """``parse`` applied to each element: the results, and ``(index from 1, reason)`` for each
    element that raised :class:`Skip`."""
    results: list[T] = []
    problems: list[tuple[int, str]] = []
    for index, element in enumerate(elements, start=1):
        try:
            results.append(parse(element))
        except Skip as exc:
            problems.append((index, str(exc)))
    return results, problems


SAFE_OPTIONS: dict[str, bool] = {
    "resolve_entities": False,
    "no_network": True,
    "huge_tree": False,
    "load_dtd": False,
    "dtd_validation": False,
}
"""The parser options every arXiv body is read with (``XMLParser`` and ``iterparse``)."""


def safe_parser() -> etree.XMLParser:
    return etree.XMLParser(**SAFE_OPTIONS)


def text_of(element: etree._Element | None) -> str:
    """All text inside an element (comments and processing instructions left out)."""
    if element is None:
        return ""
    return "".join(t for t in element.itertext() if isinstance(t, str))


def parse_document(body: object, error: type[Exception], kind: str, shape: str) -> etree._Element:
    """The root element of a whole arXiv XML response, or ``error`` saying what went wrong.

    ``kind`` names what was expected ("Atom feed", "RSS feed") and ``shape`` shows it
    ("<rss><channel>"); bodies with a DOCTYPE are refused, as arXiv never sends one.
    """
    if not isinstance(body, bytes | bytearray | memoryview):
        raise error(f"expected the response body as bytes, got {type(body).__name__}")
    data = bytes(body)
    if not data.strip():
        raise error(f"empty response body: expected an {kind} ({shape})")
    try:
        root = etree.fromstring(data, safe_parser())
    except (etree.LxmlError, ValueError, LookupError) as exc:
        raise error(f"response is not well-formed XML, expected an {kind}: {exc}") from exc
    if root is None:
        raise error(f"response holds no XML element, expected an {kind}")
    if root.getroottree().docinfo.doctype:
        raise error(f"response declares a DOCTYPE; an arXiv {kind} never does")
    return root
