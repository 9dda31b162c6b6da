from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, Response, status
from pydantic import TypeAdapter
from sqlalchemy.orm import Session

from app.api.deps import CatalogDep, PrincipalDep, SessionDep, SettingsDep
from app.api.keyed import KeyedDep
from app.api.params import (
    Cursor,
    Day,
    IdempotencyKey,
    IfMatch,
    Limit,
    Threshold,
    check_instrument_id,
)
from app.api.routing import (
    CONFLICT,
    NOT_FOUND,
    NOT_MODIFIED,
    PRECONDITION,
    JsonText,
    Lang,
    Responses,
    keyed_router,
    v1_router,
    xlsx_ok,
    xlsx_response,
)
from app.api.schemas.analysis import OrgComparisonRead, ScoreRead
from app.api.schemas.common import Page
from app.api.schemas.records import (
    AnswerIn,
    AssessmentCreate,
    AssessmentRead,
    AssessmentSummary,
    AssessmentUpdate,
    RevisionCreate,
)
from app.catalog import Catalog
from app.domain.answers import RawAnswer
from app.domain.score_object import SeriesRead
from app.services import analysis, exports, verification
from app.services import assessment_reads as reads
from app.services import assessment_records as records
from app.services import assessments as svc
from app.services.common import IdempotencyRequest, encode_cursor
from app.services.keys import Principal
from app.services.scores import as_json

router = v1_router("assessments")
keyed = keyed_router("assessments")  # hot reads and writes: the key checked in their own hop

InstrumentQ = Annotated[str, Query(max_length=40, examples=["oca"])]
Ref = Annotated[
    str,
    Query(min_length=1, max_length=64, description="A round label or an assessment id"),
]


def _raw(answers: list[AnswerIn]) -> list[RawAnswer]:
    return [RawAnswer(a.item, a.value, a.note) for a in answers]


def read_assessment(
    a: records.AssessmentRecord,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """The assessment as JSON, serialized once here (the route's response model is documented
    through ``_assessment_ok``, not validated a second time), with its ETag."""
    return JsonText(
        assessment_json(a),
        status_code=status_code,
        headers={"ETag": a.etag, **(headers or {})},
    )


_RECORD = TypeAdapter(records.AssessmentRecord)


def assessment_json(a: records.AssessmentRecord) -> bytes:
    """The record serialized as it stands, the bytes ``AssessmentRead`` would give (tested):
    validating it into ``AssessmentRead`` first, 45 answers each time, was a tenth of a
    create + submit's own work."""
    return _RECORD.dump_json(a, exclude={"row_version"})


def _assessment_ok(status_code: int = 200) -> Responses:
    return {status_code: {"model": AssessmentRead, "description": "Successful Response"}}


@keyed.post(
    "/assessments",
    status_code=status.HTTP_201_CREATED,
    summary="Create a draft assessment with answers",
    response_class=JsonText,
    responses={**_assessment_ok(201), **CONFLICT},
)
async def create_assessment(
    body: AssessmentCreate, keyed: KeyedDep, idempotency_key: IdempotencyKey = None
) -> Response:
    data = svc.AssessmentData(
        organization_id=body.organization_id,
        instrument_id=body.instrument_id,
        instrument_version=body.instrument_version,
        round=body.round,
        assessed_on=body.assessed_on,
        assessor=body.assessor,
        retrospective=body.retrospective,
        performance=body.performance.model_dump() if body.performance else None,
        answers=_raw(body.answers),
    )

    def create(session: Session, principal: Principal, catalog: Catalog) -> Response:
        # the body is dumped for its fingerprint only when a key asks for one (45 answers)
        idempotency = (
            None
            if idempotency_key is None
            else IdempotencyRequest.of(idempotency_key, body.model_dump(mode="json"))
        )
        a, created = svc.create_assessment(session, principal, catalog, data, idempotency)
        headers = {"Location": f"/v1/assessments/{a.id}"}
        if not created:
            headers["Idempotent-Replayed"] = "true"
        return read_assessment(a, status_code=201, headers=headers)

    return await keyed.write(create)


@router.get("/assessments", summary="List assessments")
def list_assessments(
    session: SessionDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    organization_id: uuid.UUID | None = None,
    instrument_id: Annotated[str | None, Query(max_length=40)] = None,
    round: Annotated[str | None, Query(max_length=64)] = None,
    cohort_id: uuid.UUID | None = None,
    status_: Annotated[
        str | None, Query(alias="status", pattern="^(draft|submitted|final)$")
    ] = None,
    assessed_from: Day = None,
    assessed_to: Day = None,
    current_only: bool = False,
) -> Page[AssessmentSummary]:
    filters = reads.AssessmentFilter(
        organization_id,
        instrument_id,
        round,
        cohort_id,
        status_,
        assessed_from,
        assessed_to,
        current_only,
    )
    rows, more = records.list_assessments(
        session, principal, filters, limit=min(limit, settings.page_size_max), cursor=cursor
    )
    items = [AssessmentSummary.model_validate(a, from_attributes=True) for a in rows]
    nxt = encode_cursor(rows[-1].created_at, rows[-1].id) if more and rows else None
    return Page[AssessmentSummary](items=items, next_cursor=nxt)


@router.get(
    "/assessments/{assessment_id}",
    summary="Read an assessment",
    response_class=JsonText,
    responses={**_assessment_ok(), **NOT_FOUND},
)
def get_assessment(
    assessment_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> Response:
    return read_assessment(records.read_assessment(session, principal, assessment_id))


@keyed.patch(
    "/assessments/{assessment_id}",
    summary="Change a draft (If-Match required)",
    response_class=JsonText,
    responses={**_assessment_ok(), **NOT_FOUND, **CONFLICT, **PRECONDITION},
)
async def update_assessment(
    assessment_id: uuid.UUID, body: AssessmentUpdate, keyed: KeyedDep, if_match: IfMatch = None
) -> Response:
    changes = body.model_dump(exclude_unset=True, exclude={"answers"})
    answers = _raw(body.answers) if body.answers is not None else None
    return await keyed.write(
        lambda session, principal, catalog: read_assessment(
            svc.update_assessment(
                session, principal, catalog, assessment_id, changes, answers, if_match
            )
        )
    )


@keyed.post(
    "/assessments/{assessment_id}/submit",
    summary="Check completeness, score and store the score",
    response_class=JsonText,
    responses={**_assessment_ok(), **NOT_FOUND, **CONFLICT, **PRECONDITION},
)
async def submit_assessment(
    assessment_id: uuid.UUID, keyed: KeyedDep, if_match: IfMatch = None
) -> Response:
    return await keyed.write(
        lambda session, principal, catalog: read_assessment(
            svc.submit(session, principal, catalog, assessment_id, if_match)
        )
    )


@keyed.post(
    "/assessments/{assessment_id}/finalize",
    summary="Lock a submitted assessment",
    response_class=JsonText,
    responses={**_assessment_ok(), **NOT_FOUND, **CONFLICT, **PRECONDITION},
)
async def finalize_assessment(
    assessment_id: uuid.UUID, keyed: KeyedDep, if_match: IfMatch = None
) -> Response:
    return await keyed.write(
        lambda session, principal, _catalog: read_assessment(
            svc.finalize(session, principal, assessment_id, if_match)
        )
    )


@keyed.post(
    "/assessments/{assessment_id}/reopen",
    summary="Return a submitted (not final) assessment to draft",
    response_class=JsonText,
    responses={**_assessment_ok(), **NOT_FOUND, **CONFLICT, **PRECONDITION},
)
async def reopen_assessment(
    assessment_id: uuid.UUID, keyed: KeyedDep, if_match: IfMatch = None
) -> Response:
    return await keyed.write(
        lambda session, principal, _catalog: read_assessment(
            svc.reopen(session, principal, assessment_id, if_match)
        )
    )


@keyed.post(
    "/assessments/{assessment_id}/revisions",
    status_code=status.HTTP_201_CREATED,
    summary="Correct a final assessment: a new draft revision that replaces it",
    response_class=JsonText,
    responses={**_assessment_ok(201), **NOT_FOUND, **CONFLICT},
)
async def create_revision(
    assessment_id: uuid.UUID, body: RevisionCreate, keyed: KeyedDep
) -> Response:
    changes = body.model_dump(exclude_unset=True, exclude={"answers"})

    def revise(session: Session, principal: Principal, catalog: Catalog) -> Response:
        a = svc.create_revision(
            session, principal, catalog, assessment_id, _raw(body.answers), changes
        )
        return read_assessment(a, status_code=201, headers={"Location": f"/v1/assessments/{a.id}"})

    return await keyed.write(revise)


@keyed.get(
    "/assessments/{assessment_id}/scores",
    summary="The explained score of a submitted assessment",
    response_class=JsonText,
    responses={
        200: {"model": ScoreRead, "description": "The score object"},
        **NOT_MODIFIED,
        **NOT_FOUND,
        **CONFLICT,
    },
)
async def get_scores(assessment_id: uuid.UUID, keyed: KeyedDep) -> Response:
    # Stored at submit, rounded and serialized: sent as is (tests check it against ScoreRead),
    # with the verification block beside it when some item is verified.
    return await keyed.json(
        lambda session, principal, catalog: verification.scores_with_verification(
            session, principal, catalog, assessment_id
        )
    )


@router.get(
    "/assessments/{assessment_id}/template.xlsx",
    summary="The assessment in its template, to correct offline and upload again",
    response_class=Response,
    responses={**NOT_FOUND, **xlsx_ok("The filled template")},
)
def assessment_template(
    assessment_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    catalog: CatalogDep,
    lang: Lang = "en",
) -> Response:
    name, data = exports.assessment_as_template(session, principal, catalog, assessment_id, lang)
    return xlsx_response(name, data)


@router.get(
    "/assessments/{assessment_id}/export.xlsx",
    summary="The assessment in Excel: answers with labels, scores, risk, native charts",
    response_class=Response,
    responses={**NOT_FOUND, **xlsx_ok()},
)
def assessment_export(
    assessment_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    catalog: CatalogDep,
    lang: Lang = "en",
) -> Response:
    return xlsx_response(
        *exports.assessment_workbook(session, principal, catalog, assessment_id, lang)
    )


@router.get(
    "/organizations/{org_id}/series.xlsx",
    summary="An organization's series in Excel: table, line chart, radar of first vs latest",
    response_class=Response,
    responses={**NOT_FOUND, **xlsx_ok()},
)
def organization_series_export(
    org_id: uuid.UUID,
    instrument_id: InstrumentQ,
    session: SessionDep,
    principal: PrincipalDep,
    catalog: CatalogDep,
    lang: Lang = "en",
) -> Response:
    check_instrument_id(catalog, instrument_id)
    return xlsx_response(
        *exports.series_workbook(session, principal, catalog, org_id, instrument_id, lang)
    )


@keyed.get(
    "/organizations/{org_id}/series",
    summary="An organization's scored assessments of one instrument over time",
    response_class=JsonText,
    responses={
        200: {"model": SeriesRead, "description": "The series"},
        **NOT_MODIFIED,
        **NOT_FOUND,
    },
)
async def organization_series(
    org_id: uuid.UUID, instrument_id: InstrumentQ, keyed: KeyedDep
) -> Response:
    def compute(session: Session, principal: Principal, catalog: Catalog) -> str:
        check_instrument_id(catalog, instrument_id)
        return as_json(analysis.series(session, principal, org_id, instrument_id))

    return await keyed.json(compute)


@keyed.get(
    "/organizations/{org_id}/comparison",
    summary="Compare two of an organization's assessments (by round label or id)",
    response_class=JsonText,
    responses={
        200: {"model": OrgComparisonRead, "description": "The comparison"},
        **NOT_MODIFIED,
        **NOT_FOUND,
        **CONFLICT,
    },
)
async def organization_comparison(
    org_id: uuid.UUID,
    instrument_id: InstrumentQ,
    keyed: KeyedDep,
    baseline: Ref = "baseline",
    endline: Ref = "endline",
    threshold: Threshold = None,
) -> Response:
    def compute(session: Session, principal: Principal, catalog: Catalog) -> str:
        org, a, b, result, instrument = analysis.compare_organization(
            session, principal, catalog, org_id, instrument_id, baseline, endline, threshold
        )
        return as_json(analysis.comparison_json(org, a, b, result, instrument))

    return await keyed.json(compute)
