"""Keyword search: a BM25 index on tantivy (Rust, block-max WAND top-k) kept in a directory.

Fields ``title``, ``abstract`` and ``authors`` go through one analyzer: the ``en_stem`` chain
(simple tokenizer, long-token removal, lowercase, English stemmer) plus ASCII folding, so
"Transformers" finds "transformer" and "Timothée" finds "Timothee". User text is never handed
to tantivy's query language as is: it is reduced to plain words and balanced quoted phrases,
OR-ed together, with the title boosted over the abstract.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tantivy
from sqlalchemy import select

from paperboy.store.schema import papers

ANALYZER = "en_stem_fold"
FIELDS = ("title", "abstract", "authors")
BOOSTS = {"title": 2.0, "abstract": 1.0, "authors": 1.0}
MAX_QUERY_CHARS = 1000  # longer user text is cut, not refused
MAX_QUERY_TERMS = 64
_WRITER_HEAP = 64_000_000
_WORD = re.compile(r"\w+")
_QUOTED = re.compile(r'"([^"]*)"')


@dataclass(frozen=True, slots=True)
class Scored:
    paper_id: str
    score: float


def _analyzer() -> tantivy.TextAnalyzer:
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(40))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .filter(tantivy.Filter.stemmer("english"))
        .build()
    )


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw")
    for name in FIELDS:
        builder.add_text_field(name, stored=False, tokenizer_name=ANALYZER)
    return builder.build()


def _words(text: str) -> list[str]:
    # Lowercased: the parser's operators (AND, OR, NOT) are upper case only, so these are terms.
    return [w.lower() for w in _WORD.findall(text)]


def safe_query(text: str) -> str:
    """User text as a tantivy query made only of bare words and quoted phrases of words.

    Balanced ``"..."`` pairs stay phrases; every other character that is not part of a word
    (``+ - : ( ) * ^ ~ [ ] { } \\`` and an unbalanced quote) is dropped. Empty when no words.
    """
    text = text[:MAX_QUERY_CHARS]
    parts: list[str] = []
    rest: list[str] = []
    last = 0
    for match in _QUOTED.finditer(text):
        rest.append(text[last : match.start()])
        words = _words(match.group(1))
        if len(words) > 1:
            parts.append('"' + " ".join(words) + '"')
        else:
            parts.extend(words)
        last = match.end()
    rest.append(text[last:])
    parts.extend(w for chunk in rest for w in _words(chunk))
    return " ".join(parts[:MAX_QUERY_TERMS])


class KeywordIndex:
    """A tantivy index in a directory. One writer per index (tantivy holds a lock on it)."""

    def __init__(self, index: tantivy.Index, path: Path) -> None:
        self.path = path
        self._index = index
        self._index.register_tokenizer(ANALYZER, _analyzer())
        self._writer: Any = None

    @classmethod
    def create(cls, path: str | Path) -> KeywordIndex:
        """A new, empty index in ``path`` (created if missing; an index already there is reused)."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        return cls(tantivy.Index(_schema(), path=str(path), reuse=True), path)

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
            self._writer = self._index.writer(heap_size=_WRITER_HEAP)
        return self._writer

    def add(self, docs: Iterable[tuple[str, str, str, str]]) -> int:
        """Add (doc_id, title, abstract, authors) rows, replacing any doc with the same id.

        Visible to searches after ``commit()``. Returns how many rows were added.
        """
        writer = self._get_writer()
        count = 0
        for doc_id, title, abstract, authors in docs:
            writer.delete_documents_by_term("id", doc_id)
            writer.add_document(
                tantivy.Document(
                    id=doc_id, title=title or "", abstract=abstract or "", authors=authors or ""
                )
            )
            count += 1
        return count

    def delete(self, doc_id: str) -> None:
        """Remove a doc by id (visible after ``commit()``)."""
        self._get_writer().delete_documents_by_term("id", doc_id)

    def commit(self) -> None:
        if self._writer is not None:
            self._writer.commit()
        self._index.reload()

    def close(self) -> None:
        """Release the writer (and its lock); uncommitted changes are dropped."""
        if self._writer is not None:
            self._writer.rollback()
            self._writer.wait_merging_threads()
            self._writer = None

    def __len__(self) -> int:
        return int(self._index.searcher().num_docs)

    def search(self, query: str, limit: int = 10) -> list[Scored]:
        """The best ``limit`` docs for user text, by BM25 score, best first. Never raises on
        query syntax: text with no words gives []."""
        text = safe_query(query)
        if not text or limit <= 0:
            return []
        try:
            parsed = self._index.parse_query(
                text, default_field_names=list(FIELDS), field_boosts=BOOSTS
            )
        except ValueError:
            parsed, _errors = self._index.parse_query_lenient(
                text, default_field_names=list(FIELDS), field_boosts=BOOSTS
            )
        searcher = self._index.searcher()
        result = searcher.search(parsed, limit=limit, count=False)
        out = [
            Scored(paper_id=searcher.doc(address)["id"][0], score=float(score))
            for score, address in result.hits
        ]
        out.sort(key=lambda s: -s.score)
        return out


def build_from_store(store: Any, path: str | Path, batch: int = 1000) -> KeywordIndex:
    """Index every paper in ``store`` (an SQLStore) into ``path``, reading in id-ordered batches
    through SQLAlchemy Core on ``store.engine``. Returns the committed index (writer released)."""
    index = KeywordIndex.create(path)
    columns = (papers.c.id, papers.c.title, papers.c.abstract, papers.c.authors)
    last: str | None = None
    with store.engine.connect() as conn:
        while True:
            stmt = select(*columns).order_by(papers.c.id).limit(batch)
            if last is not None:
                stmt = stmt.where(papers.c.id > last)
            rows = conn.execute(stmt).all()
            if not rows:
                break
            index.add(
                (row.id, row.title, row.abstract or "", ", ".join(row.authors or ()))
                for row in rows
            )
            last = rows[-1].id
    index.commit()
    index.close()
    return index
