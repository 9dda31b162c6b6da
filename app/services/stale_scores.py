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
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from itertools import repeat
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, Table, bindparam, or_, select, update
from sqlalchemy.orm import Session

from app.catalog import Catalog, load_catalog
from app.db.models import Assessment, AssessmentScore
from app.db.session import make_engine, serialize_on, write_transaction
from app.domain.enums import SCORED
from app.services.assessment_reads import answers_of_many
from app.services.assessment_scoring import score_answers, score_columns
from app.services.collector import collector_paused
from app.services.common import aware
from app.services.owned_instruments import every_published_catalog, workspace_catalog
from app.services.round_pairs import Side, rows_among, store_pair_rows
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
    session: Session,
    catalog: Catalog,
    groups: Sequence[Sequence[uuid.UUID]] | None = None,
    *,
    library: Catalog | None = None,
) -> int:
    """Recompute and store every stale score; returns how many were recomputed.

    A score whose instrument version is no longer in the catalog cannot be recomputed here and is
    left as it is; its ``engine_version`` still says which rules made it. Each batch is read as
    plain rows and written back in one executemany of one UPDATE (no ORM objects), with the
    columns ``store_score`` writes at submit, made by the same ``score_columns``. A batch is
    written, in a transaction of its own on a connection of its own, while the next one is
    scored: the database's work and Python's overlap. ``groups``: only these stale scores, one
    list per organization (a share of them, from ``refresh_in_processes``); by default every
    stale score.

    Given the shipped ``library`` (each workspace's catalog is made from it), the round pairs of
    the rounds scored again (``round_pairs``) are made here too, from the answers and scores
    this batch holds, and written with its scores: a batch never splits an organization. Pairs
    with a round that was not stale are left to ``refresh_pairs``."""
    groups = _stale_groups(session) if groups is None else groups
    done = 0
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    catalogs: dict[uuid.UUID, Catalog] = {}  # each workspace's, for its pairs
    writing: Future[None] | None = None
    with ThreadPoolExecutor(1, thread_name_prefix="stale-scores") as writer, collector_paused():
        try:
            for batch in _batches(groups):
                with session.begin():
                    params, pairs = _recomputed(session, catalog, batch, library, catalogs)
                if writing is not None:
                    writing.result()
                writing = writer.submit(_write, engine, params, pairs) if params else None
                done += len(params)
        finally:
            if writing is not None:
                writing.result()
    return done


def _stale_groups(session: Session) -> list[list[uuid.UUID]]:
    """The stale scores (``stale_score_ids``), one list per organization."""
    version = AssessmentScore.engine_version
    groups: dict[uuid.UUID, list[uuid.UUID]] = {}
    for org_id, a_id in session.execute(
        select(Assessment.organization_id, Assessment.id)
        .join(AssessmentScore, AssessmentScore.assessment_id == Assessment.id)
        .where(or_(version.is_(None), version != ENGINE_VERSION))
    ):
        groups.setdefault(org_id, []).append(a_id)
    session.rollback()  # end the read so a write transaction can follow
    return list(groups.values())


def _batches(groups: Sequence[Sequence[uuid.UUID]]) -> Iterator[list[uuid.UUID]]:
    """Batches of about ``BATCH`` ids, each organization's all in one; an organization with
    more than a batch (its revisions) in batches of its own (its pairs across two of them are
    left to ``refresh_pairs``)."""
    batch: list[uuid.UUID] = []
    for group in groups:
        if len(group) > BATCH:
            for start in range(0, len(group), BATCH):
                yield list(group[start : start + BATCH])
            continue
        batch.extend(group)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


# One statement for every row of a batch (psycopg sends an executemany as one pipeline). The
# engine version is checked again: another process may have done the row meanwhile (and the
# batch's pairs with that round are then not written: ``_of_written``).
_table = cast(Table, AssessmentScore.__table__)
_score = _table.c
_UPDATE = (
    update(_table)
    .where(_score.assessment_id == bindparam("id_"))
    .where(or_(_score.engine_version.is_(None), _score.engine_version != ENGINE_VERSION))
)


def _write(engine: Engine, params: list[dict[str, Any]], pairs: list[dict[str, Any]]) -> None:
    with Session(engine) as session, write_transaction(session):
        serialize_on(session, "stale-scores")  # workers starting together take turns
        written = cast(CursorResult[Any], session.execute(_UPDATE, params)).rowcount
        if pairs:
            # every row written (the usual case): the batch's pairs as they are, no read back
            every = written == len(params)
            store_pair_rows(session, pairs if every else _of_written(session, params, pairs))


def _of_written(
    session: Session, params: list[dict[str, Any]], pairs: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The pairs both of whose scores were written by this batch: a score done meanwhile by
    another process (a worker starting at the same time) kept its own time, and a pair naming
    this batch's would only replace a good pair stored for it (by that worker, or a submit)."""
    written = {p["id_"]: p["computed_at"] for p in params}
    stored = dict(
        session.execute(
            select(AssessmentScore.assessment_id, AssessmentScore.computed_at).where(
                AssessmentScore.assessment_id.in_(list(written))
            )
        ).all()
    )
    same = {a for a, at in written.items() if a in stored and aware(stored[a]) == at}
    return [p for p in pairs if p["first_id"] in same and p["second_id"] in same]


def _recomputed(
    session: Session,
    catalog: Catalog,
    batch: list[uuid.UUID],
    library: Catalog | None,
    catalogs: dict[uuid.UUID, Catalog],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    # the batch's rows in two queries: its assessments with the version of their score, and
    # their answers (on PostgreSQL a row of arrays per assessment)
    rows = session.execute(
        select(
            Assessment.id,
            Assessment.instrument_id,
            Assessment.instrument_version,
            AssessmentScore.engine_version,
            Assessment.workspace_id,
            Assessment.organization_id,
            Assessment.is_current,
            Assessment.status,
        )
        .join(AssessmentScore, AssessmentScore.assessment_id == Assessment.id)
        .where(Assessment.id.in_(batch))
    ).all()
    todo = [r for r in rows if r.engine_version != ENGINE_VERSION]  # else done meanwhile
    answers = answers_of_many(session, [r.id for r in todo])
    params: list[dict[str, Any]] = []
    # an organization's current scored rounds of one instrument, as their pairs are made
    rounds: dict[tuple[uuid.UUID, uuid.UUID, str], list[Side]] = {}
    for r in todo:
        f = catalog.get(r.instrument_id, r.instrument_version)
        if f is None:
            continue
        values = answers[r.id]
        result = score_answers(f, values)  # = compute()
        columns = score_columns(f, r.id, result, values)
        params.append({"id_": r.id, **columns})
        if r.is_current and r.status in SCORED:
            rounds.setdefault((r.workspace_id, r.organization_id, r.instrument_id), []).append(
                Side(r.instrument_version, r.id, columns["summary"], columns["computed_at"])
            )
    pairs: list[dict[str, Any]] = []
    if library is not None:
        for (ws, _, instrument_id), sides in rounds.items():
            if len(sides) > 1:
                own = catalogs.get(ws) or catalogs.setdefault(
                    ws, workspace_catalog(session, library, ws)
                )
                pairs += rows_among(own, instrument_id, sides, answers)
    return params, pairs


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
            groups = _stale_groups(session)
            stale = sum(map(len, groups))
            alone = processes <= 1 or stale < processes * min_share
            if alone or ":memory:" in database_url or "mode=memory" in database_url:
                if not stale:
                    return 0
                library = load_catalog(instruments)
                every = every_published_catalog(session, library)
                return refresh_stale_scores(session, every, groups, library=library)
    finally:
        engine.dispose()
    shares = [groups[k::processes] for k in range(processes)]
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(processes, mp_context=spawn) as pool:
        return sum(pool.map(_refresh_share, repeat(database_url), repeat(instruments), shares))


def _refresh_share(database_url: str, instruments: Path, groups: list[list[uuid.UUID]]) -> int:
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            library = load_catalog(instruments)
            every = every_published_catalog(session, library)
            return refresh_stale_scores(session, every, groups, library=library)
    finally:
        engine.dispose()
