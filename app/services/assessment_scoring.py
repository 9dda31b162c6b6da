"""Scoring assessments: the one path from stored answers to a score, storing it beside the
assessment, and scoring every stored score again (``oca rescore``)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import orjson
from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from app.catalog import Catalog, InstrumentFile
from app.db.models import Assessment, AssessmentScore
from app.db.session import write_transaction
from app.domain.scoring import AnswerValue, Score, score
from app.services.assessment_reads import answers_of
from app.services.common import now
from app.services.metrics import timed_scoring
from app.services.scores import (
    ANSWERED,
    ENGINE_VERSION,
    render_score,
    score_payload,
    score_summary,
)


def compute(f: InstrumentFile, a: Assessment) -> Score:
    """The single path from stored answers to a score."""
    return score_answers(f, answers_of(a))


def score_answers(f: InstrumentFile, answers: Mapping[str, AnswerValue]) -> Score:
    """``compute`` for answers already read (``answer_values``), e.g. many at once."""
    with timed_scoring():
        return score(f.compiled, answers)


def score_columns(
    f: InstrumentFile,
    assessment_id: uuid.UUID,
    result: Score,
    answers: Mapping[str, AnswerValue],
) -> dict[str, Any]:
    """The stored score's columns for ``result``, the score of ``answers``: what ``store_score``
    writes at submit and ``refresh_stale_scores`` writes in bulk, made by this one function."""
    payload = score_payload(result, f.instrument)
    ts = now()
    return {
        "computed_at": ts,
        "overall": result.overall.score,
        "summary": score_summary(result, answers),
        "payload": payload,
        "rendered": render_score(assessment_id, ts, payload),
        "engine_version": ENGINE_VERSION,
    }


def store_score(
    session: Session,
    f: InstrumentFile,
    a: Assessment,
    result: Score,
    answers: Mapping[str, AnswerValue] | None = None,
    *,
    new: bool = False,
) -> None:
    """Store ``result``, the score of ``answers`` (the assessment's own when not given), with the
    digest of the items answered in its summary. ``new``: ``a`` was inserted in this
    transaction, so it has no stored score to look for."""
    row = None if new else session.get(AssessmentScore, a.id)
    columns = score_columns(f, a.id, result, answers_of(a) if answers is None else answers)
    if row is None:
        session.add(AssessmentScore(assessment_id=a.id, **columns))
    else:
        for name, value in columns.items():
            setattr(row, name, value)


def write_score(
    session: Session,
    assessment_id: uuid.UUID,
    columns: Mapping[str, Any],
    *,
    scored: bool | None,
) -> None:
    """``store_score`` in one Core statement, for the submit path: ``columns`` are
    ``score_columns``' (made before, outside the write lock when the caller can), and ``scored``
    says whether a score is stored already (None: looked up). A score row the session holds is
    expired."""
    if scored is None:
        scored = session.connection().execute(_SCORED, {"id": assessment_id}).first() is not None
    if scored:
        session.connection().execute(
            update(_SCORE).where(_SCORE.c.assessment_id == assessment_id).values(columns)
        )  # rare: a draft has no stored score unless stored before reopening dropped it
        held = session.identity_map.get(Session.identity_key(AssessmentScore, assessment_id))
        if held is not None:
            session.expire(held)
    else:
        session.connection().execute(_INSERT_SCORE, {"assessment_id": assessment_id, **columns})


_SCORE = cast(Table, AssessmentScore.__table__)
_INSERT_SCORE = insert(_SCORE)
_SCORED = select(_SCORE.c.assessment_id).where(_SCORE.c.assessment_id == bindparam("id"))


@dataclass(frozen=True)
class RescoreReport:
    checked: int
    changed: list[tuple[str, float | None, float | None]]


def rescore_all(session: Session, catalog: Catalog, *, write: bool) -> RescoreReport:
    """Recompute every stored score from its answers; report (and optionally store) differences."""
    changed: list[tuple[str, float | None, float | None]] = []
    checked = 0
    with write_transaction(session):
        rows = session.execute(
            select(Assessment, AssessmentScore).join(
                AssessmentScore, AssessmentScore.assessment_id == Assessment.id
            )
        ).all()
        for a, stored in rows:
            f = catalog.get(a.instrument_id, a.instrument_version)
            if f is None:
                continue
            checked += 1
            result = compute(f, a)
            if not _stored_as_made(a, result, f, stored):
                changed.append((str(a.id), stored.overall, result.overall.score))
                if write:
                    store_score(session, f, a, result)
    return RescoreReport(checked, changed)


def _stored_as_made(
    a: Assessment, result: Score, f: InstrumentFile, stored: AssessmentScore
) -> bool:
    """Whether the stored score is what storing ``result`` would store: the payload, the
    summary a cohort comparison reads, and the answer reads send as it is (but its time)."""
    payload = score_payload(result, f.instrument)
    summary = score_summary(result, answers_of(a))
    if ANSWERED not in (stored.summary or {}):
        summary.pop(ANSWERED, None)  # stored before the digest was: not wrong, only older
    if payload != stored.payload or summary != stored.summary:
        return False
    if stored.rendered is None:
        return True  # made before answers were stored rendered: reads render the payload
    served, made = (
        orjson.loads(text)
        for text in (stored.rendered, render_score(a.id, stored.computed_at, payload))
    )
    served.pop("computed_at", None)
    made.pop("computed_at")
    return bool(served == made)
