"""Comments under papers, and the moderation of comments and users, in the store.

Every write runs in ONE write transaction with the paper's comment counter, its audit row and a
bump of the store revision (cached pages show the change at once). The counter
``paper_activity.comments`` counts the *visible* comments of a paper (neither deleted by their
author nor hidden by a moderator); each transition reads the other flag in the same ``UPDATE
... RETURNING`` that flips its own, so the counter moves only when visibility really changes,
whatever the concurrency (PostgreSQL re-checks the ``WHERE`` of a row another transaction just
changed; SQLite takes its write lock up front).

The store is stateless: services build one from ``store.engine`` whenever they need it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, insert, select, update

from paperboy.clock import utc_now
from paperboy.store.activity import audit, bump_activity
from paperboy.store.records import Comment, ModerationCounts
from paperboy.store.schema import comments, paper_activity, papers, sessions, users
from paperboy.store.substore import SubStore, bump_revision

__all__ = ["Comment", "CommentStore", "ModerationCounts"]  # the records live in ``records``


def _comment_from_row(row: Any) -> Comment:
    return Comment(
        id=int(row.id),
        paper_id=row.paper_id,
        user_id=int(row.user_id),
        author=row.username,
        body=row.body,
        created_at=row.created_at,
        edited_at=row.edited_at,
        deleted_at=row.deleted_at,
        hidden_at=row.hidden_at,
        hidden_by=row.hidden_by,
    )


_SELECT = select(comments, users.c.username).join(users, users.c.id == comments.c.user_id)


def _undeleted_of(comment_id: int, user_id: int) -> tuple[Any, ...]:
    """Conditions for ``comment_id`` when ``user_id`` wrote it and has not deleted it."""
    return (
        comments.c.id == comment_id,
        comments.c.user_id == user_id,
        comments.c.deleted_at.is_(None),
    )


def _changed(conn: Any, actor_id: int, action: str, comment_id: int, paper_id: str) -> None:
    """Log ``action`` on a comment of ``paper_id`` and mark the store changed."""
    audit(conn, actor_id, action, "comment", str(comment_id), {"paper": paper_id})
    bump_revision(conn)


class CommentStore(SubStore):
    # -- reads ------------------------------------------------------------------------------

    def get(self, comment_id: int) -> Comment | None:
        with self.engine.connect() as conn:
            row = conn.execute(_SELECT.where(comments.c.id == comment_id)).first()
        return _comment_from_row(row) if row is not None else None

    def for_paper(self, paper_id: str, *, include_hidden: bool = False) -> list[Comment]:
        """The paper's comments, oldest first: the visible ones, plus the hidden ones when
        ``include_hidden`` (for moderators). Deleted comments are never listed."""
        query = _SELECT.where(comments.c.paper_id == paper_id, comments.c.deleted_at.is_(None))
        if not include_hidden:
            query = query.where(comments.c.hidden_at.is_(None))
        query = query.order_by(comments.c.created_at, comments.c.id)
        with self.engine.connect() as conn:
            return [_comment_from_row(row) for row in conn.execute(query)]

    def of_user(
        self, user_id: int, *, include_hidden: bool = False, offset: int = 0, limit: int = 50
    ) -> list[Comment]:
        """A user's comments, newest first (deleted ones never; hidden ones on request)."""
        query = _SELECT.where(comments.c.user_id == user_id, comments.c.deleted_at.is_(None))
        if not include_hidden:
            query = query.where(comments.c.hidden_at.is_(None))
        query = (
            query.order_by(comments.c.created_at.desc(), comments.c.id.desc())
            .offset(offset)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [_comment_from_row(row) for row in conn.execute(query)]

    def all_of_user(self, user_id: int) -> list[tuple[Comment, str]]:
        """Every comment of the user, deleted and hidden ones too, oldest first, each with the
        title of its paper (for the user's data export)."""
        query = (
            _SELECT.add_columns(papers.c.title.label("paper_title"))
            .join(papers, papers.c.id == comments.c.paper_id)
            .where(comments.c.user_id == user_id)
            .order_by(comments.c.created_at, comments.c.id)
        )
        with self.engine.connect() as conn:
            return [(_comment_from_row(row), row.paper_title) for row in conn.execute(query)]

    def count_visible(self, paper_id: str) -> int:
        """Rows that are neither deleted nor hidden (the counter in paper_activity equals it)."""
        query = (
            select(func.count())
            .select_from(comments)
            .where(
                comments.c.paper_id == paper_id,
                comments.c.deleted_at.is_(None),
                comments.c.hidden_at.is_(None),
            )
        )
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def counts(self) -> ModerationCounts:
        """What the moderators' dashboard shows."""
        live = comments.c.deleted_at.is_(None)
        with self.engine.connect() as conn:
            user_total, user_hidden = conn.execute(
                select(
                    func.count(),
                    func.count(users.c.hidden_at),
                ).select_from(users)
            ).one()
            visible = conn.execute(
                select(func.count())
                .select_from(comments)
                .where(live, comments.c.hidden_at.is_(None))
            ).scalar_one()
            hidden = conn.execute(
                select(func.count())
                .select_from(comments)
                .where(live, comments.c.hidden_at.is_not(None))
            ).scalar_one()
            papers = conn.execute(
                select(func.count())
                .select_from(paper_activity)
                .where(paper_activity.c.hidden_at.is_not(None))
            ).scalar_one()
        return ModerationCounts(
            int(user_total), int(user_hidden), int(visible), int(hidden), int(papers)
        )

    # -- writes -----------------------------------------------------------------------------

    def add(self, user_id: int, paper_id: str, body: str) -> Comment:
        """A new visible comment; counted, audited ("comment") and the revision bumped."""
        with self._writer() as conn, conn.begin():
            comment_id = conn.execute(
                insert(comments)
                .values(paper_id=paper_id, user_id=user_id, body=body, created_at=utc_now())
                .returning(comments.c.id)
            ).scalar_one()
            bump_activity(conn, paper_id, comments=1)
            _changed(conn, user_id, "comment", comment_id, paper_id)
        found = self.get(int(comment_id))
        assert found is not None
        return found

    def edit(self, comment_id: int, user_id: int, body: str) -> bool:
        """Replace the body of the author's own live comment (not deleted, not hidden).
        Returns False when there is no such comment of that user."""
        with self._writer() as conn, conn.begin():
            paper_id = conn.execute(
                update(comments)
                .where(*_undeleted_of(comment_id, user_id), comments.c.hidden_at.is_(None))
                .values(body=body, edited_at=utc_now())
                .returning(comments.c.paper_id)
            ).scalar_one_or_none()
            if paper_id is None:
                return False
            _changed(conn, user_id, "edit_comment", comment_id, paper_id)
        return True

    def delete(self, comment_id: int, user_id: int) -> bool:
        """Soft-delete the author's own comment. Returns False when it was not theirs or was
        already deleted (a second click changes nothing)."""
        with self._writer() as conn, conn.begin():
            row = conn.execute(
                update(comments)
                .where(*_undeleted_of(comment_id, user_id))
                .values(deleted_at=utc_now())
                .returning(comments.c.paper_id, comments.c.hidden_at)
            ).first()
            if row is None:
                return False
            if row.hidden_at is None:  # it was visible: one fewer
                bump_activity(conn, row.paper_id, comments=-1)
            _changed(conn, user_id, "delete_comment", comment_id, row.paper_id)
        return True

    def set_hidden(self, comment_id: int, actor_id: int, hidden: bool) -> bool:
        """Hide a comment from everyone but the moderators (or show it again). Returns False
        when it already was in that state or does not exist."""
        with self._writer() as conn, conn.begin():
            row = conn.execute(
                update(comments)
                .where(
                    comments.c.id == comment_id,
                    comments.c.hidden_at.is_(None) if hidden else comments.c.hidden_at.is_not(None),
                )
                .values(
                    hidden_at=utc_now() if hidden else None, hidden_by=actor_id if hidden else None
                )
                .returning(comments.c.paper_id, comments.c.deleted_at)
            ).first()
            if row is None:
                return False
            if row.deleted_at is None:  # a live comment changes visibility
                bump_activity(conn, row.paper_id, comments=-1 if hidden else 1)
            action = "hide_comment" if hidden else "show_comment"
            _changed(conn, actor_id, action, comment_id, row.paper_id)
        return True

    # -- moderation of users ----------------------------------------------------------------

    def set_user_hidden(self, actor_id: int, user_id: int, hidden: bool) -> bool:
        """Suspend a user (or lift it): hiding sets ``hidden_at`` and ends every session of
        theirs, in one transaction with the audit row ("hide_user" / "show_user"). Their API
        tokens stop working while hidden (token checks skip hidden users) and come back after.
        Returns False when the user was already in that state or does not exist."""
        with self._writer() as conn, conn.begin():
            done = conn.execute(
                update(users)
                .where(
                    users.c.id == user_id,
                    users.c.hidden_at.is_(None) if hidden else users.c.hidden_at.is_not(None),
                )
                .values(hidden_at=utc_now() if hidden else None)
            )
            if done.rowcount != 1:
                return False
            ended = 0
            if hidden:
                ended = conn.execute(delete(sessions).where(sessions.c.user_id == user_id)).rowcount
            detail = {"sessions_ended": ended} if hidden else None
            audit(
                conn, actor_id, "hide_user" if hidden else "show_user", "user", str(user_id), detail
            )
            bump_revision(conn)
        return True

    def usernames(self, user_ids: list[int]) -> dict[int, str]:
        """Usernames of the given user ids (unknown ids are absent)."""
        ids = list(dict.fromkeys(user_ids))
        if not ids:
            return {}
        query = select(users.c.id, users.c.username).where(users.c.id.in_(ids))
        with self.engine.connect() as conn:
            return {int(uid): name for uid, name in conn.execute(query)}

    def user_comment_counts(self, user_ids: list[int]) -> dict[int, int]:
        """Live (not deleted) comments of each user, hidden ones included."""
        if not user_ids:
            return {}
        query = (
            select(comments.c.user_id, func.count())
            .where(comments.c.user_id.in_(user_ids), comments.c.deleted_at.is_(None))
            .group_by(comments.c.user_id)
        )
        with self.engine.connect() as conn:
            return {int(uid): int(n) for uid, n in conn.execute(query)}
