"""The API docs: Swagger UI served from the package, never a CDN.

FastAPI's own docs page loads Swagger UI from jsDelivr and starts it with an inline script;
both break the site's Content-Security-Policy (``web/headers.py``). Swagger UI 5.35.0 (the
``swagger-ui-dist`` npm package: its bundle, stylesheet, icon and licences, unchanged) is
vendored under ``static/vendor/swagger-ui``, like KaTeX and htmx, and ``/api/docs`` starts it
with ``/static/swagger-init.js``, which reads the schema's URL from a ``data-`` attribute.
(The ``swagger-ui-bundle`` PyPI package ships Swagger UI 4, which cannot read the OpenAPI 3.1
schema FastAPI writes.)
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

from paperboy.web.responses import render

DOCS_PATH = "/api/docs"
ASSETS_PATH = "/static/vendor/swagger-ui"


def install(app: FastAPI) -> None:
    """Serve ``/api/docs`` (build the app with ``docs_url=None``)."""

    @app.get(DOCS_PATH, include_in_schema=False, response_class=HTMLResponse)
    def api_docs(request: Request) -> HTMLResponse:
        return render(
            request,
            "api_docs.html",
            {"title": app.title, "openapi_url": app.openapi_url, "assets": ASSETS_PATH},
        )
