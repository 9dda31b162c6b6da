"""What the organization and assessment pages read: a page of organizations with their cohorts and
latest rounds, an organization's assessments by instrument and round, and an assessment with what
explains its score.

Read models only; scores come from what was stored at submit (the same JSON the API sends), so a
page and ``GET /v1/assessments/{id}/scores`` can never disagree.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.catalog import Catalog, InstrumentFile
from app.db.models import Assessment, AssessmentScore, Cohort, CohortMember
from app.domain.errors import Conflict, NotFound
from app.domain.score_object import ScoreObject
from app.domain.scoring import AnswerValue
from app.services.assessment_reads import answers_of, get_assessment, get_scores, replaced_by
from app.services.assessment_records import AssessmentRecord, record_of
from app.services.keys import Principal
from app.services.organizations import OrganizationView, list_organizations, read_organization


@dataclass(frozen=True)
class CohortRef:
    id: uuid.UUID
    name: str


@dataclass(frozen=True)
class RoundLine:
    """One assessment as a line of a list: enough to name it and link to it."""

    id: uuid.UUID
    instrument_id: str
    instrument_version: str
    round: str
    status: str
    assessed_on: date
    revision: int
    is_current: bool
    overall: float | None


@dataclass(frozen=True)
class OrgLine:
    org: OrganizationView
    cohorts: list[CohortRef]
    latest: list[RoundLine]  # the latest current round of each instrument


@dataclass(frozen=True)
class Profile:
    org: OrganizationView
    cohorts: list[CohortRef]
    assessments: list[RoundLine]  # every revision, by instrument then date

    @property
    def instruments(self) -> list[str]:
        """Instruments with a scored round, the one assessed last first."""
        scored = [a for a in self.assessments if a.is_current and a.overall is not None]
        scored.sort(key=lambda a: a.assessed_on, reverse=True)
        return list(dict.fromkeys(a.instrument_id for a in scored))


@dataclass(frozen=True)
class AssessmentView:
    """An assessment, its organization, instrument, answers and stored score (None before
    submit), for the page that explains the score."""

    assessment: AssessmentRecord
    org: OrganizationView
    file: InstrumentFile
    answers: dict[str, AnswerValue]
    notes: dict[str, str]
    score: ScoreObject | None
    replaced_by: uuid.UUID | None


_LINE = select(
    Assessment.id,
    Assessment.instrument_id,
    Assessment.instrument_version,
    Assessment.round,
    Assessment.status,
    Assessment.assessed_on,
    Assessment.revision,
    Assessment.is_current,
    AssessmentScore.overall,
).outerjoin(AssessmentScore, AssessmentScore.assessment_id == Assessment.id)


def _cohorts(session: Session, org_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[CohortRef]]:
    found: dict[uuid.UUID, list[CohortRef]] = {i: [] for i in org_ids}
    rows = session.execute(
        select(CohortMember.organization_id, Cohort.id, Cohort.name)
        .join(Cohort, Cohort.id == CohortMember.cohort_id)
        .where(CohortMember.organization_id.in_(org_ids))
        .order_by(Cohort.name)
    )
    for org_id, cohort_id, name in rows:
        found[org_id].append(CohortRef(cohort_id, name))
    return found


def directory(
    session: Session,
    principal: Principal,
    *,
    q: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[OrgLine], bool]:
    """A page of the workspace's organizations (the API's list and filter) with their cohorts
    and the latest current round of each instrument."""
    orgs, more = list_organizations(session, principal, limit=limit, cursor=cursor, q=q)
    ids = [o.id for o in orgs]
    if not ids:
        return [], more
    cohorts = _cohorts(session, ids)
    latest: dict[uuid.UUID, dict[str, RoundLine]] = {i: {} for i in ids}
    rows = session.execute(
        _LINE.add_columns(Assessment.organization_id)
        .where(
            Assessment.workspace_id == principal.workspace_id,
            Assessment.organization_id.in_(ids),
            Assessment.is_current.is_(True),
        )
        .order_by(Assessment.assessed_on.desc(), Assessment.created_at.desc())
    )
    for *line, org_id in rows:
        latest[org_id].setdefault(line[1], RoundLine(*line))
    return [OrgLine(o, cohorts[o.id], list(latest[o.id].values())) for o in orgs], more


def profile(session: Session, principal: Principal, org_id: uuid.UUID) -> Profile:
    """An organization with its cohorts and every assessment (all revisions) it has."""
    org = read_organization(session, principal, org_id)
    rows = session.execute(
        _LINE.where(
            Assessment.workspace_id == principal.workspace_id, Assessment.organization_id == org.id
        ).order_by(
            Assessment.instrument_id,
            Assessment.assessed_on,
            Assessment.round,
            Assessment.revision,
        )
    )
    return Profile(org, _cohorts(session, [org.id])[org.id], [RoundLine(*r) for r in rows])


def stored_score(
    session: Session, principal: Principal, assessment_id: uuid.UUID
) -> ScoreObject | None:
    """The score object exactly as the API sends it (rounded), or None while it has none."""
    try:
        return ScoreObject.model_validate_json(get_scores(session, principal, assessment_id))
    except Conflict:
        return None


def assessment_view(
    session: Session, principal: Principal, catalog: Catalog, assessment_id: uuid.UUID
) -> AssessmentView:
    """Everything the assessment page shows, from one tenant-checked read."""
    a = get_assessment(session, principal, assessment_id)
    f = catalog.get(a.instrument_id, a.instrument_version)
    if f is None:
        raise NotFound(f"instrument {a.instrument_id} {a.instrument_version} is not loaded")
    org = read_organization(session, principal, a.organization_id)
    notes = {x.item_key: x.note for x in a.answers if x.note}
    return AssessmentView(
        record_of(a),
        org,
        f,
        answers_of(a),
        notes,
        stored_score(session, principal, a.id),
        replaced_by(session, a.id),
    )
