"""Stale scores (an older engine_version) are recomputed in batches: a few queries per batch,
not a few per assessment (50,000 assessments took ~3 minutes that way; bench/scale.py)."""

from __future__ import annotations

import random
import re
import uuid
from datetime import date
from typing import Any

from sqlalchemy import Engine, Text, cast, select, update
from sqlalchemy.orm import Session

from app.catalog import Catalog
from app.db.models import AssessmentScore
from app.domain.answers import RawAnswer
from app.services import assessments, organizations
from app.services.instruments import sync_catalog
from app.services.keys import authenticate, create_key
from app.services.scores import ENGINE_VERSION
from app.services.stale_scores import refresh_in_processes, refresh_stale_scores
from tests.conftest import INSTRUMENTS, statements_sent


def _scored(session: Session, catalog: Catalog, n: int) -> list[uuid.UUID]:
    sync_catalog(session, catalog)  # as the app does at start
    key = create_key(session, workspace=f"stale-{uuid.uuid4().hex[:8]}", role="editor")
    principal = authenticate(session, key.secret)
    assert principal is not None
    session.rollback()
    f = catalog.latest("oca")
    assert f is not None
    keys = [i.key for d in f.instrument.dimensions for a in d.areas for i in a.items]
    rnd = random.Random(3)
    ids = []
    for i in range(n):
        org, _ = organizations.create_organization(
            session, principal, organizations.OrgData(name=f"Stale org {i}")
        )
        data = assessments.AssessmentData(
            organization_id=org.id,
            instrument_id="oca",
            instrument_version=f.instrument.version,
            round="baseline",
            assessed_on=date(2024, 3, 1),
            assessor=None,
            answers=[RawAnswer(k, rnd.randint(1, 4)) for k in keys],
        )
        a, _ = assessments.create_assessment(session, principal, catalog, data)
        assessments.submit(session, principal, catalog, a.id)
        ids.append(a.id)
    return ids


def test_stale_scores_are_recomputed_in_a_few_queries_per_batch(
    session: Session, engine: Engine, catalog: Catalog
) -> None:
    ids = _scored(session, catalog, 12)
    before = {
        s.assessment_id: s.payload
        for s in session.scalars(
            select(AssessmentScore).where(AssessmentScore.assessment_id.in_(ids))
        )
    }
    session.execute(
        update(AssessmentScore)
        .where(AssessmentScore.assessment_id.in_(ids))
        .values(engine_version=ENGINE_VERSION - 1, payload={}, overall=None)
    )
    session.commit()
    session.expunge_all()

    with statements_sent(engine) as seen:
        done = refresh_stale_scores(session, catalog)

    assert done >= 12
    reads = [s for s in seen if s.lstrip().upper().startswith("SELECT")]
    # stale ids, the batch's scores, assessments and answers (+ the lock on PostgreSQL):
    # it was 3 per assessment (36 here)
    assert len(reads) <= 6, reads
    after = {
        s.assessment_id: s
        for s in session.scalars(
            select(AssessmentScore).where(AssessmentScore.assessment_id.in_(ids))
        )
    }
    assert {k: v.payload for k, v in after.items()} == before
    assert {v.engine_version for v in after.values()} == {ENGINE_VERSION}


def _stored(session: Session, ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[Any, ...]]:
    """Each stored score's columns as stored (JSON as its text), the rendered answer with its own
    computed_at taken out (the one column that must differ)."""
    rows = session.execute(
        select(
            AssessmentScore.assessment_id,
            AssessmentScore.computed_at,
            AssessmentScore.overall,
            cast(AssessmentScore.summary, Text),
            cast(AssessmentScore.payload, Text),
            AssessmentScore.rendered,
            AssessmentScore.engine_version,
        ).where(AssessmentScore.assessment_id.in_(ids))
    ).all()
    session.rollback()
    out = {}
    for a_id, computed_at, overall, summary, payload, rendered, version in rows:
        shown = re.findall(r'"computed_at":"([^"]*)"', rendered)
        # SQLite gives the time back without its zone
        assert len(shown) == 1 and shown[0].startswith(computed_at.isoformat())
        out[a_id] = (overall, summary, payload, rendered.replace(shown[0], ""), version)
    return out


def test_rescoring_stores_exactly_what_submitting_stored(
    session: Session, catalog: Catalog
) -> None:
    """Byte for byte, the bulk UPDATE of a refresh writes what store_score wrote at submit."""
    ids = _scored(session, catalog, 5)
    submitted = _stored(session, ids)
    session.execute(
        update(AssessmentScore)
        .where(AssessmentScore.assessment_id.in_(ids))
        .values(
            engine_version=ENGINE_VERSION - 1, payload={}, summary={}, rendered=None, overall=None
        )
    )
    session.commit()

    assert refresh_stale_scores(session, catalog) >= 5

    assert _stored(session, ids) == submitted
    assert {v[-1] for v in submitted.values()} == {ENGINE_VERSION}


def test_rescoring_shared_among_processes_stores_what_submitting_stored(
    session: Session, catalog: Catalog, database_url: str
) -> None:
    """``oca serve`` shares a refresh among the machine's cores: the scores are written by the
    spawned processes (none by this one) and are, byte for byte, what submitting stored."""
    ids = _scored(session, catalog, 6)
    submitted = _stored(session, ids)
    session.execute(
        update(AssessmentScore)
        .where(AssessmentScore.assessment_id.in_(ids))
        .values(engine_version=ENGINE_VERSION - 1, payload={}, rendered=None, overall=None)
    )
    session.commit()

    with statements_sent() as here:
        done = refresh_in_processes(database_url, INSTRUMENTS, 2, min_share=1)

    assert done >= 6
    assert not [s for s in here if s.lstrip().upper().startswith("UPDATE")], here
    assert _stored(session, ids) == submitted
