"""The ingest log (one row per run) and the OAI-PMH harvest checkpoints."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select, update

from paperboy.clock import chunks, utc_now
from paperboy.models import IngestRun, Record, UpsertCounts
from paperboy.store.base import HarvestProgress, HarvestState
from paperboy.store.schema import harvest_state, ingest_log, papers
from paperboy.store.substore import SubStore, bump_revision
from paperboy.store.upsert import upsert_in


class IngestLog(SubStore):
    """Ingest runs and harvest checkpoints (a part of ``SQLStore``)."""

    def start_ingest(
        self, source: str, detail: str, *, host: str | None = None, pid: int | None = None
    ) -> int:
        values = {
            "source": source,
            "detail": detail,
            "host": host,
            "pid": pid,
            "started_at": utc_now(),
            "status": "running",
            "inserted": 0,
            "updated": 0,
            "skipped": 0,
            "errors": 0,
        }
        with self.engine.connect().execution_options(**self._write) as conn, conn.begin():
            result = conn.execute(insert(ingest_log).values(**values))
            return int(result.inserted_primary_key[0])

    def finish_ingest(
        self,
        run_id: int,
        status: str,
        *,
        inserted: int,
        updated: int,
        skipped: int,
        errors: int,
        message: str | None = None,
    ) -> None:
        stmt = (
            update(ingest_log)
            .where(ingest_log.c.id == run_id)
            .values(
                finished_at=utc_now(),
                status=status,
                inserted=inserted,
                updated=updated,
                skipped=skipped,
                errors=errors,
                message=message,
            )
        )
        with self.engine.connect().execution_options(**self._write) as conn, conn.begin():
            conn.execute(stmt)

    def ingest_runs(self, limit: int = 20, *, status: str | None = None) -> list[IngestRun]:
        query = select(ingest_log).order_by(ingest_log.c.id.desc()).limit(limit)
        if status is not None:
            query = query.where(ingest_log.c.status == status)
        with self.engine.connect() as conn:
            return [IngestRun(**row._mapping) for row in conn.execute(query)]

    # -- OAI-PMH harvest checkpoints --------------------------------------------------------

    def harvest_state(self, set_spec: str) -> HarvestState | None:
        query = select(harvest_state).where(harvest_state.c.set_spec == set_spec)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return HarvestState(**row._mapping) if row is not None else None

    def _save_checkpoint(self, conn: Any, set_spec: str, values: dict[str, Any]) -> None:
        values = {**values, "updated_at": utc_now()}
        query = select(harvest_state.c.set_spec).where(harvest_state.c.set_spec == set_spec)
        if conn.execute(query).first() is None:
            row = {"pages_done": 0, "records_done": 0, **values, "set_spec": set_spec}
            conn.execute(insert(harvest_state).values(**row))
        else:
            stmt = update(harvest_state).where(harvest_state.c.set_spec == set_spec)
            conn.execute(stmt.values(**values))

    def save_harvest_page(
        self,
        set_spec: str,
        records: Sequence[Record],
        *,
        next_token: str | None,
        progress: HarvestProgress,
        deleted: Sequence[str] = (),
    ) -> UpsertCounts:
        with self.engine.connect().execution_options(**self._write) as conn, conn.begin():
            counts = upsert_in(conn, records)
            if deleted:
                seq = bump_revision(conn)
                for ids in chunks(sorted(set(deleted))):
                    stmt = (
                        update(papers)
                        .where(papers.c.id.in_(ids), papers.c.withdrawn.is_(False))
                        .values(withdrawn=True, modified_at=utc_now(), change_seq=seq)
                    )
                    conn.execute(stmt)
            self._save_checkpoint(
                conn,
                set_spec,
                {
                    "resumption_token": next_token,
                    "from_date": progress.from_date,
                    "until_date": progress.until_date,
                    "pages_done": progress.pages_done,
                    "records_done": progress.records_done,
                    "max_datestamp": progress.max_datestamp,
                },
            )
        return counts

    def finish_harvest(self, set_spec: str, last_datestamp: str | None) -> None:
        values: dict[str, Any] = {"resumption_token": None}
        if last_datestamp is not None:
            values["last_datestamp"] = last_datestamp
        with self.engine.connect().execution_options(**self._write) as conn, conn.begin():
            self._save_checkpoint(conn, set_spec, values)
