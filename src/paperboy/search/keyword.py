"""Keyword search: a BM25 index on tantivy (Rust, block-max WAND top-k) kept in a directory.

Fields ``title``, ``text`` (title and abstract together) and ``authors`` go through one
analyzer: the ``en_stem`` chain
(simple tokenizer, long-token removal, lowercase, English stemmer) plus ASCII folding, so
"Transformers" finds "transformer" and "Timothée" finds "Timothee". ``categories`` holds each
category lowercased plus its archive (``cs.cl`` and ``cs``) and ``day`` the publication date as
a day ordinal, for filters.

User text is never handed to tantivy's query language as is: ``paperboy.search.query`` parses it
into words, phrases and filters, and this module builds the tantivy query from those parts: the
free words OR-ed over the fields (a title hit counts in both ``text`` and ``title``); phrases,
authors, categories and dates as required clauses; excluded words as prohibited ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, NamedTuple

import tantivy

from paperboy.clock import chunks
from paperboy.models import Paper
from paperboy.search.limits import MAX_RESULTS, bounded
from paperboy.search.query import ParsedQuery, analyze_terms, build_analyzer, parse_query

ANALYZER = "en_stem_fold"
FIELDS = ("title", "text", "authors")
# Measured on CISI and CACM (bench/eval_search.py): BM25 over title and abstract as one field
# beat separate title and abstract fields by 0.01-0.05 nDCG@10, and a small extra title field
# on top helped again (title 0.25: CISI 0.348, CACM 0.451; 0 and 1.0 both scored lower).
BOOSTS: Mapping[str, float] = {"title": 0.25, "text": 1.0, "authors": 1.0}
# Words too common to rank by or to explain a match with. Free words of a query drop them (unless
# nothing else is left): at a million papers "how do ... methods compare on benchmarks" spends
# most of its time walking the postings of "how", "do" and "on". Phrases keep every word.
STOPWORDS = frozenset(
    "a an and are as at be been being but by can could did do does for from had has have how i "
    "if in into is it its me my no not of on or our such than that the their then there these "
    "they this to using via was we were what when where which while who why will with would "
    "you your".split()
)
SCHEMA_VERSION = 3  # bump when fields change: an index of another version is rebuilt
_WRITER_HEAP = 64_000_000
_WORD = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class Scored:
    paper_id: str
    score: float


class IndexDoc(NamedTuple):
    """One document of the keyword index."""

    id: str
    title: str
    abstract: str = ""
    authors: str = ""  # names joined with ", "
    categories: tuple[str, ...] = ()
    day: int = 0  # date.toordinal() of publication, 0 when unknown


def doc_from_paper(paper: Paper) -> IndexDoc:
    return IndexDoc(
        id=paper.id,
        title=paper.title,
        abstract=paper.abstract or "",
        authors=", ".join(paper.authors),
        categories=tuple(paper.categories),
        day=paper.published.date().toordinal() if paper.published else 0,
    )


def category_terms(categories: Iterable[str]) -> list[str]:
    """Index terms for categories: each lowercased, plus its archive (``cs.CL`` -> cs.cl, cs)."""
    terms: dict[str, None] = {}
    for cat in categories:
        cat = cat.strip().lower()
        if not cat or " " in cat:
            continue  # ACM/MSC class strings that slipped into category lists
        terms[cat] = None
        terms[cat.split(".", 1)[0]] = None
    return list(terms)


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw")
    for name in FIELDS:
        builder.add_text_field(name, stored=False, tokenizer_name=ANALYZER)
    builder.add_text_field("categories", stored=False, tokenizer_name="raw")
    builder.add_integer_field("day", stored=False, indexed=True, fast=True)
    return builder.build()


def _words(text: str) -> list[str]:
    # Lowercased: the parser's operators (AND, OR, NOT) are upper case only, so these are terms.
    return [w.lower() for w in _WORD.findall(text)]


class KeywordIndex:
    """A tantivy index in a directory. One writer per index (tantivy holds a lock on it)."""

    def __init__(
        self,
        index: tantivy.Index,
        path: Path,
        boosts: Mapping[str, float] | None = None,
        *,
        stopwords: bool = True,
    ) -> None:
        self.path = path
        self.boosts = dict(BOOSTS if boosts is None else boosts)
        self.stopwords = stopwords  # drop STOPWORDS from free words (off: plain BM25)
        self._index = index
        self._index.register_tokenizer(ANALYZER, build_analyzer())
        self._schema = _schema()
        self._writer: Any = None

    @classmethod
    def create(
        cls, path: str | Path, boosts: Mapping[str, float] | None = None, *, stopwords: bool = True
    ) -> KeywordIndex:
        """A new, empty index in ``path`` (created if missing; an index already there is reused)."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        index = tantivy.Index(_schema(), path=str(path), reuse=True)
        return cls(index, path, boosts, stopwords=stopwords)

    @classmethod
    def open(cls, path: str | Path) -> KeywordIndex:
        """The index stored in ``path``; FileNotFoundError if there is none."""
        path = Path(path)
        if not path.is_dir() or not tantivy.Index.exists(str(path)):
            raise FileNotFoundError(f"no keyword index in {path}")
        return cls(tantivy.Index.open(str(path)), path)

    def __enter__(self) -> KeywordIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get_writer(self) -> Any:
        if self._writer is None:
            self._writer = self._index.writer(heap_size=_WRITER_HEAP, num_threads=1)
        return self._writer

    def add(self, docs: Iterable[IndexDoc | tuple[Any, ...]]) -> int:
        """Add docs (``IndexDoc`` or a tuple in its field order), replacing any with the same id.

        Visible to searches after ``commit()``. Returns how many docs were added.
        """
        writer = self._get_writer()
        count = 0
        for raw in docs:
            doc = raw if isinstance(raw, IndexDoc) else IndexDoc(*raw)
            writer.delete_documents_by_term("id", doc.id)
            document = tantivy.Document(
                id=doc.id,
                title=doc.title or "",
                text=f"{doc.title or ''} {doc.abstract or ''}",
                authors=doc.authors or "",
                day=int(doc.day),
            )
            for term in category_terms(doc.categories):
                document.add_text("categories", term)
            writer.add_document(document)
            count += 1
        return count

    def delete(self, doc_id: str) -> None:
        """Remove a doc by id (visible after ``commit()``)."""
        self._get_writer().delete_documents_by_term("id", doc_id)

    def commit(self) -> None:
        if self._writer is not None:
            self._writer.commit()
        self._index.reload()

    def reload(self) -> None:
        """See commits made by other processes."""
        self._index.reload()

    def close(self) -> None:
        """Release the writer (and its lock); uncommitted changes are dropped."""
        if self._writer is not None:
            self._writer.rollback()
            self._writer.wait_merging_threads()
            self._writer = None

    def __len__(self) -> int:
        return int(self._index.searcher().num_docs)

    # -- queries ----------------------------------------------------------------------------

    def _field_terms(self, field: str, words: Iterable[str]) -> list[tantivy.Query]:
        return [
            tantivy.Query.term_query(self._schema, field, term)
            for word in words
            for term in analyze_terms(word)
        ]

    def _phrase(self, fields: Iterable[str], text: str) -> tantivy.Query | None:
        terms = analyze_terms(text)
        if not terms:
            return None
        per_field: list[tantivy.Query] = []
        for field in fields:
            if len(terms) == 1:
                per_field.append(tantivy.Query.term_query(self._schema, field, terms[0]))
            else:
                per_field.append(tantivy.Query.phrase_query(self._schema, field, terms))
        if len(per_field) == 1:
            return per_field[0]
        return tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in per_field])

    def _text_query(self, words: Iterable[str]) -> tantivy.Query | None:
        every = [w for word in words for w in _words(word)]
        kept = [w for w in every if w not in STOPWORDS] if self.stopwords else every
        kept = kept or every
        text = " ".join(kept)
        if not text:
            return None
        fields = [f for f in FIELDS if self.boosts.get(f, 0) > 0]
        try:
            return self._index.parse_query(
                text, default_field_names=fields, field_boosts=self.boosts
            )
        except ValueError:
            query, _errors = self._index.parse_query_lenient(
                text, default_field_names=fields, field_boosts=self.boosts
            )
            return query

    def build_query(self, parsed: ParsedQuery) -> tantivy.Query | None:
        """The tantivy query for a parsed user query; None when it asks for nothing."""
        must: list[tantivy.Query] = []
        should = self._text_query(parsed.words)
        for phrase in parsed.phrases:
            q = self._phrase(("text", "authors"), phrase)
            if q is not None:
                must.append(q)
        for author in parsed.authors:
            q = self._phrase(("authors",), author)
            if q is not None:
                must.append(q)
        wanted = [c.strip().lower() for c in parsed.categories if c.strip()]
        if wanted:
            clauses = [tantivy.Query.term_query(self._schema, "categories", c) for c in wanted]
            must.append(tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in clauses]))
        if parsed.date_from is not None or parsed.date_to is not None:
            low = parsed.date_from.toordinal() if parsed.date_from else 1
            high = parsed.date_to.toordinal() if parsed.date_to else date.max.toordinal()
            must.append(
                tantivy.Query.range_query(self._schema, "day", tantivy.FieldType.Integer, low, high)
            )
        must_not: list[tantivy.Query] = []
        for word in parsed.excluded:
            q = self._phrase(("text",), word)
            if q is not None:
                must_not.append(q)
        if should is None and not must:
            if not must_not:
                return None
            must.append(tantivy.Query.all_query())  # only exclusions: everything else
        clauses: list[tuple[Any, tantivy.Query]] = []
        if should is not None:
            occur = tantivy.Occur.Should if must else tantivy.Occur.Must
            clauses.append((occur, should))
        clauses += [(tantivy.Occur.Must, q) for q in must]
        clauses += [(tantivy.Occur.MustNot, q) for q in must_not]
        if len(clauses) == 1 and clauses[0][0] == tantivy.Occur.Must:
            return clauses[0][1]
        return tantivy.Query.boolean_query(clauses)

    def search_parsed(self, parsed: ParsedQuery, limit: int = 10) -> list[Scored]:
        """The best ``limit`` docs for a parsed query, by BM25 score, best first (``limit`` is
        capped at ``MAX_RESULTS``: tantivy allocates its top-k collector up front)."""
        limit = bounded(limit)
        query = self.build_query(parsed)
        if query is None or limit <= 0:
            return []
        searcher = self._index.searcher()
        if parsed.words or parsed.phrases:
            result = searcher.search(query, limit=limit, count=False)
            hits = [(float(score), address) for score, address in result.hits]
            hits.sort(key=lambda h: -h[0])
        else:  # filters only: newest first
            result = searcher.search(
                query, limit=limit, count=False, order_by_field="day", order=tantivy.Order.Desc
            )
            hits = [(1.0, address) for _day, address in result.hits]
        return [Scored(paper_id=searcher.doc(a)["id"][0], score=score) for score, a in hits]

    def search(self, query: str, limit: int = 10) -> list[Scored]:
        """The best ``limit`` docs for user text (see ``paperboy.search.query`` for the syntax).
        Never raises on query syntax: text with no words or filters gives []."""
        return self.search_parsed(parse_query(query), limit)

    def restrict(self, parsed: ParsedQuery, ids: list[str]) -> set[str]:
        """Which of ``ids`` match ``parsed`` (used with a words-free query: its filters)."""
        query = self.build_query(parsed)
        if query is None or not ids:
            return set(ids)
        searcher = self._index.searcher()
        found: set[str] = set()
        for chunk in chunks(ids, MAX_RESULTS):  # each search's size stays bounded
            among = tantivy.Query.term_set_query(self._schema, "id", chunk)
            both = tantivy.Query.boolean_query(
                [(tantivy.Occur.Must, query), (tantivy.Occur.Must, among)]
            )
            result = searcher.search(both, limit=len(chunk), count=False)
            found.update(searcher.doc(address)["id"][0] for _score, address in result.hits)
        return found
