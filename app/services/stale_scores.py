"""Stored scores made by an older engine: found by the engine version in their summary and
computed again from their answers, so no read ever serves a score the current rules would not give.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.catalog import Catalog
from app.db.models import Assessment, AssessmentScore
from app.db.session import write_transaction
from app.services.assessments import compute, store_score
from app.services.scores import ENGINE_VERSION


def stale_score_ids(session: Session) -> list[uuid.UUID]:
    """Assessments whose stored score was computed by another engine version."""
    rows = session.execute(select(AssessmentScore.assessment_id, AssessmentScore.summary)).all()
    session.rollback()  # end the read so a write transaction can follow
    return [aid for aid, summary in rows if (summary or {}).get("engine_version") != ENGINE_VERSION]


def refresh_stale_scores(session: Session, catalog: Catalog) -> int:
    """Recompute and store every stale score; returns how many were recomputed.

    A score whose instrument version is no longer in the catalog cannot be recomputed here and is
    left as it is; its ``engine_version`` still says which rules made it.
    """
    stale = stale_score_ids(session)
    if not stale:
        return 0
    done = 0
    with write_transaction(session):
        for aid in stale:
            a = session.get(Assessment, aid)
            if a is None:
                continue
            f = catalog.get(a.instrument_id, a.instrument_version)
            if f is None:
                continue
            store_score(session, f, a, compute(f, a))
            done += 1
    return done
