"""A reader's library file matched to stored papers (the cold start); pure, no I/O.

:func:`parse_library` reads BibTeX (Zotero, Mendeley, Google Scholar, DBLP), CSL JSON (Zotero)
or a plain list (one arXiv id, arXiv URL, DOI or doi.org URL a line); hostile input is bounded
and refused with :class:`LibraryInvalid` only. :func:`resolve_library` matches each entry by
arXiv id, DOI, then title, fetches missing arXiv papers, and says what happened in one line.
"""

from __future__ import annotations

import difflib
import json
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain, islice
from typing import Literal
from urllib.parse import unquote

import bibtexparser
from bibtexparser.middlewares import NormalizeFieldKeys
from bibtexparser.middlewares.names import (
    InvalidNameError,
    parse_single_name_into_parts,
    split_multiple_persons_names,
)
from bibtexparser.model import Entry, ParsingFailedBlock

from paperboy.arxiv_ids import parse_arxiv_id
from paperboy.errors import Invalid, InvalidArxivId, PaperboyError
from paperboy.models import Paper

__all__ = ["LibraryEntry", "LibraryInvalid", "Resolution", "parse_library", "resolve_library"]

MAX_BYTES = 2 * 1024 * 1024
MAX_ENTRIES = 2000
MAX_TITLE = 1000
MAX_AUTHORS = 100
MAX_LABEL = 80
_MAX_FIELD = 20_000  # characters of one field value looked at (title, authors, note, ...)
_MAX_BLOCK_STARTS = 2 * MAX_ENTRIES + 100  # ``@type{`` marks scanned before BibTeX parsing
FUZZY_RATIO = 0.93
FUZZY_MIN_CHARS = 20

How = Literal[
    "arxiv", "doi", "title", "fetched", "not_found", "not_fetched", "duplicate", "invalid"
]


class LibraryInvalid(Invalid):
    """A library file that cannot be read at all: too big, empty, or no format fits."""

    def __init__(self, message: str, field: str | None = "library") -> None:
        super().__init__(message, field)


@dataclass(frozen=True, slots=True)
class LibraryEntry:
    """One entry of a library file; one that could not be read has only ``problem`` set."""

    position: int
    label: str
    title: str | None = None
    arxiv_id: str | None = None
    doi: str | None = None
    authors: tuple[str, ...] = ()
    year: int | None = None
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class Resolution:
    entry: LibraryEntry
    paper: Paper | None
    how: How
    message: str


_ID = r"(?P<id>\d{4}\.\d{4,5}(?:v\d+)?|[a-z][a-z-]*(?:\.[a-z][a-z-]{0,11})?/\d{7}(?:v\d+)?)"
_ARXIV_IN_TEXT = re.compile(
    r"(?:\barxiv\s*:\s*|arxiv\.org/(?:abs|pdf)/|\babs/|10\.48550/arxiv\.)" + _ID + r"(?!\w)",
    re.IGNORECASE | re.ASCII,
)
_DOI_PREFIX = re.compile(r"^\s*(?:https?://(?:dx\.|www\.)?doi\.org/|doi\s*:\s*)", re.IGNORECASE)
_DOI = re.compile(r"10\.\d{4,9}/\S+", re.ASCII)
_DOI_IN_URL = re.compile(r"https?://(?:dx\.|www\.)?doi\.org/(\S+)", re.IGNORECASE)


def _canonical(text: str) -> str | None:
    try:
        return parse_arxiv_id(text).canonical
    except InvalidArxivId:
        return None


def arxiv_in_text(text: str) -> str | None:
    """The first arXiv id that text names as one (``arXiv:…``, an arxiv.org URL, an arXiv DOI,
    CoRR's ``abs/…``); a bare number in free text is not taken for an id."""
    for match in _ARXIV_IN_TEXT.finditer(text[:_MAX_FIELD]):
        found = _canonical(match["id"])
        if found is not None:
            return found
    return None


def normalise_doi(text: str) -> str | None:
    """``https://doi.org/10.1/X``, ``doi:10.1/X`` or ``10.1/X`` as ``10.1/x``; None if no DOI
    (another URL included)."""
    value = text[:400].replace("\\_", "_").replace("{", "").replace("}", "").strip()
    url = _DOI_IN_URL.search(value)
    if url is not None:
        value = unquote(url[1])
    elif "://" in value:
        return None
    value = _DOI_PREFIX.sub("", value).strip().lower().rstrip(".,;")
    return value if len(value) <= 300 and _DOI.fullmatch(value) else None


def _ids(
    id_fields: Sequence[str], text_fields: Sequence[str], doi_fields: Sequence[str]
) -> tuple[str | None, str | None]:
    """(arXiv id, DOI) from fields that hold an id (the whole value, or one named in it), free
    text (only ids named as such: ``arXiv:…``, arxiv.org links) and fields with DOIs or URLs."""
    doi = next((d for d in map(normalise_doi, doi_fields) if d is not None), None)
    whole = (_canonical(v) for v in id_fields if len(v) <= 200)
    named = map(arxiv_in_text, [*id_fields, *doi_fields, *text_fields])
    return next((a for a in chain(whole, named) if a is not None), None), doi


_YEAR = re.compile(r"(?<!\d)(1[5-9]\d\d|2[01]\d\d)(?!\d)")
# A small TeX decoder, linear in its input: accents, letters, escapes; other commands dropped.
_CODES = "\u0300\u0301\u0302\u0308\u0303\u0304\u0307\u0306\u030c\u030b\u0327\u0328\u030a\u0323"
_MARKS = dict(zip("`'^\"~=.uvHckrd", _CODES, strict=True))  # accent command: combining mark
_LETTERS = {"L": "Ł", "l": "ł", "o": "ø", "O": "Ø", "ss": "ß", "ae": "æ", "AE": "Æ", "oe": "œ"}
_LETTERS |= {"OE": "Œ", "aa": "å", "AA": "Å", "i": "ı", "j": "ȷ", "textendash": "–"}
_LETTERS |= {"textemdash": "—", "&": "&", "%": "%", "_": "_", "$": "$", "#": "#", "\\": " "}
_ACCENT = re.compile(
    r"\\(?:([`'^\"~=.])\s*|([uvHckrd])(?:\s+|(?=\{)))(?:\{\s*(\\?[A-Za-z])\s*\}|(\\?[A-Za-z]))"
)
_COMMAND = re.compile(r"\\([A-Za-z]+\s*|[&%_$#\\{} ])(?:\{\})?")  # a word eats the space after


def _clean(text: str, limit: int) -> str | None:
    flat = " ".join(text.split())
    if len(flat) > limit:
        flat = flat[: limit - 1].rstrip() + "…"
    return flat or None


def _accent(match: re.Match[str]) -> str:
    base = (match[3] or match[4]).lstrip("\\")  # ``\\i``, ``\\j``: the dotted letter takes it
    return unicodedata.normalize("NFC", base + _MARKS[match[1] or match[2]])


def _command(match: re.Match[str]) -> str:
    name = match[1] if match[1] == " " else match[1].rstrip()
    return {"{": "\ue000", "}": "\ue001", " ": " "}.get(name) or _LETTERS.get(name, "")


def _delatex(text: str) -> str:
    """TeX accents (``\\"{o}``, ``{\\'e}``, ``\\v{S}``), letters (``\\L``, ``\\ss``) and escapes to
    text; other commands (``\\emph``) and braces dropped; math kept as written."""
    text = text[: 4 * MAX_TITLE]
    if "\\" in text:
        text = _COMMAND.sub(_command, _ACCENT.sub(_accent, text))
    text = text.replace("{", "").replace("}", "").replace("~", " ").replace("---", "—")
    return text.replace("--", "–").replace("\ue000", "{").replace("\ue001", "}")


def _year_of(*values: object) -> int | None:
    texts = (str(v)[:100] for v in values if isinstance(v, int | str) and not isinstance(v, bool))
    return next((int(m[1]) for m in map(_YEAR.search, texts) if m), None)


def _label(text: str, quoted: bool = False) -> str:
    return f"“{_clean(text, 60)}”" if quoted else _clean(text, MAX_LABEL) or "?"


_BLOCK_START = re.compile(r"@\w*[ \t]*[{(]")


def parse_library(data: bytes, filename: str | None = None) -> list[LibraryEntry]:
    """The entries of a BibTeX, CSL JSON or plain-list file, in file order; one that cannot be
    read comes back with ``problem`` set. Raises :class:`LibraryInvalid` for a file too big,
    empty, with more than :data:`MAX_ENTRIES` entries, or in none of these formats."""
    if len(data) > MAX_BYTES:
        limit = f"{MAX_BYTES // 2**20} MiB"
        raise LibraryInvalid(f"The file is over {limit}: export a smaller part of your library.")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 with a BOM, else UTF-8
        text = data.decode("utf-16", errors="replace").replace("\x00", "")
    else:  # bytes that are not UTF-8 become U+FFFD
        text = data.decode("utf-8-sig", errors="replace").replace("\x00", "")
    if not text.strip():
        raise LibraryInvalid("The file is empty.")
    name = (filename or "").lower()
    if name.endswith(".json") or text.lstrip()[:1] in ("[", "{"):
        return _parse_csl(text)
    if name.endswith((".bib", ".bibtex")) or _BLOCK_START.search(text):
        return _parse_bibtex(text)
    return _parse_list(text)  # each parser checks MAX_ENTRIES


def _too_many(count: int | str) -> LibraryInvalid:
    at_most = f"at most {MAX_ENTRIES} can be imported at once: split the file"
    return LibraryInvalid(f"The file has {count} entries; {at_most}.")


def _parse_bibtex(text: str) -> list[LibraryEntry]:
    starts = sum(1 for _ in islice(_BLOCK_START.finditer(text), _MAX_BLOCK_STARTS + 1))
    if starts > _MAX_BLOCK_STARTS:
        raise _too_many(f"more than {MAX_ENTRIES}")
    try:
        library = bibtexparser.parse_string(text, append_middleware=[NormalizeFieldKeys()])
    except Exception as exc:  # the parser's own state errors: the file, not us, is at fault
        raise LibraryInvalid(f"The BibTeX file could not be read: {_clean(str(exc), 200)}") from exc
    entries: list[LibraryEntry] = []
    for block in library.blocks:
        if isinstance(block, ParsingFailedBlock) and isinstance(block.ignore_error_block, Entry):
            block = block.ignore_error_block  # a duplicate key or field: the entry still counts
        if isinstance(block, Entry):
            entries.append(_bib_entry(len(entries) + 1, block))
        elif isinstance(block, ParsingFailedBlock):
            entries.append(_failed_block(len(entries) + 1, block))
        if len(entries) > MAX_ENTRIES:
            raise _too_many(f"more than {MAX_ENTRIES}")
    if not any(e.problem is None for e in entries):
        first = entries[0].problem if entries else None
        raise LibraryInvalid(
            f"No BibTeX entries could be read: {first}" if first else "No BibTeX entries found."
        )
    return entries


def _failed_block(position: int, block: ParsingFailedBlock) -> LibraryEntry:
    reason = getattr(block.error, "abort_reason", None) or str(block.error) or "syntax error"
    problem = f"not valid BibTeX: {_clean(str(reason), 200)}"
    return LibraryEntry(position, f"line {(block.start_line or 0) + 1}", problem=problem)


def _bib_entry(position: int, entry: Entry) -> LibraryEntry:
    fields = {
        k: v.value[:_MAX_FIELD] for k, v in entry.fields_dict.items() if isinstance(v.value, str)
    }
    raw_title = fields.get("title")
    title = _clean(_delatex(raw_title), MAX_TITLE) if raw_title else None
    prefix = fields.get("archiveprefix", fields.get("eprinttype", "arxiv")).lower()
    eprints = [fields.get("eprint", "")] if "arxiv" in prefix else []
    arxiv, doi = _ids(
        id_fields=[v for v in [*eprints, fields.get("arxivid", "")] if v],
        text_fields=[fields.get(k, "") for k in ("journal", "note", "howpublished", "volume")],
        doi_fields=[v for v in (fields.get("doi"), fields.get("url")) if v],
    )
    label = _label(entry.key or title or f"entry {position}")
    authors = _bib_authors(fields.get("author", ""))
    year = _year_of(fields.get("year"), fields.get("date"))
    return LibraryEntry(position, label, title, arxiv, doi, authors, year)


def _bib_authors(text: str) -> tuple[str, ...]:
    try:
        names = split_multiple_persons_names(text)[:MAX_AUTHORS]
    except Exception:  # hostile nesting the splitter does not expect
        return ()
    authors: list[str] = []
    for name in names:
        try:
            full = parse_single_name_into_parts(name).merge_first_name_first
        except InvalidNameError:
            full = name
        cleaned = _clean(_delatex(full), 200)
        if cleaned and cleaned.casefold() != "others":
            authors.append(cleaned)
    return tuple(authors)


def _parse_csl(text: str) -> list[LibraryEntry]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LibraryInvalid(
            f"The file is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
        ) from exc
    except (ValueError, RecursionError) as exc:  # nesting too deep, a number too long
        raise LibraryInvalid(f"The JSON file could not be read: {exc}") from exc
    items = document.get("items") if isinstance(document, dict) else document
    if not isinstance(items, list):
        raise LibraryInvalid(
            'The JSON file is not CSL JSON: expected a list of items or {"items": [...]}.'
        )
    if len(items) > MAX_ENTRIES:
        raise _too_many(len(items))
    if not items:
        raise LibraryInvalid("The CSL JSON file has no items.")
    return [_csl_entry(n, item) for n, item in enumerate(items, start=1)]


_RICH_TEXT = re.compile(r"</?(?:i|b|sc|sub|sup|span)(?: [^<>]{0,100})?>")


def _csl_entry(position: int, item: object) -> LibraryEntry:
    if not isinstance(item, dict):
        return LibraryEntry(position, f"item {position}", problem="not a CSL JSON object")

    def get(key: str) -> str:
        value = item.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value[:_MAX_FIELD] if isinstance(value, str) else ""

    title = _clean(_RICH_TEXT.sub("", get("title")), MAX_TITLE)  # Zotero's <i>, <sup>, nocase
    arxiv, doi = _ids(
        id_fields=[v for v in (get("number"), get("archive_location"), get("id")) if v],
        text_fields=[get(k) for k in ("note", "container-title", "publisher", "source")],
        doi_fields=[v for v in (get("DOI"), get("URL")) if v],
    )
    label = _label(title, quoted=True) if title else _label(get("id") or f"item {position}")
    authors, year = _csl_authors(item.get("author")), _csl_year(item.get("issued"))
    return LibraryEntry(position, label, title, arxiv, doi, authors, year)


def _csl_authors(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    names = []
    for person in (p for p in value[:MAX_AUTHORS] if isinstance(p, dict)):
        parts = [person.get(k) for k in ("given", "non-dropping-particle", "family")]
        literal = person.get("literal")
        name = " ".join(p[:200] for p in parts if isinstance(p, str))
        names.append(_clean(name or (literal[:200] if isinstance(literal, str) else ""), 200))
    return tuple(name for name in names if name)


def _csl_year(value: object) -> int | None:
    if not isinstance(value, dict):
        return _year_of(value)
    parts = value.get("date-parts")
    head = parts[0] if isinstance(parts, list) and parts else None
    first = head[0] if isinstance(head, list) and head else None
    return _year_of(first, value.get("raw"), value.get("literal"))


def _parse_list(text: str) -> list[LibraryEntry]:
    numbered = ((number, line.strip()) for number, line in enumerate(text.splitlines(), 1))
    lines = [(number, line) for number, line in numbered if line and not line.startswith("#")]
    if len(lines) > MAX_ENTRIES:
        raise _too_many(len(lines))
    entries = [_list_entry(n, number, line) for n, (number, line) in enumerate(lines, start=1)]
    if not any(e.problem is None for e in entries):
        where = f" (line {lines[0][0]}: {_label(lines[0][1])!r})" if lines else ""
        raise LibraryInvalid(
            f"The file is not BibTeX, CSL JSON or a list of arXiv ids, arXiv links or DOIs{where}."
        )
    return entries


def _list_entry(position: int, line_number: int, line: str) -> LibraryEntry:
    arxiv, doi = _ids(id_fields=[line[:400]], text_fields=[], doi_fields=[line[:400]])
    if arxiv is None and doi is None:
        problem = f"line {line_number} is not an arXiv id, arXiv link or DOI"
        return LibraryEntry(position, _label(line), problem=problem)
    return LibraryEntry(position, _label(line), arxiv_id=arxiv, doi=doi)


_WORDS = re.compile(r"\w+")


def normalise_title(title: str) -> str:
    """Letters and digits only, accents dropped, case folded: for comparing titles."""
    folded = unicodedata.normalize("NFKD", title).casefold()
    return "".join(ch for ch in folded if ch.isalnum())


def titles_match(a: str, b: str) -> bool:
    """Equal once normalised, or nearly equal (ratio ≥ 0.93) when both are long enough."""
    x, y = normalise_title(a), normalise_title(b)
    if x == y or min(len(x), len(y)) < FUZZY_MIN_CHARS:
        return bool(x) and x == y
    matcher = difflib.SequenceMatcher(None, x, y, autojunk=False)
    return matcher.real_quick_ratio() >= FUZZY_RATIO and matcher.ratio() >= FUZZY_RATIO


def _best_title_match(title: str, candidates: Sequence[Paper]) -> Paper | None:
    wanted = normalise_title(title)
    good = [p for p in candidates if titles_match(title, p.title)]
    return max(  # an exact match (ratio 1) first, then the closest
        good,
        key=lambda p: difflib.SequenceMatcher(None, wanted, normalise_title(p.title)).ratio(),
        default=None,
    )


_Match = tuple[Paper | None, How, str]  # the paper, how it was found, why not
Lookup = Callable[[Sequence[str]], Mapping[str, Paper]]  # ids or DOIs -> the papers found


def resolve_library(
    entries: Sequence[LibraryEntry],
    *,
    by_ids: Lookup,
    by_dois: Lookup,
    search_titles: Callable[[str], Sequence[Paper]],
    fetch_arxiv: Lookup | None = None,
    limit_fetch: int = 50,
) -> list[Resolution]:
    """Match each entry by arXiv id, then DOI (both in the store), title, arXiv fetch. Titles are
    searched as plain words; ``fetch_arxiv`` gets at most ``limit_fetch`` ids, once; the rest
    (all, if it raises a ``PaperboyError``) are ``not_fetched``."""
    readable = [e for e in entries if e.problem is None]
    ids = list(dict.fromkeys(e.arxiv_id for e in readable if e.arxiv_id))
    stored = by_ids(ids) if ids else {}
    matches: dict[int, _Match] = {}
    for e in readable:
        if e.arxiv_id and stored.get(e.arxiv_id) is not None:
            matches[e.position] = (stored[e.arxiv_id], "arxiv", "")
    dois = list(dict.fromkeys(e.doi for e in readable if e.doi and e.position not in matches))
    found = {doi.lower(): paper for doi, paper in (by_dois(dois) if dois else {}).items()}
    for e in readable:
        if e.position not in matches and e.doi and found.get(e.doi) is not None:
            matches[e.position] = (found[e.doi], "doi", "")
        elif e.position not in matches and e.title:  # words only: no search syntax gets through
            query = " ".join(_WORDS.findall(e.title)[:40]).lower()
            paper = _best_title_match(e.title, search_titles(query)) if query else None
            if paper is not None:
                matches[e.position] = (paper, "title", "")
    missing = [e for e in readable if e.position not in matches and e.arxiv_id]
    matches.update(_fetch(missing, fetch_arxiv, limit_fetch))
    return _report(entries, matches)


def _fetch(
    missing: Sequence[LibraryEntry], fetch_arxiv: Lookup | None, limit: int
) -> dict[int, _Match]:
    if fetch_arxiv is None or not missing:
        return {}
    ids = list(dict.fromkeys(e.arxiv_id for e in missing if e.arxiv_id))
    asked = ids[: max(limit, 0)]
    later = f"not fetched: too many new papers at once (at most {limit}), upload again later"
    try:
        fetched = fetch_arxiv(asked) if asked else {}
    except PaperboyError as exc:
        fetched, later = {}, f"not fetched: arXiv could not be reached ({exc}), try again later"
        asked = []
    out: dict[int, _Match] = {}
    for e in missing:
        paper = fetched.get(e.arxiv_id or "")
        if paper is not None:
            out[e.position] = (paper, "fetched", "")
        elif e.arxiv_id in asked:
            out[e.position] = (None, "not_found", f"arXiv has no paper {e.arxiv_id}")
        else:
            out[e.position] = (None, "not_fetched", later)
    return out


_DONE = {"arxiv": "found", "doi": "matched by DOI to", "title": "matched by title to"}


def _report(entries: Sequence[LibraryEntry], matches: Mapping[int, _Match]) -> list[Resolution]:
    first_of: dict[str, int] = {}
    out: list[Resolution] = []
    for e in entries:
        head = f"{e.position}. {e.label}"
        paper, how, why = matches.get(e.position, (None, "not_found", _not_found_reason(e)))
        if e.problem is not None:
            out.append(Resolution(e, None, "invalid", f"{head}: skipped, {e.problem}"))
        elif paper is None:
            text = why if how == "not_fetched" else f"not found ({why})"
            out.append(Resolution(e, None, how, f"{head}: {text}"))
        elif paper.id in first_of:
            text = f"{head}: duplicate of entry {first_of[paper.id]} ({paper.id})"
            out.append(Resolution(e, paper, "duplicate", text))
        else:
            first_of[paper.id] = e.position
            done = _DONE.get(how, "fetched from arXiv:")
            out.append(Resolution(e, paper, how, f"{head}: {done} {paper.id}"))
    return out


def _not_found_reason(entry: LibraryEntry) -> str:
    named = " and ".join(k for k in (entry.arxiv_id and f"arXiv {entry.arxiv_id}", entry.doi) if k)
    title = "no paper with that title" if entry.title else "no title"
    return f"{named} not in Paperboy, and {title}" if named else f"no arXiv id or DOI, and {title}"
