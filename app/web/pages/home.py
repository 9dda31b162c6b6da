"""The workspace's home page."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from starlette.responses import Response

from app.config import Settings
from app.services.overview import overview
from app.services.people import workspaces_of
from app.services.staged_imports import STAGED, waiting
from app.web.kit import MemberDep, PageRoute, db, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)


@router.get("/")
def home(page: MemberDep) -> Response:
    who = page.who
    with db(page) as session:
        seen = overview(session, who)
        choices = workspaces_of(session, who.person_id) if who.person_id else []
    settings: Settings = page.request.app.state.settings
    uploads = waiting(settings.data_dir / STAGED, who) if page.can_write else []
    return render(
        page,
        "home.html",
        title=page.t("home.title"),
        overview=seen,
        workspaces=choices,
        waiting=uploads,
        when=lambda seconds: page.day(datetime.fromtimestamp(seconds, UTC)),
    )
