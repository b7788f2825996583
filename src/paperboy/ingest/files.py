"""Import JSON, JSON Lines and gzip files of the real shapes in ``shapes`` into the store.

Records go to the store in batches, one transaction each: a crash or a broken file leaves every
committed batch whole and nothing of the batch in flight. Malformed records are reported with
their file and line (or item) number and skipped; a file that cannot be read at all (truncated
gzip, invalid JSON document, Python-printed text) fails with a message naming it.
"""

from __future__ import annotations

import gc
import gzip
import json
import os
import re
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import IO, Any

from paperboy.errors import ImportFileError, RecordRejected
from paperboy.ingest.runs import logged_run
from paperboy.ingest.shapes import BadRecord, to_record
from paperboy.models import ImportProblem, ImportReport, Record
from paperboy.store.base import Store

ProgressFn = Callable[[str, int, int], None]
"""Called as ``progress(path, bytes_done, bytes_total)`` after each batch."""

_DATE_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})")
_GZIP_MAGIC = b"\x1f\x8b"


def demo_data_path() -> Path:
    """The demo data set shipped inside the package (real Daily Papers records)."""
    return Path(__file__).resolve().parents[1] / "demo" / "daily_papers.jsonl.gz"


def demo_embeddings_path() -> Path:
    """Vectors of the demo papers, made by ``paperboy embed --export`` (see scripts/)."""
    return demo_data_path().with_name("embeddings-all-MiniLM-L6-v2.npz")


def _feed_day_from_name(path: Path) -> date | None:
    """A Daily Papers response saved as ``YYYY-MM-DD.json`` is that day's feed."""
    stem = path.name.split(".")[0]
    match = _DATE_NAME.fullmatch(stem)
    if not match:
        return None
    try:
        return date.fromisoformat(match[1])
    except ValueError:
        return None


def _is_whole_document(path: Path, first_line: bytes) -> bool:
    name = path.name.lower().removesuffix(".gz")
    if name.endswith((".jsonl", ".ndjson")):
        return False
    if name.endswith(".json"):
        return True
    return first_line.lstrip().startswith(b"[") or first_line.strip() == b"{"


class _Source:
    """An open input file: raw bytes (for progress) and a decompressed stream."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.raw: IO[bytes] = open(path, "rb")  # noqa: SIM115 - closed in close()
        self.total = os.fstat(self.raw.fileno()).st_size
        magic = self.raw.read(2)
        self.raw.seek(0)
        if path.name.lower().endswith(".gz") and magic != _GZIP_MAGIC:
            self.raw.close()
            raise ImportFileError(str(path), "is named .gz but is not a gzip file")
        self.stream: IO[bytes] = (
            gzip.GzipFile(fileobj=self.raw, mode="rb") if magic == _GZIP_MAGIC else self.raw
        )

    def done(self) -> int:
        return self.raw.tell()

    def close(self) -> None:
        self.stream.close()
        self.raw.close()


Item = tuple[int, Any, str | None]
"""(line or item number, decoded value or None, error message or None)"""


def _items(source: _Source) -> Iterator[Item]:
    first = source.stream.readline()
    if _is_whole_document(source.path, first):
        yield from _document_items(source, first)
        return
    lineno = 0
    for line in _chain(first, source.stream):
        lineno += 1
        if not line.strip():
            continue
        try:
            yield lineno, json.loads(line), None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            yield lineno, None, f"not valid JSON ({_short(exc)})"


def _chain(first: bytes, rest: IO[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest


def _document_items(source: _Source, first: bytes) -> Iterator[Item]:
    body = first + source.stream.read()
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        message = f"not a valid JSON document ({_short(exc)})"
        raise ImportFileError(str(source.path), message) from exc
    if isinstance(data, dict):  # a wrapper such as {"status": ..., "data": [...]}
        lists = (data[k] for k in ("data", "items", "papers") if isinstance(data.get(k), list))
        wrapped = next(lists, None)
        items = wrapped if wrapped is not None else [data]
    else:
        items = data if isinstance(data, list) else [data]
    if items and all(isinstance(item, str) for item in items):
        raise ImportFileError(
            str(source.path),
            "holds Python-printed text (repr strings such as \"{'paper': ...}\") instead of JSON "
            "objects; re-save the response with json.dump and import it again",
        )
    for index, item in enumerate(items, 1):
        yield index, item, None


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:160]


@contextmanager
def _bulk_gc() -> Iterator[None]:
    """Bulk parsing allocates millions of short-lived objects and no cycles; collect rarely."""
    before = gc.get_threshold()
    gc.set_threshold(200_000, 50, 50)
    try:
        yield
    finally:
        gc.set_threshold(*before)


class _Writer:
    """Writes batches in order, one transaction each, and counts what is committed.

    If the database refuses a batch (a value no check above caught), the batch is rolled back
    and retried record by record, so only the offending records are skipped and reported.
    (A background writer thread was measured: no gain, the work is interpreter-bound.)
    """

    def __init__(self, store: Store, report: ImportReport) -> None:
        self.store = store
        self.report = report
        self.committed = 0

    def submit(self, name: str, batch: list[tuple[int, Record]]) -> None:
        records = [record for _, record in batch]
        try:
            self.report.counts.add(self.store.upsert(records, bulk=True))
            self.committed += len(batch)
            return
        except RecordRejected:
            pass  # isolate the bad records below
        for number, record in batch:
            try:
                self.report.counts.add(self.store.upsert([record], bulk=True))
                self.committed += 1
            except RecordRejected as exc:
                message = f"the database refused this record ({exc})"
                self.report.problems.append(ImportProblem(name, number, message[:300]))


def import_files(
    store: Store,
    paths: list[str | Path],
    *,
    batch_size: int = 5000,
    progress: ProgressFn | None = None,
    source: str = "import",
) -> ImportReport:
    """Import every file in ``paths``; returns counts and problems. Logged to the ingest log."""
    report = ImportReport(files=[str(p) for p in paths])
    writer = _Writer(store, report)

    def tally() -> tuple[int, int, int, int]:
        c = report.counts
        return c.inserted, c.updated, report.skipped, len(report.problems)

    with logged_run(store, source, ", ".join(report.files), tally) as run:
        with _bulk_gc():
            for path in paths:
                _import_one(writer, Path(path), batch_size, progress, report)
        imported = report.counts.inserted + report.counts.updated
        if not report.problems:
            run.status = "ok"
        elif len(report.failed_files) < len(paths) or imported:
            run.status = "partial"
        run.message = "; ".join(str(p) for p in report.problems[:5]) or None
    return report


def _import_one(
    writer: _Writer,
    path: Path,
    batch_size: int,
    progress: ProgressFn | None,
    report: ImportReport,
) -> None:
    name = str(path)
    try:
        source = _Source(path)
    except OSError as exc:
        report.failed_files.append(name)
        report.problems.append(ImportProblem(name, None, f"cannot open: {exc.strerror or exc}"))
        return
    except ImportFileError as exc:
        report.failed_files.append(name)
        report.problems.append(ImportProblem(name, None, str(exc).removeprefix(f"{name}: ")))
        return
    feed_day = _feed_day_from_name(path)
    batch: list[tuple[int, Record]] = []
    committed_before = writer.committed
    last_line = 0

    def flush() -> None:
        nonlocal batch
        if batch:
            writer.submit(name, batch)
            batch = []
        if progress:
            progress(name, source.done(), source.total)

    try:
        for number, value, error in _items(source):
            last_line = number
            report.records += 1
            if error is None:
                try:
                    batch.append((number, to_record(value, feed_day)))
                except BadRecord as exc:
                    error = str(exc)
            if error is not None:
                report.problems.append(ImportProblem(name, number, error))
            if len(batch) >= batch_size:
                flush()
        flush()
    except ImportFileError as exc:
        report.failed_files.append(name)
        report.problems.append(ImportProblem(name, None, str(exc).removeprefix(f"{name}: ")))
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
        report.failed_files.append(name)
        reason = (
            "the gzip archive is truncated or corrupt"
            if isinstance(exc, EOFError | gzip.BadGzipFile | zlib.error)
            else f"read error: {exc}"
        )
        stored = writer.committed - committed_before
        report.problems.append(
            ImportProblem(
                name,
                None,
                f"{reason} after line {last_line}: {stored} records in whole batches were "
                "stored, the rest of this file was not; re-import the repaired file (importing "
                "is idempotent)",
            )
        )
    finally:
        source.close()
