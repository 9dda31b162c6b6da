from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Path, Query, Response, status

from app.api.deps import PrincipalDep, SessionDep, SettingsDep
from app.api.params import Cursor, IdempotencyKey, IfMatch, Limit
from app.api.routing import CONFLICT, NOT_FOUND, PRECONDITION, v1_router
from app.api.schemas.common import Page
from app.api.schemas.records import (
    OrganizationCreate,
    OrganizationRead,
    OrganizationUpdate,
    OrganizationUpsert,
)
from app.services import organizations as svc
from app.services.common import IdempotencyRequest, encode_cursor

router = v1_router("organizations")


def _read(org: svc.OrganizationView, response: Response | None = None) -> OrganizationRead:
    if response is not None:
        response.headers["ETag"] = org.etag
    return OrganizationRead.model_validate(org)


@router.post(
    "/organizations",
    status_code=status.HTTP_201_CREATED,
    summary="Create an organization",
    responses=CONFLICT,
)
def create_organization(
    body: OrganizationCreate,
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> OrganizationRead:
    data = svc.OrgData(**body.model_dump())
    org, created = svc.create_organization(
        session, principal, data, IdempotencyRequest.of(idempotency_key, body.model_dump())
    )
    response.headers["Location"] = f"/v1/organizations/{org.id}"
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    return _read(org, response)


@router.get("/organizations", summary="List organizations")
def list_organizations(
    session: SessionDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    cohort_id: uuid.UUID | None = None,
    country: Annotated[str | None, Query(max_length=2)] = None,
    q: Annotated[str | None, Query(max_length=200, description="Name contains")] = None,
    external_id: Annotated[str | None, Query(max_length=120)] = None,
) -> Page[OrganizationRead]:
    rows, more = svc.list_organizations(
        session,
        principal,
        limit=min(limit, settings.page_size_max),
        cursor=cursor,
        cohort_id=cohort_id,
        country=country,
        q=q,
        external_id=external_id,
    )
    nxt = encode_cursor(rows[-1].created_at, rows[-1].id) if more and rows else None
    return Page[OrganizationRead](items=[_read(r) for r in rows], next_cursor=nxt)


@router.get("/organizations/{org_id}", summary="Read an organization", responses=NOT_FOUND)
def get_organization(
    org_id: uuid.UUID, session: SessionDep, principal: PrincipalDep, response: Response
) -> OrganizationRead:
    return _read(svc.read_organization(session, principal, org_id), response)


@router.put(
    "/organizations/by-external-id/{external_id}",
    summary="Create or replace an organization by your system's id (upsert)",
    responses={**CONFLICT, 201: {"description": "Created", "model": OrganizationRead}},
)
def upsert_organization(
    external_id: Annotated[str, Path(max_length=120)],
    body: OrganizationUpsert,
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
) -> OrganizationRead:
    org, created = svc.upsert_by_external_id(
        session, principal, external_id, svc.OrgData(**body.model_dump())
    )
    if created:
        response.status_code = status.HTTP_201_CREATED
        response.headers["Location"] = f"/v1/organizations/{org.id}"
    return _read(org, response)


@router.patch(
    "/organizations/{org_id}",
    summary="Change some fields of an organization",
    responses={**NOT_FOUND, **CONFLICT, **PRECONDITION},
)
def update_organization(
    org_id: uuid.UUID,
    body: OrganizationUpdate,
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
    if_match: IfMatch = None,
) -> OrganizationRead:
    changes = body.model_dump(exclude_unset=True)
    org = svc.update_organization(session, principal, org_id, changes, if_match)
    return _read(org, response)


@router.delete(
    "/organizations/{org_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an organization that has no assessments",
    responses={**NOT_FOUND, **CONFLICT},
)
def delete_organization(org_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> None:
    svc.delete_organization(session, principal, org_id)
