"""Pure merge rules for the one upsert path. No I/O: the backends call these.

Papers:
- a record with a lower version than the stored one never overwrites metadata; it may only fill
  fields the store does not have yet (code link, project page, ...);
- a record with the same, a higher or an unknown version overwrites the fields it carries
  (non-empty values) and leaves the others as they are;
- the stored version is the highest ever seen.
Feed entries (one per paper and day):
- counts (upvotes, comments) take the incoming value when it has one: sources are snapshots and
  the newest import is the newest snapshot;
- a community ("daily") entry outranks an arXiv announcement entry for the same day;
- the arXiv announce type (new, cross) takes the incoming value when it has one.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Literal

from paperboy.models import FeedEntry, Paper

MergeOutcome = Literal["updated", "unchanged", "older"]

_META = tuple(f.name for f in fields(Paper) if f.name not in ("id", "version"))


def _has(value: object) -> bool:
    return value is not None and value != "" and value != ()


def merge_paper(stored: Paper, incoming: Paper) -> tuple[Paper, MergeOutcome]:
    """Combine a stored paper with an incoming record of the same id."""
    older = (
        incoming.version is not None
        and stored.version is not None
        and incoming.version < stored.version
    )
    changes: dict[str, object] = {}
    for name in _META:
        new = getattr(incoming, name)
        old = getattr(stored, name)
        if name == "withdrawn":
            if not older and new and not old:
                changes[name] = True
            continue
        if not _has(new) or new == old:
            continue
        if older and _has(old):
            continue
        changes[name] = new
    if incoming.version is not None and (
        stored.version is None or incoming.version > stored.version
    ):
        changes["version"] = incoming.version
    if not changes:
        return stored, "older" if older else "unchanged"
    return replace(stored, **changes), "updated"  # type: ignore[arg-type]


def merge_feed_entry(stored: FeedEntry, incoming: FeedEntry) -> FeedEntry:
    source = "daily" if "daily" in (stored.source, incoming.source) else incoming.source
    return replace(
        stored,
        source=source,
        submitted_by=incoming.submitted_by or stored.submitted_by,
        upvotes=incoming.upvotes if incoming.upvotes is not None else stored.upvotes,
        num_comments=(
            incoming.num_comments if incoming.num_comments is not None else stored.num_comments
        ),
        announce_type=(
            incoming.announce_type if incoming.announce_type is not None else stored.announce_type
        ),
    )


def collapse_batch(papers: list[Paper]) -> dict[str, Paper]:
    """Merge repeated ids inside one batch, in order, so each id is written once."""
    merged: dict[str, Paper] = {}
    for paper in papers:
        prior = merged.get(paper.id)
        merged[paper.id] = paper if prior is None else merge_paper(prior, paper)[0]
    return merged
