"""The search form, as the search page and the search feeds read it: the box ``q`` (each route
bounds its length), the ``mode`` and the filter fields (``paperboy.web.params`` bounds them),
and the one query they make together in the search syntax (what an alert saves, too).

Routes declare the fields as their own parameters (so each is a plain, documented query
parameter) and hand them to ``SearchFilters``."""

from __future__ import annotations

from dataclasses import dataclass

from paperboy.search.service import MODES, Mode

FILTER_KEYS = ("cat", "author", "since", "until")


def _quoted(value: str) -> str:
    value = value.replace('"', " ").strip()
    return f'"{value}"' if " " in value else value


def search_text(q: str, filters: dict[str, str]) -> str:
    """The form's box and filter fields as one query in the search syntax."""
    parts = [q.strip()]
    for key in FILTER_KEYS:
        value = filters.get(key, "").strip()
        if value:
            parts.append(f"{key}:{_quoted(value)}")
    return " ".join(p for p in parts if p)


@dataclass(frozen=True, slots=True)
class SearchFilters:
    """The form's fields beside the box: the mode asked for and the filters."""

    mode: str
    cat: str
    author: str
    since: str
    until: str

    @property
    def filters(self) -> dict[str, str]:
        return {"cat": self.cat, "author": self.author, "since": self.since, "until": self.until}

    @property
    def chosen(self) -> Mode:
        """The mode asked for if there is one such, else ``hybrid``."""
        return self.mode if self.mode in MODES else "hybrid"  # type: ignore[return-value]
