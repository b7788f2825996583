"""The rules of comments: who may write, edit, delete and hide them, and what a comment may be.

- Writing and editing need a logged-in user who can write (verified address, not hidden), a
  body of 1 to ``MAX_COMMENT_CHARS`` characters after ``comment_text`` normalises it (line
  endings, control characters, surrounding blanks), and stay under ``settings.rate_comment``
  (posts and edits share one counter per user).
- Only the author edits or deletes a comment; a comment hidden by a moderator can no longer be
  edited. Only admins hide comments or show them again.
- The paper must exist and not be hidden by the moderators (a hidden paper takes no new
  comments and its thread is readable by admins only).

Refusals raise ``CommentError`` subclasses; the web layer turns them into 400/401/403/404.
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup

from paperboy import errors
from paperboy.community import limits
from paperboy.community.markdown import MAX_COMMENT_CHARS, comment_text, render_comment
from paperboy.community.models import User
from paperboy.errors import Invalid, LoginRequired, Refusal
from paperboy.models import Paper
from paperboy.store.comments import Comment
from paperboy.store.sql import SQLStore


class CommentError(Refusal):
    """A refused comment action."""


class InvalidComment(CommentError, Invalid):
    pass


class NotLoggedIn(CommentError, LoginRequired):
    pass


class NotAllowed(CommentError, errors.NotAllowed):
    pass


class NotFound(CommentError, errors.NotFound):
    pass


@dataclass(frozen=True, slots=True)
class CommentView:
    """A comment as a page shows it to one viewer."""

    comment: Comment
    html: Markup  # sanitised by render_comment: the one thing templates may print unescaped
    mine: bool  # the viewer wrote it: edit and delete buttons
    moderated: bool  # hidden by a moderator (only admins ever see such a comment)


def clean_body(body: str) -> str:
    """The text to store, or InvalidComment saying what is wrong with it."""
    text = comment_text(body or "")
    if not text:
        raise InvalidComment("A comment cannot be empty: write something first.", "body")
    if len(text) > MAX_COMMENT_CHARS:
        raise InvalidComment(
            f"A comment can be at most {MAX_COMMENT_CHARS:,} characters long "
            f"(this one has {len(text):,}).",
            "body",
        )
    return text


class CommentService:
    def __init__(self, store: SQLStore, rate: str) -> None:
        self.store = store
        self.comments = store.comments
        self.rate = rate

    # -- checks -----------------------------------------------------------------------------

    @staticmethod
    def _writer(user: User | None) -> User:
        if user is None:
            raise NotLoggedIn("Log in to comment.")
        if not user.can_write:
            if user.hidden:
                raise NotAllowed("This account has been suspended by a moderator.")
            raise NotAllowed("Verify your email address before commenting.")
        return user

    def is_hidden(self, paper_id: str) -> bool:
        activity = self.store.activity.activity([paper_id]).get(paper_id)
        return activity is not None and activity.hidden_at is not None

    def paper(self, paper_id: str, viewer: User | None) -> Paper:
        """The paper, if it exists and ``viewer`` may see it (hidden ones: admins only)."""
        found = self.store.get_paper(paper_id)
        if found is None:
            raise NotFound(f"No paper {paper_id} here.")
        if self.is_hidden(paper_id) and not (viewer is not None and viewer.is_admin):
            raise NotFound(f"{paper_id} has been hidden by the moderators.")
        return found

    def _open_paper(self, paper_id: str) -> None:
        """A paper that takes comments: it exists and is not hidden (for anyone)."""
        if self.store.get_paper(paper_id) is None:
            raise NotFound(f"No paper {paper_id} here.")
        if self.is_hidden(paper_id):
            raise NotFound(f"{paper_id} has been hidden by the moderators.")

    def _comment(self, comment_id: int) -> Comment:
        found = self.comments.get(comment_id)
        if found is None or found.deleted_at is not None:
            raise NotFound(f"No comment {comment_id}.")
        return found

    def _limit(self, user: User) -> None:
        limits.check(self.store.accounts, f"comment:user:{user.id}", self.rate, "comments")

    # -- reads ------------------------------------------------------------------------------

    def thread(self, paper_id: str, viewer: User | None) -> list[Comment]:
        """The comments ``viewer`` may see: visible ones, plus hidden ones for admins."""
        admin = viewer is not None and viewer.is_admin
        return self.comments.for_paper(paper_id, include_hidden=admin)

    def views(self, paper_id: str, viewer: User | None) -> list[CommentView]:
        return [
            CommentView(
                comment,
                render_comment(comment.body),
                viewer is not None and viewer.id == comment.user_id,
                comment.hidden_at is not None,
            )
            for comment in self.thread(paper_id, viewer)
        ]

    # -- writes -----------------------------------------------------------------------------

    def post(self, user: User | None, paper_id: str, body: str) -> Comment:
        writer = self._writer(user)
        self._open_paper(paper_id)
        text = clean_body(body)
        self._limit(writer)
        return self.comments.add(writer.id, paper_id, text)

    def edit(self, user: User | None, comment_id: int, body: str) -> Comment:
        writer = self._writer(user)
        comment = self._comment(comment_id)
        if comment.user_id != writer.id:
            raise NotAllowed("Only its author can edit a comment.")
        if comment.hidden_at is not None:
            raise NotAllowed("A moderator has hidden this comment: it cannot be edited.")
        self._open_paper(comment.paper_id)
        text = clean_body(body)
        self._limit(writer)
        if not self.comments.edit(comment_id, writer.id, text):
            raise NotFound(f"No comment {comment_id}.")  # deleted or hidden meanwhile
        return self._comment(comment_id)

    def delete(self, user: User | None, comment_id: int) -> Comment:
        """Soft-delete the author's comment; deleting it again changes nothing."""
        if user is None:
            raise NotLoggedIn("Log in to delete your comments.")
        found = self.comments.get(comment_id)
        if found is None:
            raise NotFound(f"No comment {comment_id}.")
        if found.user_id != user.id:
            raise NotAllowed("Only its author can delete a comment.")
        if found.deleted_at is None:
            self._open_paper(found.paper_id)
            self.comments.delete(comment_id, user.id)
        return found

    def set_hidden(self, user: User | None, comment_id: int, hidden: bool) -> Comment:
        """Hide a comment (or show it again): admins only; asking twice changes nothing."""
        if user is None:
            raise NotLoggedIn("Log in as a moderator.")
        if not user.is_admin:
            raise NotAllowed("Only moderators can hide or show comments.")
        comment = self._comment(comment_id)
        self.comments.set_hidden(comment_id, user.id, hidden)
        return comment
