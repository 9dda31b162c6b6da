"""Assessments' lifecycle, the use cases that write: create a draft, change it, submit it (scored
and stored), finalize, reopen, revise a final one, and import a file's answers into its round.

The steps these are made of are in ``assessment_steps``, reads in ``assessment_reads``, and the
path from answers to a stored score in ``assessment_scoring``."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.catalog import Catalog, InstrumentFile
from app.db.models import Status
from app.db.session import write_transaction
from app.domain.answers import ParsedAnswers, RawAnswer, parse_answers
from app.domain.errors import Conflict, Invalid
from app.domain.scoring import AnswerValue, Score
from app.services.assessment_reads import (
    assessment_etag,
    get_assessment,
    performance_of,
)
from app.services.assessment_records import AssessmentRecord, get_record, read_stored, record_of
from app.services.assessment_scoring import score_answers, score_columns
from app.services.assessment_steps import (
    answer_map,
    answer_rows,
    check_round,
    current_for_round,
    item_order,
    merge_answers,
    new_assessment,
    performance_columns,
    record_submission,
    reopen_submitted,
    round_taken,
)
from app.services.common import (
    IdempotencyRequest,
    audit,
    check_assessed_on,
    check_if_match,
    idempotent_replay,
    now,
    remember,
)
from app.services.instruments import resolve_instrument
from app.services.keys import Principal
from app.services.organizations import organization_exists
from app.services.round_pairs import store_pairs
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


def create_assessment(
    session: Session,
    principal: Principal,
    catalog: Catalog,
    data: AssessmentData,
    idempotency: IdempotencyRequest | None = None,
) -> tuple[AssessmentRecord, bool]:
    """Create a draft with answers; every problem is reported at once and nothing is written.
    The draft's record, and whether it was created (False: an Idempotency-Key replay)."""
    f = resolve_instrument(catalog, data.instrument_id, data.instrument_version)
    parsed = parse_answers(f.instrument, data.answers)  # raises AnswersInvalid (422)
    round_label = check_round(data.round)
    check_assessed_on(data.assessed_on)
    with write_transaction(session):
        replay = idempotent_replay(session, principal, idempotency)
        if replay is not None:
            return get_record(session, principal, uuid.UUID(replay)), False
        org_id = data.organization_id
        if not organization_exists(session, principal, org_id):
            raise Invalid(
                f"organization {org_id} does not exist",
                errors=[{"pointer": "/organization_id", "detail": "unknown organization"}],
            )
        existing = round_taken(session, org_id, f.instrument.id, round_label)
        if existing is not None:
            existing_id, existing_status = existing
            raise Conflict(
                f"organization already has a {f.instrument.id} assessment for round "
                f"'{round_label}' ({existing_id}, {existing_status}); update it, or create a "
                "revision of it if it is final",
                existing_id=str(existing_id),
            )
        a = new_assessment(
            session,
            principal,
            f,
            org_id,
            round_label,
            parsed,
            assessed_on=data.assessed_on,
            assessor=data.assessor,
            retrospective=data.retrospective,
            performance=data.performance,
            source=data.source,
            source_sha256=data.source_sha256,
            revision=1,
        )
        remember(session, principal, idempotency, "assessment", a.id)
        audit(
            session,
            principal,
            "assessment.create",
            "assessment",
            a.id,
            {
                "organization": org_id,
                "instrument": f"{f.instrument.id} {f.instrument.version}",
                "round": round_label,
                "answers": len(parsed.values),
            },
        )
    return a, True


def update_assessment(
    session: Session,
    principal: Principal,
    catalog: Catalog,
    assessment_id: uuid.UUID,
    changes: dict[str, Any],
    answers: Sequence[RawAnswer] | None,
    if_match: str | None,
) -> AssessmentRecord:
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
            a.answers = answer_rows(f, parsed)
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
    return record_of(a)


def submit(
    session: Session,
    principal: Principal,
    catalog: Catalog,
    assessment_id: uuid.UUID,
    if_match: str | None = None,
) -> AssessmentRecord:
    """Check completeness (the overall score must be computable), score, and store the score.

    The draft is read and scored before the write transaction, so that SQLite's one writer at a
    time waits for none of that: inside it, the submission is written only if the draft's row
    version has not moved since. If it has (a concurrent change), the submit is made again from
    the draft as it now is, inside the transaction, where no other writer comes between."""
    ready = _scored_draft(session, principal, catalog, assessment_id, if_match)
    with write_transaction(session):
        try:
            done = _record(session, principal, catalog, ready)
        except StaleDataError:  # raised before anything was written
            done = _record(
                session,
                principal,
                catalog,
                _scored_draft(session, principal, catalog, assessment_id, if_match),
            )
        return done


@dataclass(frozen=True, slots=True)
class _ScoredDraft:
    """A draft as read, with its score and the columns storing it."""

    record: AssessmentRecord
    scored: bool  # a score is stored for it already
    result: Score
    columns: dict[str, Any]


def _scored_draft(
    session: Session,
    principal: Principal,
    catalog: Catalog,
    assessment_id: uuid.UUID,
    if_match: str | None,
) -> _ScoredDraft:
    """The draft to submit, scored: NotFound, 412, 409 when it is not a draft, 422 when its
    overall score cannot be computed."""
    stored = read_stored(session, principal, assessment_id)
    a = stored.record
    check_if_match(if_match, a.etag, required=False)
    if a.status != Status.draft:
        raise Conflict(f"assessment is already {a.status}", status_now=a.status)
    f = catalog.get(a.instrument_id, a.instrument_version)
    assert f is not None  # the catalog is checked against the database at start
    answers = answer_map(a)
    result = score_answers(f, answers)
    if result.overall.score is None:
        raise _incomplete(f, result, answers)
    return _ScoredDraft(a, stored.scored, result, score_columns(f, a.id, result, answers))


def _record(
    session: Session, principal: Principal, catalog: Catalog, draft: _ScoredDraft
) -> AssessmentRecord:
    """The submission of ``draft`` written, with its pairs with the organization's other rounds;
    ``StaleDataError`` (nothing written) if the draft changed since it was read."""
    done = record_submission(
        session, principal, draft.record, draft.result, draft.columns, scored=draft.scored
    )
    store_pairs(session, catalog, done.id)
    return done


def _incomplete(f: InstrumentFile, result: Score, answered: Mapping[str, AnswerValue]) -> Invalid:
    """Why a draft cannot be submitted: no overall score, and the items with no answer."""
    missing = [k for k in item_order(f) if k not in answered]
    reason = result.overall.reason
    return Invalid(
        "the assessment is not complete enough to score: " + (reason.en if reason else "no score"),
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


def finalize(
    session: Session, principal: Principal, assessment_id: uuid.UUID, if_match: str | None = None
) -> AssessmentRecord:
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
        emit_assessment(session, a.workspace_id, a, "assessment.finalized")
    return record_of(a)


def reopen(
    session: Session, principal: Principal, assessment_id: uuid.UUID, if_match: str | None = None
) -> AssessmentRecord:
    """Submitted -> draft (the stored score is dropped until the next submit)."""
    with write_transaction(session):
        a = get_assessment(session, principal, assessment_id)
        check_if_match(if_match, assessment_etag(a), required=False)
        reopen_submitted(session, principal, a)
    return record_of(a)


def create_revision(
    session: Session,
    principal: Principal,
    catalog: Catalog,
    assessment_id: uuid.UUID,
    answers: Sequence[RawAnswer] | None,
    changes: dict[str, Any],
) -> AssessmentRecord:
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
        new = new_assessment(
            session,
            principal,
            f,
            old.organization_id,
            old.round,
            parsed,
            assessed_on=changes.get("assessed_on") or old.assessed_on,
            assessor=changes.get("assessor", old.assessor),
            retrospective=changes.get("retrospective", old.retrospective),
            performance=changes.get("performance", performance_of(old)),
            source=changes.get("source", "api"),
            source_sha256=changes.get("source_sha256"),
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


# --- answers from a file (a workbook, a field submission) --------------------------------------


@dataclass(frozen=True)
class ImportedAnswers:
    """A file's answers for one round of an organization, already read and checked."""

    organization_id: uuid.UUID
    round: str
    answers: ParsedAnswers
    assessed_on: date | None  # None: the round keeps its date (today for a new round)
    assessor: str | None
    source: str
    source_sha256: str
    new_organization: bool = False  # created in this transaction: it has no round yet


@dataclass(frozen=True)
class ImportedRound:
    """What importing answers did to the round: its assessment, how it changed, and its score
    (computed once, from the answers now stored; submitted when the overall is computable)."""

    assessment: AssessmentRecord
    change: Literal["created", "updated", "revised"]
    score: Score

    @property
    def submitted(self) -> bool:
        return self.score.overall.score is not None


class RoundOnAnotherVersion(Conflict):
    """The round already has an assessment on another version of the instrument."""

    def __init__(self, round_label: str, instrument_id: str, existing: str, offered: str) -> None:
        super().__init__(
            f"round '{round_label}' already has an assessment on {instrument_id} {existing}, "
            f"not {offered}"
        )
        self.round = round_label
        self.instrument_id = instrument_id
        self.existing_version = existing
        self.offered_version = offered


_IMPORT_ACTIONS = {
    "created": "assessment.import.create",
    "updated": "assessment.import.update",
    "revised": "assessment.import.revise",
}


def import_answers(
    session: Session, principal: Principal, f: InstrumentFile, data: ImportedAnswers
) -> ImportedRound:
    """Give a round a file's answers, inside the caller's write transaction: a new assessment
    when the round has none, a revision when its latest is final, otherwise its draft (or its
    submission, reopened) updated. Then scored once, and submitted when the score is computable.
    Raises ``RoundOnAnotherVersion`` when the round is on another version of the instrument."""
    round_label = check_round(data.round)
    existing = (
        None
        if data.new_organization
        else current_for_round(session, data.organization_id, f.instrument.id, round_label)
    )
    assessed_on = data.assessed_on or (existing.assessed_on if existing else date.today())
    if existing is not None and existing.instrument_version != f.instrument.version:
        raise RoundOnAnotherVersion(
            round_label, f.instrument.id, existing.instrument_version, f.instrument.version
        )
    change: Literal["created", "updated", "revised"]
    if existing is None or existing.status == Status.final:
        a = new_assessment(
            session,
            principal,
            f,
            data.organization_id,
            round_label,
            data.answers,
            assessed_on=assessed_on,
            assessor=data.assessor,
            source=data.source,
            source_sha256=data.source_sha256,
            revision=1 if existing is None else existing.revision + 1,
            replaces=None if existing is None else existing.id,
        )
        change = "created" if existing is None else "revised"
        scored: bool | None = False
    else:
        scored = None
        if existing.status == Status.submitted:
            reopen_submitted(session, principal, existing)
        existing.answers = answer_rows(f, data.answers)
        existing.assessed_on = assessed_on
        existing.assessor = data.assessor
        existing.source = data.source
        existing.source_sha256 = data.source_sha256
        existing.updated_at = now()
        session.flush()
        a = record_of(existing)
        change = "updated"
    audit(
        session,
        principal,
        _IMPORT_ACTIONS[change],
        "assessment",
        a.id,
        {
            "file_sha256": data.source_sha256,
            "answers": len(data.answers.values),
            "round": round_label,
        },
    )
    answers = answer_map(a)
    result = score_answers(f, answers)
    if result.overall.score is not None:
        columns = score_columns(f, a.id, result, answers)
        a = record_submission(session, principal, a, result, columns, scored=scored)
    return ImportedRound(a, change, result)
