"""Comments under each paper: the paper page's section, its form routes and the JSON API.

Forms post to plain routes and get a 303 back to ``/papers/{id}#comments``, so everything works
without JavaScript. With htmx (``HX-Request`` header) the same routes answer with the freshly
rendered comments section, which htmx swaps in place; a refused post (empty, too long, too
many) then comes back as that section with the message and the draft, since htmx does not swap
error responses.

``/api/papers/{id}/comments`` lists a paper's comments (GET) and adds one (POST, JSON
``{"body": ...}``, with a bearer API token or a session plus ``X-CSRF-Token``). This router is
included before the API router, whose ``/api/papers/{arxiv_id:path}`` would otherwise take the
path as a paper id.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from paperboy.arxiv_ids import parse_arxiv_id
from paperboy.community import comments as rules
from paperboy.community.limits import RateLimited
from paperboy.community.markdown import MAX_COMMENT_CHARS, render_comment
from paperboy.community.models import User
from paperboy.errors import Invalid
from paperboy.hfapi import hf_datetime
from paperboy.models import Paper
from paperboy.store.comments import Comment
from paperboy.web.auth import current_user
from paperboy.web.params import ApiError, PaperPath
from paperboy.web.params import IdPath as CommentId
from paperboy.web.responses import redirect, render

router = APIRouter()


def comment_service(request: Request) -> rules.CommentService:
    """The comment rules over this app's store."""
    service: rules.CommentService = request.app.state.services.comments
    return service


def _htmx(request: Request) -> bool:
    return bool(request.headers.get("hx-request"))


# -- the paper page's section --------------------------------------------------------------


def comments_panel(request: Request, paper: Paper) -> dict[str, Any]:
    """Context of ``partials/paper_comments.html`` (and ``partials/paper_admin.html``)."""
    user = current_user(request)
    service = comment_service(request)
    views = service.views(paper.id, user)
    context: dict[str, Any] = {
        "comments": views,
        "comment_count": sum(1 for view in views if not view.moderated),
        "comment_max": MAX_COMMENT_CHARS,
        "paper_moderation": None,
    }
    if user is not None and user.is_admin:
        context["paper_moderation"] = request.app.state.store.activity.activity([paper.id]).get(
            paper.id
        )
    return context


def comments_section(
    request: Request, paper_id: str, *, error: str | None = None, draft: str = ""
) -> Response:
    """The comments section alone, as htmx swaps it in."""
    service = comment_service(request)
    paper = service.paper(paper_id, current_user(request))
    context = {
        "paper": paper,
        "hidden": service.is_hidden(paper_id),
        **comments_panel(request, paper),
        "comment_error": error,
        "comment_draft": draft,
    }
    return render(request, "partials/paper_comments.html", context)


def _back(request: Request, paper_id: str) -> Response:
    if _htmx(request):
        return comments_section(request, paper_id)
    return redirect(f"/papers/{paper_id}#comments")


def _act(
    request: Request, paper_id: str | None, action: Callable[[], Any], draft: str = ""
) -> Response | None:
    """Run ``action``; for htmx, a refused body or rate comes back inside the section."""
    try:
        action()
    except (Invalid, RateLimited) as exc:
        if paper_id is not None and _htmx(request):
            return comments_section(request, paper_id, error=str(exc), draft=draft)
        raise
    return None


def _to_login(request: Request, paper_id: str) -> Response:
    """Anonymous visitors log in and come back to the paper's comments (not to the POST)."""
    target = "/login?next=" + quote(f"/papers/{paper_id}", safe="")
    if _htmx(request):
        response = JSONResponse({"error": "log in first"}, status_code=401)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target)


@router.post("/papers/{arxiv_id:path}/comments", include_in_schema=False)
def post_comment(
    request: Request, arxiv_id: PaperPath, body: Annotated[str, Form()] = ""
) -> Response:
    paper_id = parse_arxiv_id(arxiv_id).canonical
    service = comment_service(request)
    user = current_user(request)
    if user is None:
        return _to_login(request, paper_id)
    refused = _act(request, paper_id, lambda: service.post(user, paper_id, body), body)
    return refused or _back(request, paper_id)


def _comment_action(
    request: Request, comment_id: int, action: Callable[[rules.CommentService, User | None], Any]
) -> Response:
    """Run an action on one comment, then go back to (or re-render) its paper's section."""
    service = comment_service(request)
    user = current_user(request)
    found = service.comments.get(comment_id)
    paper_id = found.paper_id if found is not None else None
    if user is None and paper_id is not None:
        return _to_login(request, paper_id)
    refused = _act(request, paper_id, lambda: action(service, user))
    if refused is not None:
        return refused
    assert paper_id is not None  # the action raised NotFound otherwise
    return _back(request, paper_id)


@router.post("/comments/{comment_id:int}/edit", include_in_schema=False)
def edit_comment(
    request: Request, comment_id: CommentId, body: Annotated[str, Form()] = ""
) -> Response:
    return _comment_action(request, comment_id, lambda s, u: s.edit(u, comment_id, body))


@router.post("/comments/{comment_id:int}/delete", include_in_schema=False)
def delete_comment(request: Request, comment_id: CommentId) -> Response:
    return _comment_action(request, comment_id, lambda s, u: s.delete(u, comment_id))


@router.post("/comments/{comment_id:int}/hide", include_in_schema=False)
def hide_comment(request: Request, comment_id: CommentId) -> Response:
    return _comment_action(request, comment_id, lambda s, u: s.set_hidden(u, comment_id, True))


@router.post("/comments/{comment_id:int}/show", include_in_schema=False)
def show_comment(request: Request, comment_id: CommentId) -> Response:
    return _comment_action(request, comment_id, lambda s, u: s.set_hidden(u, comment_id, False))


# -- JSON API ------------------------------------------------------------------------------


class CommentIn(BaseModel):
    body: str = Field(description="The comment in Markdown; $...$ is math.")


class CommentOut(BaseModel):
    id: int
    author: str
    createdAt: str
    editedAt: str | None
    body: str = Field(description="The Markdown source as typed.")
    html: str = Field(description="The rendered, sanitised HTML.")
    hidden: bool = Field(description="Hidden by a moderator (listed for admins only).")


def comment_json(comment: Comment) -> dict[str, Any]:
    return {
        "id": comment.id,
        "author": comment.author,
        "createdAt": hf_datetime(comment.created_at),
        "editedAt": hf_datetime(comment.edited_at),
        "body": comment.body,
        "html": str(render_comment(comment.body)),
        "hidden": comment.hidden_at is not None,
    }


_PAPER_ID = Path(description="arXiv id.", examples=["2405.15738"], max_length=300)


def _error(description: str) -> dict[str, Any]:
    return {"model": ApiError, "description": description}


_READ_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error("The arXiv id is malformed."),
    404: _error("No such paper here, or it is hidden by the moderators."),
}
_WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error("Malformed id or body: empty, or longer than the limit (`parameter` names it)."),
    401: _error("No valid API token or session."),
    403: _error("The account cannot write (unverified or suspended), or no CSRF header."),
    404: _error("No such paper here, or it is hidden by the moderators."),
    429: _error("Too many comments; see the Retry-After header."),
}


@router.get(
    "/api/papers/{arxiv_id:path}/comments",
    tags=["comments"],
    summary="Comments on a paper",
    response_model=list[CommentOut],
    responses=_READ_ERRORS,
)
def api_comments(request: Request, arxiv_id: Annotated[str, _PAPER_ID]) -> JSONResponse:
    """The paper's comments, oldest first (admins also get those hidden by a moderator)."""
    paper_id = parse_arxiv_id(arxiv_id).canonical
    user = current_user(request)
    service = comment_service(request)
    service.paper(paper_id, user)
    return JSONResponse([comment_json(c) for c in service.thread(paper_id, user)])


@router.post(
    "/api/papers/{arxiv_id:path}/comments",
    tags=["comments"],
    summary="Comment on a paper",
    status_code=201,
    response_model=CommentOut,
    responses=_WRITE_ERRORS,
)
def api_post_comment(
    request: Request, arxiv_id: Annotated[str, _PAPER_ID], payload: CommentIn
) -> JSONResponse:
    """Add a comment: ``Authorization: Bearer pb_...`` (an API token), or a session cookie
    with its ``X-CSRF-Token`` header. 400 for an empty or too long body, 401 without a user,
    403 for an unverified one, 429 past the rate limit."""
    paper_id = parse_arxiv_id(arxiv_id).canonical
    comment = comment_service(request).post(current_user(request), paper_id, payload.body)
    return JSONResponse(comment_json(comment), status_code=201)
