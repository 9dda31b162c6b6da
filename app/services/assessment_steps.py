"""The steps the assessment use cases (``assessments``) are made of. Each runs inside the caller's
write transaction and none opens one: answers turned into rows, changed answers merged and checked
again, the round's current assessment, a new draft row, and the status changes of submitting and
reopening (the score stored, the round handed between a revision and the assessment it replaces).

Only the assessment use cases call these; an import-linter contract keeps the imports of workbooks
and submissions on the one use case, ``assessments.import_answers``."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session

from app.catalog import InstrumentFile
from app.db.models import Answer, Assessment, AssessmentScore, Status
from app.domain.answers import (
    AnswerProblem,
    AnswersInvalid,
    ParsedAnswers,
    RawAnswer,
    parse_answers,
    stored_answers,
)
from app.domain.errors import Conflict, Invalid
from app.domain.scoring import AnswerValue, Score
from app.services.assessment_scoring import store_score
from app.services.common import audit, now
from app.services.instruments import version_row
from app.services.keys import Principal
from app.services.webhooks import emit_assessment

_ANSWER = cast(Table, Answer.__table__)


def item_order(f: InstrumentFile) -> list[str]:
    return [i.key for d in f.instrument.dimensions for a in d.areas for i in a.items]


def answer_rows(f: InstrumentFile, parsed: ParsedAnswers) -> list[Answer]:
    return [Answer(**vars(x)) for x in stored_answers(item_order(f), parsed)]


def merge_answers(
    f: InstrumentFile, current: Assessment, changes: Iterable[RawAnswer]
) -> ParsedAnswers:
    """Apply changed answers (a blank value with no note removes an answer) and revalidate."""
    merged: dict[str, RawAnswer] = {
        x.item_key: RawAnswer(x.item_key, "na" if x.is_na else x.value, x.note)
        for x in current.answers
    }
    seen: set[str] = set()
    problems: list[AnswerProblem] = []
    for index, change in enumerate(changes):
        if change.item in seen:
            problems.append(
                AnswerProblem(
                    change.item,
                    "duplicate_item",
                    f"item '{change.item}' is answered more than once",
                    f"el ítem '{change.item}' tiene más de una respuesta",
                    index=index,
                )
            )
        seen.add(change.item)
        merged[change.item] = change
    if problems:
        raise AnswersInvalid(problems)
    return parse_answers(f.instrument, merged.values())


def check_round(round_label: str) -> str:
    label = round_label.strip()
    if not label or len(label) > 64:
        raise Invalid("round must be 1 to 64 characters", errors=[{"pointer": "/round"}])
    return label


def current_for_round(
    session: Session, org_id: uuid.UUID, instrument_id: str, round_label: str
) -> Assessment | None:
    return session.scalar(
        select(Assessment)
        .where(
            Assessment.organization_id == org_id,
            Assessment.instrument_id == instrument_id,
            Assessment.round == round_label,
        )
        .order_by(Assessment.revision.desc())
        .limit(1)
    )


def performance_columns(performance: Mapping[str, Any] | None) -> dict[str, Any]:
    """The assessment's performance columns for a measurement (or none: all null)."""
    p = performance or {}
    return {
        "performance_metric": p.get("metric"),
        "performance_value": p.get("value"),
        "performance_higher_is_better": p.get("higher_is_better") if p else None,
    }


def new_assessment(
    session: Session,
    principal: Principal,
    f: InstrumentFile,
    org_id: uuid.UUID,
    round_label: str,
    parsed: ParsedAnswers,
    *,
    assessed_on: date,
    assessor: str | None,
    retrospective: bool = False,
    performance: Mapping[str, Any] | None = None,
    source: str,
    source_sha256: str | None,
    revision: int,
    replaces: uuid.UUID | None = None,
) -> Assessment:
    """A new draft with its answers; a revision when it ``replaces`` a final assessment."""
    ts = now()
    a = Assessment(
        workspace_id=principal.workspace_id,
        organization_id=org_id,
        instrument_version_id=version_row(session, f.instrument.id, f.instrument.version).id,
        instrument_id=f.instrument.id,
        instrument_version=f.instrument.version,
        round=round_label,
        assessed_on=assessed_on,
        assessor=assessor,
        retrospective=retrospective,
        **performance_columns(performance),
        status=Status.draft.value,
        revision=revision,
        replaces_id=replaces,
        is_current=replaces is None,
        source=source,
        source_sha256=source_sha256,
        created_at=ts,
        updated_at=ts,
    )
    session.add(a)
    session.flush()
    # The answers in one statement, not one unit-of-work object each (the flush of 45 answer
    # objects was a tenth of a create + submit); ``a.answers`` loads them when it is first read.
    rows = stored_answers(item_order(f), parsed)
    if rows:
        session.connection().execute(
            insert(_ANSWER), [{"assessment_id": a.id, **vars(x)} for x in rows]
        )
    if replaces is not None:
        emit_assessment(session, a, "assessment.revised", replaces=replaces)
    return a


def record_submission(
    session: Session,
    principal: Principal,
    f: InstrumentFile,
    a: Assessment,
    result: Score,
    inserted: Mapping[str, AnswerValue] | None = None,
) -> None:
    """A draft becomes submitted with ``result``, its score (computable), stored. ``inserted``:
    the answers of an assessment inserted in this transaction (it has no stored score yet)."""
    store_score(session, f, a, result, inserted, new=inserted is not None)
    ts = now()
    a.status = Status.submitted.value
    a.submitted_at = ts
    a.updated_at = ts
    if a.replaces_id is not None:
        _hand_round_over(session, a.replaces_id, a, to_revision=True)
    session.flush()
    audit(
        session,
        principal,
        "assessment.submit",
        "assessment",
        a.id,
        {"overall": result.overall.score, "coverage": result.overall.coverage},
    )
    emit_assessment(session, a, "assessment.submitted", overall=result.overall.score)


def reopen_submitted(session: Session, principal: Principal, a: Assessment) -> None:
    if a.status != Status.submitted:
        raise Conflict(
            "only a submitted assessment can be reopened"
            + (" — final ones take a revision" if a.status == Status.final else ""),
            status_now=a.status,
        )
    row = session.get(AssessmentScore, a.id)
    if row is not None:
        session.delete(row)
    if a.replaces_id is not None:
        # the revision it replaced is the round's scored assessment again until this one is
        _hand_round_over(session, a.replaces_id, a, to_revision=False)
    a.status = Status.draft.value
    a.submitted_at = None
    a.updated_at = now()
    session.flush()
    audit(session, principal, "assessment.reopen", "assessment", a.id, None)


def _hand_round_over(
    session: Session, replaced_id: uuid.UUID, revision: Assessment, *, to_revision: bool
) -> None:
    """Which of a revision and the assessment it replaces is the round's current one."""
    session.execute(
        update(Assessment)
        .where(Assessment.id == replaced_id)
        .values(is_current=not to_revision)
        .execution_options(synchronize_session=False)
    )
    revision.is_current = to_revision
