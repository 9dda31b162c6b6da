"""Stored scores made by an older engine: found by the engine version recorded beside them and
computed again from their answers, so no read ever serves a score the current rules would not give.

``oca serve`` runs this once before its workers start; each worker's start checks again, which
costs one indexed query when nothing is stale. The work is done in batches, each its own
transaction, so a large database is never held by one long write.
"""

from __future__ import annotations

import uuid

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.catalog import Catalog
from app.db.models import Assessment, AssessmentScore
from app.db.session import serialize_on, write_transaction
from app.services.assessments import compute, store_score
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
    left as it is; its ``engine_version`` still says which rules made it.
    """
    stale = stale_score_ids(session)
    done = 0
    for start in range(0, len(stale), BATCH):
        with write_transaction(session):
            serialize_on(session, "stale-scores")  # workers starting together take turns
            for aid in stale[start : start + BATCH]:
                row = session.get(AssessmentScore, aid)
                a = session.get(Assessment, aid)
                if row is None or a is None or row.engine_version == ENGINE_VERSION:
                    continue  # gone, or done meanwhile by another process
                f = catalog.get(a.instrument_id, a.instrument_version)
                if f is None:
                    continue
                store_score(session, f, a, compute(f, a))
                done += 1
    return done
