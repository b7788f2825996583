"""What the subscription pages share: the service of the request's app, rendering without
caching, redirects, link errors, and the subscribe form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from paperboy.community.accounts import AccountError
from paperboy.digest.models import FREQUENCIES
from paperboy.digest.subscribe import (
    MAX_ALERT_CHARS,
    MAX_UPVOTES,
    Choices,
    SubscriptionService,
    parse_choices,
)
from paperboy.search.service import MODES
from paperboy.web.auth import current_user
from paperboy.web.responses import error_response, redirect, render


def service_of(request: Request) -> SubscriptionService:
    service: SubscriptionService = request.app.state.services.subscriptions
    return service


def render_page(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    response = render(request, name, context, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    return response


see_other = redirect
"""(The one redirect after a form, ``paperboy.web.responses.redirect``.)"""


def link_error(request: Request, exc: AccountError, title: str) -> Response:
    response = error_response(request, 400, str(exc), title=title)
    response.headers["Cache-Control"] = "no-store"
    return response


def quote_token(token: str) -> str:
    return quote(token, safe="")


def form_choices(frequency: str, categories: str, min_upvotes: str, trending: str) -> Choices:
    return parse_choices(frequency, categories, min_upvotes, trending in ("on", "1", "true", "yes"))


@dataclass(frozen=True, slots=True)
class ChoiceFields:
    """A digest form's choice fields, as typed (routes declare them as their own form fields,
    so each stays a plain parameter, and hand them over)."""

    frequency: str
    categories: str
    min_upvotes: str
    trending: str

    def choices(self) -> Choices:
        """The choices they make (``InvalidChoices`` with a message per field)."""
        return form_choices(self.frequency, self.categories, self.min_upvotes, self.trending)

    def form(self) -> dict[str, Any]:
        """The fields to show again in a form sent back."""
        return {
            "frequency": self.frequency,
            "categories": self.categories,
            "min_upvotes": self.min_upvotes,
            "trending": bool(self.trending),
        }


def choice_form(choices: Choices) -> dict[str, Any]:
    return {
        "frequency": choices.frequency,
        "categories": ", ".join(choices.categories),
        "min_upvotes": str(choices.min_upvotes),
        "trending": choices.include_trending,
    }


def base_context() -> dict[str, Any]:
    return {
        "frequencies": FREQUENCIES,
        "max_upvotes": MAX_UPVOTES,
        "max_alert": MAX_ALERT_CHARS,
        "modes": MODES,
    }


def subscribe_page(
    request: Request,
    *,
    form: dict[str, Any],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    user = current_user(request)
    existing = service_of(request).subscription_of(user) if user is not None else None
    return render_page(
        request,
        "subscribe.html",
        {**base_context(), "form": form, "errors": errors or {}, "existing": existing},
        status_code=status_code,
    )
