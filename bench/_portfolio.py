"""The national portfolio of bench/scale.py, bulk-loaded into PostgreSQL with COPY (never timed
as a service; its own load time is reported).

10,000 organizations (``--organizations``) in cohorts of 40-400 (the first has exactly 400), plus
one cohort holding every organization; 5 rounds of OCA 2015.2 each (baseline, round-2, round-3,
round-4, endline; a year apart), 45 items per assessment. Answers are levels 1-4 around a latent
capacity that grows round by round with noise. About 30% of organizations mark 1-3 items N/A
in every round (an item that does not apply to them stays so); 5% of assessments add one more
N/A and 10% leave 1-3 items unanswered. An assessment whose overall score cannot be computed
stays a draft without a score, as the service would leave it.

Scores are made by the code the service runs at submit
(``app.services.assessment_scoring.store_score`` is ``score`` -> ``score_payload`` /
``score_summary`` / ``render_score``); a sample is checked against
``app.services.assessment_scoring.compute`` on the stored rows afterwards. Audit events are not
written (nothing measured here reads them).
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
import psycopg
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, selectinload

from app.catalog import Catalog, InstrumentFile
from app.db.models import Assessment, AssessmentScore, Status
from app.domain.names import name_key
from app.domain.scoring import NA, AnswerValue, score
from app.services.assessment_reads import answers_of
from app.services.assessment_scoring import compute
from app.services.instruments import sync_catalog, version_row
from app.services.keys import authenticate, create_key
from app.services.scores import ENGINE_VERSION, render_score, score_payload, score_summary

WORKSPACE = "national"
INSTRUMENT, VERSION = "oca", "2015.2"
ROUNDS = ("baseline", "round-2", "round-3", "round-4", "endline")
FIRST_DAY = date(2019, 3, 1)
CHUNK = 500  # organizations per COPY batch (2,500 assessments, about 110,000 answers)


@dataclass
class Portfolio:
    key: str  # an editor key's secret (for the HTTP measurements)
    workspace_id: uuid.UUID
    cohort_400: uuid.UUID
    cohort_all: uuid.UUID
    cohort_sizes: list[int]
    organizations: list[uuid.UUID]
    counts: dict[str, int]
    load_seconds: float


def psycopg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def cohort_sizes(n: int, rnd: random.Random) -> list[int]:
    """Sizes 40-400 summing to n; the first is 400 when n allows it."""
    sizes = [min(400, n)]
    left = n - sizes[0]
    while left > 0:
        s = min(left, rnd.randint(40, 400))
        if left - s < 40 and left - s > 0:
            s = left  # never leave a cohort smaller than 40 at the end
        sizes.append(s)
        left -= s
    return sizes


def _answers(
    keys: list[str], capacity: float, fixed_na: list[str], rnd: random.Random
) -> dict[str, AnswerValue]:
    out: dict[str, AnswerValue] = {}
    for k in keys:
        level = round(1 + capacity * 3 + rnd.gauss(0, 0.6))
        out[k] = float(min(4, max(1, level)))
    for k in fixed_na:
        out[k] = NA
    if rnd.random() < 0.05:
        out[rnd.choice(keys)] = NA
    if rnd.random() < 0.10:
        for k in rnd.sample(keys, rnd.randint(1, 3)):
            out.pop(k, None)
    return out


def _esc(value: Any) -> str:
    """One field of COPY's text format."""
    if value is None:
        return "\\N"
    s = value if isinstance(value, str) else str(value)
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _line(*fields: Any) -> str:
    return "\t".join(_esc(f) for f in fields) + "\n"


class _Tables:
    """COPY text buffers for one batch."""

    def __init__(self) -> None:
        self.rows: dict[str, list[str]] = {}

    def add(self, table: str, *fields: Any) -> None:
        self.rows.setdefault(table, []).append(_line(*fields))

    def flush(self, conn: psycopg.Connection[Any]) -> None:
        with conn.cursor() as cur:
            for table in (
                "organization",
                "cohort_member",
                "assessment",
                "answer",
                "assessment_score",
            ):
                lines = self.rows.get(table)
                if lines:
                    with cur.copy(f"COPY {table} ({COLUMNS[table]}) FROM STDIN") as copy:
                        copy.write("".join(lines))
        self.rows.clear()


COLUMNS = {
    "organization": "id, workspace_id, name, country, region, thematic_areas, tags, external_id, "
    "created_at, updated_at, row_version, name_key",
    "cohort_member": "cohort_id, organization_id, added_at",
    "assessment": "id, workspace_id, organization_id, instrument_version_id, instrument_id, "
    "instrument_version, round, assessed_on, assessor, retrospective, status, revision, "
    "replaces_id, is_current, source, source_sha256, created_at, updated_at, submitted_at, "
    "finalized_at, row_version",
    "answer": "assessment_id, item_key, position, value, is_na, note",
    "assessment_score": "assessment_id, computed_at, overall, summary, payload, rendered, "
    "engine_version",
}


def _org_batches(n: int, sizes: list[int]) -> Iterator[tuple[int, int]]:
    """(organization index, index of its cohort)."""
    i = 0
    for c, size in enumerate(sizes):
        for _ in range(size):
            yield i, c
            i += 1
    assert i == n


def build(url: str, session: Session, catalog: Catalog, n: int, seed: int = 13) -> Portfolio:
    """Load the portfolio into a migrated, empty database."""
    started = time.perf_counter()
    f = catalog.get(INSTRUMENT, VERSION)
    assert f is not None
    sync_catalog(session, catalog)
    key = create_key(session, workspace=WORKSPACE, role="editor", name="bench-scale")
    principal = authenticate(session, key.secret)
    assert principal is not None
    version_id = version_row(session, INSTRUMENT, VERSION).id
    session.commit()
    ws = principal.workspace_id
    rnd = random.Random(seed)
    sizes = cohort_sizes(n, rnd)
    base = datetime(2024, 1, 1, tzinfo=UTC)
    cohorts = [uuid.uuid4() for _ in sizes]
    cohort_all = uuid.uuid4()
    orgs: list[uuid.UUID] = []
    counts = {"organizations": 0, "assessments": 0, "answers": 0, "scores": 0, "drafts": 0}
    with psycopg.connect(psycopg_dsn(url)) as conn:
        with conn.cursor() as cur:
            for c, size in enumerate(sizes):
                cur.execute(
                    "INSERT INTO cohort (id, workspace_id, name, description, created_at, "
                    "updated_at) VALUES (%s, %s, %s, %s, %s, %s)",
                    (cohorts[c], ws, f"Cohort {c:03d}", f"{size} organizations", base, base),
                )
            cur.execute(
                "INSERT INTO cohort (id, workspace_id, name, description, created_at, updated_at)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                (cohort_all, ws, "National", f"all {n} organizations", base, base),
            )
        tables = _Tables()
        for i, c in _org_batches(n, sizes):
            oid = _organization(tables, f, ws, version_id, i, cohorts[c], cohort_all, base, rnd)
            orgs.append(oid)
            if (i + 1) % CHUNK == 0:
                _count(tables, counts)
                tables.flush(conn)
        _count(tables, counts)
        tables.flush(conn)
        conn.commit()
    with psycopg.connect(psycopg_dsn(url), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")  # what autovacuum does soon after a load
    check_sample(session, catalog, ws, rnd)
    return Portfolio(
        key.secret,
        ws,
        cohorts[0],
        cohort_all,
        sizes,
        orgs,
        counts,
        time.perf_counter() - started,
    )


def _count(tables: _Tables, counts: dict[str, int]) -> None:
    for name, table in (
        ("organizations", "organization"),
        ("assessments", "assessment"),
        ("answers", "answer"),
        ("scores", "assessment_score"),
    ):
        counts[name] += len(tables.rows.get(table, []))
    counts["drafts"] = counts["assessments"] - counts["scores"]


def _organization(
    tables: _Tables,
    f: InstrumentFile,
    ws: uuid.UUID,
    version_id: int,
    i: int,
    cohort: uuid.UUID,
    cohort_all: uuid.UUID,
    base: datetime,
    rnd: random.Random,
) -> uuid.UUID:
    keys = [it.key for d in f.instrument.dimensions for a in d.areas for it in a.items]
    position = {k: p for p, k in enumerate(keys)}
    oid = uuid.uuid4()
    ts = base + timedelta(seconds=i)
    empty = "[]"
    tables.add(
        "organization", oid, ws, f"Organization {i:05d}", "MX", None, empty, empty,
        f"nat-{i:05d}", ts, ts, 1, name_key(f"Organization {i:05d}"),
    )  # fmt: skip
    tables.add("cohort_member", cohort, oid, ts)
    tables.add("cohort_member", cohort_all, oid, ts)
    capacity = rnd.uniform(0.1, 0.55)
    growth = rnd.gauss(0.06, 0.05)
    fixed_na = rnd.sample(keys, rnd.randint(1, 3)) if rnd.random() < 0.3 else []
    for r, label in enumerate(ROUNDS):
        cap = min(1.0, max(0.0, capacity + growth * r + rnd.gauss(0, 0.03)))
        answers = _answers(keys, cap, fixed_na, rnd)
        aid = uuid.uuid4()
        on = FIRST_DAY + timedelta(days=365 * r + i % 200)
        made = base + timedelta(days=365 * r, seconds=i)
        result = score(f.compiled, answers)  # what compute() does with the stored answers
        scored = result.overall.score is not None
        final = scored and label != ROUNDS[-1]
        status = Status.final if final else Status.submitted if scored else Status.draft
        tables.add(
            "assessment", aid, ws, oid, version_id, INSTRUMENT, VERSION, label, on, "bench",
            "f", status.value, 1, None, "t", "api", None, made, made,
            made if scored else None, made if final else None, 3 if final else 2 if scored else 1,
        )  # fmt: skip
        for k in sorted(answers, key=position.__getitem__):
            v = answers[k]
            na = v is NA
            tables.add("answer", aid, k, position[k], None if na else v, "t" if na else "f", None)
        if scored:  # store_score(): the same functions, the same columns
            payload = score_payload(result, f.instrument)
            tables.add(
                "assessment_score", aid, made, result.overall.score,
                orjson.dumps(score_summary(result, answers)).decode(),
                orjson.dumps(payload).decode(), render_score(aid, made, payload), ENGINE_VERSION,
            )  # fmt: skip
    return oid


def check_sample(session: Session, catalog: Catalog, ws: uuid.UUID, rnd: random.Random) -> int:
    """Stored scores of 200 random assessments equal a fresh ``compute`` of their stored answers."""
    ids = list(
        session.scalars(
            select(AssessmentScore.assessment_id)
            .join(Assessment, Assessment.id == AssessmentScore.assessment_id)
            .where(Assessment.workspace_id == ws)
        )
    )
    sample = rnd.sample(ids, min(200, len(ids)))
    rows = session.execute(
        select(Assessment, AssessmentScore)
        .join(AssessmentScore, AssessmentScore.assessment_id == Assessment.id)
        .where(Assessment.id.in_(sample))
        .options(selectinload(Assessment.answers))
    ).all()
    for a, stored in rows:
        f = catalog.get(a.instrument_id, a.instrument_version)
        assert f is not None
        result = compute(f, a)
        fresh = orjson.loads(orjson.dumps(score_payload(result, f.instrument)))
        assert fresh == stored.payload, f"stored score of {a.id} differs from compute()"
        summary = score_summary(result, answers_of(a))
        assert orjson.loads(orjson.dumps(summary)) == stored.summary
    session.rollback()
    return len(rows)
