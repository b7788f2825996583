"""BibTeX for a paper: a pure function, safe for any title or author text.

The entry follows arXiv's own export (``@misc`` with ``eprint``, ``archivePrefix`` and
``primaryClass``). Every value is escaped so that the output always has balanced braces and
no character can end a field early or start a TeX command: braces become ``\\textbraceleft{}``
and ``\\textbraceright{}`` (BibTeX counts ``\\{`` as a brace too, so ``\\{`` would not do).
"""

from __future__ import annotations

import re
import unicodedata

from paperboy.arxiv_ids import ArxivId, parse_arxiv_id
from paperboy.errors import InvalidArxivId
from paperboy.models import Paper

__all__ = ["bibtex", "bibtex_key", "escape_bibtex"]

_SPECIAL = {
    "\\": r"\textbackslash{}",
    "{": r"\textbraceleft{}",
    "}": r"\textbraceright{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_SPECIAL_RE = re.compile("|".join(re.escape(c) for c in _SPECIAL))
_SPACES = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_WORD = re.compile(r"[A-Za-z0-9]+")

_STOPWORDS = frozenset(
    "a an the on of in for and or to from with by at as is are be via toward towards "
    "into onto over under how what when why where which do does can".split()
)


def escape_bibtex(text: str) -> str:
    """Escape TeX/BibTeX specials and collapse whitespace (newlines included)."""
    text = _SPACES.sub(" ", _CONTROL.sub("", text)).strip()
    return _SPECIAL_RE.sub(lambda m: _SPECIAL[m.group(0)], text)


def _verbatim(text: str) -> str:
    """For verbatim fields (doi): no escaping there, so drop what could break the entry."""
    return re.sub(r"[\s{}\\]", "", text)


def _ascii_words(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return _WORD.findall(folded)


def _year(paper: Paper, arxiv_id: ArxivId | None) -> int | None:
    if paper.published is not None:
        return paper.published.year
    if arxiv_id is None:
        return None
    yy = int(arxiv_id.canonical.split("/")[-1][:2])
    return 1900 + yy if yy >= 91 else 2000 + yy


def _parse(paper_id: str) -> ArxivId | None:
    try:
        return parse_arxiv_id(paper_id)
    except InvalidArxivId:
        return None


def bibtex_key(paper: Paper) -> str:
    """``lastname{year}firstword``, lowercase ASCII: e.g. ``chen2024simple``."""
    last = "anon"
    if paper.authors:
        words = _ascii_words(paper.authors[0])
        if words:
            last = words[-1].lower()
    title_words = [w.lower() for w in _ascii_words(paper.title)]
    first = next((w for w in title_words if w not in _STOPWORDS), None)
    first = first or (title_words[0] if title_words else "paper")
    year = _year(paper, _parse(paper.id))
    return f"{last}{year if year is not None else ''}{first}"


def bibtex(paper: Paper) -> str:
    """A ``@misc`` BibTeX entry for ``paper``."""
    arxiv_id = _parse(paper.id)
    fields: list[tuple[str, str]] = [("title", "{" + escape_bibtex(paper.title) + "}")]
    authors = [name for name in (escape_bibtex(a) for a in paper.authors) if name]
    if authors:
        fields.append(("author", " and ".join(authors)))
    year = _year(paper, arxiv_id)
    if year is not None:
        fields.append(("year", str(year)))
    fields.append(("eprint", escape_bibtex(arxiv_id.canonical if arxiv_id else paper.id)))
    fields.append(("archivePrefix", "arXiv"))
    if paper.primary_category:
        fields.append(("primaryClass", escape_bibtex(paper.primary_category)))
    if paper.doi:
        fields.append(("doi", _verbatim(paper.doi)))
    if paper.journal_ref:
        fields.append(("note", escape_bibtex(paper.journal_ref)))
    if arxiv_id is not None:
        fields.append(("url", f"https://arxiv.org/abs/{arxiv_id.canonical}"))
    width = max(len(name) for name, _ in fields)
    body = ",\n".join(f"  {name:<{width}} = {{{value}}}" for name, value in fields)
    return f"@misc{{{bibtex_key(paper)},\n{body}\n}}\n"
