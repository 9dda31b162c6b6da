"""Stored scores made by an older engine: found by the engine version recorded beside them and
computed again from their answers, so no read ever serves a score the current rules would not give.

``oca serve`` runs this once before its workers start, shared among as many processes as the
machine has cores (``refresh_in_processes``: nothing is served yet, so the cores are free); each
worker's start checks again, which costs one indexed query when nothing is stale. The work is
done in batches, each its own transaction, so a large database is never held by one long write.
"""

from __future__ import annotations

import multiprocessing
import uuid
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from itertools import repeat
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Engine, Table, bindparam, or_, select, update
from sqlalchemy.orm import Session

from app.catalog import Catalog, load_catalog
from app.db.models import Assessment, AssessmentScore
from app.db.session import make_engine, serialize_on, write_transaction
from app.services.assessment_reads import answers_of_many
from app.services.assessment_scoring import score_answers, score_columns
from app.services.collector import collector_paused
from app.services.owned_instruments import every_published_catalog
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


def refresh_stale_scores(
    session: Session, catalog: Catalog, ids: Sequence[uuid.UUID] | None = None
) -> int:
    """Recompute and store every stale score; returns how many were recomputed.

    A score whose instrument version is no longer in the catalog cannot be recomputed here and is
    left as it is; its ``engine_version`` still says which rules made it. Each batch is read as
    plain rows and written back in one executemany of one UPDATE (no ORM objects), with the
    columns ``store_score`` writes at submit, made by the same ``score_columns``. A batch is
    written, in a transaction of its own on a connection of its own, while the next one is
    scored: the database's work and Python's overlap. ``ids``: only these (a share of the stale
    ones, from ``refresh_in_processes``); by default every stale score.
    """
    stale = list(ids) if ids is not None else stale_score_ids(session)
    done = 0
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    writing: Future[None] | None = None
    with ThreadPoolExecutor(1, thread_name_prefix="stale-scores") as writer, collector_paused():
        try:
            for start in range(0, len(stale), BATCH):
                with session.begin():
                    params = _recomputed(session, catalog, stale[start : start + BATCH])
                if writing is not None:
                    writing.result()
                writing = writer.submit(_write, engine, params) if params else None
                done += len(params)
        finally:
            if writing is not None:
                writing.result()
    return done


# One statement for every row of a batch (psycopg sends an executemany as one pipeline). The
# engine version is checked again: another process may have done the row meanwhile.
_table = cast(Table, AssessmentScore.__table__)
_score = _table.c
_UPDATE = (
    update(_table)
    .where(_score.assessment_id == bindparam("id_"))
    .where(or_(_score.engine_version.is_(None), _score.engine_version != ENGINE_VERSION))
)


def _write(engine: Engine, params: list[dict[str, Any]]) -> None:
    with Session(engine) as session, write_transaction(session):
        serialize_on(session, "stale-scores")  # workers starting together take turns
        session.execute(_UPDATE, params)


def _recomputed(session: Session, catalog: Catalog, batch: list[uuid.UUID]) -> list[dict[str, Any]]:
    # the batch's rows in two queries: its assessments with the version of their score, and
    # their answers (on PostgreSQL a row of arrays per assessment)
    rows = session.execute(
        select(
            Assessment.id,
            Assessment.instrument_id,
            Assessment.instrument_version,
            AssessmentScore.engine_version,
        )
        .join(AssessmentScore, AssessmentScore.assessment_id == Assessment.id)
        .where(Assessment.id.in_(batch))
    ).all()
    todo = [r for r in rows if r.engine_version != ENGINE_VERSION]  # else done meanwhile
    answers = answers_of_many(session, [r.id for r in todo])
    params: list[dict[str, Any]] = []
    for a_id, instrument_id, version, _ in todo:
        f = catalog.get(instrument_id, version)
        if f is None:
            continue
        values = answers[a_id]
        result = score_answers(f, values)  # = compute()
        params.append({"id_": a_id, **score_columns(f, a_id, result, values)})
    return params


def refresh_in_processes(
    database_url: str, instruments: Path, processes: int, *, min_share: int = 2 * BATCH
) -> int:
    """``refresh_stale_scores`` shared among ``processes`` processes, each given every
    ``processes``-th stale id (a share of each instrument and age), each loading the library from
    ``instruments`` and connecting on its own (spawned, not forked: nothing of this process's
    connections or threads is inherited). Scoring is Python's work, one core per process; the
    writes still take turns under the ``stale-scores`` lock. With one process, less than
    ``min_share`` ids per process, or an in-memory SQLite database, this process does it all.
    Returns how many scores were recomputed."""
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            stale = stale_score_ids(session)
            alone = processes <= 1 or len(stale) < processes * min_share
            if alone or ":memory:" in database_url or "mode=memory" in database_url:
                if not stale:
                    return 0
                return refresh_stale_scores(session, _catalog(session, instruments), stale)
    finally:
        engine.dispose()
    shares = [stale[k::processes] for k in range(processes)]
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(processes, mp_context=spawn) as pool:
        return sum(pool.map(_refresh_share, repeat(database_url), repeat(instruments), shares))


def _catalog(session: Session, instruments: Path) -> Catalog:
    return every_published_catalog(session, load_catalog(instruments))


def _refresh_share(database_url: str, instruments: Path, ids: list[uuid.UUID]) -> int:
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            return refresh_stale_scores(session, _catalog(session, instruments), ids)
    finally:
        engine.dispose()
