"""Which papers a viewer may see: the one place the moderators' "hidden" rule lives.

A paper hidden by the moderators is, to everyone but a moderator, answered exactly as a missing
one (``PaperNotFound``); nobody votes on it, moderators included.
"""

from __future__ import annotations

from dataclasses import dataclass

from paperboy.arxiv_ids import parse_arxiv_id
from paperboy.community.models import User
from paperboy.errors import PaperNotFound
from paperboy.models import Paper
from paperboy.store.base import Store

MISSING = "No paper {id} in this radar yet."
HIDDEN = "{id} has been hidden by the moderators."


@dataclass(frozen=True, slots=True)
class Shown:
    """A paper the viewer may see; ``hidden`` when a moderator hid it (only they see it)."""

    paper: Paper
    hidden: bool


def shown_paper(
    store: Store,
    arxiv_id: str,
    viewer: User | None = None,
    *,
    missing: str = MISSING,
    hidden: str = HIDDEN,
) -> Shown:
    """The stored paper named by ``arxiv_id`` if ``viewer`` may see it: hidden papers only to
    moderators. ``InvalidArxivId`` or ``PaperNotFound`` (with ``missing`` or ``hidden``, where
    ``{id}`` is the canonical id) otherwise."""
    canonical = parse_arxiv_id(arxiv_id).canonical
    paper = store.get_paper(canonical)
    if paper is None:
        raise PaperNotFound(missing.format(id=canonical))
    activity = store.activity.activity([canonical]).get(canonical)
    is_hidden = activity is not None and activity.hidden_at is not None
    if is_hidden and not (viewer is not None and viewer.is_admin):
        raise PaperNotFound(hidden.format(id=canonical))
    return Shown(paper, is_hidden)


def hidden_from(store: Store, viewer: User | None = None) -> set[str]:
    """The ids of the papers ``viewer`` may not see: those the moderators hid (none for a
    moderator; feeds, which anyone may read, pass no viewer)."""
    if viewer is not None and viewer.is_admin:
        return set()
    return set(store.activity.hidden_papers())


def visible_paper(store: Store, arxiv_id: str) -> Paper:
    """The stored, not hidden paper named by ``arxiv_id`` (PaperNotFound otherwise)."""
    return shown_paper(store, arxiv_id).paper
