"""The steps the assessment use cases (``assessments``) are made of. Each runs inside the caller's
write transaction and none opens one: answers turned into rows, changed answers merged and checked
again, the round's current assessment, a new draft row, and the status changes of submitting and
reopening (the score stored, the round handed between a revision and the assessment it replaces).

Only the assessment use cases call these; an import-linter contract keeps the imports of workbooks
and submissions on the one use case, ``assessments.import_answers``."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import date
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

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
from app.services.assessment_reads import answer_values
from app.services.assessment_records import AssessmentRecord, record_from
from app.services.assessment_scoring import write_score
from app.services.common import audit, etag, now
from app.services.instruments import version_id
from app.services.keys import Principal
from app.services.webhooks import emit_assessment

_ASSESSMENT = cast(Table, Assessment.__table__)
_INSERT_ASSESSMENT = insert(_ASSESSMENT)
_INSERT_ANSWER = insert(cast(Table, Answer.__table__))


def item_order(f: InstrumentFile) -> list[str]:
    return [i.key for d in f.instrument.dimensions for a in d.areas for i in a.items]


def answer_rows(f: InstrumentFile, parsed: ParsedAnswers) -> list[Answer]:
    return [Answer(**vars(x)) for x in stored_answers(item_order(f), parsed)]


def answer_map(a: AssessmentRecord) -> dict[str, AnswerValue]:
    """A record's answers as the engine reads them (``answers_of`` for a record)."""
    return answer_values(
        (x.item, x.value if isinstance(x.value, float) else None, x.value == "na")
        for x in a.answers
    )


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
    found: Assessment | None = session.scalar(
        _LATEST_OF_ROUND, _round(org_id, instrument_id, round_label)
    )
    return found


def round_taken(
    session: Session, org_id: uuid.UUID, instrument_id: str, round_label: str
) -> tuple[uuid.UUID, str] | None:
    """``current_for_round``'s id and status, in one Core query: no row loaded."""
    params = _round(org_id, instrument_id, round_label)
    found = session.connection().execute(_ROUND_TAKEN, params).first()
    return None if found is None else (found.id, found.status)


def _round(org_id: uuid.UUID, instrument_id: str, round_label: str) -> dict[str, Any]:
    return {"org": org_id, "instrument": instrument_id, "round": round_label}


_OF_ROUND = (
    Assessment.organization_id == bindparam("org"),
    Assessment.instrument_id == bindparam("instrument"),
    Assessment.round == bindparam("round"),
)
_LATEST_OF_ROUND = (
    select(Assessment).where(*_OF_ROUND).order_by(Assessment.revision.desc()).limit(1)
)
_ROUND_TAKEN = (
    select(Assessment.id, Assessment.status)
    .where(*_OF_ROUND)
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
) -> AssessmentRecord:
    """A new draft with its answers; a revision when it ``replaces`` a final assessment.

    Two inserts and no unit of work, and its record made of what was inserted (no read-back):
    the assessment's flush and the lazy load of its 45 answers were a fifth of a create."""
    ts = now()
    columns: dict[str, Any] = {
        "id": uuid.uuid4(),
        "workspace_id": principal.workspace_id,
        "organization_id": org_id,
        "instrument_version_id": version_id(session, f.instrument.id, f.instrument.version),
        "instrument_id": f.instrument.id,
        "instrument_version": f.instrument.version,
        "round": round_label,
        "assessed_on": assessed_on,
        "assessor": assessor,
        "retrospective": retrospective,
        **performance_columns(performance),
        "status": Status.draft.value,
        "revision": revision,
        "replaces_id": replaces,
        "is_current": replaces is None,
        "source": source,
        "source_sha256": source_sha256,
        "created_at": ts,
        "updated_at": ts,
        "submitted_at": None,
        "finalized_at": None,
        "row_version": 1,
    }
    conn = session.connection()
    conn.execute(_INSERT_ASSESSMENT, columns)
    rows = stored_answers(item_order(f), parsed)
    if rows:
        conn.execute(_INSERT_ANSWER, [{"assessment_id": columns["id"], **vars(x)} for x in rows])
    a = record_from(columns, ((x.item_key, x.value, x.is_na, x.note) for x in rows))
    if replaces is not None:
        emit_assessment(session, principal.workspace_id, a, "assessment.revised", replaces=replaces)
    return a


def record_submission(
    session: Session,
    principal: Principal,
    a: AssessmentRecord,
    result: Score,
    columns: Mapping[str, Any],
    *,
    scored: bool | None,
) -> AssessmentRecord:
    """The draft ``a`` becomes submitted with ``result``, its score, stored as ``columns``
    (``score_columns``' of it). ``scored``: whether a score is stored for it already (None: not
    known, looked up). Its row version is checked first: ``StaleDataError``, with nothing
    written, when the draft is no longer the one ``a`` was read from. Core statements only: the
    ORM row of ``a``, if the session holds one, is expired. Returns the submitted record."""
    ts = now()  # after the score's computed_at: a score is never stamped after its submission
    changed = session.connection().execute(
        _SUBMIT_REVISION if a.replaces_id is not None else _SUBMIT,
        {
            "assessment_id": a.id,
            "version": a.row_version,
            "new_version": a.row_version + 1,
            "ts": ts,
        },
    )
    if changed.rowcount != 1:
        raise StaleDataError("the assessment changed while it was being submitted")
    if a.replaces_id is not None:
        _hand_round_over(session, a.replaces_id, to_revision=True)
    write_score(session, a.id, columns, scored=scored)
    _expire(session, a.id)
    submitted = replace(
        a,
        status=Status.submitted.value,
        submitted_at=ts,
        updated_at=ts,
        row_version=a.row_version + 1,
        etag=etag(a.id, a.row_version + 1),
    )
    audit(
        session,
        principal,
        "assessment.submit",
        "assessment",
        a.id,
        {"overall": result.overall.score, "coverage": result.overall.coverage},
    )
    emit_assessment(
        session,
        principal.workspace_id,
        submitted,
        "assessment.submitted",
        overall=result.overall.score,
    )
    return submitted


# the draft's row version checked and moved on, as the ORM does with its version counter
_SUBMIT_VALUES = {
    "status": Status.submitted.value,
    "submitted_at": bindparam("ts"),
    "updated_at": bindparam("ts"),
    "row_version": bindparam("new_version"),
}
_SUBMIT = (
    update(_ASSESSMENT)
    .where(
        _ASSESSMENT.c.id == bindparam("assessment_id"),
        _ASSESSMENT.c.row_version == bindparam("version"),
    )
    .values(_SUBMIT_VALUES)
)
_SUBMIT_REVISION = _SUBMIT.values(is_current=True)


def _expire(session: Session, assessment_id: uuid.UUID) -> None:
    """A row written with Core statements is read again the next time the session needs it."""
    held = session.identity_map.get(Session.identity_key(Assessment, assessment_id))
    if held is not None:
        session.expire(held)


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
        _hand_round_over(session, a.replaces_id, to_revision=False)
        a.is_current = False
    a.status = Status.draft.value
    a.submitted_at = None
    a.updated_at = now()
    session.flush()
    audit(session, principal, "assessment.reopen", "assessment", a.id, None)


def _hand_round_over(session: Session, replaced_id: uuid.UUID, *, to_revision: bool) -> None:
    """Make the assessment a revision replaced the round's current one again (``to_revision``
    False) or not any more; the caller sets the revision's own flag."""
    session.execute(
        update(Assessment)
        .where(Assessment.id == replaced_id)
        .values(is_current=not to_revision)
        .execution_options(synchronize_session=False)
    )
