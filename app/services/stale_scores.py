"""Stored scores made by an older engine: found by the engine version recorded beside them and
computed again from their answers, so no read ever serves a score the current rules would not give.

``oca serve`` runs this once before its workers start; each worker's start checks again, which
costs one indexed query when nothing is stale. The work is done in batches, each its own
transaction, so a large database is never held by one long write.
"""

from __future__ import annotations

import uuid

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, load_only

from app.catalog import Catalog
from app.db.models import Answer, Assessment, AssessmentScore
from app.db.session import serialize_on, write_transaction
from app.services.assessment_reads import answer_values
from app.services.assessment_scoring import score_answers, store_score
from app.services.scores import ENGINE_VERSION

BATCH = 200


def stale_score_ids(session: Session) -> list[uuid.UUID]:
    """Assessments whose stored score was computed by another engine version (or an unknown one)."""
    version = AssessmentScore.engine_version
    ids = list(
        session.scalars(
            select(AssessmentScore.assessment_id).where(
                or_(version.is_(None), version != ENGINE_VERSION)
            )
        )
    )
    session.rollback()  # end the read so a write transaction can follow
    return ids


def refresh_stale_scores(session: Session, catalog: Catalog) -> int:
    """Recompute and store every stale score; returns how many were recomputed.

    A score whose instrument version is no longer in the catalog cannot be recomputed here and is
    left as it is; its ``engine_version`` still says which rules made it. The session's identity
    map is emptied after each batch: give it a session of its own.
    """
    stale = stale_score_ids(session)
    done = 0
    for start in range(0, len(stale), BATCH):
        batch = stale[start : start + BATCH]
        with write_transaction(session):
            serialize_on(session, "stale-scores")  # workers starting together take turns
            # the batch's rows in three queries (scores, assessments, answers as plain rows), not
            # three per assessment: store_score() then finds each score in the identity map.
            # Scores load only their version: the stored JSON is replaced, never read.
            scores = {
                row.assessment_id: row
                for row in session.scalars(
                    select(AssessmentScore)
                    .options(load_only(AssessmentScore.engine_version))
                    .where(AssessmentScore.assessment_id.in_(batch))
                )
            }
            assessments = list(session.scalars(select(Assessment).where(Assessment.id.in_(batch))))
            answers: dict[uuid.UUID, list[tuple[str, float | None, bool]]] = {}
            for a_id, key, value, is_na in session.execute(
                select(Answer.assessment_id, Answer.item_key, Answer.value, Answer.is_na).where(
                    Answer.assessment_id.in_(batch)
                )
            ):
                answers.setdefault(a_id, []).append((key, value, is_na))
            for a in assessments:
                row = scores.get(a.id)
                if row is None or row.engine_version == ENGINE_VERSION:
                    continue  # gone, or done meanwhile by another process
                f = catalog.get(a.instrument_id, a.instrument_version)
                if f is None:
                    continue
                values = answer_values(answers.get(a.id, ()))
                result = score_answers(f, values)  # = compute()
                store_score(session, f, a, result, values)
                done += 1
        session.expunge_all()  # a batch's rows are not needed by the next one
    return done
