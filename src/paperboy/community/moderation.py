"""Moderation: hiding and showing accounts and papers (comments are hidden through
``paperboy.community.comments``). Only moderators call these; the web checks who is one.

Hiding a user also ends their sessions (``CommentStore.set_user_hidden``); a hidden paper is
answered as a missing one to everyone but moderators (``paperboy.community.papers``). Every
change is audited by the store in the same transaction.
"""

from __future__ import annotations

from paperboy.arxiv_ids import parse_arxiv_id
from paperboy.community.models import User
from paperboy.errors import Invalid, NotFound, PaperNotFound
from paperboy.store import SQLStore

MAX_REASON = 500
"""Characters a reason for hiding a paper may have."""


class Moderation:
    def __init__(self, store: SQLStore) -> None:
        self.store = store

    def set_user_hidden(self, admin: User, user_id: int, hidden: bool) -> None:
        """Hide or show the account ``user_id`` (a moderator cannot hide their own)."""
        if hidden and user_id == admin.id:
            raise Invalid("You cannot hide your own account.")
        if self.store.accounts.get_user(user_id) is None:
            raise NotFound(f"No user {user_id}.")
        self.store.comments.set_user_hidden(admin.id, user_id, hidden)

    def set_paper_hidden(self, admin: User, arxiv_id: str, hidden: bool, reason: str) -> str:
        """Hide or show a stored paper, with an optional reason; its canonical id."""
        paper_id = parse_arxiv_id(arxiv_id).canonical
        store = self.store
        if store.get_paper(paper_id) is None:
            raise PaperNotFound(f"No paper {paper_id} in this radar yet.")
        reason = " ".join(reason.split())
        if len(reason) > MAX_REASON:
            raise Invalid(f"A reason can be at most {MAX_REASON} characters long.", "reason")
        store.activity.set_paper_hidden(admin.id, paper_id, hidden, reason or None)
        return paper_id
