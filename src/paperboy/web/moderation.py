"""Moderation for admins: the dashboard, the audit log, users, and hiding papers and users.

Every route here needs an admin: anonymous visitors are sent to log in, other users get 403.
Every action is audited with its time and actor in the same transaction as the change:
``hide_user`` / ``show_user`` (``CommentStore.set_user_hidden``, which also ends the user's
sessions), ``hide_paper`` / ``show_paper`` (``ActivityStore.set_paper_hidden``). Comments are
hidden from ``paperboy.web.comments``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from paperboy.community.models import AuditEntry
from paperboy.community.moderation import Moderation
from paperboy.store.comments import CommentStore
from paperboy.store.sql import SQLStore
from paperboy.web.auth import require_admin, safe_next
from paperboy.web.params import IdPath as UserId
from paperboy.web.params import Page, PaperPath, Word
from paperboy.web.responses import redirect, render, store_of

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
ACTIONS: tuple[str, ...] = (
    "comment",
    "edit_comment",
    "delete_comment",
    "hide_comment",
    "show_comment",
    "hide_paper",
    "show_paper",
    "hide_user",
    "show_user",
    "vote",
    "unvote",
    "submit",
)
"""Actions offered in the audit log's filter (any other action name works too)."""


def _rules(request: Request) -> Moderation:
    moderation: Moderation = request.app.state.services.moderation
    return moderation


def _moderation(request: Request) -> CommentStore:
    return store_of(request).comments


@dataclass(frozen=True, slots=True)
class AuditRow:
    """An audit entry as the log shows it: its target named and linked where possible."""

    entry: AuditEntry
    target_label: str
    target_href: str | None
    detail: list[tuple[str, str]]


def audit_rows(store: SQLStore, entries: list[AuditEntry]) -> list[AuditRow]:
    user_ids = [
        int(e.target_id) for e in entries if e.target_type == "user" and e.target_id.isdigit()
    ]
    names = store.comments.usernames(user_ids)
    rows = []
    for entry in entries:
        label, href = f"{entry.target_type} {entry.target_id}", None
        detail = dict(entry.detail or {})
        if entry.target_type == "paper":
            label, href = f"paper {entry.target_id}", f"/papers/{entry.target_id}"
        elif entry.target_type == "comment" and isinstance(detail.get("paper"), str):
            href = f"/papers/{detail['paper']}#comment-{entry.target_id}"
            label = f"comment {entry.target_id} on {detail['paper']}"
        elif entry.target_type == "user" and entry.target_id.isdigit():
            name = names.get(int(entry.target_id))
            if name is not None:
                label = f"user {name}"
                href = "/admin/audit?" + urlencode({"actor": name})
        shown = [(str(k), "" if v is None else str(v)) for k, v in detail.items() if v is not None]
        rows.append(AuditRow(entry, label, href, shown))
    return rows


def _page_links(base: str, params: dict[str, str], page: int, more: bool) -> dict[str, Any]:
    def href(n: int) -> str:
        query = {k: v for k, v in params.items() if v}
        if n > 1:
            query["page"] = str(n)
        return base + ("?" + urlencode(query) if query else "")

    return {
        "previous_page": href(page - 1) if page > 1 else None,
        "next_page": href(page + 1) if more else None,
    }


# -- pages ---------------------------------------------------------------------------------


@router.get("/admin", response_class=HTMLResponse)
def dashboard(request: Request) -> HTMLResponse:
    require_admin(request)
    store = store_of(request)
    hidden = sorted(store.activity.hidden_papers())
    context = {
        "counts": _moderation(request).counts(),
        "recent": audit_rows(store, store.activity.audit_entries(limit=20)),
        "hidden_papers": hidden[:50],
    }
    return render(request, "admin/dashboard.html", context)


@router.get("/admin/audit", response_class=HTMLResponse)
def audit_log(
    request: Request,
    action: Annotated[Word, Query()] = "",
    actor: Annotated[Word, Query()] = "",
    page: Annotated[Page, Query()] = 1,
) -> HTMLResponse:
    require_admin(request)
    store = store_of(request)
    action, actor = action.strip(), actor.strip()
    note = None
    entries: list[AuditEntry] = []
    actor_id: int | None = None
    if actor:
        found = store.accounts.user_by_name(actor)
        if found is None:
            note = f"No user named {actor}."
        else:
            actor_id = found.id
    if note is None:
        entries = store.activity.audit_entries(
            action=action or None,
            actor_id=actor_id,
            offset=(page - 1) * PAGE_SIZE,
            limit=PAGE_SIZE + 1,
        )
    more = len(entries) > PAGE_SIZE
    context = {
        "rows": audit_rows(store, entries[:PAGE_SIZE]),
        "action": action,
        "actor": actor,
        "actions": ACTIONS,
        "note": note,
        "page": page,
        **_page_links("/admin/audit", {"action": action, "actor": actor}, page, more),
    }
    return render(request, "admin/audit.html", context)


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, page: Annotated[Page, Query()] = 1) -> HTMLResponse:
    admin = require_admin(request)
    store = store_of(request)
    users = store.accounts.list_users(offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE + 1)
    more = len(users) > PAGE_SIZE
    users = users[:PAGE_SIZE]
    context = {
        "users": users,
        "me": admin,
        "comment_counts": _moderation(request).user_comment_counts([u.id for u in users]),
        "total": store.accounts.count_users(),
        "page": page,
        "here": f"/admin/users?page={page}" if page > 1 else "/admin/users",
        **_page_links("/admin/users", {}, page, more),
    }
    return render(request, "admin/users.html", context)


# -- actions -------------------------------------------------------------------------------


def _set_user_hidden(request: Request, user_id: int, hidden: bool, next_url: str) -> Response:
    _rules(request).set_user_hidden(require_admin(request), user_id, hidden)
    return redirect(safe_next(next_url, "/admin/users"))


@router.post("/admin/users/{user_id:int}/hide")
def hide_user(
    request: Request, user_id: UserId, next_url: Annotated[str, Form(alias="next")] = ""
) -> Response:
    return _set_user_hidden(request, user_id, True, next_url)


@router.post("/admin/users/{user_id:int}/show")
def show_user(
    request: Request, user_id: UserId, next_url: Annotated[str, Form(alias="next")] = ""
) -> Response:
    return _set_user_hidden(request, user_id, False, next_url)


def _set_paper_hidden(request: Request, arxiv_id: str, hidden: bool, reason: str) -> Response:
    admin = require_admin(request)
    paper_id = _rules(request).set_paper_hidden(admin, arxiv_id, hidden, reason)
    return redirect(f"/papers/{paper_id}")


@router.post("/papers/{arxiv_id:path}/hide")
def hide_paper(
    request: Request, arxiv_id: PaperPath, reason: Annotated[str, Form()] = ""
) -> Response:
    return _set_paper_hidden(request, arxiv_id, True, reason)


@router.post("/papers/{arxiv_id:path}/show")
def show_paper(request: Request, arxiv_id: PaperPath) -> Response:
    return _set_paper_hidden(request, arxiv_id, False, "")
