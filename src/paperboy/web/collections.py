"""Collection pages, forms and JSON: a user's named lists of papers, each with a note.

Forms are plain POSTs answered with a 303 back to a page, so everything works without
JavaScript. A private collection is answered, to anyone but its owner, exactly as a missing one
(the same 404), on every route: page, JSON, feeds and BibTeX.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from paperboy.community.collections import (
    MAX_DESCRIPTION_CHARS,
    MAX_NAME_CHARS,
    MAX_NOTE_CHARS,
    CollectionError,
    Collections,
)
from paperboy.community.models import User
from paperboy.errors import NotFound
from paperboy.models import Paper
from paperboy.store.collections import Collection
from paperboy.web.auth import current_user, require_user, safe_next
from paperboy.web.errors import status_of
from paperboy.web.pages import NavLink
from paperboy.web.params import MAX_ID, Name, Page, PaperPath, PerPage
from paperboy.web.params import IdPath as CollectionId
from paperboy.web.responses import redirect, render

router = APIRouter(include_in_schema=False)

PER_PAGE = 20
API_PER_PAGE = 100


def service(request: Request) -> Collections:
    collections: Collections = request.app.state.services.collections
    return collections


def collection_url(collection: Collection | int) -> str:
    ident = collection if isinstance(collection, int) else collection.id
    return f"/collections/{ident}"


def item_action(collection_id: int, paper_id: str, action: str) -> str:
    return f"/collections/{collection_id}/items/{quote(paper_id)}/{action}"


# -- pages ------------------------------------------------------------------------------------


def _index(
    request: Request,
    user: User,
    *,
    error: str | None = None,
    values: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "collections/index.html",
        {
            "collections": service(request).mine(user),
            "error": error,
            "values": values or {},
            "max_name": MAX_NAME_CHARS,
            "max_description": MAX_DESCRIPTION_CHARS,
        },
        status_code=status_code,
    )


@router.get("/collections", response_class=HTMLResponse)
def my_collections(request: Request) -> HTMLResponse:
    """The logged-in user's collections and a form to make one."""
    return _index(request, require_user(request))


@router.post("/collections")
def create_collection(
    request: Request,
    name: str = Form(""),
    description: str = Form(""),
    public: str | None = Form(None),
) -> Response:
    user = require_user(request)
    try:
        made = service(request).create(user, name, description, bool(public))
    except CollectionError as exc:  # show the form again, filled in, with the reason
        values = {"name": name, "description": description, "public": bool(public)}
        return _index(request, user, error=str(exc), values=values, status_code=status_of(exc))
    return redirect(collection_url(made))


@router.get("/collections/{collection_id:int}", response_class=HTMLResponse)
def show_collection(
    request: Request, collection_id: CollectionId, page: Annotated[Page, Query()] = 1
) -> HTMLResponse:
    """A collection's papers with their notes; the owner also gets the forms to change it."""
    user = current_user(request)
    view = service(request).page(user, collection_id, page, PER_PAGE)
    base = collection_url(view.collection)

    def href(n: int) -> str:
        return base if n == 1 else f"{base}?page={n}"

    pages = [NavLink(str(n), href(n), n == page) for n in range(1, view.pages + 1)]
    return render(
        request,
        "collections/show.html",
        {
            "collection": view.collection,
            "view": view,
            "owner": user is not None and user.id == view.collection.user_id,
            "pages": pages if len(pages) > 1 else [],
            "previous_page": href(min(page, view.pages + 1) - 1) if page > 1 else None,
            "next_page": href(page + 1) if page < view.pages else None,
            "item_action": item_action,
            "max_name": MAX_NAME_CHARS,
            "max_description": MAX_DESCRIPTION_CHARS,
            "max_note": MAX_NOTE_CHARS,
        },
    )


@router.get("/users/{username}/collections", response_class=HTMLResponse)
def user_collections(request: Request, username: Annotated[Name, Path()]) -> HTMLResponse:
    """Someone's public collections."""
    owner = request.app.state.store.accounts.user_by_name(username)
    if owner is None or owner.hidden:
        raise NotFound(f"No user {username!r} here.")
    return render(
        request,
        "collections/user.html",
        {"owner": owner, "collections": service(request).public_of(owner.id)},
    )


# -- forms ------------------------------------------------------------------------------------


def _form_id(value: str) -> int | None:
    """A collection id typed in a form; None when there is none. One past any table's ids
    (0) when it is too large to be one, so the service answers "no such collection"."""
    value = value.strip()
    if not (value.isascii() and value.isdigit()):
        return None
    digits = value.lstrip("0") or "0"
    if len(digits) > len(str(MAX_ID)):  # no int() of a 4,301-digit number (ValueError)
        return 0
    number = int(digits)
    return number if number <= MAX_ID else 0


@router.post("/collections/save")
def save_to_collection(
    request: Request,
    paper_id: str = Form(""),
    collection_id: str = Form(""),
    new_name: str = Form(""),
    note: str = Form(""),
) -> Response:
    """The paper page's form: into one of the user's collections, or a new one by name."""
    user = require_user(request)
    chosen = _form_id(collection_id)
    collections = service(request)
    canonical = collections.paper_id(paper_id)
    collections.save(user, canonical, collection_id=chosen, new_name=new_name, note=note)
    return redirect(f"/papers/{canonical}#collect")


@router.post("/collections/{collection_id:int}/edit")
def edit_collection(
    request: Request,
    collection_id: CollectionId,
    name: str = Form(""),
    description: str = Form(""),
    public: str | None = Form(None),
) -> Response:
    service(request).edit(require_user(request), collection_id, name, description, bool(public))
    return redirect(collection_url(collection_id))


@router.post("/collections/{collection_id:int}/delete")
def delete_collection(request: Request, collection_id: CollectionId) -> Response:
    user = require_user(request)
    service(request).delete(user, collection_id)
    return redirect("/collections")


@router.post("/collections/{collection_id:int}/items")
def add_item(
    request: Request,
    collection_id: CollectionId,
    paper_id: str = Form(""),
    note: str = Form(""),
    next: str = Form(""),  # noqa: A002  (the form field's name)
) -> Response:
    """Put a paper in the collection; a paper already there gets the new note."""
    user = require_user(request)
    service(request).add(user, collection_id, paper_id, note)
    return _back(next, collection_id)


def _back(next_url: str, collection_id: int) -> Response:
    """After an item form: back to the page it came from, or to the collection."""
    return redirect(safe_next(next_url, collection_url(collection_id)))


@router.post("/collections/{collection_id:int}/items/{arxiv_id:path}/note")
def edit_note(
    request: Request,
    collection_id: CollectionId,
    arxiv_id: PaperPath,
    note: str = Form(""),
    next: str = Form(""),  # noqa: A002
) -> Response:
    service(request).set_note(require_user(request), collection_id, arxiv_id, note)
    return _back(next, collection_id)


@router.post("/collections/{collection_id:int}/items/{arxiv_id:path}/remove")
def remove_item(
    request: Request,
    collection_id: CollectionId,
    arxiv_id: PaperPath,
    next: str = Form(""),  # noqa: A002
) -> Response:
    service(request).remove(require_user(request), collection_id, arxiv_id)
    return _back(next, collection_id)


# -- JSON -------------------------------------------------------------------------------------


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


@router.get("/api/collections/{collection_id:int}")
def collection_json(
    request: Request,
    collection_id: CollectionId,
    page: Annotated[Page, Query()] = 1,
    per_page: Annotated[PerPage, Query()] = API_PER_PAGE,
) -> JSONResponse:
    """A collection with one page of its papers (same visibility as the page)."""
    view = service(request).page(current_user(request), collection_id, page, per_page)
    found = view.collection
    base = request.app.state.settings.site_url
    body = {
        "id": found.id,
        "name": found.name,
        "description": found.description,
        "public": found.is_public,
        "owner": found.owner,
        "created": _iso(found.created_at),
        "updated": _iso(found.updated_at),
        "total": view.total,
        "page": view.page,
        "per_page": view.per_page,
        "url": f"{base}{collection_url(found)}",
        "items": [
            {
                "paper_id": item.paper.id,
                "title": item.paper.title,
                "authors": list(item.paper.authors),
                "published": _iso(item.paper.published),
                "note": item.note,
                "added": _iso(item.added_at),
                "url": f"{base}/papers/{item.paper.id}",
            }
            for item in view.items
        ],
    }
    return JSONResponse(body)


# -- the paper page's panel -------------------------------------------------------------------


def collect_panel(request: Request, paper: Paper) -> dict[str, Any]:
    """For a logged-in user: their collections, and those that already hold the paper."""
    user = current_user(request)
    if user is None:
        return {"collect": None}
    collections = service(request)
    return {
        "collect": {
            "mine": collections.mine(user),
            "holding": collections.holding(user, paper.id),
            "max_name": MAX_NAME_CHARS,
            "max_note": MAX_NOTE_CHARS,
        }
    }
