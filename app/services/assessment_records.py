"""Assessments as the API and the pages read them: typed, frozen records made from the rows in
one place, so that no caller above the services handles a row."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, cast

from sqlalchemy import Table, bindparam, exists, select
from sqlalchemy.orm import Session

from app.db.models import Answer, Assessment, AssessmentScore
from app.domain.errors import NotFound
from app.services import assessment_reads as reads
from app.services.common import aware, etag
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
    replaced it and its evidence per item. Its moments carry their time zone (UTC), on SQLite
    too, so the record serializes as ``AssessmentRead`` does."""

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
    row_version: int  # what the ETag is made of; a write checks it has not changed
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
        row_version=a.row_version,
        created_at=aware(a.created_at),
        updated_at=aware(a.updated_at),
        submitted_at=_aware(a.submitted_at),
        finalized_at=_aware(a.finalized_at),
    )


def _aware(moment: datetime | None) -> datetime | None:
    return None if moment is None else aware(moment)


def record_from(
    columns: Mapping[str, Any], answers: Iterable[tuple[str, float | None, bool, str | None]]
) -> AssessmentRecord:
    """The record of an assessment from its columns (as inserted, or as read by ``read_stored``)
    and its answer rows (item, value, is_na, note) in the instrument's order: for the write
    path, which works without the ORM's unit of work."""
    c = columns
    return AssessmentRecord(
        id=c["id"],
        organization_id=c["organization_id"],
        instrument_id=c["instrument_id"],
        instrument_version=c["instrument_version"],
        round=c["round"],
        assessed_on=c["assessed_on"],
        assessor=c["assessor"],
        retrospective=c["retrospective"],
        status=c["status"],
        revision=c["revision"],
        replaces_id=c["replaces_id"],
        replaced_by_id=None,
        source=c["source"],
        performance=reads.performance_from(
            c["performance_metric"], c["performance_value"], c["performance_higher_is_better"]
        ),
        answers=tuple(
            AnswerRecord(item, "na" if is_na else value, note)
            for item, value, is_na, note in answers
        ),
        evidence=None,
        etag=etag(c["id"], c["row_version"]),
        row_version=c["row_version"],
        created_at=aware(c["created_at"]),
        updated_at=aware(c["updated_at"]),
        submitted_at=_aware(c["submitted_at"]),
        finalized_at=_aware(c["finalized_at"]),
    )


_ASSESSMENT = cast(Table, Assessment.__table__)
_STORED = select(
    _ASSESSMENT,
    exists()
    .where(AssessmentScore.assessment_id == _ASSESSMENT.c.id)
    .correlate(_ASSESSMENT)
    .label("scored"),
).where(_ASSESSMENT.c.id == bindparam("id"))
_ANSWERS = (
    select(Answer.item_key, Answer.value, Answer.is_na, Answer.note)
    .where(Answer.assessment_id == bindparam("id"))
    .order_by(Answer.position)
)


@dataclass(frozen=True, slots=True)
class Stored:
    """An assessment as the write path reads it: its record, its workspace and whether a score
    is stored for it."""

    record: AssessmentRecord
    workspace_id: uuid.UUID
    is_current: bool
    scored: bool


def read_stored(session: Session, principal: Principal, assessment_id: uuid.UUID) -> Stored:
    """An assessment of the caller's workspace with its answers, in two indexed queries and no
    ORM object; NotFound otherwise."""
    conn = session.connection()
    row = conn.execute(_STORED, {"id": assessment_id}).first()
    if row is None or row.workspace_id != principal.workspace_id:
        raise NotFound(f"assessment {assessment_id} does not exist")
    answers = conn.execute(_ANSWERS, {"id": assessment_id})
    return Stored(
        record_from(dict(row._mapping), answers),
        row.workspace_id,
        row.is_current,
        row.scored,
    )


def get_record(
    session: Session, principal: Principal, assessment_id: uuid.UUID
) -> AssessmentRecord:
    """An assessment of the caller's workspace with its answers (no evidence, no later
    revision); NotFound otherwise."""
    return read_stored(session, principal, assessment_id).record


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
