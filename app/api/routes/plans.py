"""Action plans over REST: made from a scored assessment, changed under one ETag, closed
against the next round, and seen across a cohort (issue 12)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import File, Query, Response, UploadFile, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from starlette.concurrency import run_in_threadpool

from app.api.deps import CatalogDep, PrincipalDep, SessionDep, SettingsDep
from app.api.params import IfMatch
from app.api.routing import (
    CONFLICT,
    NOT_FOUND,
    PRECONDITION,
    Lang,
    v1_router,
    xlsx_ok,
    xlsx_response,
)
from app.api.schemas.records import LongText, NoNul, NotNull
from app.domain.errors import Invalid
from app.excel.safety import Limits
from app.services import plan_import, plan_outcomes, plan_workbook
from app.services import plan_models as models
from app.services import plans as svc
from app.services.common import latest_assessment_date
from app.services.plan_models import ActionStatus, PlanRead
from app.services.plan_outcomes import CohortActions, PlanOutcome

router = v1_router("plans")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


Text200 = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), NoNul
]
What = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000), NoNul
]


class ActionWrite(_In):
    what: What
    who: Text200 | None = None
    due_on: date | None = None
    resources: LongText | None = None
    status: ActionStatus = "planned"
    progress: LongText | None = None

    def data(self) -> models.ActionData:
        return models.ActionData(**self.model_dump())


class ActionUpdate(_In):
    what: What | NotNull = None
    who: Text200 | None = None
    due_on: date | None = None
    resources: LongText | None = None
    status: ActionStatus | NotNull = None
    progress: LongText | None = None


class PriorityWrite(_In):
    area: Annotated[str, StringConstraints(min_length=1, max_length=64), NoNul]
    note: LongText | None = None
    actions: Annotated[list[ActionWrite], Field(max_length=100)] = []

    def data(self) -> models.PriorityData:
        return models.PriorityData(self.area, self.note, tuple(x.data() for x in self.actions))


class PriorityUpdate(_In):
    note: LongText | None = None


class PlanCreate(_In):
    priorities: Annotated[list[PriorityWrite], Field(max_length=100)] = []


def today() -> date:
    """The day used for "overdue": the latest day anywhere, like assessment dates."""
    return latest_assessment_date()


def _read(
    session: SessionDep,
    principal: PrincipalDep,
    catalog: CatalogDep,
    assessment_id: uuid.UUID,
    response: Response,
) -> PlanRead:
    """The plan as it is after the request's change (the change's own transaction committed)."""
    reply = svc.read_plan(session, principal, catalog, assessment_id, today())
    response.headers["ETag"] = reply.etag
    return reply.plan


@router.post(
    "/assessments/{assessment_id}/plan",
    status_code=status.HTTP_201_CREATED,
    summary="Make the assessment's action plan (from a submitted or final assessment)",
    responses={**NOT_FOUND, **CONFLICT},
)
def create_plan(
    assessment_id: uuid.UUID,
    body: PlanCreate,
    session: SessionDep,
    principal: PrincipalDep,
    catalog: CatalogDep,
    response: Response,
) -> PlanRead:
    svc.create_plan(session, principal, catalog, assessment_id, [p.data() for p in body.priorities])
    response.headers["Location"] = f"/v1/assessments/{assessment_id}/plan"
    return _read(session, principal, catalog, assessment_id, response)


@router.get(
    "/assessments/{assessment_id}/plan",
    summary="Read the action plan, with the weak areas the score proposes",
    responses=NOT_FOUND,
)
def read_plan(
    assessment_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    catalog: CatalogDep,
    response: Response,
) -> PlanRead:
    return _read(session, principal, catalog, assessment_id, response)


WRITE = {**NOT_FOUND, **CONFLICT, **PRECONDITION}


@router.post(
    "/assessments/{assessment_id}/plan/priorities",
    status_code=status.HTTP_201_CREATED,
    summary="Add a priority area to the plan (If-Match: the plan's ETag)",
    responses=WRITE,
)
def add_priority(
    assessment_id: uuid.UUID,
    body: PriorityWrite,
    session: SessionDep,
    principal: PrincipalDep,
    catalog: CatalogDep,
    response: Response,
    if_match: IfMatch = None,
) -> PlanRead:
    svc.add_priority(session, principal, catalog, assessment_id, body.data(), if_match)
    return _read(session, principal, catalog, assessment_id, response)


@router.patch(
    "/assessments/{assessment_id}/plan/priorities/{priority_id}",
    summary="Change a priority's note (If-Match: the plan's ETag)",
    responses=WRITE,
)
def update_priority(
    assessment_id: uuid.UUID,
    priority_id: uuid.UUID,
    body: PriorityUpdate,
    session: SessionDep,
    principal: PrincipalDep,
    catalog: CatalogDep,
    response: Response,
    if_match: IfMatch = None,
) -> PlanRead:
    changes = body.model_dump(exclude_unset=True)
    svc.update_priority(session, principal, assessment_id, priority_id, changes, if_match)
    return _read(session, principal, catalog, assessment_id, response)


@router.post(
    "/assessments/{assessment_id}/plan/priorities/{priority_id}/actions",
    status_code=status.HTTP_201_CREATED,
    summary="Add an action to a priority (If-Match: the plan's ETag)",
    responses=WRITE,
)
def add_action(
    assessment_id: uuid.UUID,
    priority_id: uuid.UUID,
    body: ActionWrite,
    session: SessionDep,
    principal: PrincipalDep,
    catalog: CatalogDep,
    response: Response,
    if_match: IfMatch = None,
) -> PlanRead:
    svc.add_action(session, principal, assessment_id, priority_id, body.data(), if_match)
    return _read(session, principal, catalog, assessment_id, response)


@router.patch(
    "/assessments/{assessment_id}/plan/actions/{action_id}",
    summary="Change an action: status, progress notes, who, due date… (If-Match: the plan's ETag)",
    responses=WRITE,
)
def update_action(
    assessment_id: uuid.UUID,
    action_id: uuid.UUID,
    body: ActionUpdate,
    session: SessionDep,
    principal: PrincipalDep,
    catalog: CatalogDep,
    response: Response,
    if_match: IfMatch = None,
) -> PlanRead:
    changes = body.model_dump(exclude_unset=True)
    svc.update_action(session, principal, assessment_id, action_id, changes, if_match)
    return _read(session, principal, catalog, assessment_id, response)


@router.get(
    "/assessments/{assessment_id}/plan/outcome",
    summary="Close the plan against the next round: did each priority area improve?",
    responses=NOT_FOUND,
)
def plan_outcome(
    assessment_id: uuid.UUID, session: SessionDep, principal: PrincipalDep, catalog: CatalogDep
) -> PlanOutcome:
    return plan_outcomes.plan_outcome(session, principal, catalog, assessment_id)


@router.get(
    "/assessments/{assessment_id}/plan.xlsx",
    summary="The action plan in Excel",
    response_class=Response,
    responses={**NOT_FOUND, **xlsx_ok()},
)
def plan_export(
    assessment_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    catalog: CatalogDep,
    lang: Lang = "en",
) -> Response:
    return xlsx_response(
        *plan_workbook.plan_workbook(session, principal, catalog, assessment_id, lang, today())
    )


class PlanImportRead(BaseModel):
    updated: int
    added: int
    plan: PlanRead


@router.post(
    "/assessments/{assessment_id}/plan.xlsx",
    summary="Update the plan from its workbook (exported here, edited in Excel); all or nothing",
    responses=WRITE,
)
async def plan_import_workbook(
    assessment_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    catalog: CatalogDep,
    settings: SettingsDep,
    response: Response,
    file: Annotated[UploadFile | None, File(description="The plan workbook (.xlsx)")] = None,
) -> PlanImportRead:
    # the file is optional to FastAPI so that another workspace's id is a 404 before any 422
    data = await file.read() if file is not None else b""  # bounded by the app-wide body limit
    limits = Limits(max_bytes=settings.max_upload_bytes)
    return await run_in_threadpool(
        _import, session, principal, catalog, assessment_id, data, limits, response
    )


def _import(
    session: SessionDep,
    principal: PrincipalDep,
    catalog: CatalogDep,
    assessment_id: uuid.UUID,
    data: bytes,
    limits: Limits,
    response: Response,
) -> PlanImportRead:
    if not data:
        svc.get_plan(session, principal, assessment_id)  # 404 first
        raise Invalid(
            "send the plan workbook as the multipart field 'file'",
            errors=[{"pointer": "/file", "code": "missing", "detail": "the workbook is missing"}],
        )
    updated, added = plan_import.import_plan_workbook(
        session, principal, catalog, assessment_id, data, limits
    )
    return PlanImportRead(
        updated=updated,
        added=added,
        plan=_read(session, principal, catalog, assessment_id, response),
    )


@router.get(
    "/cohorts/{cohort_id}/actions",
    summary="The cohort's plan actions (overdue ones on request) and where help is most needed",
    responses=NOT_FOUND,
)
def cohort_actions(
    cohort_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    overdue: Annotated[bool, Query(description="Only actions past due and not done")] = False,
) -> CohortActions:
    return plan_outcomes.cohort_actions(session, principal, cohort_id, overdue, today())
