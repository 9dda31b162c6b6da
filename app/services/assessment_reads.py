"""Reading assessments: one by id, a filtered page, answer counts, the stored score, and what the
rows say (answers as the engine reads them, the performance measured, the ETag, the revision that
replaced one). Nothing here writes."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Uuid, any_, bindparam, case, cast, exists, func, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

from app.db.driver import DriverQuery
from app.db.models import Answer, Assessment, AssessmentScore, CohortMember, VerifiedAnswer
from app.domain.errors import Conflict, NotFound
from app.domain.scoring import NA, AnswerValue
from app.services.common import etag, get_scoped, page_after
from app.services.keys import Principal
from app.services.scores import render_score


def get_assessment(session: Session, principal: Principal, assessment_id: uuid.UUID) -> Assessment:
    return get_scoped(session, principal, Assessment, assessment_id, "assessment")


def assessment_etag(a: Assessment) -> str:
    return etag(a.id, a.row_version)


def answers_of(a: Assessment) -> dict[str, AnswerValue]:
    return answer_values((x.item_key, x.value, x.is_na) for x in a.answers)


def answer_values(rows: Iterable[tuple[str, float | None, bool]]) -> dict[str, AnswerValue]:
    """Stored answer rows (item, value, is_na) as the engine reads them: N/A, a value, or absent."""
    out: dict[str, AnswerValue] = {}
    for key, value, is_na in rows:
        if is_na:
            out[key] = NA
        elif value is not None:
            out[key] = value
    return out


def among_ids(column: Any, ids: list[uuid.UUID], *, postgres: bool) -> Any:
    """``column IN ids``; on PostgreSQL one array parameter instead of one per id (thousands of
    ids in a national cohort), sent as the text of the array: psycopg writes a list of UUIDs
    element by element in Python (a str and a quoting check each, 3 µs an id; 16 ms of the
    5,436 ids of a national cohort's stored pairs).

    The parameter is untyped, so the server reads it as a ``uuid[]`` once, when it is bound.
    Typed as text, its cast to ``uuid[]`` stays an expression in the plan, which a sequential
    scan evaluates for every row it filters (3.5 s for 300 ids instead of 4 ms)."""
    if postgres:
        return _any_of(column, [i.hex for i in ids])
    return column.in_(ids)


def among_id_numbers(column: Any, ids: list[int], *, postgres: bool) -> Any:
    """``among_ids`` of ids given as their integers (``UUID.int``), none made a UUID on
    PostgreSQL."""
    if postgres:
        return _any_of(column, [f"{i:032x}" for i in ids])
    return column.in_([uuid.UUID(int=i) for i in ids])


def _any_of(column: Any, hexes: list[str]) -> Any:
    text = "{" + ",".join(hexes) + "}"
    return column == any_(cast(bindparam(None, text, NullType()), ARRAY(Uuid)))


def answers_of_many(
    session: Session, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, dict[str, AnswerValue]]:
    """The answers of many assessments, read in one query (values only; N/A as ``NA``)."""
    rows: dict[uuid.UUID, list[tuple[str, float | None, bool]]] = {i: [] for i in ids}
    if not ids:
        return {}
    if session.get_bind().dialect.name == "postgresql":
        # a row per assessment with its answers as arrays, and the ids as one array parameter:
        # thousands of assessments (a national cohort) were ~50 answer rows each to convert
        # and as many parameters to bind. (SQLite has no arrays: a row per answer there.)
        # The three aggregates of a group see its rows in one order (each row advances every
        # aggregate of the query before the next row is read); ordering them costs a sort.
        for a_id, keys, values, nas in session.execute(
            select(
                Answer.assessment_id,
                func.array_agg(Answer.item_key),
                func.array_agg(Answer.value),
                func.array_agg(Answer.is_na),
            )
            .where(among_ids(Answer.assessment_id, list(ids), postgres=True))
            .group_by(Answer.assessment_id)
        ):
            rows[a_id] = list(zip(keys, values, nas, strict=True))
        return {i: answer_values(r) for i, r in rows.items()}
    # SQLite: a row per assessment too, its answers as one JSON array ([[key, value, is_na]…]):
    # a row per answer cost ~15 µs each to convert (a UUID per row), 12× the JSON's parse. The
    # value travels as text with 17 significant digits ('%!.17g'), which gives back the very
    # float stored (SQLite's own JSON numbers keep 15).
    exact = case((Answer.value.is_(None), None), else_=func.printf("%!.17g", Answer.value))
    for a_id, packed in session.execute(
        select(
            Answer.assessment_id,
            func.json_group_array(func.json_array(Answer.item_key, exact, Answer.is_na)),
        )
        .where(Answer.assessment_id.in_(ids))
        .group_by(Answer.assessment_id)
    ):
        rows[a_id] = [
            (key, None if value is None else float(value), bool(is_na))
            for key, value, is_na in json.loads(packed)
        ]
    return {i: answer_values(r) for i, r in rows.items()}


def performance_of(a: Assessment) -> dict[str, Any] | None:
    """The performance metric measured at an assessment, or None."""
    return performance_from(
        a.performance_metric, a.performance_value, a.performance_higher_is_better
    )


def performance_from(
    metric: str | None, value: float | None, higher_is_better: bool | None
) -> dict[str, Any] | None:
    """``performance_of`` from the three columns."""
    if metric is None or value is None:
        return None
    return {"metric": metric, "value": value, "higher_is_better": higher_is_better is not False}


def replaced_by(session: Session, assessment_id: uuid.UUID) -> uuid.UUID | None:
    return session.scalar(select(Assessment.id).where(Assessment.replaces_id == assessment_id))


# straight to the driver: the hot read of scores (app.db.driver)
_SCORE_OF = DriverQuery(
    select(
        Assessment.workspace_id,
        Assessment.status,
        AssessmentScore.rendered,
        AssessmentScore.computed_at,
        exists()
        .where(VerifiedAnswer.assessment_id == Assessment.id)
        .correlate(Assessment)
        .label("verified"),
    )
    .outerjoin(AssessmentScore, AssessmentScore.assessment_id == Assessment.id)
    .where(Assessment.id == bindparam("assessment_id"))
)
_PAYLOAD_OF = select(AssessmentScore.payload).where(
    AssessmentScore.assessment_id == bindparam("assessment_id")
)


def get_scores(session: Session, principal: Principal, assessment_id: uuid.UUID) -> str:
    """The stored score object as JSON text (the hot read: one query, no re-serialization)."""
    return scores_of(session, principal, assessment_id)[0]


def scores_of(session: Session, principal: Principal, assessment_id: uuid.UUID) -> tuple[str, bool]:
    """``get_scores``, and whether some item of the assessment is verified, read in the same
    query (``services.verification`` adds its block then)."""
    row = _SCORE_OF.first(session.connection(), {"assessment_id": assessment_id})
    if row is None or row[0] != principal.workspace_id:
        raise NotFound(f"assessment {assessment_id} does not exist")
    _, status, rendered, computed_at, verified = row
    if computed_at is None:
        raise Conflict(
            f"assessment is {status} and has no stored score yet; submit it to score it",
            status_now=status,
        )
    if rendered is not None:
        return str(rendered), bool(verified)
    # Stored before the rendered column existed: rendered from the payload on each read.
    payload = session.execute(_PAYLOAD_OF, {"assessment_id": assessment_id}).scalar()
    if payload is None:  # reopened between the two statements
        raise Conflict(
            "the assessment was reopened and has no stored score now", status_now="draft"
        )
    return render_score(assessment_id, computed_at, payload), bool(verified)


@dataclass(frozen=True)
class AssessmentFilter:
    organization_id: uuid.UUID | None = None
    instrument_id: str | None = None
    round: str | None = None
    cohort_id: uuid.UUID | None = None
    status: str | None = None
    assessed_from: date | None = None
    assessed_to: date | None = None
    current_only: bool = False


def list_assessments(
    session: Session,
    principal: Principal,
    filters: AssessmentFilter,
    *,
    limit: int,
    cursor: str | None,
) -> tuple[list[Assessment], bool]:
    q = select(Assessment).where(Assessment.workspace_id == principal.workspace_id)
    if filters.organization_id:
        q = q.where(Assessment.organization_id == filters.organization_id)
    if filters.instrument_id:
        q = q.where(Assessment.instrument_id == filters.instrument_id)
    if filters.round:
        q = q.where(Assessment.round == filters.round)
    if filters.status:
        q = q.where(Assessment.status == filters.status)
    if filters.assessed_from:
        q = q.where(Assessment.assessed_on >= filters.assessed_from)
    if filters.assessed_to:
        q = q.where(Assessment.assessed_on <= filters.assessed_to)
    if filters.current_only:
        q = q.where(Assessment.is_current.is_(True))
    if filters.cohort_id:
        q = q.join(CohortMember, CohortMember.organization_id == Assessment.organization_id).where(
            CohortMember.cohort_id == filters.cohort_id
        )
    q = page_after(q, Assessment.created_at, Assessment.id, cursor, limit)
    rows = list(session.scalars(q))  # answers are not loaded: a list shows counts (answered_counts)
    return rows[:limit], len(rows) > limit


def answered_counts(session: Session, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """How many items each assessment answered (a value or N/A), counted in the database: a page
    of 100 assessments is one small aggregate, not 4,500 answer rows turned into objects."""
    if not ids:
        return {}
    answered = or_(Answer.is_na.is_(True), Answer.value.is_not(None))
    counts = session.execute(
        select(Answer.assessment_id, func.count())
        .where(Answer.assessment_id.in_(ids), answered)
        .group_by(Answer.assessment_id)
    )
    return {i: 0 for i in ids} | {a_id: n for a_id, n in counts}
