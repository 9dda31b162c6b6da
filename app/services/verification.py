"""Verification, OPI style (issue 12): the assessment's answers are the self-assessment; a
verifier reviews each item's evidence and records the verified value beside the answer, with a
note of what was reviewed, who and when.

Both scores come from the one engine: the self-score from the answers, the verified score from
the answers with each verified item's value in their place (an item not verified yet keeps its
self-score, so the gap shows only what verification changed; ``coverage`` says how much was
checked). The gap is self − verified. Without a verified item nothing changes anywhere: the
stored score and ``/scores`` stay exactly as they were. docs/raters.md.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.catalog import Catalog, InstrumentFile
from app.db.models import Assessment, Status, VerifiedAnswer
from app.db.session import write_transaction
from app.domain.answers import RawAnswer, parse_answers
from app.domain.errors import Conflict, Forbidden
from app.domain.scoring import NA, AnswerValue, Score
from app.services.assessment_reads import answer_values, answers_of, get_assessment, scores_of
from app.services.assessment_scoring import score_answers
from app.services.common import audit, now
from app.services.instruments import resolve_instrument
from app.services.keys import Principal
from app.services.rating_models import (
    DimensionPair,
    ScorePair,
    VerificationRead,
    VerificationScores,
    VerifiedRead,
)
from app.services.scores import as_json

EXPLAINED_EN = (
    "The verified score is the same scoring of the answers, with each verified item's value in "
    "place of the self-assessed one (items not verified keep their self-score). Gap = self − "
    "verified: above zero, the self-assessment was higher than the evidence showed."
)
EXPLAINED_ES = (
    "El puntaje verificado es el mismo cálculo de las respuestas, con el valor verificado de "
    "cada ítem en lugar del autoevaluado (los ítems sin verificar conservan su autoevaluación). "
    "Brecha = autoevaluación − verificado: mayor que cero, la autoevaluación fue más alta de lo "
    "que mostró la evidencia."
)


def _shown(value: AnswerValue | None) -> float | str | None:
    return "na" if value is NA else (None if value is None else float(value))  # type: ignore[arg-type]


def _rows(session: Session, assessment_id: uuid.UUID) -> list[VerifiedAnswer]:
    return list(
        session.scalars(
            select(VerifiedAnswer)
            .where(VerifiedAnswer.assessment_id == assessment_id)
            .order_by(VerifiedAnswer.position)
        )
    )


def _values(rows: Sequence[VerifiedAnswer]) -> dict[str, AnswerValue]:
    return answer_values((r.item_key, r.value, r.is_na) for r in rows)


def _gap(self_score: float | None, verified: float | None) -> float | None:
    return None if self_score is None or verified is None else self_score - verified


def _pair(key: str | None, s: float | None, v: float | None) -> ScorePair:
    return ScorePair(key=key, self=s, verified=v, gap=_gap(s, v))


def compare(
    f: InstrumentFile, answers: Mapping[str, AnswerValue], verified: Mapping[str, AnswerValue]
) -> VerificationScores:
    """The self-score and the verified score of ``answers``, per dimension, area and overall."""
    own: Score = score_answers(f, answers)
    checked: Score = score_answers(f, {**answers, **verified})
    dimensions = []
    for d_self, d_ver in zip(own.dimensions, checked.dimensions, strict=True):
        areas = [
            _pair(x.key, x.score, y.score) for x, y in zip(d_self.areas, d_ver.areas, strict=True)
        ]
        pair = _pair(d_self.key, d_self.score, d_ver.score)
        dimensions.append(DimensionPair(**pair.model_dump(), areas=areas))
    total = len(f.instrument.items)
    return VerificationScores(
        items_verified=len(verified),
        items_changed=sum(1 for k, v in verified.items() if answers.get(k) != v),
        items_total=total,
        coverage=len(verified) / total if total else 0.0,
        overall=_pair(None, own.overall.score, checked.overall.score),
        dimensions=dimensions,
        en=EXPLAINED_EN,
        es=EXPLAINED_ES,
    )


def _read(f: InstrumentFile, a: Assessment, rows: Sequence[VerifiedAnswer]) -> VerificationRead:
    answers = answers_of(a)
    verified = _values(rows)
    items = [
        VerifiedRead(
            item=r.item_key,
            self=_shown(answers.get(r.item_key)),
            verified=_shown(verified[r.item_key]),
            note=r.note,
            verified_by=r.verified_by,
            verified_at=r.verified_at,
        )
        for r in rows
    ]
    return VerificationRead(
        assessment_id=a.id,
        status=a.status,
        items=items,
        scores=compare(f, answers, verified) if rows else None,
    )


def verification(
    session: Session, principal: Principal, catalog: Catalog, assessment_id: uuid.UUID
) -> VerificationRead:
    """The verified items beside their answers, and the two scores with their gap."""
    a = get_assessment(session, principal, assessment_id)
    f = resolve_instrument(catalog, a.instrument_id, a.instrument_version)
    return _read(f, a, _rows(session, a.id))


def record(
    session: Session,
    principal: Principal,
    catalog: Catalog,
    assessment_id: uuid.UUID,
    given: Sequence[RawAnswer],
) -> VerificationRead:
    """Set the verified value of each item given (a scale value or N/A, with a note of the
    evidence reviewed); a blank value clears the item's verification. Checked by the answers'
    own rule, every problem listed at once, nothing written; refused on a final assessment."""
    if not principal.can_write:
        raise Forbidden("verifying needs an editor or admin")
    with write_transaction(session):
        a = get_assessment(session, principal, assessment_id)
        if a.status == Status.final:
            raise Conflict(
                "assessment is final (locked); verify a revision of it", status_now=a.status
            )
        f = resolve_instrument(catalog, a.instrument_id, a.instrument_version)
        parsed = parse_answers(f.instrument, given)  # raises AnswersInvalid (422)
        order = {k: i for i, k in enumerate(f.instrument.items)}
        stored = {r.item_key: r for r in _rows(session, a.id)}
        moment = now()
        changes: dict[str, list[str]] = {"set": [], "cleared": []}
        for key in dict.fromkeys(x.item for x in given):
            value = parsed.values.get(key)
            row = stored.pop(key, None)
            if value is None:
                if row is not None:
                    session.delete(row)
                    changes["cleared"].append(key)
                continue
            if row is None:
                row = VerifiedAnswer(assessment_id=a.id, item_key=key, position=order[key])
                session.add(row)
            row.value = None if value is NA else float(value)  # type: ignore[arg-type]
            row.is_na = value is NA
            row.note = parsed.notes.get(key)
            row.verified_by = principal.actor[:120]
            row.verified_at = moment
            changes["set"].append(key)
        audit(session, principal, "assessment.verify", "assessment", a.id, changes)
        session.flush()
        return _read(f, a, _rows(session, a.id))


def clear(session: Session, principal: Principal, assessment_id: uuid.UUID) -> None:
    """Remove every verified value of an assessment (refused on a final one)."""
    if not principal.can_write:
        raise Forbidden("verifying needs an editor or admin")
    with write_transaction(session):
        a = get_assessment(session, principal, assessment_id)
        if a.status == Status.final:
            raise Conflict("assessment is final (locked)", status_now=a.status)
        rows = _rows(session, a.id)
        for row in rows:
            session.delete(row)
        if rows:
            cleared = [r.item_key for r in rows]
            audit(session, principal, "assessment.verify", "assessment", a.id, {"cleared": cleared})


def scores_with_verification(
    session: Session, principal: Principal, catalog: Catalog, assessment_id: uuid.UUID
) -> str:
    """The stored score object, sent as stored; with a ``verification`` block beside it when
    some item is verified (the stored score itself never changes)."""
    body, verified = scores_of(session, principal, assessment_id)
    if not verified:
        return body
    block = verification(session, principal, catalog, assessment_id).scores
    found: dict[str, Any] = orjson.loads(body)
    found["verification"] = block.model_dump() if block is not None else None
    return as_json(found)
