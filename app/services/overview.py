"""What a workspace's home page shows: its size, cohorts, recent work and what needs attention."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db.models import Assessment, AuditEvent, Cohort, CohortMember, Organization, Status
from app.services.keys import Principal

RECENT = 10


@dataclass(frozen=True)
class CohortLine:
    id: uuid.UUID
    name: str
    members: int


@dataclass(frozen=True)
class AssessmentLine:
    id: uuid.UUID
    organization_id: uuid.UUID
    organization: str
    instrument_id: str
    instrument_version: str
    round: str
    status: str
    assessed_on: date
    updated_at: datetime


@dataclass(frozen=True)
class SingleRound:
    """An organization assessed once with an instrument: no comparison can be made yet."""

    organization_id: uuid.UUID
    organization: str
    instrument_id: str
    round: str


@dataclass(frozen=True)
class ImportLine:
    """A workbook imported lately: what it did to which assessment, who, when."""

    assessment_id: uuid.UUID
    organization: str
    round: str
    instrument_id: str
    action: str  # create, update or revise
    actor: str
    at: datetime


@dataclass(frozen=True)
class Overview:
    organizations: int
    assessments: int
    cohorts: list[CohortLine]
    recent: list[AssessmentLine]
    drafts: list[AssessmentLine]
    single_round: list[SingleRound]
    imports: list[ImportLine]


def _lines(session: Session, query: object) -> list[AssessmentLine]:
    rows = session.execute(query)  # type: ignore[call-overload]
    return [AssessmentLine(*row) for row in rows]


def overview(session: Session, principal: Principal) -> Overview:
    ws = principal.workspace_id
    organizations = session.scalar(
        select(func.count()).select_from(Organization).where(Organization.workspace_id == ws)
    )
    current = (Assessment.workspace_id == ws) & Assessment.is_current.is_(True)
    assessments = session.scalar(select(func.count()).select_from(Assessment).where(current))
    members = (
        select(CohortMember.cohort_id, func.count().label("n"))
        .group_by(CohortMember.cohort_id)
        .subquery()
    )
    cohorts = [
        CohortLine(cid, name, n or 0)
        for cid, name, n in session.execute(
            select(Cohort.id, Cohort.name, members.c.n)
            .outerjoin(members, members.c.cohort_id == Cohort.id)
            .where(Cohort.workspace_id == ws)
            .order_by(Cohort.name)
        )
    ]
    line = select(
        Assessment.id,
        Assessment.organization_id,
        Organization.name,
        Assessment.instrument_id,
        Assessment.instrument_version,
        Assessment.round,
        Assessment.status,
        Assessment.assessed_on,
        Assessment.updated_at,
    ).join(Organization, Organization.id == Assessment.organization_id)
    recent = _lines(
        session, line.where(current).order_by(Assessment.updated_at.desc()).limit(RECENT)
    )
    drafts = _lines(
        session,
        line.where(current, Assessment.status == Status.draft)
        .order_by(Assessment.updated_at.desc())
        .limit(RECENT),
    )
    rounds = (
        select(
            Assessment.organization_id,
            Assessment.instrument_id,
            func.count().label("n"),
            func.min(Assessment.round).label("round"),
        )
        .where(current)
        .group_by(Assessment.organization_id, Assessment.instrument_id)
        .subquery()
    )
    single = [
        SingleRound(oid, name, instrument, round_)
        for oid, name, instrument, round_ in session.execute(
            select(
                rounds.c.organization_id, Organization.name, rounds.c.instrument_id, rounds.c.round
            )
            .join(Organization, Organization.id == rounds.c.organization_id)
            .where(rounds.c.n == 1)
            .order_by(Organization.name)
            .limit(RECENT)
        )
    ]
    return Overview(
        organizations or 0, assessments or 0, cohorts, recent, drafts, single, _imports(session, ws)
    )


def _imports(session: Session, workspace_id: uuid.UUID) -> list[ImportLine]:
    """From the audit log, which records every import in the transaction that made it."""
    events = session.execute(
        select(AuditEvent.object_id, AuditEvent.action, AuditEvent.actor, AuditEvent.occurred_at)
        .where(AuditEvent.workspace_id == workspace_id, AuditEvent.action.in_(IMPORT_ACTIONS))
        .order_by(AuditEvent.id.desc())
        .limit(RECENT)
    ).all()
    ids = {uuid.UUID(object_id) for object_id, *_ in events if object_id}
    found = {
        aid: (org, rnd, instrument)
        for aid, org, rnd, instrument in session.execute(
            select(Assessment.id, Organization.name, Assessment.round, Assessment.instrument_id)
            .join(Organization, Organization.id == Assessment.organization_id)
            .where(Assessment.id.in_(ids), Assessment.workspace_id == workspace_id)
        )
    }
    lines = []
    for object_id, action, actor, at in events:
        known = found.get(uuid.UUID(object_id)) if object_id else None
        if known is not None:  # a deleted organization takes its assessments along
            lines.append(
                ImportLine(uuid.UUID(object_id), *known, action.rsplit(".", 1)[-1], actor, at)
            )
    return lines


IMPORT_ACTIONS = (
    "assessment.import.create",
    "assessment.import.update",
    "assessment.import.revise",
)
