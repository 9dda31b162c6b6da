"""Organizations and cohorts of one workspace."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db.models import Assessment, Cohort, CohortMember, Organization
from app.db.session import write_transaction
from app.domain.errors import Conflict, NotFound
from app.services.common import (
    IdempotencyRequest,
    audit,
    check_if_match,
    etag,
    get_scoped,
    idempotent_replay,
    now,
    page_after,
    remember,
)
from app.services.keys import Principal

ORG_FIELDS = ("name", "country", "region", "thematic_areas", "tags", "external_id")


@dataclass(frozen=True)
class OrgData:
    name: str
    country: str | None = None
    region: str | None = None
    thematic_areas: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    external_id: str | None = None


@dataclass(frozen=True, slots=True)
class OrganizationView:
    """An organization as the API and the pages show it, with its ETag."""

    id: uuid.UUID
    name: str
    country: str | None
    region: str | None
    thematic_areas: tuple[str, ...]
    tags: tuple[str, ...]
    external_id: str | None
    created_at: datetime
    updated_at: datetime
    etag: str

    @classmethod
    def of(cls, org: Organization) -> OrganizationView:
        return cls(
            id=org.id,
            name=org.name,
            country=org.country,
            region=org.region,
            thematic_areas=tuple(org.thematic_areas),
            tags=tuple(org.tags),
            external_id=org.external_id,
            created_at=org.created_at,
            updated_at=org.updated_at,
            etag=org_etag(org),
        )


def get_organization(session: Session, principal: Principal, org_id: uuid.UUID) -> Organization:
    return get_scoped(session, principal, Organization, org_id, "organization")


_ORG_WORKSPACE = select(Organization.workspace_id).where(Organization.id == bindparam("id"))


def organization_exists(session: Session, principal: Principal, org_id: uuid.UUID) -> bool:
    """Whether the organization is one of the caller's workspace: one Core query, no row
    loaded (what a new assessment needs to know of it)."""
    found = session.connection().execute(_ORG_WORKSPACE, {"id": org_id}).scalar()
    return found is not None and found == principal.workspace_id


def read_organization(
    session: Session, principal: Principal, org_id: uuid.UUID
) -> OrganizationView:
    """One organization of the caller's workspace; NotFound otherwise."""
    return OrganizationView.of(get_organization(session, principal, org_id))


def org_etag(org: Organization) -> str:
    return etag(org.id, org.row_version)


def _external_conflict(external_id: str | None) -> Conflict:
    return Conflict(
        f"another organization of this workspace has external_id '{external_id}'",
        field="external_id",
    )


def create_organization(
    session: Session,
    principal: Principal,
    data: OrgData,
    idempotency: IdempotencyRequest | None = None,
) -> tuple[OrganizationView, bool]:
    """Create; returns (organization, created). A replayed Idempotency-Key returns the first."""
    with write_transaction(session):
        replay = idempotent_replay(session, principal, idempotency)
        if replay is not None:
            return read_organization(session, principal, uuid.UUID(replay)), False
        org = create_organization_in_transaction(session, principal, data)
        remember(session, principal, idempotency, "organization", org.id)
    return OrganizationView.of(org), True


def create_organization_in_transaction(
    session: Session, principal: Principal, data: OrgData
) -> Organization:
    if data.external_id and _by_external_id(session, principal, data.external_id):
        raise _external_conflict(data.external_id)
    ts = now()
    org = Organization(
        workspace_id=principal.workspace_id,
        created_at=ts,
        updated_at=ts,
        **{f: getattr(data, f) for f in ORG_FIELDS},
    )
    session.add(org)
    session.flush()
    audit(session, principal, "organization.create", "organization", org.id, _snapshot(org))
    return org


def _snapshot(org: Organization) -> dict[str, Any]:
    return {f: getattr(org, f) for f in ORG_FIELDS}


def _by_external_id(
    session: Session, principal: Principal, external_id: str
) -> Organization | None:
    return session.scalar(
        select(Organization).where(
            Organization.workspace_id == principal.workspace_id,
            Organization.external_id == external_id,
        )
    )


def upsert_by_external_id(
    session: Session, principal: Principal, external_id: str, data: OrgData
) -> tuple[OrganizationView, bool]:
    """Create or replace the organization a partner system knows by ``external_id``."""
    try:
        org, created = _upsert(session, principal, external_id, data)
    except Conflict:  # a concurrent upsert created it first: now it is an update
        session.rollback()
        org, created = _upsert(session, principal, external_id, data)
    return OrganizationView.of(org), created


def _upsert(
    session: Session, principal: Principal, external_id: str, data: OrgData
) -> tuple[Organization, bool]:
    with write_transaction(session):
        org = _by_external_id(session, principal, external_id)
        ts = now()
        if org is None:
            org = Organization(
                workspace_id=principal.workspace_id,
                created_at=ts,
                updated_at=ts,
                **{f: getattr(data, f) for f in ORG_FIELDS if f != "external_id"},
                external_id=external_id,
            )
            session.add(org)
            session.flush()
            audit(session, principal, "organization.create", "organization", org.id, _snapshot(org))
            return org, True
        before = _snapshot(org)
        for f in ORG_FIELDS:
            if f != "external_id":
                setattr(org, f, getattr(data, f))
        changes = _diff(before, _snapshot(org))
        if changes:
            org.updated_at = ts
            session.flush()
            audit(session, principal, "organization.update", "organization", org.id, changes)
    return org, False


def _diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {k: {"from": before[k], "to": after[k]} for k in after if before.get(k) != after[k]}


def update_organization(
    session: Session,
    principal: Principal,
    org_id: uuid.UUID,
    changes: dict[str, Any],
    if_match: str | None,
) -> OrganizationView:
    with write_transaction(session):
        org = get_organization(session, principal, org_id)
        check_if_match(if_match, org_etag(org), required=False)
        ext = changes.get("external_id")
        if ext and ext != org.external_id:
            other = _by_external_id(session, principal, ext)
            if other is not None:
                raise _external_conflict(ext)
        before = _snapshot(org)
        for key, value in changes.items():
            if key in ORG_FIELDS:
                setattr(org, key, value)
        diff = _diff(before, _snapshot(org))
        if diff:
            org.updated_at = now()
            try:
                session.flush()
            except IntegrityError:
                raise _external_conflict(ext) from None
            audit(session, principal, "organization.update", "organization", org.id, diff)
    return OrganizationView.of(org)


def delete_organization(session: Session, principal: Principal, org_id: uuid.UUID) -> None:
    with write_transaction(session):
        org = get_organization(session, principal, org_id)
        has_assessments = session.scalar(
            select(exists().where(Assessment.organization_id == org.id))
        )
        if has_assessments:
            raise Conflict(
                "this organization has assessments; they are kept for the time series, so the "
                "organization cannot be deleted"
            )
        session.execute(delete(CohortMember).where(CohortMember.organization_id == org.id))
        audit(session, principal, "organization.delete", "organization", org.id, _snapshot(org))
        session.delete(org)


def list_organizations(
    session: Session,
    principal: Principal,
    *,
    limit: int,
    cursor: str | None,
    cohort_id: uuid.UUID | None = None,
    country: str | None = None,
    q: str | None = None,
    external_id: str | None = None,
) -> tuple[list[OrganizationView], bool]:
    query = select(Organization).where(Organization.workspace_id == principal.workspace_id)
    if cohort_id is not None:
        query = query.join(CohortMember, CohortMember.organization_id == Organization.id).where(
            CohortMember.cohort_id == cohort_id
        )
    if country:
        query = query.where(Organization.country == country.upper())
    if external_id:
        query = query.where(Organization.external_id == external_id)
    if q:
        query = query.where(func.lower(Organization.name).contains(q.lower(), autoescape=True))
    rows = list(
        session.scalars(page_after(query, Organization.created_at, Organization.id, cursor, limit))
    )
    return [OrganizationView.of(o) for o in rows[:limit]], len(rows) > limit


# --- cohorts -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CohortView:
    """A cohort as a list shows it: with how many organizations it has."""

    id: uuid.UUID
    name: str
    description: str | None
    members: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class CohortDetailView(CohortView):
    """A cohort with its members' ids, in the order they were added."""

    organization_ids: tuple[uuid.UUID, ...]


def _detail(session: Session, cohort: Cohort) -> CohortDetailView:
    ids = member_ids(session, cohort.id)
    return CohortDetailView(
        id=cohort.id,
        name=cohort.name,
        description=cohort.description,
        members=len(ids),
        created_at=cohort.created_at,
        updated_at=cohort.updated_at,
        organization_ids=tuple(ids),
    )


def get_cohort(session: Session, principal: Principal, cohort_id: uuid.UUID) -> Cohort:
    return get_scoped(session, principal, Cohort, cohort_id, "cohort")


_COHORT_NAME = select(Cohort.name).where(
    Cohort.id == bindparam("cohort"), Cohort.workspace_id == bindparam("workspace")
)


def cohort_name(session: Session, principal: Principal, cohort_id: uuid.UUID) -> str:
    """``get_cohort``'s answer for a read that needs only the name: one prepared column on the
    session's connection, no ORM row (a tenth of a small cohort comparison's CPU went into
    loading the row); NotFound alike for another workspace's cohort."""
    name = (
        session.connection()
        .execute(_COHORT_NAME, {"cohort": cohort_id, "workspace": principal.workspace_id})
        .scalar()
    )
    if name is None:
        raise NotFound(f"cohort {cohort_id} does not exist")
    return str(name)


def read_cohort(session: Session, principal: Principal, cohort_id: uuid.UUID) -> CohortDetailView:
    """A cohort of the caller's workspace with its members' ids; NotFound otherwise."""
    return _detail(session, get_cohort(session, principal, cohort_id))


def _name_taken(session: Session, principal: Principal, name: str) -> bool:
    return bool(
        session.scalar(
            select(
                exists().where(Cohort.workspace_id == principal.workspace_id, Cohort.name == name)
            )
        )
    )


def create_cohort(
    session: Session,
    principal: Principal,
    name: str,
    description: str | None,
    idempotency: IdempotencyRequest | None = None,
) -> tuple[CohortDetailView, bool]:
    with write_transaction(session):
        replay = idempotent_replay(session, principal, idempotency)
        if replay is not None:
            return read_cohort(session, principal, uuid.UUID(replay)), False
        if _name_taken(session, principal, name):
            raise Conflict(f"a cohort named '{name}' already exists", field="name")
        ts = now()
        cohort = Cohort(
            workspace_id=principal.workspace_id,
            name=name,
            description=description,
            created_at=ts,
            updated_at=ts,
        )
        session.add(cohort)
        session.flush()
        remember(session, principal, idempotency, "cohort", cohort.id)
        audit(session, principal, "cohort.create", "cohort", cohort.id, {"name": name})
    return _detail(session, cohort), True


def update_cohort(
    session: Session, principal: Principal, cohort_id: uuid.UUID, changes: dict[str, Any]
) -> CohortDetailView:
    with write_transaction(session):
        cohort = get_cohort(session, principal, cohort_id)
        name = changes.get("name")
        if name and name != cohort.name and _name_taken(session, principal, name):
            raise Conflict(f"a cohort named '{name}' already exists", field="name")
        diff: dict[str, Any] = {}
        for key in ("name", "description"):
            if key in changes and changes[key] != getattr(cohort, key):
                diff[key] = {"from": getattr(cohort, key), "to": changes[key]}
                setattr(cohort, key, changes[key])
        if diff:
            cohort.updated_at = now()
            audit(session, principal, "cohort.update", "cohort", cohort.id, diff)
    return _detail(session, cohort)


def list_cohorts(
    session: Session, principal: Principal, *, limit: int, cursor: str | None
) -> tuple[list[CohortView], bool]:
    """A page of the workspace's cohorts, each with its count of members."""
    query = select(Cohort).where(Cohort.workspace_id == principal.workspace_id)
    rows = list(session.scalars(page_after(query, Cohort.created_at, Cohort.id, cursor, limit)))
    page = rows[:limit]
    counts = member_counts(session, [c.id for c in page])
    views = [
        CohortView(
            id=c.id,
            name=c.name,
            description=c.description,
            members=counts.get(c.id, 0),
            created_at=c.created_at,
            updated_at=c.updated_at,
        )
        for c in page
    ]
    return views, len(rows) > limit


def member_ids(session: Session, cohort_id: uuid.UUID) -> list[uuid.UUID]:
    return list(
        session.scalars(
            select(CohortMember.organization_id)
            .where(CohortMember.cohort_id == cohort_id)
            .order_by(CohortMember.added_at, CohortMember.organization_id)
        )
    )


def member_counts(session: Session, cohort_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    if not cohort_ids:
        return {}
    rows = session.execute(
        select(CohortMember.cohort_id, func.count())
        .where(CohortMember.cohort_id.in_(cohort_ids))
        .group_by(CohortMember.cohort_id)
    ).all()
    return {cid: n for cid, n in rows}


def add_member(
    session: Session, principal: Principal, cohort_id: uuid.UUID, org_id: uuid.UUID
) -> bool:
    """Idempotent: returns True when the organization was added, False if already a member."""
    try:
        return _add_member(session, principal, cohort_id, org_id)
    except Conflict:  # a concurrent request added it first: the state asked for holds
        session.rollback()
        if session.get(CohortMember, (cohort_id, org_id)) is None:
            raise
        return False


def _add_member(
    session: Session, principal: Principal, cohort_id: uuid.UUID, org_id: uuid.UUID
) -> bool:
    with write_transaction(session):
        get_cohort(session, principal, cohort_id)
        get_organization(session, principal, org_id)
        if session.get(CohortMember, (cohort_id, org_id)) is not None:
            return False
        session.add(CohortMember(cohort_id=cohort_id, organization_id=org_id, added_at=now()))
        audit(
            session, principal, "cohort.member.add", "cohort", cohort_id, {"organization": org_id}
        )
    return True


def remove_member(
    session: Session, principal: Principal, cohort_id: uuid.UUID, org_id: uuid.UUID
) -> None:
    with write_transaction(session):
        get_cohort(session, principal, cohort_id)
        get_organization(session, principal, org_id)
        member = session.get(CohortMember, (cohort_id, org_id))
        if member is None:
            raise NotFound(f"organization {org_id} is not a member of cohort {cohort_id}")
        session.delete(member)
        audit(
            session,
            principal,
            "cohort.member.remove",
            "cohort",
            cohort_id,
            {"organization": org_id},
        )
