"""Collections in the store: named lists of papers a user keeps, each paper with a note.

Every write runs in one transaction with its audit row; a write that changes a public
collection (or makes one public or private) also bumps the store revision, so anything cached
for anonymous visitors is refreshed. Names are unique per user whatever their case; the
database's unique constraint backs the check up when two requests race.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from paperboy.clock import chunks, utc_now
from paperboy.errors import PaperboyError
from paperboy.store.activity import audit
from paperboy.store.dialects import insert_for
from paperboy.store.records import Collection, CollectionItem
from paperboy.store.rows import paper_from_row
from paperboy.store.schema import collection_items, collections, paper_activity, papers, users
from paperboy.store.substore import SubStore, bump_revision

__all__ = ["Collection", "CollectionItem", "CollectionStore", "NameTaken"]


class NameTaken(PaperboyError):
    """The user already has a collection of that name (compared without case)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _count() -> Any:
    return (
        select(func.count())
        .select_from(collection_items)
        .where(collection_items.c.collection_id == collections.c.id)
        .scalar_subquery()
        .label("item_count")
    )


def _collection(row: Any) -> Collection:
    m = row._mapping
    return Collection(
        id=int(m["id"]),
        user_id=int(m["user_id"]),
        owner=m["username"],
        name=m["name"],
        description=m["description"] or "",
        is_public=bool(m["is_public"]),
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        item_count=int(m["item_count"] or 0),
        owner_hidden=m["owner_hidden_at"] is not None,
    )


def _base_query() -> Any:
    return select(
        collections, users.c.username, users.c.hidden_at.label("owner_hidden_at"), _count()
    ).join(users, users.c.id == collections.c.user_id)


class CollectionStore(SubStore):
    @staticmethod
    def _name_taken(conn: Any, user_id: int, name: str, except_id: int | None = None) -> bool:
        query = select(collections.c.id).where(
            collections.c.user_id == user_id,
            func.lower(collections.c.name) == name.lower(),
        )
        if except_id is not None:
            query = query.where(collections.c.id != except_id)
        return conn.execute(query.limit(1)).first() is not None

    @staticmethod
    def _row(conn: Any, collection_id: int, column: Any) -> Any:
        """``column`` and ``is_public`` of the collection; None when it is gone."""
        query = select(column, collections.c.is_public).where(collections.c.id == collection_id)
        return conn.execute(query).first()

    @staticmethod
    def _touch(conn: Any, collection_id: int, now: datetime) -> bool | None:
        """Set the collection's ``updated_at``; returns whether it is public (None: gone)."""
        public = conn.execute(
            update(collections)
            .where(collections.c.id == collection_id)
            .values(updated_at=now)
            .returning(collections.c.is_public)
        ).scalar_one_or_none()
        return None if public is None else bool(public)

    # -- collections ------------------------------------------------------------------------

    def create(
        self, user_id: int, name: str, description: str = "", is_public: bool = False
    ) -> Collection:
        """A new collection. Raises NameTaken when the user has one of that name."""
        now = utc_now()
        try:
            with self._writer() as conn, conn.begin():
                if self._name_taken(conn, user_id, name):
                    raise NameTaken(name)
                collection_id = int(
                    conn.execute(
                        insert(collections)
                        .values(
                            user_id=user_id,
                            name=name,
                            description=description,
                            is_public=is_public,
                            created_at=now,
                            updated_at=now,
                        )
                        .returning(collections.c.id)
                    ).scalar_one()
                )
                audit(
                    conn,
                    user_id,
                    "collection_create",
                    "collection",
                    str(collection_id),
                    {"name": name, "public": is_public},
                    at=now,
                )
                if is_public:
                    bump_revision(conn)
        except IntegrityError as exc:  # a concurrent request took the name first
            raise NameTaken(name) from exc
        found = self.get(collection_id, include_hidden_owner=True)
        assert found is not None
        return found

    def update(
        self,
        actor_id: int,
        collection_id: int,
        *,
        name: str | None = None,
        description: str | None = None,
        is_public: bool | None = None,
    ) -> bool:
        """Change a collection's name, description or visibility; False when it is gone.
        Raises NameTaken when the new name belongs to another of the owner's collections."""
        now = utc_now()
        values: dict[str, Any] = {"updated_at": now}
        if name is not None:
            values["name"] = name
        if description is not None:
            values["description"] = description
        if is_public is not None:
            values["is_public"] = is_public
        try:
            with self._writer() as conn, conn.begin():
                row = self._row(conn, collection_id, collections.c.user_id)
                if row is None:
                    return False
                if name is not None and self._name_taken(conn, row.user_id, name, collection_id):
                    raise NameTaken(name)
                conn.execute(
                    update(collections).where(collections.c.id == collection_id).values(**values)
                )
                detail = {k: v for k, v in values.items() if k != "updated_at"}
                audit(
                    conn,
                    actor_id,
                    "collection_update",
                    "collection",
                    str(collection_id),
                    detail,
                    at=now,
                )
                if row.is_public or is_public:
                    bump_revision(conn)
        except IntegrityError as exc:
            raise NameTaken(name or "") from exc
        return True

    def delete(self, actor_id: int, collection_id: int) -> bool:
        """Delete a collection and its items; False when it was already gone."""
        with self._writer() as conn, conn.begin():
            row = self._row(conn, collection_id, collections.c.name)
            if row is None:
                return False
            conn.execute(
                delete(collection_items).where(collection_items.c.collection_id == collection_id)
            )
            conn.execute(delete(collections).where(collections.c.id == collection_id))
            audit(
                conn,
                actor_id,
                "collection_delete",
                "collection",
                str(collection_id),
                {"name": row.name},
            )
            if row.is_public:
                bump_revision(conn)
        return True

    # -- items ------------------------------------------------------------------------------

    def add_item(self, actor_id: int, collection_id: int, paper_id: str, note: str = "") -> bool:
        """Put a paper in a collection with a note. A paper already there keeps its place and
        gets the new note. Returns True when the paper was added, False when it was there."""
        now = utc_now()
        stmt = (
            insert_for(self.engine, collection_items)
            .values(collection_id=collection_id, paper_id=paper_id, note=note, added_at=now)
            .on_conflict_do_update(
                index_elements=[collection_items.c.collection_id, collection_items.c.paper_id],
                set_={"note": note},
            )
            .returning(collection_items.c.added_at)
        )
        with self._writer() as conn, conn.begin():
            added_at = conn.execute(stmt).scalar_one()
            added = added_at == now
            public = self._touch(conn, collection_id, now)
            action = "collection_add" if added else "collection_note"
            detail = {"paper_id": paper_id, "note": note}
            audit(conn, actor_id, action, "collection", str(collection_id), detail, at=now)
            if public:
                bump_revision(conn)
        return added

    def update_note(self, actor_id: int, collection_id: int, paper_id: str, note: str) -> bool:
        """Change the note of a paper in a collection; False when the paper is not there."""
        now = utc_now()
        with self._writer() as conn, conn.begin():
            done = conn.execute(
                update(collection_items)
                .where(
                    collection_items.c.collection_id == collection_id,
                    collection_items.c.paper_id == paper_id,
                )
                .values(note=note)
            )
            if done.rowcount != 1:
                return False
            public = self._touch(conn, collection_id, now)
            detail = {"paper_id": paper_id, "note": note}
            audit(conn, actor_id, "collection_note", "collection", str(collection_id), detail)
            if public:
                bump_revision(conn)
        return True

    def remove_item(self, actor_id: int, collection_id: int, paper_id: str) -> bool:
        """Take a paper out of a collection; False when it was not there."""
        now = utc_now()
        with self._writer() as conn, conn.begin():
            done = conn.execute(
                delete(collection_items).where(
                    collection_items.c.collection_id == collection_id,
                    collection_items.c.paper_id == paper_id,
                )
            )
            if done.rowcount != 1:
                return False
            public = self._touch(conn, collection_id, now)
            detail = {"paper_id": paper_id}
            audit(conn, actor_id, "collection_remove", "collection", str(collection_id), detail)
            if public:
                bump_revision(conn)
        return True

    # -- reads ------------------------------------------------------------------------------

    def get(self, collection_id: int, *, include_hidden_owner: bool = False) -> Collection | None:
        """One collection with its owner's name and its item count. A collection whose owner
        the moderators suspended is None (for every viewer and route, as a missing one is)
        unless ``include_hidden_owner``."""
        query = _base_query().where(collections.c.id == collection_id)
        if not include_hidden_owner:
            query = query.where(users.c.hidden_at.is_(None))
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return _collection(row) if row is not None else None

    def by_name(self, user_id: int, name: str) -> Collection | None:
        """The user's collection called ``name`` (compared without case)."""
        query = _base_query().where(
            collections.c.user_id == user_id, func.lower(collections.c.name) == name.lower()
        )
        with self.engine.connect() as conn:
            row = conn.execute(query.limit(1)).first()
        return _collection(row) if row is not None else None

    def of_user(self, user_id: int, *, public_only: bool = False) -> list[Collection]:
        """The user's collections, most recently changed first, each with its item count.
        ``public_only``: what others may see, so none of a suspended user's."""
        query = _base_query().where(collections.c.user_id == user_id)
        if public_only:
            query = query.where(collections.c.is_public.is_(True), users.c.hidden_at.is_(None))
        query = query.order_by(collections.c.updated_at.desc(), collections.c.id.desc())
        with self.engine.connect() as conn:
            return [_collection(row) for row in conn.execute(query)]

    def holding(self, user_id: int, paper_id: str) -> list[Collection]:
        """Which of the user's collections hold the paper, by name."""
        holds = (
            select(collection_items.c.collection_id)
            .where(collection_items.c.paper_id == paper_id)
            .scalar_subquery()
        )
        query = (
            _base_query()
            .where(collections.c.user_id == user_id, collections.c.id.in_(holds))
            .order_by(collections.c.name, collections.c.id)
        )
        with self.engine.connect() as conn:
            return [_collection(row) for row in conn.execute(query)]

    def _item_filter(self, collection_id: int, include_hidden: bool) -> Any:
        condition = collection_items.c.collection_id == collection_id
        if not include_hidden:
            condition = and_(condition, paper_activity.c.hidden_at.is_(None))
        return condition

    def items(
        self,
        collection_id: int,
        *,
        offset: int = 0,
        limit: int | None = 50,
        include_hidden: bool = False,
    ) -> tuple[list[CollectionItem], int]:
        """One page of a collection's papers, newest added first, and how many there are in
        all. Papers hidden by the moderators are left out unless ``include_hidden``."""
        joined = collection_items.join(
            papers, papers.c.id == collection_items.c.paper_id
        ).outerjoin(paper_activity, paper_activity.c.paper_id == collection_items.c.paper_id)
        condition = self._item_filter(collection_id, include_hidden)
        query = (
            select(
                papers,
                collection_items.c.note,
                collection_items.c.added_at,
                paper_activity.c.hidden_at,
            )
            .select_from(joined)
            .where(condition)
            .order_by(collection_items.c.added_at.desc(), collection_items.c.paper_id.desc())
            .offset(offset)
        )
        if limit is not None:
            query = query.limit(limit)
        count = select(func.count()).select_from(joined).where(condition)
        with self.engine.connect() as conn:
            total = int(conn.execute(count).scalar_one())
            rows = conn.execute(query).all()
        items = [
            CollectionItem(
                paper=paper_from_row(row),
                note=row.note or "",
                added_at=row.added_at,
                hidden=row.hidden_at is not None,
            )
            for row in rows
        ]
        return items, total

    def notes_of(
        self, collection_ids: Sequence[int]
    ) -> dict[int, list[tuple[str, str, str, datetime]]]:
        """Every item of the given collections as (paper id, title, note, added), for exports."""
        out: dict[int, list[tuple[str, str, str, datetime]]] = {cid: [] for cid in collection_ids}
        ids = list(dict.fromkeys(collection_ids))
        with self.engine.connect() as conn:
            for chunk in chunks(ids):
                query = (
                    select(
                        collection_items.c.collection_id,
                        collection_items.c.paper_id,
                        papers.c.title,
                        collection_items.c.note,
                        collection_items.c.added_at,
                    )
                    .join(papers, papers.c.id == collection_items.c.paper_id)
                    .where(collection_items.c.collection_id.in_(chunk))
                    .order_by(
                        collection_items.c.collection_id,
                        collection_items.c.added_at.desc(),
                        collection_items.c.paper_id.desc(),
                    )
                )
                for row in conn.execute(query):
                    out[int(row.collection_id)].append(
                        (row.paper_id, row.title, row.note or "", row.added_at)
                    )
        return out
