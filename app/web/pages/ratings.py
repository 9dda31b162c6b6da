"""Individual ratings on the pages: a section of the assessment page for editors and admins (the
distribution per item with the disagreement flags, each rater's own link and whether they
finished), and the ratings workbook to download and upload. The same services as
``/v1/assessments/{id}/ratings``; viewers see no section at all. Also the verification table
(self-score, verified score, gap), which every role sees."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form
from sqlalchemy.orm import Session
from starlette.responses import Response

from app.catalog import Catalog
from app.domain.errors import Conflict, Invalid
from app.excel.safety import Limits
from app.services import rater_links, rating_workbook, verification
from app.services import ratings as svc
from app.services.assessment_records import AssessmentRecord
from app.services.filenames import content_disposition
from app.services.instruments import resolve_instrument
from app.services.rating_models import ItemDistribution, RatingsSummary, ScorePair
from app.web.kit import (
    FormDep,
    MemberDep,
    Page,
    PageRoute,
    db,
    finish,
    redirect,
    render,
    uploaded,
)
from app.web.security import CSRF_FIELD, check_csrf

router = APIRouter(route_class=PageRoute, include_in_schema=False)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _catalog(page: Page) -> Catalog:
    return page.catalog


@dataclass(frozen=True)
class RatingRow:
    text: str
    consensus: str | None  # the assessment's answer as the scale names it, or None
    d: ItemDistribution


def ratings_section(page: Page, session: Session, a: AssessmentRecord) -> dict[str, Any] | None:
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


def verification_section(
    page: Page, session: Session, a: AssessmentRecord
) -> dict[str, Any] | None:
    """The self-score beside the verified score, per dimension (areas indented), with the gap:
    shown to everyone who sees the assessment, once some item is verified."""
    read = verification.verification(session, page.who, _catalog(page), a.id)
    if read.scores is None:
        return None
    instrument = resolve_instrument(_catalog(page), a.instrument_id, a.instrument_version)
    titles = {d.key: d.title for d in instrument.instrument.dimensions}
    titles |= {x.key: x.title for d in instrument.instrument.dimensions for x in d.areas}
    rows: list[tuple[str, bool, ScorePair]] = [(page.t("ver.overall"), True, read.scores.overall)]
    for d in read.scores.dimensions:
        rows.append((page.text(titles[d.key or ""]), True, d))
        rows += [(page.text(titles[x.key or ""]), False, x) for x in d.areas]
    return {"scores": read.scores, "rows": rows}


@router.post("/assessments/{assessment_id}/ratings.xlsx")
def ratings_upload(
    assessment_id: uuid.UUID,
    page: MemberDep,
    form: FormDep,
) -> Response:
    """The ratings workbook, applied all or nothing; its problems are listed by sheet and cell."""
    who = page.require_write()
    check_csrf(page.request, str(form.get(CSRF_FIELD, "")))
    data = uploaded(form)
    if not data:
        return render(
            page,
            "ratings_problems.html",
            422,
            title=page.t("rat.problems"),
            assessment_id=assessment_id,
            detail=page.t("rat.choose_file"),
            errors=[],
        )
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


@router.post("/assessments/{assessment_id}/ratings/link")
def issue_link(
    assessment_id: uuid.UUID,
    page: MemberDep,
    csrf: Annotated[str, Form(alias=CSRF_FIELD)],
    code: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """A rater's own link, shown this once (a new one replaces the rater's earlier link)."""
    who = page.require_write()
    check_csrf(page.request, csrf)
    with db(page) as session:
        issued = rater_links.issue_link(session, who, assessment_id, code.strip())
    url = str(page.request.base_url).rstrip("/") + issued.path
    page.extra_headers["Referrer-Policy"] = "no-referrer"
    return render(
        page,
        "rater_link_issued.html",
        title=page.t("rat.issued_title", code=issued.code),
        assessment_id=assessment_id,
        issued=issued,
        url=url,
    )


@router.post("/assessments/{assessment_id}/ratings/{code}/revoke")
def revoke_link(
    assessment_id: uuid.UUID,
    code: str,
    page: MemberDep,
    csrf: Annotated[str, Form(alias=CSRF_FIELD)],
) -> Response:
    who = page.require_write()
    check_csrf(page.request, csrf)
    with db(page) as session:
        rater_links.revoke_link(session, who, assessment_id, code)
    return redirect(page, f"/assessments/{assessment_id}#rater-links")


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
