"""Votes, per-paper activity counters, moderation of papers and the audit log.

Every change here runs in one write transaction with its counter update, its audit row and a
bump of the store revision (so cached pages show the new counts): a counter can never disagree
with the rows it counts, whatever the concurrency.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update

from paperboy.clock import chunks, utc_now
from paperboy.models import Activity, AuditEntry, VoteResult
from paperboy.store.dialects import insert_for
from paperboy.store.schema import audit_log, paper_activity, papers, users, votes
from paperboy.store.substore import SubStore, bump_revision


def bump_activity(conn: Any, paper_id: str, *, votes: int = 0, comments: int = 0) -> int:
    """Add to a paper's counters (creating its row); returns its vote count afterwards."""
    stmt = insert_for(conn.engine, paper_activity).values(
        paper_id=paper_id, votes=max(votes, 0), comments=max(comments, 0)
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[paper_activity.c.paper_id],
        set_={
            "votes": paper_activity.c.votes + votes,
            "comments": paper_activity.c.comments + comments,
        },
    ).returning(paper_activity.c.votes)
    return int(conn.execute(stmt).scalar_one())


def audit(
    conn: Any,
    actor_id: int | None,
    action: str,
    target_type: str,
    target_id: str,
    detail: dict[str, Any] | None = None,
    *,
    at: datetime | None = None,
) -> None:
    """Record an action in the caller's transaction: it is logged if and only if it happened."""
    conn.execute(
        insert(audit_log).values(
            at=at or utc_now(),
            actor_id=actor_id,
            action=action,
            target_type=target_type,
            target_id=target_id,
            detail=detail,
        )
    )


class ActivityStore(SubStore):
    # -- votes ------------------------------------------------------------------------------

    def set_vote(self, user_id: int, paper_id: str, on: bool) -> VoteResult:
        """Make the user's vote on the paper ``on`` or off. Asking twice for the same state
        changes nothing (a double-click never counts twice)."""
        with self._writer() as conn, conn.begin():
            if on:
                stmt = (
                    insert_for(self.engine, votes)
                    .values(user_id=user_id, paper_id=paper_id, created_at=utc_now())
                    .on_conflict_do_nothing(index_elements=[votes.c.user_id, votes.c.paper_id])
                )
            else:
                stmt = delete(votes).where(votes.c.user_id == user_id, votes.c.paper_id == paper_id)
            # SQLAlchemy keeps an INSERT's rowcount (needed with psycopg) only when asked to
            result = conn.execute(stmt, execution_options={"preserve_rowcount": True})
            changed = result.rowcount == 1
            if changed:
                count = bump_activity(conn, paper_id, votes=1 if on else -1)
                audit(conn, user_id, "vote" if on else "unvote", "paper", paper_id)
                bump_revision(conn)
            else:
                count = conn.execute(
                    select(paper_activity.c.votes).where(paper_activity.c.paper_id == paper_id)
                ).scalar_one_or_none()
        return VoteResult(paper_id, on, changed, int(count or 0))

    def voted(self, user_id: int, paper_ids: Sequence[str]) -> set[str]:
        """Which of ``paper_ids`` the user has upvoted."""
        found: set[str] = set()
        ids = list(dict.fromkeys(paper_ids))
        with self.engine.connect() as conn:
            for chunk in chunks(ids):
                query = select(votes.c.paper_id).where(
                    votes.c.user_id == user_id, votes.c.paper_id.in_(chunk)
                )
                found.update(conn.execute(query).scalars())
        return found

    def votes_of(self, user_id: int) -> list[tuple[str, datetime]]:
        query = (
            select(votes.c.paper_id, votes.c.created_at)
            .where(votes.c.user_id == user_id)
            .order_by(votes.c.created_at.desc(), votes.c.paper_id)
        )
        with self.engine.connect() as conn:
            return [(r.paper_id, r.created_at) for r in conn.execute(query)]

    def votes_with_titles(self, user_id: int) -> list[tuple[str, str, datetime]]:
        """(paper_id, title, voted at) of each of the user's votes, newest first."""
        query = (
            select(votes.c.paper_id, papers.c.title, votes.c.created_at)
            .join(papers, papers.c.id == votes.c.paper_id)
            .where(votes.c.user_id == user_id)
            .order_by(votes.c.created_at.desc(), votes.c.paper_id)
        )
        with self.engine.connect() as conn:
            return [(r.paper_id, r.title, r.created_at) for r in conn.execute(query)]

    def count_votes(self, paper_id: str) -> int:
        """Rows in ``votes`` for the paper (the counter in paper_activity must equal it)."""
        query = select(func.count()).select_from(votes).where(votes.c.paper_id == paper_id)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    # -- activity and moderation ------------------------------------------------------------

    def activity(self, paper_ids: Sequence[str]) -> dict[str, Activity]:
        out: dict[str, Activity] = {}
        ids = list(dict.fromkeys(paper_ids))
        with self.engine.connect() as conn:
            for chunk in chunks(ids):
                query = select(paper_activity).where(paper_activity.c.paper_id.in_(chunk))
                for r in conn.execute(query):
                    out[r.paper_id] = Activity(
                        r.paper_id, r.votes, r.comments, r.hidden_at, r.hidden_reason
                    )
        return out

    def hidden_papers(self) -> set[str]:
        query = select(paper_activity.c.paper_id).where(paper_activity.c.hidden_at.is_not(None))
        with self.engine.connect() as conn:
            return set(conn.execute(query).scalars())

    def set_paper_hidden(
        self, actor_id: int, paper_id: str, hidden: bool, reason: str | None = None
    ) -> bool:
        """Hide a paper from every list, search and feed (or show it again)."""
        with self._writer() as conn, conn.begin():
            bump_activity(conn, paper_id)
            done = conn.execute(
                update(paper_activity)
                .where(
                    paper_activity.c.paper_id == paper_id,
                    paper_activity.c.hidden_at.is_(None)
                    if hidden
                    else paper_activity.c.hidden_at.is_not(None),
                )
                .values(
                    hidden_at=utc_now() if hidden else None,
                    hidden_by=actor_id if hidden else None,
                    hidden_reason=reason if hidden else None,
                )
            )
            changed = done.rowcount == 1
            if changed:
                action = "hide_paper" if hidden else "show_paper"
                audit(conn, actor_id, action, "paper", paper_id, {"reason": reason})
                bump_revision(conn)
        return changed

    def record(
        self,
        actor_id: int | None,
        action: str,
        target_type: str,
        target_id: str,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Audit an action that has no other write (e.g. a login, a moderation of a user)."""
        with self._writer() as conn, conn.begin():
            audit(conn, actor_id, action, target_type, target_id, detail)

    def count_actions(self, actor_id: int, action: str, since: datetime) -> int:
        query = (
            select(func.count())
            .select_from(audit_log)
            .where(
                audit_log.c.actor_id == actor_id,
                audit_log.c.action == action,
                audit_log.c.at >= since,
            )
        )
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def audit_entries(
        self,
        *,
        action: str | None = None,
        actor_id: int | None = None,
        target: tuple[str, str] | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> list[AuditEntry]:
        query = select(audit_log, users.c.username).outerjoin(
            users, users.c.id == audit_log.c.actor_id
        )
        if action:
            query = query.where(audit_log.c.action == action)
        if actor_id is not None:
            query = query.where(audit_log.c.actor_id == actor_id)
        if target is not None:
            query = query.where(
                audit_log.c.target_type == target[0], audit_log.c.target_id == target[1]
            )
        query = query.order_by(audit_log.c.id.desc()).offset(offset).limit(limit)
        with self.engine.connect() as conn:
            return [
                AuditEntry(
                    r.id,
                    r.at,
                    r.actor_id,
                    r.username,
                    r.action,
                    r.target_type,
                    r.target_id,
                    r.detail,
                )
                for r in conn.execute(query)
            ]
