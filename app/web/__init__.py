"""Web pages for people: server-rendered, in Spanish and English, signed in with a password.

The pages use the same services as the REST API (one path from answers to stored scores, the same
tenant rules); they only render differently. Every asset is served by the app (``/static``).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from app.web.pages import (
    account,
    admin,
    assessments,
    cohorts,
    entry,
    home,
    instruments,
    organizations,
    plans,
    ratings,
    reports,
    uploads,
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
    admin,
    instruments,
)


def mount(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in PAGES:
        app.include_router(module.router)
