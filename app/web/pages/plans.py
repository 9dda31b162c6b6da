"""The action plan on the pages: a section of the assessment page and an edit page for editors.

The same services as ``/v1/assessments/{id}/plan``; every form carries the plan's ETag it was
read with, so a save over another editor's newer change is refused (and said so), never lost.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form
from sqlalchemy.orm import Session
from starlette.responses import Response

from app.domain.errors import Conflict, Invalid, PreconditionFailed
from app.excel.safety import Limits
from app.services import plan_import, plan_outcomes, plan_workbook
from app.services import plan_models as models
from app.services import plans as svc
from app.services.assessment_records import AssessmentRecord, get_record
from app.services.common import latest_assessment_date
from app.services.instruments import resolve_instrument
from app.services.organizations import read_organization
from app.web.kit import (
    Csrf,
    FormDep,
    MemberDep,
    Page,
    PageRoute,
    db,
    download,
    redirect,
    refusal,
    render,
    uploaded,
)
from app.web.security import CSRF_FIELD, check_csrf

router = APIRouter(route_class=PageRoute, include_in_schema=False)

Tag = Annotated[str, Form(max_length=200)]
Short = Annotated[str, Form(max_length=200)]
Long = Annotated[str, Form(max_length=4000)]


def plan_section(page: Page, session: Session, a: AssessmentRecord) -> dict[str, Any]:
    """What the assessment page shows of the plan: the plan and its outcome, or the weak areas
    the score proposes when there is no plan yet; and the ETag a change of it is sent with."""
    catalog = page.catalog
    reply = svc.plan_reply(session, page.who, catalog, a.id, latest_assessment_date())
    if reply is None:
        scored = a.status in ("submitted", "final")
        payload = svc.stored_score(session, a.id) if scored else None
        instrument = resolve_instrument(catalog, a.instrument_id, a.instrument_version).instrument
        return {
            "plan": None,
            "proposed": svc.proposed_areas(instrument, payload, set()),
            "outcome": None,
            "by_area": {},
            "can_plan": scored,
            "etag": "",
        }
    outcome = plan_outcomes.plan_outcome(session, page.who, catalog, a.id)
    by_area = {o.area: o for o in outcome.areas} if outcome.next else {}
    return {
        "plan": reply.plan,
        "proposed": reply.plan.proposed,
        "outcome": outcome,
        "by_area": by_area,
        "can_plan": True,
        "etag": reply.etag,
    }


def _show(page: Page, assessment_id: uuid.UUID, status: int = 200, **extra: Any) -> Response:
    page.require_write()
    with db(page) as session:
        a = get_record(session, page.who, assessment_id)
        instrument = resolve_instrument(page.catalog, a.instrument_id, a.instrument_version)
        section = plan_section(page, session, a)
        chosen = {p.area for p in section["plan"].priorities} if section["plan"] else set()
        areas = [
            (x.key, page.text(x.title), page.text(d.title))
            for d in instrument.instrument.dimensions
            for x in d.areas
            if x.key not in chosen
        ]
        return render(
            page,
            "plan_edit.html",
            status,
            title=page.t("plan.edit_title"),
            a=a,
            org=read_organization(session, page.who, a.organization_id),
            areas=areas,
            statuses=svc.ACTION_STATUSES,
            saved=page.request.query_params.get("saved") == "1",
            **section,
            **{"error": None, **extra},
        )


def _back(page: Page, assessment_id: uuid.UUID, anchor: str = "") -> Response:
    return redirect(page, f"/assessments/{assessment_id}/plan?saved=1{anchor}")


def _day(value: str) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise Invalid("due date: YYYY-MM-DD") from None


def _optional(value: str) -> str | None:
    return value.strip() or None


def _write(page: Page, assessment_id: uuid.UUID, work: Any) -> Response:
    """Run a change; a stale form or a refused change shows the page again with the reason."""
    try:
        with db(page) as session:
            work(session)
    except PreconditionFailed:
        return _show(page, assessment_id, 409, error=page.t("plan.stale"))
    except (Conflict, Invalid) as exc:
        return _show(page, assessment_id, 422, error=refusal(page.lang, exc))
    return _back(page, assessment_id)


@router.get("/assessments/{assessment_id}/plan")
def edit_plan(assessment_id: uuid.UUID, page: MemberDep) -> Response:
    return _show(page, assessment_id)


@router.post("/assessments/{assessment_id}/plan")
def create_plan(
    assessment_id: uuid.UUID,
    page: MemberDep,
    csrf: Csrf,
    areas: Annotated[list[str], Form(max_length=100)] = [],  # noqa: B006
) -> Response:
    check_csrf(page.request, csrf)
    who = page.require_write()
    priorities = [models.PriorityData(area) for area in dict.fromkeys(areas)]
    return _write(
        page,
        assessment_id,
        lambda s: svc.create_plan(s, who, page.catalog, assessment_id, priorities),
    )


@router.post("/assessments/{assessment_id}/plan/priorities")
def add_priority(
    assessment_id: uuid.UUID,
    page: MemberDep,
    csrf: Csrf,
    etag: Tag,
    area: Short,
    note: Long = "",
) -> Response:
    check_csrf(page.request, csrf)
    who = page.require_write()
    data = models.PriorityData(area, _optional(note))
    return _write(
        page,
        assessment_id,
        lambda s: svc.add_priority(s, who, page.catalog, assessment_id, data, etag),
    )


@router.post("/assessments/{assessment_id}/plan/priorities/{priority_id}")
def update_priority(
    assessment_id: uuid.UUID,
    priority_id: uuid.UUID,
    page: MemberDep,
    csrf: Csrf,
    etag: Tag,
    note: Long = "",
) -> Response:
    check_csrf(page.request, csrf)
    who = page.require_write()
    changes = {"note": _optional(note)}
    return _write(
        page,
        assessment_id,
        lambda s: svc.update_priority(s, who, assessment_id, priority_id, changes, etag),
    )


@router.post("/assessments/{assessment_id}/plan/priorities/{priority_id}/actions")
def add_action(
    assessment_id: uuid.UUID,
    priority_id: uuid.UUID,
    page: MemberDep,
    csrf: Csrf,
    etag: Tag,
    what: Long,
    who_does: Annotated[str, Form(alias="who", max_length=200)] = "",
    due_on: Short = "",
    resources: Long = "",
) -> Response:
    check_csrf(page.request, csrf)
    who = page.require_write()

    def work(s: Session) -> None:
        if not what.strip():
            raise Invalid(page.t("plan.what_needed"))
        data = models.ActionData(
            what.strip(), _optional(who_does), _day(due_on), _optional(resources)
        )
        svc.add_action(s, who, assessment_id, priority_id, data, etag)

    return _write(page, assessment_id, work)


@router.post("/assessments/{assessment_id}/plan/actions/{action_id}")
def update_action(
    assessment_id: uuid.UUID,
    action_id: uuid.UUID,
    page: MemberDep,
    csrf: Csrf,
    etag: Tag,
    what: Long,
    status: Short,
    who_does: Annotated[str, Form(alias="who", max_length=200)] = "",
    due_on: Short = "",
    resources: Long = "",
    progress: Long = "",
) -> Response:
    check_csrf(page.request, csrf)
    who = page.require_write()

    def work(s: Session) -> None:
        if not what.strip():
            raise Invalid(page.t("plan.what_needed"))
        changes = {
            "what": what.strip(),
            "who": _optional(who_does),
            "due_on": _day(due_on),
            "resources": _optional(resources),
            "status": status,
            "progress": _optional(progress),
        }
        svc.update_action(s, who, assessment_id, action_id, changes, etag)

    return _write(page, assessment_id, work)


@router.post("/assessments/{assessment_id}/plan.xlsx")
def plan_upload(
    assessment_id: uuid.UUID,
    page: MemberDep,
    form: FormDep,
) -> Response:
    """The plan workbook edited in Excel, applied all or nothing (``plan_import``)."""
    who = page.require_write()
    check_csrf(page.request, str(form.get(CSRF_FIELD, "")))
    data = uploaded(form)
    if not data:
        return _show(page, assessment_id, 422, error=page.t("plan.choose_file"))
    limits = Limits(max_bytes=page.request.app.state.settings.max_upload_bytes)
    try:
        with db(page) as session:
            plan_import.import_plan_workbook(
                session, who, page.catalog, assessment_id, data, limits
            )
    except PreconditionFailed:
        return _show(page, assessment_id, 409, error=page.t("plan.stale_workbook"))
    except Invalid as exc:
        said = "detail_es" if page.lang == "es" else "detail"
        head = refusal(page.lang, exc)
        texts = [
            (f"{e['pointer']}: " if e.get("pointer") else "") + (e.get(said) or e.get("detail", ""))
            for e in exc.extra.get("errors", [])
        ]
        # a problem the refusal already says (a damaged file's one problem) is not said twice
        cells = "; ".join(t for t in texts if t and t not in head)
        joined = f"{head}{' ' if head.endswith(('.', ':')) else ': '}{cells}" if cells else head
        return _show(page, assessment_id, 422, error=joined)
    return _back(page, assessment_id)


@router.get("/assessments/{assessment_id}/plan.xlsx")
def plan_export(assessment_id: uuid.UUID, page: MemberDep) -> Response:
    with db(page) as session:
        name, data = plan_workbook.plan_workbook(
            session, page.who, page.catalog, assessment_id, page.lang, latest_assessment_date()
        )
    return download(page, name, data)
