"""Collections as a service: who may see and change a collection, and what a valid one is.

Rules:

- Only the owner changes a collection or its items.
- A public collection is visible to everyone; a private one only to its owner. For anyone else
  a private collection does not exist: they get exactly the answer a missing one gives.
- A name is 1 to 200 characters once stripped, unique among the owner's collections (case
  does not count); a description and a note are at most 2000 characters.
- Making a collection public needs a verified email address (what anyone can read must come
  from an account that may write on the site).
"""

from __future__ import annotations

from dataclasses import dataclass

from paperboy import errors
from paperboy.arxiv_ids import parse_arxiv_id
from paperboy.community.models import User
from paperboy.errors import Conflict, Invalid, InvalidArxivId, Refusal
from paperboy.store.collections import Collection, CollectionItem, NameTaken
from paperboy.store.sql import SQLStore

MAX_NAME_CHARS = 200
MAX_DESCRIPTION_CHARS = 2000
MAX_NOTE_CHARS = 2000

NOT_FOUND = "No such collection."


class CollectionError(Refusal):
    """A refused collection request; ``field`` names the bad input."""


class InvalidInput(CollectionError, Invalid):
    pass


class NotAllowed(CollectionError, errors.NotAllowed):
    pass


class NotFound(CollectionError, errors.NotFound):
    pass


class Duplicate(CollectionError, Conflict):
    pass


def clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise InvalidInput("Give the collection a name.", "name")
    if len(name) > MAX_NAME_CHARS:
        raise InvalidInput(
            f"A collection name has at most {MAX_NAME_CHARS} characters ({len(name)} given).",
            "name",
        )
    return name


def clean_text(text: str | None, limit: int, field: str, what: str) -> str:
    text = (text or "").replace("\r\n", "\n").strip()
    if len(text) > limit:
        raise InvalidInput(f"{what} has at most {limit} characters ({len(text)} given).", field)
    return text


def _taken(name: str) -> Duplicate:
    return Duplicate(f"You already have a collection called “{name}”. Pick another name.", "name")


@dataclass(frozen=True, slots=True)
class Page:
    collection: Collection
    items: list[CollectionItem]
    total: int
    page: int  # 1-based
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


class Collections:
    def __init__(self, store: SQLStore) -> None:
        self.papers = store
        self.store = store.collections

    # -- who sees what ----------------------------------------------------------------------

    def visible(self, viewer: User | None, collection_id: int) -> Collection:
        """The collection if ``viewer`` may see it; NotFound otherwise (missing or private)."""
        found = self.store.get(collection_id)
        if found is None or not (found.is_public or (viewer and viewer.id == found.user_id)):
            raise NotFound(NOT_FOUND)
        return found

    def owned(self, user: User, collection_id: int) -> Collection:
        """The collection if ``user`` owns it. Someone else's public collection: NotAllowed;
        a private one: NotFound, as if it did not exist."""
        found = self.visible(user, collection_id)
        if found.user_id != user.id:
            raise NotAllowed("Only the owner can change this collection.")
        return found

    def page(
        self, viewer: User | None, collection_id: int, page: int = 1, per_page: int = 20
    ) -> Page:
        """One page of the collection's papers (the owner also sees papers hidden by the
        moderators, marked, so they can take them out)."""
        found = self.visible(viewer, collection_id)
        owner = viewer is not None and viewer.id == found.user_id
        items, total = self.store.items(
            found.id,
            offset=(page - 1) * per_page,
            limit=per_page,
            include_hidden=owner,
        )
        return Page(found, items, total, page, per_page)

    def mine(self, user: User) -> list[Collection]:
        return self.store.of_user(user.id)

    def public_of(self, user_id: int) -> list[Collection]:
        return self.store.of_user(user_id, public_only=True)

    def holding(self, user: User, paper_id: str) -> list[Collection]:
        return self.store.holding(user.id, paper_id)

    # -- changes ----------------------------------------------------------------------------

    def _check_public(self, user: User, public: bool) -> None:
        if public and not user.can_write:
            raise NotAllowed(
                "Verify your email address before making a collection public.", "public"
            )

    def create(
        self, user: User, name: str, description: str = "", public: bool = False
    ) -> Collection:
        name = clean_name(name)
        description = clean_text(description, MAX_DESCRIPTION_CHARS, "description", "A description")
        self._check_public(user, public)
        try:
            return self.store.create(user.id, name, description, public)
        except NameTaken:
            raise _taken(name) from None

    def edit(
        self,
        user: User,
        collection_id: int,
        name: str,
        description: str = "",
        public: bool = False,
    ) -> Collection:
        found = self.owned(user, collection_id)
        name = clean_name(name)
        description = clean_text(description, MAX_DESCRIPTION_CHARS, "description", "A description")
        if public and not found.is_public:
            self._check_public(user, public)
        try:
            self.store.update(
                user.id, found.id, name=name, description=description, is_public=public
            )
        except NameTaken:
            raise _taken(name) from None
        return self.owned(user, collection_id)

    def delete(self, user: User, collection_id: int) -> Collection:
        found = self.owned(user, collection_id)
        self.store.delete(user.id, found.id)
        return found

    def paper_id(self, text: str) -> str:
        """The canonical id of a stored paper; NotFound for anything else."""
        try:
            canonical = parse_arxiv_id(text or "").canonical
        except InvalidArxivId:
            raise NotFound(f"No paper {text!r} here.", "paper_id") from None
        if self.papers.get_paper(canonical) is None:
            raise NotFound(f"No paper {canonical} here.", "paper_id")
        return canonical

    def add(self, user: User, collection_id: int, paper: str, note: str = "") -> bool:
        """Put a paper in the collection (a second time: replace its note). True: added."""
        found = self.owned(user, collection_id)
        note = clean_text(note, MAX_NOTE_CHARS, "note", "A note")
        return self.store.add_item(user.id, found.id, self.paper_id(paper), note)

    def save(
        self,
        user: User,
        paper: str,
        *,
        collection_id: int | None = None,
        new_name: str = "",
        note: str = "",
    ) -> tuple[Collection, bool]:
        """The paper page's form: into a chosen collection, or one named in the form (made
        when the user has none of that name). Returns the collection and whether it was
        added (False: the note of a paper already there was replaced)."""
        paper_id = self.paper_id(paper)
        note = clean_text(note, MAX_NOTE_CHARS, "note", "A note")
        if new_name.strip():
            name = clean_name(new_name)
            found = self.store.by_name(user.id, name) or self.create(user, name)
        elif collection_id is not None:
            found = self.owned(user, collection_id)
        else:
            raise InvalidInput("Pick a collection or type the name of a new one.", "collection")
        added = self.store.add_item(user.id, found.id, paper_id, note)
        return found, added

    def set_note(self, user: User, collection_id: int, paper: str, note: str) -> None:
        found = self.owned(user, collection_id)
        note = clean_text(note, MAX_NOTE_CHARS, "note", "A note")
        if not self.store.update_note(user.id, found.id, self._item_id(paper), note):
            raise NotFound("That paper is not in this collection.", "paper_id")

    def remove(self, user: User, collection_id: int, paper: str) -> None:
        found = self.owned(user, collection_id)
        if not self.store.remove_item(user.id, found.id, self._item_id(paper)):
            raise NotFound("That paper is not in this collection.", "paper_id")

    @staticmethod
    def _item_id(text: str) -> str:
        try:
            return parse_arxiv_id(text or "").canonical
        except InvalidArxivId:
            raise NotFound("That paper is not in this collection.", "paper_id") from None
