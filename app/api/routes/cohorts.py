from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, Response, status
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from app.api.deps import CatalogDep, PrincipalDep, SessionDep
from app.api.keyed import KeyedDep
from app.api.params import Cursor, IdempotencyKey, Limit, Threshold
from app.api.routing import (
    CONFLICT,
    NOT_FOUND,
    NOT_MODIFIED,
    JsonText,
    Lang,
    attachment,
    keyed_router,
    v1_router,
    xlsx_ok,
    xlsx_response,
)
from app.api.schemas.analysis import Cbld9Read, CohortComparisonRead
from app.api.schemas.common import Page
from app.api.schemas.records import CohortCreate, CohortDetail, CohortRead, CohortUpdate, Membership
from app.catalog import Catalog
from app.services import exports, indicators
from app.services import organizations as svc
from app.services.cohort_comparison import RoundsAsked, comparison_text
from app.services.common import IdempotencyRequest, encode_cursor
from app.services.keys import Principal
from app.services.scores import as_json

router = v1_router("cohorts")
keyed = keyed_router("cohorts")  # the comparison: the key checked in the read's own hop

Round = Annotated[str, Query(min_length=1, max_length=64)]
InstrumentQ = Annotated[str, Query(max_length=40, examples=["oca"])]
FiscalYear = Annotated[
    int,
    Query(
        ge=2000,
        le=2100,
        description="The US fiscal year: FY2025 runs from 2024-10-01 to 2025-09-30",
        examples=[2025],
    ),
]


def _detail(cohort: svc.CohortDetailView) -> CohortDetail:
    return CohortDetail.model_validate(cohort, from_attributes=True)


@router.post(
    "/cohorts", status_code=status.HTTP_201_CREATED, summary="Create a cohort", responses=CONFLICT
)
def create_cohort(
    body: CohortCreate,
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> CohortDetail:
    cohort, created = svc.create_cohort(
        session,
        principal,
        body.name,
        body.description,
        IdempotencyRequest.of(idempotency_key, body.model_dump()),
    )
    response.headers["Location"] = f"/v1/cohorts/{cohort.id}"
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    return _detail(cohort)


@router.get("/cohorts", summary="List cohorts")
def list_cohorts(
    session: SessionDep, principal: PrincipalDep, limit: Limit = 50, cursor: Cursor = None
) -> Page[CohortRead]:
    rows, more = svc.list_cohorts(session, principal, limit=limit, cursor=cursor)
    items = [CohortRead.model_validate(c, from_attributes=True) for c in rows]
    nxt = encode_cursor(rows[-1].created_at, rows[-1].id) if more and rows else None
    return Page[CohortRead](items=items, next_cursor=nxt)


@router.get("/cohorts/{cohort_id}", summary="Read a cohort and its members", responses=NOT_FOUND)
def get_cohort(cohort_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> CohortDetail:
    return _detail(svc.read_cohort(session, principal, cohort_id))


@router.patch(
    "/cohorts/{cohort_id}",
    summary="Rename or describe a cohort",
    responses={**NOT_FOUND, **CONFLICT},
)
def update_cohort(
    cohort_id: uuid.UUID, body: CohortUpdate, session: SessionDep, principal: PrincipalDep
) -> CohortDetail:
    cohort = svc.update_cohort(session, principal, cohort_id, body.model_dump(exclude_unset=True))
    return _detail(cohort)


@router.put(
    "/cohorts/{cohort_id}/members/{org_id}",
    summary="Add an organization to a cohort (idempotent)",
    responses=NOT_FOUND,
)
def add_member(
    cohort_id: uuid.UUID, org_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> Membership:
    added = svc.add_member(session, principal, cohort_id, org_id)
    return Membership(cohort_id=cohort_id, organization_id=org_id, added=added)


@router.delete(
    "/cohorts/{cohort_id}/members/{org_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove an organization from a cohort",
    responses=NOT_FOUND,
)
def remove_member(
    cohort_id: uuid.UUID, org_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> None:
    svc.remove_member(session, principal, cohort_id, org_id)


@keyed.get(
    "/cohorts/{cohort_id}/comparison",
    summary="Capacity scores across a cohort, baseline versus endline (improved or not)",
    response_class=JsonText,
    responses={
        200: {"model": CohortComparisonRead, "description": "The comparison"},
        **NOT_MODIFIED,
        **NOT_FOUND,
    },
)
async def cohort_comparison(
    cohort_id: uuid.UUID,
    keyed: KeyedDep,
    instrument_id: InstrumentQ,
    baseline: Round = "baseline",
    endline: Round = "endline",
    threshold: Threshold = None,
) -> Response:
    def compute(session: Session, principal: Principal, catalog: Catalog) -> bytes:
        asked = RoundsAsked(cohort_id, instrument_id, baseline, endline, threshold)
        return comparison_text(session, principal, catalog, asked)

    return await keyed.json(compute)


@router.get(
    "/cohorts/{cohort_id}/cbld-9",
    summary="CBLD-9 for a US fiscal year: organizations with improved performance on a metric",
    response_class=JsonText,
    responses={200: {"model": Cbld9Read, "description": "The indicator"}, **NOT_FOUND},
)
def cohort_cbld9(
    cohort_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    fiscal_year: FiscalYear,
) -> Response:
    result, names, cohort_name = indicators.cohort_cbld9(session, principal, cohort_id, fiscal_year)
    return JsonText(as_json(indicators.cbld9_json(cohort_id, cohort_name, result, names)))


@router.get(
    "/cohorts/{cohort_id}/cbld-9.xlsx",
    summary="CBLD-9 for a US fiscal year in Excel, with the organizations behind each number",
    response_class=Response,
    responses={**NOT_FOUND, **xlsx_ok()},
)
def cohort_cbld9_export(
    cohort_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    fiscal_year: FiscalYear,
    lang: Lang = "en",
) -> Response:
    return xlsx_response(
        *indicators.cbld9_workbook(session, principal, cohort_id, fiscal_year, lang)
    )


@router.get(
    "/cohorts/{cohort_id}/comparison.xlsx",
    summary="The cohort comparison in Excel: a row per organization, a summary, native charts",
    response_class=Response,
    responses={**NOT_FOUND, **xlsx_ok()},
)
def cohort_comparison_export(
    cohort_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    catalog: CatalogDep,
    instrument_id: InstrumentQ,
    baseline: Round = "baseline",
    endline: Round = "endline",
    threshold: Threshold = None,
    lang: Lang = "en",
) -> Response:
    asked = RoundsAsked(cohort_id, instrument_id, baseline, endline, threshold)
    name, data = exports.cohort_workbook(session, principal, catalog, asked, lang)
    return xlsx_response(name, data)


@router.get(
    "/cohorts/{cohort_id}/export.xlsx",
    summary="Raw data: one row per assessment, one column per item (xlsx)",
    response_class=Response,
    responses={**NOT_FOUND, **xlsx_ok()},
)
def cohort_raw_export(
    cohort_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    catalog: CatalogDep,
    instrument_id: InstrumentQ,
    lang: Lang = "en",
) -> Response:
    name, data = exports.cohort_raw(session, principal, catalog, cohort_id, instrument_id, lang)
    return xlsx_response(name, data)


@router.get(
    "/cohorts/{cohort_id}/export.csv",
    summary="Raw data as CSV (UTF-8 with BOM) for R, Stata, SPSS",
    response_class=StreamingResponse,
    responses={**NOT_FOUND, 200: {"content": {"text/csv": {}}, "description": "The CSV"}},
)
def cohort_raw_csv(
    cohort_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    catalog: CatalogDep,
    instrument_id: InstrumentQ,
) -> StreamingResponse:
    name, chunks = exports.cohort_raw_csv(session, principal, catalog, cohort_id, instrument_id)
    return StreamingResponse(chunks, media_type="text/csv; charset=utf-8", headers=attachment(name))
