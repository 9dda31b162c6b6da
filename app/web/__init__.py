"""Web pages for people: server-rendered, in Spanish and English, signed in with a password.

The pages use the same services as the REST API (one path from answers to stored scores, the same
tenant rules); they only render differently. Every asset is served by the app (``/static``).
"""

from __future__ import annotations

import inspect
from pathlib import Path

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from app.web import i18n
from app.web.kit import error_page, page_lang
from app.web.pages import (
    account,
    admin,
    assessments,
    cohorts,
    entry,
    evidence,
    home,
    instruments,
    organizations,
    own_instruments,
    plans,
    rater,
    ratings,
    reports,
    uploads,
    webhooks,
)

STATIC = Path(__file__).parent / "static"
PAGES = (
    account,
    home,
    uploads,
    entry,
    reports,
    cohorts,
    organizations,
    assessments,
    plans,
    ratings,
    rater,
    evidence,
    admin,
    webhooks,
    own_instruments,
    instruments,
)


def mount(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in PAGES:
        app.include_router(module.router)
    problem = app.exception_handlers[HTTPException]

    async def not_found(request: Request, exc: Exception) -> Response:
        """A browser that follows a broken link gets the 404 page; API clients (``/v1``, or
        anyone not asking for HTML) keep their problem+json."""
        wants_page = "text/html" in request.headers.get("accept", "")
        if (
            isinstance(exc, HTTPException)
            and exc.status_code == 404
            and wants_page
            and not request.url.path.startswith("/v1/")
        ):
            return error_page(request, 404, i18n.translate(page_lang(request), "error.404"))
        answer = problem(request, exc)
        return await answer if inspect.isawaitable(answer) else answer

    app.add_exception_handler(HTTPException, not_found)
