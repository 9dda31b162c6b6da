"""Two rounds of one organization compared on the items answered in both, stored (``RoundPair``).

A cohort comparison shows, for each organization, its two rounds' numbers. When both rounds are
on the version compared on (the instrument's latest) and answered the same items, those are the
stored scores as they are. Otherwise both rounds are scored again on the items answered in both
(``app.domain.comparison``), which needs the answers: at national size thousands of
organizations, most of a read's work. Those numbers depend only on the two stored scores, the
version compared on and the engine, so they are made where the data changes and stored:

* when a round is scored, with each other current scored round of its organization and
  instrument (``store_pairs``, in the submit's transaction);
* for every workspace, or one, when scores were computed again or the latest version changed
  (``refresh_pairs``: ``oca serve`` before it serves, an archive import, a bulk load).

One function makes them (``pair_numbers``), and the read uses a stored pair only while the
version compared on, the engine and both scores' times are the ones it names
(``stored_pairs``); otherwise it compares the rounds itself, the same way, and stores nothing.
So a stored pair can make a read faster, never different.
"""

from __future__ import annotations

import multiprocessing
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from itertools import combinations, repeat
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Connection, and_, bindparam, delete, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased

from app.catalog import Catalog, InstrumentFile, load_catalog
from app.db.models import Assessment, AssessmentScore, RoundPair
from app.db.session import make_engine, serialize_on, write_transaction
from app.domain.comparison import LeftOut, common_answers
from app.domain.enums import SCORED
from app.domain.scoring import AnswerValue, Score, score
from app.services.assessment_reads import among_id_numbers, among_ids, answers_of_many
from app.services.owned_instruments import workspace_catalog
from app.services.scores import ANSWERED, ENGINE_VERSION

Flat = dict[str, float | None]  # overall and each dimension's score
Numbers = tuple[Flat, Flat, tuple[LeftOut, ...]]  # baseline, endline, items left out of both
_FLIP = {
    "missing_at_endline": "missing_at_baseline",
    "missing_at_baseline": "missing_at_endline",
    "na_at_endline": "na_at_baseline",
    "na_at_baseline": "na_at_endline",
}
BATCH = 500  # pairs made and written per transaction by ``refresh_pairs``
_IN = 10_000  # ids per IN list
K = TypeVar("K")
# a stored pair's rounds, and what it was made from: the version compared on, the engine and the
# time of each round's stored score
_KEY_AND_BASIS = (
    RoundPair.first_id,
    RoundPair.second_id,
    RoundPair.compared_on,
    RoundPair.engine_version,
    RoundPair.first_scored_at,
    RoundPair.second_scored_at,
)


class Side(NamedTuple):
    """One scored round as its pairs are made from it."""

    instrument_version: str
    assessment_id: uuid.UUID
    summary: dict[str, Any] | None  # the stored score's summary
    scored_at: datetime  # when the stored score was made


def flat(summary: Mapping[str, Any] | None) -> Flat:
    """A stored score summary as a comparison reads it: overall and each dimension."""
    if not summary:
        return {}
    return {"overall": summary["overall"], **summary["dimensions"]}


def flat_score(result: Score) -> Flat:
    """``flat`` of the summary ``score_summary`` would make of ``result``, made directly."""
    return {"overall": result.overall.score, **{d.key: d.score for d in result.dimensions}}


def needs_pair(compared_on: str, first: Side, second: Side) -> bool:
    """Whether the two rounds are compared on numbers other than their stored scores: one is on
    another version, or they did not answer the same items (the digests stored with each score
    differ, or one was stored without a digest)."""
    if first.instrument_version != compared_on or second.instrument_version != compared_on:
        return True
    a, b = (first.summary or {}).get(ANSWERED), (second.summary or {}).get(ANSWERED)
    return a is None or a != b


def pair_numbers(
    catalog: Catalog,
    latest: InstrumentFile,
    baseline: Side,
    endline: Side,
    answers: Mapping[uuid.UUID, Mapping[str, AnswerValue]],
) -> Numbers | None:
    """Both rounds on ``latest``, scored on the items answered in both, and the items left out;
    ``None`` when a round's version is not in the catalog or ``latest`` does not supersede it."""
    instrument_id = latest.instrument.id
    b_file = catalog.get(instrument_id, baseline.instrument_version)
    e_file = catalog.get(instrument_id, endline.instrument_version)
    if b_file is None or e_file is None:
        return None
    common = common_answers(
        latest.instrument,
        (b_file.instrument, answers[baseline.assessment_id]),
        (e_file.instrument, answers[endline.assessment_id]),
    )
    if common is None:
        return None
    return (
        _on_common(latest, baseline, common.baseline, answers),
        _on_common(latest, endline, common.endline, answers),
        common.left_out,
    )


def _on_common(
    latest: InstrumentFile,
    side: Side,
    kept: dict[str, AnswerValue],
    answers: Mapping[uuid.UUID, Mapping[str, AnswerValue]],
) -> Flat:
    """One round's numbers on the items answered in both rounds (``kept``: its answers with the
    items the other round did not answer made N/A). When that leaves its answers as they are
    and it is on the version compared on, its stored score is the score of these very answers:
    it is read, not made again (one side of most such pairs)."""
    if (
        side.summary
        and side.instrument_version == latest.instrument.version
        and kept == answers[side.assessment_id]
    ):
        return flat(side.summary)
    return flat_score(score(latest.compiled, kept))


# --- reading -------------------------------------------------------------------------------------


def stored_pairs(
    connection: Connection, compared_on: str, wanted: Mapping[K, tuple[Side, Side]]
) -> dict[K, Numbers | None]:
    """The stored numbers of each wanted (baseline, endline) pair that is stored and up to date
    (``None``: stored as not comparable); pairs missing or out of date are not in the answer."""
    # keyed by the ids' integers (a UUID's hash is a Python method)
    by_ids: dict[tuple[int, int], tuple[K, datetime, datetime, bool]] = {}
    for k, (b, e) in wanted.items():
        flipped = b.assessment_id.int > e.assessment_id.int
        first, second = (e, b) if flipped else (b, e)
        by_ids[first.assessment_id.int, second.assessment_id.int] = (
            k,
            first.scored_at,
            second.scored_at,
            flipped,
        )
    if not by_ids:
        return {}
    postgres = connection.dialect.name == "postgresql"
    found: dict[K, Numbers | None] = {}
    keys = list(by_ids)
    for start in range(0, len(keys), _IN):
        chunk = keys[start : start + _IN]
        rows = connection.execute(
            select(*_KEY_AND_BASIS, RoundPair.numbers).where(
                among_id_numbers(RoundPair.first_id, [f for f, _ in chunk], postgres=postgres),
                among_id_numbers(RoundPair.second_id, [s for _, s in chunk], postgres=postgres),
            )
        ).all()
        for first_id, second_id, on, engine, first_at, second_at, numbers in rows:
            hit = by_ids.get((first_id.int, second_id.int))
            if (
                hit is None
                or on != compared_on
                or engine != ENGINE_VERSION
                or first_at != hit[1]
                or second_at != hit[2]
            ):
                continue
            found[hit[0]] = _numbers(numbers, flipped=hit[3])
    return found


def _numbers(stored: Mapping[str, Any], *, flipped: bool) -> Numbers | None:
    first, second = stored["first"], stored["second"]
    if first is None or second is None:
        return None
    if not flipped:
        return first, second, tuple(LeftOut(k, c) for k, c in stored["left_out"])
    return second, first, tuple(LeftOut(k, _FLIP[c]) for k, c in stored["left_out"])


# --- storing -------------------------------------------------------------------------------------


def pair_row(
    catalog: Catalog,
    latest: InstrumentFile,
    one: Side,
    other: Side,
    answers: Mapping[uuid.UUID, Mapping[str, AnswerValue]],
) -> dict[str, Any]:
    """The stored pair of two rounds (in either order), made by ``pair_numbers``: the row
    ``store_pair_rows`` writes."""
    first, second = (
        (one, other) if one.assessment_id.int < other.assessment_id.int else (other, one)
    )
    made = pair_numbers(catalog, latest, first, second, answers)
    return {
        "first_id": first.assessment_id,
        "second_id": second.assessment_id,
        "compared_on": latest.instrument.version,
        "engine_version": ENGINE_VERSION,
        "first_scored_at": first.scored_at,
        "second_scored_at": second.scored_at,
        "numbers": {
            "first": made and made[0],
            "second": made and made[1],
            "left_out": [[x.key, x.code] for x in made[2]] if made else [],
        },
    }


def rows_among(
    catalog: Catalog,
    instrument_id: str,
    sides: list[Side],
    answers: Mapping[uuid.UUID, Mapping[str, AnswerValue]],
) -> list[dict[str, Any]]:
    """The pair rows of one organization's current scored rounds of an instrument, each two
    that need one, on the catalog's latest version (a rescoring makes them from the scores and
    answers it holds: ``refresh_stale_scores``)."""
    latest = catalog.latest(instrument_id)
    if latest is None or len(sides) < 2:
        return []
    return [
        pair_row(catalog, latest, one, other, answers)
        for one, other in pairs_needed(latest.instrument.version, sides)
    ]


def pairs_needed(compared_on: str, sides: Iterable[Side]) -> Iterator[tuple[Side, Side]]:
    """Each two of one organization's rounds that need a stored pair on ``compared_on``
    (``needs_pair``), the lower assessment id first, as the pair is stored."""
    ordered = sorted(sides, key=lambda s: s.assessment_id.int)
    return ((a, b) for a, b in combinations(ordered, 2) if needs_pair(compared_on, a, b))


def store_pair_rows(session: Session, rows: list[dict[str, Any]]) -> None:
    """The rows (``pair_row``) written over whatever is stored for their pairs (two submits of
    one organization's rounds at once both write the pair: the later one stays), in the order
    of their keys, so two transactions writing pairs lock them in the same order."""
    if not rows:
        return
    rows = sorted(rows, key=lambda r: (r["first_id"].int, r["second_id"].int))
    dialect = session.get_bind().dialect.name
    statement = (pg_insert if dialect == "postgresql" else sqlite_insert)(RoundPair)
    statement = statement.on_conflict_do_update(
        index_elements=[RoundPair.first_id, RoundPair.second_id],
        set_={c: statement.excluded[c] for c in _COLUMNS},
    )
    session.connection().execute(statement, rows)


_COLUMNS = ("compared_on", "engine_version", "first_scored_at", "second_scored_at", "numbers")


# the digest of the items a stored score answered, read without its summary
_ANSWERED = AssessmentScore.summary[ANSWERED].as_string().label("answered")
# The current scored rounds of one assessment's organization and instrument (itself among them):
# built once, not per submit (building it was most of a submit's pairs work)
_ONE = aliased(Assessment)
_ROUNDS_BESIDE = (
    select(
        Assessment.id,
        Assessment.organization_id,
        Assessment.instrument_id,
        Assessment.instrument_version,
        _ANSWERED,
        AssessmentScore.computed_at,
    )
    .join(AssessmentScore, AssessmentScore.assessment_id == Assessment.id)
    .join(
        _ONE,
        and_(
            _ONE.organization_id == Assessment.organization_id,
            _ONE.instrument_id == Assessment.instrument_id,
        ),
    )
    .where(
        _ONE.id == bindparam("assessment_id"),
        Assessment.is_current.is_(True),
        Assessment.status.in_(SCORED),
    )
)


def store_pairs(session: Session, catalog: Catalog, assessment_id: uuid.UUID) -> int:
    """The pairs of an assessment just scored with each other current scored round of its
    organization and instrument, made and stored in the caller's transaction (over those
    stored before). Returns how many were stored.

    One query when there is nothing to pair (an organization's first round). A pair stored for
    an earlier score of the assessment names that score's time, so no read uses it again."""
    connection = session.connection()
    params = {"assessment_id": assessment_id}

    def pairs_to_make() -> tuple[Any, InstrumentFile | None, Side | None, list[Side]]:
        # each round with only the digest of the items it answered: most need no pair, and
        # reading every summary made a submit's cost grow with its organization's rounds
        rounds = connection.execute(_ROUNDS_BESIDE, params).all()
        mine = next((r for r in rounds if r.id == assessment_id), None)
        latest = None if mine is None else catalog.latest(mine.instrument_id)
        if mine is None or latest is None:
            return mine, None, None, []  # not a current scored round
        scored = _side(mine)
        compared_on = latest.instrument.version
        todo = [
            other
            for r in rounds
            if r.id != assessment_id and needs_pair(compared_on, scored, other := _side(r))
        ]
        return mine, latest, scored, todo

    mine, latest, scored, todo = pairs_to_make()
    if not todo:
        return 0
    # the rounds of one organization scored at once take turns here (PostgreSQL): each rewrites
    # the pairs it shares with the others. The rounds are read again once it is this one's turn:
    # read before, another round's score could have changed since (and the pair made from it be
    # stale). SQLite's writers took turns before the first read (BEGIN IMMEDIATE): no second one
    if session.get_bind().dialect.name == "postgresql":
        serialize_on(session, "round-pairs", mine.organization_id)
        mine, latest, scored, todo = pairs_to_make()
    if not todo or latest is None or scored is None:
        return 0
    ids = [assessment_id, *(o.assessment_id for o in todo)]
    answers = answers_of_many(session, ids)
    summaries = _summaries(session, ids)
    scored = scored._replace(summary=summaries.get(assessment_id))
    rows = [
        pair_row(
            catalog, latest, scored, o._replace(summary=summaries.get(o.assessment_id)), answers
        )
        for o in todo
    ]
    store_pair_rows(session, rows)
    return len(todo)


def _side(row: Any) -> Side:
    """A round as ``_ROUNDS_BESIDE`` or ``_out_of_date`` reads it: its summary holds only the
    digest of the items answered (the full summaries are read for the pairs to make)."""
    summary = None if row.answered is None else {ANSWERED: row.answered}
    return Side(row.instrument_version, row.id, summary, row.computed_at)


def refresh_pairs(
    session: Session,
    library: Catalog,
    workspace_id: uuid.UUID | None = None,
    *,
    share: tuple[int, int] | None = None,
) -> int:
    """Every pair of current scored rounds that is missing or out of date made and stored, for
    every workspace or one (each with its own catalog), in batches of their own transactions;
    pairs of rounds no longer current or scored are dropped. ``share`` (k, n): only the
    organizations whose id is k modulo n (one of n processes; ``refresh_in_processes``), and
    nothing dropped. Returns how many were stored."""
    if share is None:
        _drop_unused(session, workspace_id)
    todo = list(_out_of_date(session, library, workspace_id, share))
    session.rollback()  # end the reads: the writes follow
    for start in range(0, len(todo), BATCH):
        batch = todo[start : start + BATCH]
        ids = list({s.assessment_id for _, _, one, other in batch for s in (one, other)})
        answers = answers_of_many(session, ids)
        summaries = _summaries(session, ids)
        rows = [
            pair_row(
                catalog,
                latest,
                one._replace(summary=summaries.get(one.assessment_id)),
                other._replace(summary=summaries.get(other.assessment_id)),
                answers,
            )
            for catalog, latest, one, other in batch
        ]
        with write_transaction(session):
            store_pair_rows(session, rows)
    return len(todo)


def _summaries(session: Session, ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
    postgres = session.get_bind().dialect.name == "postgresql"
    return {
        a_id: summary
        for a_id, summary in session.connection().execute(
            select(AssessmentScore.assessment_id, AssessmentScore.summary).where(
                among_ids(AssessmentScore.assessment_id, ids, postgres=postgres)
            )
        )
    }


def _drop_unused(session: Session, workspace_id: uuid.UUID | None) -> None:
    unused = select(Assessment.id).where(
        or_(Assessment.is_current.is_(False), Assessment.status.not_in(SCORED))
    )
    if workspace_id is not None:
        unused = unused.where(Assessment.workspace_id == workspace_id)
    with write_transaction(session):
        session.execute(
            delete(RoundPair).where(
                or_(RoundPair.first_id.in_(unused), RoundPair.second_id.in_(unused))
            )
        )


def _out_of_date(
    session: Session,
    library: Catalog,
    workspace_id: uuid.UUID | None,
    share: tuple[int, int] | None = None,
) -> Iterable[tuple[Catalog, InstrumentFile, Side, Side]]:
    """The pairs to make, each with its workspace's catalog and the version compared on; the
    sides carry only the digest of the items answered (their summaries are read per batch)."""
    query = (
        select(
            Assessment.workspace_id,
            Assessment.organization_id,
            Assessment.instrument_id,
            Assessment.instrument_version,
            Assessment.id,
            _ANSWERED,
            AssessmentScore.computed_at,
        )
        .join(AssessmentScore, AssessmentScore.assessment_id == Assessment.id)
        .where(Assessment.is_current.is_(True), Assessment.status.in_(SCORED))
    )
    if workspace_id is not None:
        query = query.where(Assessment.workspace_id == workspace_id)
    groups: dict[tuple[uuid.UUID, uuid.UUID, str], list[Side]] = defaultdict(list)
    for row in session.connection().execute(query):
        groups[row.workspace_id, row.organization_id, row.instrument_id].append(_side(row))
    stored = _stored_bases(session, workspace_id)
    catalogs: dict[uuid.UUID, Catalog] = {}
    for (ws, org, instrument_id), sides in groups.items():
        if len(sides) < 2 or (share is not None and org.int % share[1] != share[0]):
            continue
        catalog = catalogs.get(ws) or catalogs.setdefault(
            ws, workspace_catalog(session, library, ws)
        )
        latest = catalog.latest(instrument_id)
        if latest is None:
            continue
        on = latest.instrument.version
        for one, other in pairs_needed(on, sides):
            basis = (on, ENGINE_VERSION, one.scored_at, other.scored_at)
            if stored.get((one.assessment_id, other.assessment_id)) != basis:
                yield catalog, latest, one, other


def _stored_bases(
    session: Session, workspace_id: uuid.UUID | None
) -> dict[tuple[uuid.UUID, uuid.UUID], tuple[str, int, datetime, datetime]]:
    """What each stored pair (of the workspace) was made from."""
    query = select(*_KEY_AND_BASIS)
    if workspace_id is not None:
        query = query.join(Assessment, Assessment.id == RoundPair.first_id).where(
            Assessment.workspace_id == workspace_id
        )
    return {
        (first, second): (on, engine, first_at, second_at)
        for first, second, on, engine, first_at, second_at in session.connection().execute(query)
    }


def refresh_pairs_in_processes(
    database_url: str, instruments: Path, processes: int, *, min_share: int = 2 * BATCH
) -> int:
    """``refresh_pairs`` for every workspace, shared among ``processes`` spawned processes by
    organization (as ``refresh_in_processes`` shares the scores; scoring is Python's work, one
    core each), when there is enough to share: this process first drops the unused pairs and
    counts what is out of date, and does it alone below ``min_share`` pairs per process (the
    usual start, with nothing or a few to make) or on an in-memory SQLite database."""
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            library = load_catalog(instruments)
            _drop_unused(session, None)
            todo = sum(1 for _ in _out_of_date(session, library, None))
            session.rollback()
            memory = ":memory:" in database_url or "mode=memory" in database_url
            if processes <= 1 or todo < processes * min_share or memory:
                return refresh_pairs(session, library, share=(0, 1)) if todo else 0
    finally:
        engine.dispose()
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(processes, mp_context=spawn) as pool:
        return sum(
            pool.map(
                _refresh_share,
                repeat(database_url),
                repeat(instruments),
                [(k, processes) for k in range(processes)],
            )
        )


def _refresh_share(database_url: str, instruments: Path, share: tuple[int, int]) -> int:
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            return refresh_pairs(session, load_catalog(instruments), share=share)
    finally:
        engine.dispose()
