"""Assessments' lifecycle, the use cases that write: create a draft, change it, submit it (scored
and stored), finalize, reopen, revise a final one, and import a file's answers into its round.

Reads are in ``assessment_reads``; the path from answers to a stored score in
``assessment_scoring``."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.catalog import Catalog, InstrumentFile
from app.db.models import Answer, Assessment, AssessmentScore, Status
from app.db.session import write_transaction
from app.domain.answers import (
    AnswerProblem,
    AnswersInvalid,
    ParsedAnswers,
    RawAnswer,
    parse_answers,
)
from app.domain.errors import Conflict, Invalid, NotFound
from app.domain.scoring import NA, Score
from app.services.assessment_reads import (
    answers_of,
    assessment_etag,
    get_assessment,
    performance_of,
)
from app.services.assessment_scoring import compute, store_score
from app.services.common import (
    IdempotencyRequest,
    audit,
    check_assessed_on,
    check_if_match,
    idempotent_replay,
    now,
    remember,
)
from app.services.instruments import version_row
from app.services.keys import Principal
from app.services.organizations import get_organization
from app.services.webhooks import emit_assessment


@dataclass(frozen=True)
class AssessmentData:
    organization_id: uuid.UUID
    instrument_id: str
    instrument_version: str | None
    round: str
    assessed_on: date
    assessor: str | None = None
    retrospective: bool = False
    answers: Sequence[RawAnswer] = field(default_factory=tuple)
    # {"metric", "value", "higher_is_better"}: the performance metric measured (CBLD-9)
    performance: Mapping[str, Any] | None = None
    source: str = "api"
    source_sha256: str | None = None


def resolve_instrument(catalog: Catalog, instrument_id: str, version: str | None) -> InstrumentFile:
    """The pinned version (or the latest); unknown ones are invalid input, not a missing URL."""
    f = catalog.latest(instrument_id) if version is None else catalog.get(instrument_id, version)
    if f is None:
        known = catalog.versions(instrument_id)
        if not known:
            raise Invalid(
                f"unknown instrument '{instrument_id}'",
                errors=[{"pointer": "/instrument_id", "detail": "unknown instrument"}],
            )
        raise Invalid(
            f"instrument '{instrument_id}' has no version '{version}'; known: "
            + ", ".join(v.instrument.version for v in known),
            errors=[{"pointer": "/instrument_version", "detail": "unknown version"}],
        )
    return f


def _answer_rows(f: InstrumentFile, parsed: ParsedAnswers) -> list[Answer]:
    order = {k: i for i, k in enumerate(_item_order(f))}
    keys = sorted(set(parsed.values) | set(parsed.notes), key=order.__getitem__)
    rows = []
    for key in keys:
        value = parsed.values.get(key)
        rows.append(
            Answer(
                item_key=key,
                position=order[key],
                value=None if value is None or value is NA else float(value),  # type: ignore[arg-type]
                is_na=value is NA,
                note=parsed.notes.get(key),
            )
        )
    return rows


def _item_order(f: InstrumentFile) -> list[str]:
    return [i.key for d in f.instrument.dimensions for a in d.areas for i in a.items]


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


def create_assessment(
    session: Session,
    principal: Principal,
    catalog: Catalog,
    data: AssessmentData,
    idempotency: IdempotencyRequest | None = None,
) -> tuple[Assessment, bool]:
    """Create a draft with answers; every problem is reported at once and nothing is written."""
    f = resolve_instrument(catalog, data.instrument_id, data.instrument_version)
    parsed = parse_answers(f.instrument, data.answers)  # raises AnswersInvalid (422)
    round_label = check_round(data.round)
    check_assessed_on(data.assessed_on)
    with write_transaction(session):
        replay = idempotent_replay(session, principal, idempotency)
        if replay is not None:
            return get_assessment(session, principal, uuid.UUID(replay)), False
        try:
            org = get_organization(session, principal, data.organization_id)
        except NotFound:
            raise Invalid(
                f"organization {data.organization_id} does not exist",
                errors=[{"pointer": "/organization_id", "detail": "unknown organization"}],
            ) from None
        existing = current_for_round(session, org.id, f.instrument.id, round_label)
        if existing is not None:
            raise Conflict(
                f"organization already has a {f.instrument.id} assessment for round "
                f"'{round_label}' ({existing.id}, {existing.status}); update it, or create a "
                "revision of it if it is final",
                existing_id=str(existing.id),
            )
        a = new_assessment(session, principal, f, data, org.id, round_label, parsed, revision=1)
        remember(session, principal, idempotency, "assessment", a.id)
        audit(
            session,
            principal,
            "assessment.create",
            "assessment",
            a.id,
            {
                "organization": org.id,
                "instrument": f"{f.instrument.id} {f.instrument.version}",
                "round": round_label,
                "answers": len(parsed.values),
            },
        )
    return a, True


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
    data: AssessmentData,
    org_id: uuid.UUID,
    round_label: str,
    parsed: ParsedAnswers,
    *,
    revision: int,
    replaces: uuid.UUID | None = None,
) -> Assessment:
    ts = now()
    a = Assessment(
        workspace_id=principal.workspace_id,
        organization_id=org_id,
        instrument_version_id=version_row(session, f.instrument.id, f.instrument.version).id,
        instrument_id=f.instrument.id,
        instrument_version=f.instrument.version,
        round=round_label,
        assessed_on=data.assessed_on,
        assessor=data.assessor,
        retrospective=data.retrospective,
        **performance_columns(data.performance),
        status=Status.draft.value,
        revision=revision,
        replaces_id=replaces,
        is_current=replaces is None,
        source=data.source,
        source_sha256=data.source_sha256,
        created_at=ts,
        updated_at=ts,
    )
    a.answers = _answer_rows(f, parsed)
    session.add(a)
    session.flush()
    if replaces is not None:
        emit_assessment(session, a, "assessment.revised", replaces=replaces)
    return a


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


def update_assessment(
    session: Session,
    principal: Principal,
    catalog: Catalog,
    assessment_id: uuid.UUID,
    changes: dict[str, Any],
    answers: Sequence[RawAnswer] | None,
    if_match: str | None,
) -> Assessment:
    check_assessed_on(changes.get("assessed_on"))
    with write_transaction(session):
        a = get_assessment(session, principal, assessment_id)
        check_if_match(if_match, assessment_etag(a), required=True)
        if a.status != Status.draft:
            raise Conflict(
                f"assessment is {a.status}; only drafts change"
                + (
                    " — create a revision (POST /v1/assessments/{id}/revisions) to correct it"
                    if a.status == Status.final
                    else " — reopen it first (POST /v1/assessments/{id}/reopen)"
                ),
                status_now=a.status,
            )
        f = catalog.get(a.instrument_id, a.instrument_version)
        assert f is not None  # the catalog is checked against the database at start
        diff: dict[str, Any] = {}
        if answers is not None:
            parsed = merge_answers(f, a, answers)
            a.answers = _answer_rows(f, parsed)
            diff["answers"] = sorted({x.item for x in answers})
            # no longer what the uploaded file said: the same file uploaded again must apply
            a.source_sha256 = None
            a.source = "api"
        if "round" in changes and changes["round"] is not None:
            label = check_round(changes["round"])
            if label != a.round and a.replaces_id is not None:
                raise Conflict(
                    "a revision keeps the round of the assessment it corrects; "
                    "create a new assessment for another round"
                )
            if label != a.round:
                other = current_for_round(session, a.organization_id, a.instrument_id, label)
                if other is not None:
                    raise Conflict(f"round '{label}' already has assessment {other.id}")
                diff["round"] = {"from": a.round, "to": label}
                a.round = label
        for key in ("assessed_on", "assessor", "retrospective"):
            if key in changes and changes[key] != getattr(a, key):
                diff[key] = {"from": getattr(a, key), "to": changes[key]}
                setattr(a, key, changes[key])
        if "performance" in changes and changes["performance"] != performance_of(a):
            diff["performance"] = {"from": performance_of(a), "to": changes["performance"]}
            for column, value in performance_columns(changes["performance"]).items():
                setattr(a, column, value)
        if diff:
            a.updated_at = now()
            session.flush()
            audit(session, principal, "assessment.update", "assessment", a.id, diff)
    return a


def replace_answers(f: InstrumentFile, a: Assessment, parsed: ParsedAnswers) -> None:
    """Replace every answer of a draft with validated ones."""
    a.answers = _answer_rows(f, parsed)


def submit(
    session: Session,
    principal: Principal,
    catalog: Catalog,
    assessment_id: uuid.UUID,
    if_match: str | None = None,
) -> Assessment:
    """Check completeness (the overall score must be computable), score, and store the score."""
    with write_transaction(session):
        a = get_assessment(session, principal, assessment_id)
        check_if_match(if_match, assessment_etag(a), required=False)
        f = catalog.get(a.instrument_id, a.instrument_version)
        assert f is not None  # the catalog is checked against the database at start
        submit_in_transaction(session, principal, f, a)
    return a


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


def submit_in_transaction(
    session: Session, principal: Principal, f: InstrumentFile, a: Assessment
) -> Score:
    """Score a draft and store the score, inside the caller's write transaction."""
    if a.status != Status.draft:
        raise Conflict(f"assessment is already {a.status}", status_now=a.status)
    result = compute(f, a)
    if result.overall.score is None:
        answered = answers_of(a)
        missing = [k for k in _item_order(f) if k not in answered]
        reason = result.overall.reason
        raise Invalid(
            "the assessment is not complete enough to score: "
            + (reason.en if reason else "no score"),
            detail_es="la evaluación no está lo bastante completa para calcular un puntaje: "
            + (reason.es if reason else "sin puntaje"),
            errors=[
                {
                    "item": k,
                    "code": "missing",
                    "detail": "no answer (answer it or mark it N/A)",
                    "detail_es": "sin respuesta (respóndalo o márquelo «No aplica»)",
                }
                for k in missing
            ],
        )
    store_score(session, f, a, result)
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
    return result


def finalize(
    session: Session, principal: Principal, assessment_id: uuid.UUID, if_match: str | None = None
) -> Assessment:
    with write_transaction(session):
        a = get_assessment(session, principal, assessment_id)
        check_if_match(if_match, assessment_etag(a), required=False)
        if a.status != Status.submitted:
            raise Conflict(
                "only a submitted assessment can be finalized"
                + (" (submit it first)" if a.status == Status.draft else " (it is already final)"),
                status_now=a.status,
            )
        ts = now()
        a.status = Status.final.value
        a.finalized_at = ts
        a.updated_at = ts
        session.flush()
        audit(session, principal, "assessment.finalize", "assessment", a.id, None)
        emit_assessment(session, a, "assessment.finalized")
    return a


def reopen(
    session: Session, principal: Principal, assessment_id: uuid.UUID, if_match: str | None = None
) -> Assessment:
    """Submitted -> draft (the stored score is dropped until the next submit)."""
    with write_transaction(session):
        a = get_assessment(session, principal, assessment_id)
        check_if_match(if_match, assessment_etag(a), required=False)
        reopen_in_transaction(session, principal, a)
    return a


def reopen_in_transaction(session: Session, principal: Principal, a: Assessment) -> None:
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


def create_revision(
    session: Session,
    principal: Principal,
    catalog: Catalog,
    assessment_id: uuid.UUID,
    answers: Sequence[RawAnswer] | None,
    changes: dict[str, Any],
) -> Assessment:
    """A correction of a final assessment: a new draft revision linked to the one it replaces."""
    check_assessed_on(changes.get("assessed_on"))
    with write_transaction(session):
        old = get_assessment(session, principal, assessment_id)
        if old.status != Status.final:
            raise Conflict(
                "only final assessments take revisions; edit this one directly",
                status_now=old.status,
            )
        latest = current_for_round(session, old.organization_id, old.instrument_id, old.round)
        if latest is not None and latest.id != old.id:
            raise Conflict(
                f"assessment {old.id} was already revised by {latest.id}; revise the latest",
                latest_id=str(latest.id),
            )
        f = catalog.get(old.instrument_id, old.instrument_version)
        assert f is not None
        parsed = merge_answers(f, old, answers or ())
        data = AssessmentData(
            organization_id=old.organization_id,
            instrument_id=old.instrument_id,
            instrument_version=old.instrument_version,
            round=old.round,
            assessed_on=changes.get("assessed_on") or old.assessed_on,
            assessor=changes.get("assessor", old.assessor),
            retrospective=changes.get("retrospective", old.retrospective),
            performance=changes.get("performance", performance_of(old)),
            source=changes.get("source", "api"),
            source_sha256=changes.get("source_sha256"),
        )
        new = new_assessment(
            session,
            principal,
            f,
            data,
            old.organization_id,
            old.round,
            parsed,
            revision=old.revision + 1,
            replaces=old.id,
        )
        audit(
            session,
            principal,
            "assessment.revise",
            "assessment",
            new.id,
            {"replaces": old.id, "revision": new.revision},
        )
    return new
