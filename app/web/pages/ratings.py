"""Individual ratings on the pages: a section of the assessment page for editors and admins (the
distribution per item with the disagreement flags), and the ratings workbook to download and
upload. The same services as ``/v1/assessments/{id}/ratings``; viewers see no section at all."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile
from starlette.responses import Response

from app.catalog import Catalog
from app.db.models import Assessment
from app.domain.errors import Conflict, Invalid
from app.excel.safety import Limits
from app.services import rating_workbook
from app.services import ratings as svc
from app.services.assessments import resolve_instrument
from app.services.filenames import content_disposition
from app.services.rating_models import ItemDistribution, RatingsSummary
from app.web.kit import Page, PageRoute, db, finish, member, redirect, render
from app.web.security import CSRF_FIELD, check_csrf

router = APIRouter(route_class=PageRoute, include_in_schema=False)

MemberDep = Annotated[Page, Depends(member)]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _catalog(page: Page) -> Catalog:
    return page.catalog


@dataclass(frozen=True)
class RatingRow:
    text: str
    consensus: str | None  # the assessment's answer as the scale names it, or None
    d: ItemDistribution


def ratings_section(page: Page, session: Session, a: Assessment) -> dict[str, Any] | None:
    """What the assessment page shows of the individual ratings: nothing for a viewer."""
    if not page.can_write:
        return None
    catalog = _catalog(page)
    summary: RatingsSummary = svc.summary(session, page.who, catalog, a.id)
    instrument = resolve_instrument(catalog, a.instrument_id, a.instrument_version).instrument
    rows = []
    for x in summary.items:
        item = instrument.items[x.item]
        label = None
        if x.consensus == "na":
            label = page.t("rat.na")
        elif x.consensus is not None:
            found = instrument.scales[item.scale].by_value(float(x.consensus))
            label = page.text(found.label) if found else None
        rows.append(RatingRow(page.text(item.text), label, x))
    return {"summary": summary, "rows": rows, "can_change": a.status == "draft"}


async def _form_data(request: Request) -> AsyncIterator[FormData]:
    async with request.form() as form:  # closes the uploaded file's temporary copy
        yield form


@router.post("/assessments/{assessment_id}/ratings.xlsx")
def ratings_upload(
    assessment_id: uuid.UUID,
    page: MemberDep,
    form: Annotated[FormData, Depends(_form_data)],
) -> Response:
    """The ratings workbook, applied all or nothing; its problems are listed by sheet and cell."""
    who = page.require_write()
    check_csrf(page.request, str(form.get(CSRF_FIELD, "")))
    f = form.get("file")
    data = f.file.read() if isinstance(f, UploadFile) else b""
    limits = Limits(max_bytes=page.request.app.state.settings.max_upload_bytes)
    try:
        with db(page) as session:
            rating_workbook.import_ratings_workbook(
                session, who, _catalog(page), assessment_id, data, limits
            )
    except (Invalid, Conflict) as exc:
        errors = exc.extra.get("errors") or []
        return render(
            page,
            "ratings_problems.html",
            409 if isinstance(exc, Conflict) else 422,
            title=page.t("rat.problems"),
            assessment_id=assessment_id,
            detail=exc.detail,
            errors=errors,
        )
    return redirect(page, f"/assessments/{assessment_id}#ratings")


@router.get("/assessments/{assessment_id}/ratings.xlsx")
def ratings_download(assessment_id: uuid.UUID, page: MemberDep) -> Response:
    with db(page) as session:
        name, data = rating_workbook.ratings_workbook(
            session, page.who, _catalog(page), assessment_id, page.lang, 10
        )
    headers = {"Content-Disposition": content_disposition(name)}
    response = Response(data, media_type=XLSX, headers=headers)
    finish(page.request, response, page)
    return response
