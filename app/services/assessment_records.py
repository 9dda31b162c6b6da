"""Assessments as the API and the pages read them: typed, frozen records made from the rows in
one place, so that no caller above the services handles a row."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy.orm import Session

from app.db.models import Assessment, AssessmentScore
from app.services import assessment_reads as reads
from app.services.evidence import ItemEvidence, item_counts
from app.services.keys import Principal


@dataclass(frozen=True, slots=True)
class AnswerRecord:
    item: str
    value: float | Literal["na"] | None
    note: str | None


@dataclass(frozen=True, slots=True)
class AssessmentRecord:
    """One assessment with its answers, its ETag and, when read on its own, the revision that
    replaced it and its evidence per item."""

    id: uuid.UUID
    organization_id: uuid.UUID
    instrument_id: str
    instrument_version: str
    round: str
    assessed_on: date
    assessor: str | None
    retrospective: bool
    status: str
    revision: int
    replaces_id: uuid.UUID | None
    replaced_by_id: uuid.UUID | None
    source: str
    performance: dict[str, Any] | None
    answers: tuple[AnswerRecord, ...]
    evidence: list[ItemEvidence] | None
    etag: str
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    finalized_at: datetime | None


def record_of(
    a: Assessment,
    replaced_by: uuid.UUID | None = None,
    evidence: list[ItemEvidence] | None = None,
) -> AssessmentRecord:
    """The record of an assessment row a use case just read or wrote."""
    return AssessmentRecord(
        id=a.id,
        organization_id=a.organization_id,
        instrument_id=a.instrument_id,
        instrument_version=a.instrument_version,
        round=a.round,
        assessed_on=a.assessed_on,
        assessor=a.assessor,
        retrospective=a.retrospective,
        status=a.status,
        revision=a.revision,
        replaces_id=a.replaces_id,
        replaced_by_id=replaced_by,
        source=a.source,
        performance=reads.performance_of(a),
        answers=tuple(
            AnswerRecord(x.item_key, "na" if x.is_na else x.value, x.note) for x in a.answers
        ),
        evidence=evidence,
        etag=reads.assessment_etag(a),
        created_at=a.created_at,
        updated_at=a.updated_at,
        submitted_at=a.submitted_at,
        finalized_at=a.finalized_at,
    )


def get_record(
    session: Session, principal: Principal, assessment_id: uuid.UUID
) -> AssessmentRecord:
    """An assessment of the caller's workspace with its answers (no evidence, no later
    revision); NotFound otherwise."""
    return record_of(reads.get_assessment(session, principal, assessment_id))


def stored_overall(session: Session, assessment_id: uuid.UUID) -> float | None:
    """The overall score stored at submit, or None while the assessment has none."""
    stored = session.get(AssessmentScore, assessment_id)
    return stored.overall if stored else None


def read_assessment(
    session: Session, principal: Principal, assessment_id: uuid.UUID
) -> AssessmentRecord:
    """An assessment of the caller's workspace with the revision that replaced it and its
    evidence per item; NotFound otherwise."""
    a = reads.get_assessment(session, principal, assessment_id)
    return record_of(a, reads.replaced_by(session, a.id), item_counts(session, a))


@dataclass(frozen=True, slots=True)
class AssessmentLine:
    """An assessment as a line of a list: no answers, how many items it answered."""

    id: uuid.UUID
    organization_id: uuid.UUID
    instrument_id: str
    instrument_version: str
    round: str
    assessed_on: date
    status: str
    revision: int
    is_current: bool
    answered: int
    created_at: datetime


def list_assessments(
    session: Session,
    principal: Principal,
    filters: reads.AssessmentFilter,
    *,
    limit: int,
    cursor: str | None,
) -> tuple[list[AssessmentLine], bool]:
    """A page of the workspace's assessments that pass ``filters``, and whether more follow."""
    rows, more = reads.list_assessments(session, principal, filters, limit=limit, cursor=cursor)
    answered = reads.answered_counts(session, [a.id for a in rows])
    lines = [
        AssessmentLine(
            id=a.id,
            organization_id=a.organization_id,
            instrument_id=a.instrument_id,
            instrument_version=a.instrument_version,
            round=a.round,
            assessed_on=a.assessed_on,
            status=a.status,
            revision=a.revision,
            is_current=a.is_current,
            answered=answered[a.id],
            created_at=a.created_at,
        )
        for a in rows
    ]
    return lines, more
