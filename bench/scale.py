"""A national portfolio, measured (issue 13): 10,000 organizations x 5 rounds of OCA 2015.2 on
PostgreSQL, the service's reads and rescoring beside a bare SQL baseline on the same rows.

Usage (the database is emptied and rebuilt; its name must contain "bench"):

    createdb -h 127.0.0.1 -U postgres bench_scale
    .venv/bin/python bench/scale.py --database-url postgresql+psycopg://postgres@127.0.0.1/bench_scale
    .venv/bin/python bench/scale.py --database-url ... --organizations 500 --workbooks 50  # quick

``--reuse`` measures an already built portfolio again (no load, rescoring still runs).
``--profile DIR`` writes a pyinstrument profile of each measured operation there
(``.venv/bin/pip install pyinstrument``; not a project dependency).

What is measured (goals from issue 13), each as p50/p95 over repeated calls, in --runs rounds:
  * cohort comparison of the 400-organization cohort (< 150 ms) and of all organizations (< 1 s)
  * one organization's series (< 20 ms); a page of 100 assessments, GET /v1/assessments (< 20 ms)
    -- each in-process (the service call and the JSON the route sends, with a session of its
    own as a request has) and over HTTP (a real uvicorn, one worker, one keep-alive client);
  * rescoring every assessment on a new engine version (< 60 s): ``refresh_stale_scores`` after
    the stored engine_version is set one lower;
  * importing 1,000 workbooks as a job (< 30 s), creating their organizations: queued as
    ``POST /v1/imports`` with ``Prefer: respond-async`` queues it, run by a real JobRunner with
    the parser pool, its progress polled; ``--direct-import`` also times ``import_workbooks``
    in this process, as before jobs existed.
The bare baseline is a plain SQL query (psycopg, no ORM) over the same rows. Never a test.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _load
import _portfolio as pf
import psycopg
from _scale_writes import import_as_job, import_workbooks_once, profiled, rescore
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from app.catalog import Catalog, load_catalog
from app.config import REPO_ROOT
from app.db import migrate
from app.db.models import Assessment, AssessmentScore, Cohort, Organization, Workspace
from app.db.session import make_engine, make_sessionmaker
from app.services import analysis, cohort_comparison
from app.services.assessment_reads import AssessmentFilter, answered_counts, list_assessments
from app.services.keys import Principal, authenticate, create_key
from app.services.round_pairs import refresh_pairs
from app.services.scores import as_json

REPS = {"cohort-400": 15, "cohort-all": 5, "series": 100, "page": 60}
GOALS_MS = {"cohort-400": 150, "cohort-all": 1000, "series": 20, "page": 20}


# --- timing --------------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[max(0, min(len(s) - 1, round(q / 100 * len(s) + 0.5) - 1))]


CPU_MS: list[float] = []  # this process's CPU time of each call of the last timed() run


def timed(fn: Callable[[int], Any], reps: int, warmup: int = 1) -> list[float]:
    """Milliseconds of each call after a warm-up; ``fn`` gets the call's index. The CPU time this
    process spent in each call goes to CPU_MS (the machine is shared: wall time includes waiting
    for a core, CPU time does not; the database server's time is in neither for bare SQL)."""
    for i in range(warmup):
        fn(i)
    out = []
    CPU_MS.clear()
    for i in range(reps):
        t, c = time.perf_counter(), time.process_time()
        fn(i)
        out.append((time.perf_counter() - t) * 1000)
        CPU_MS.append((time.process_time() - c) * 1000)
    return out


# --- the portfolio -------------------------------------------------------------------------------


def reset(url: str) -> None:
    name = make_url(url).database or ""
    if "bench" not in name:
        sys.exit(f"refusing to empty database {name!r}: its name must contain 'bench'")
    with psycopg.connect(pf.psycopg_dsn(url), autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    migrate.upgrade(url)


def reuse(session: Session) -> pf.Portfolio:
    ws = session.scalar(select(Workspace).where(Workspace.name == pf.WORKSPACE))
    if ws is None:
        sys.exit("--reuse: no portfolio in this database; run without --reuse first")
    key = create_key(session, workspace=pf.WORKSPACE, role="editor", name="bench-scale")
    found = session.execute(select(Cohort.name, Cohort.id).where(Cohort.workspace_id == ws.id))
    cohorts = {name: cid for name, cid in found}
    orgs = list(
        session.scalars(
            select(Organization.id)
            .where(Organization.workspace_id == ws.id, Organization.external_id.like("nat-%"))
            .order_by(Organization.external_id)
        )
    )
    counts = {
        "organizations": len(orgs),
        "assessments": session.scalar(select(func.count()).select_from(Assessment)) or 0,
        "scores": session.scalar(select(func.count()).select_from(AssessmentScore)) or 0,
    }
    session.rollback()
    return pf.Portfolio(
        key.secret, ws.id, cohorts["Cohort 000"], cohorts["National"], [], orgs, counts, 0.0
    )


# --- the bare baseline (plain SQL, psycopg, no ORM) ----------------------------------------------

BARE_COHORT = """
SELECT a.round, count(*), avg(s.overall), stddev(s.overall)
FROM cohort_member m
JOIN assessment a ON a.organization_id = m.organization_id
JOIN assessment_score s ON s.assessment_id = a.id
WHERE m.cohort_id = %s AND a.workspace_id = %s AND a.instrument_id = 'oca'
  AND a.round IN ('baseline', 'endline') AND a.is_current AND a.status IN ('submitted', 'final')
GROUP BY a.round"""
BARE_SERIES = """
SELECT a.id, a.round, a.assessed_on, s.overall, s.summary
FROM assessment a JOIN assessment_score s ON s.assessment_id = a.id
WHERE a.workspace_id = %s AND a.organization_id = %s AND a.instrument_id = 'oca' AND a.is_current
  AND a.status IN ('submitted', 'final')
ORDER BY a.assessed_on, a.created_at"""
BARE_PAGE = """
SELECT a.id, a.organization_id, a.instrument_id, a.instrument_version, a.round, a.assessed_on,
       a.status, a.revision, a.is_current, a.created_at,
       (SELECT count(*) FROM answer x WHERE x.assessment_id = a.id
          AND (x.is_na OR x.value IS NOT NULL))
FROM assessment a WHERE a.workspace_id = %s AND (a.created_at, a.id) > (%s, %s)
ORDER BY a.created_at, a.id LIMIT 101"""


def bare_cohort_sql(catalog: Catalog) -> str:
    """The plainest aggregate over the same rows: overall only. (Averaging the 7 dimensions too,
    read from the stored summary JSON, took 1.1-1.5 s for 10,000 organizations: PostgreSQL
    parses a json column at every ->.)"""
    return BARE_COHORT


# --- the measurements ----------------------------------------------------------------------------


class Bench:
    def __init__(self, url: str, catalog: Catalog, p: pf.Portfolio, sm: sessionmaker[Session]):
        self.url, self.catalog, self.p, self.sm = url, catalog, p, sm
        with sm() as s:
            principal = authenticate(s, p.key)
        assert principal is not None
        self.principal: Principal = principal
        self.rnd = random.Random(5)
        self.cursors = self._cursors(40)
        self.results: dict[str, list[dict[str, Any]]] = {}

    def _cursors(self, n: int) -> list[str | None]:
        """Cursors of n pages of GET /v1/assessments spread over the whole list: the first page
        and pages that start after randomly chosen assessments (a client walking deep pages)."""
        from app.services.common import encode_cursor

        with psycopg.connect(pf.psycopg_dsn(self.url)) as conn:
            rows = conn.execute(
                "SELECT created_at, id FROM assessment WHERE workspace_id = %s",
                (self.p.workspace_id,),
            ).fetchall()
        picked = self.rnd.sample(rows, min(n - 1, len(rows)))
        self.positions = [("-infinity", uuid.UUID(int=0)), *picked]  # the same pages, for SQL
        return [None, *(encode_cursor(c, i) for c, i in picked)]

    def record(self, name: str, how: str, ms: list[float]) -> None:
        row = {"how": how, "p50": pct(ms, 50), "p95": pct(ms, 95), "best": min(ms), "n": len(ms)}
        row["cpu_p50"] = pct(CPU_MS, 50) if how == "in-process" else None
        self.results.setdefault(name, []).append(row)
        goal = GOALS_MS.get(name)
        verdict = (
            "" if goal is None or how == "bare SQL" else ("ok" if row["p50"] < goal else "MISSED")
        )
        print(
            f"  {name:11} {how:11} p50 {row['p50']:9.1f} ms  p95 {row['p95']:9.1f} ms  "
            f"best {row['best']:9.1f} ms  (n={len(ms)}; goal < {goal} ms) {verdict}"
            + (f"  [CPU p50 {row['cpu_p50']:.1f} ms]" if row["cpu_p50"] is not None else "")
        )

    # in-process: what the route does, with a session of its own (as Keyed.json gives it)
    def cohort(self, cohort_id: uuid.UUID) -> bytes:
        with self.sm() as s:
            asked = cohort_comparison.RoundsAsked(cohort_id, "oca")
            return cohort_comparison.comparison_text(s, self.principal, self.catalog, asked)

    def series(self, org: uuid.UUID) -> str:
        with self.sm() as s:
            return as_json(analysis.series(s, self.principal, org, "oca"))

    def page(self, cursor: str | None) -> int:
        """What GET /v1/assessments does before it builds the response models."""
        with self.sm() as s:
            f = AssessmentFilter()
            rows, _ = list_assessments(s, self.principal, f, limit=100, cursor=cursor)
            return sum(answered_counts(s, [a.id for a in rows]).values())

    def in_process(self, profile: Path | None) -> None:
        orgs = self.p.organizations
        cases: list[tuple[str, Callable[[int], Any]]] = [
            ("cohort-400", lambda i: self.cohort(self.p.cohort_400)),
            ("cohort-all", lambda i: self.cohort(self.p.cohort_all)),
            ("series", lambda i: self.series(orgs[self.rnd.randrange(len(orgs))])),
            ("page", lambda i: self.page(self.cursors[i % len(self.cursors)])),
        ]
        for name, fn in cases:
            self.record(name, "in-process", timed(fn, REPS[name]))
            if profile is not None:
                with profiled(profile, f"{name}-in-process"):
                    timed(fn, max(1, REPS[name] // 5), warmup=0)

    def bare(self) -> None:
        ws, cohort_sql = self.p.workspace_id, bare_cohort_sql(self.catalog)
        orgs = self.p.organizations
        with psycopg.connect(pf.psycopg_dsn(self.url)) as conn:
            pos, c400, call = self.positions, self.p.cohort_400, self.p.cohort_all
            cases: list[tuple[str, Callable[[int], Any]]] = [
                ("cohort-400", lambda i: conn.execute(cohort_sql, (c400, ws)).fetchall()),
                ("cohort-all", lambda i: conn.execute(cohort_sql, (call, ws)).fetchall()),
                ("series", lambda i: conn.execute(
                    BARE_SERIES, (ws, orgs[self.rnd.randrange(len(orgs))])).fetchall()),
                ("page", lambda i: conn.execute(BARE_PAGE, (ws, *pos[i % len(pos)])).fetchall()),
            ]  # fmt: skip
            for name, fn in cases:
                self.record(name, "bare SQL", timed(fn, REPS[name]))
            conn.rollback()

    def over_http(self, tmp: Path) -> None:
        orgs = self.p.organizations
        log = tmp / "uvicorn.log"
        with _load.uvicorn_server(self.url, REPO_ROOT, log, tmp) as (_, port, _args):
            conn = http.client.HTTPConnection(_load.HOST, port, timeout=120)
            headers = {"Authorization": f"Bearer {self.p.key}", "Accept": "application/json"}

            def get(path: str) -> bytes:
                conn.request("GET", path, headers=headers)
                r = conn.getresponse()
                body = r.read()
                if r.status != 200:
                    raise RuntimeError(f"GET {path}: {r.status} {body[:300]!r}")
                return body

            q = "instrument_id=oca&baseline=baseline&endline=endline"
            cursors = self.cursors

            def page(i: int) -> bytes:
                c = cursors[i % len(cursors)]
                return get("/v1/assessments?limit=100" + (f"&cursor={c}" if c else ""))

            cases: list[tuple[str, Callable[[int], Any]]] = [
                ("cohort-400", lambda i: get(f"/v1/cohorts/{self.p.cohort_400}/comparison?{q}")),
                ("cohort-all", lambda i: get(f"/v1/cohorts/{self.p.cohort_all}/comparison?{q}")),
                ("series", lambda i: get(
                    f"/v1/organizations/{orgs[self.rnd.randrange(len(orgs))]}/series?instrument_id=oca")),
                ("page", page),
            ]  # fmt: skip
            for name, fn in cases:
                self.record(name, "HTTP", timed(fn, REPS[name]))
            body = json.loads(get("/v1/assessments?limit=100"))
            assert len(body["items"]) == 100, len(body["items"])
            conn.close()


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--organizations", type=int, default=10_000)
    ap.add_argument("--workbooks", type=int, default=1_000)
    ap.add_argument("--runs", type=int, default=3, help="rounds of the read measurements")
    ap.add_argument("--reuse", action="store_true")
    ap.add_argument("--no-http", action="store_true")
    ap.add_argument("--no-rescore", action="store_true")
    ap.add_argument(
        "--rescore-processes",
        type=int,
        default=os.cpu_count() or 1,
        help="processes sharing the rescoring, as `oca serve` does (default: one per core; "
        "1: refresh_stale_scores in this process)",
    )
    ap.add_argument(
        "--direct-import", action="store_true", help="also import_workbooks in this process"
    )
    ap.add_argument("--profile", type=Path)
    ap.add_argument("--json", type=Path, help="write the results here")
    args = ap.parse_args()
    if make_url(args.database_url).get_backend_name() != "postgresql":
        sys.exit("bench/scale.py measures PostgreSQL: give a postgresql+psycopg:// URL")
    catalog = load_catalog(REPO_ROOT / "instruments")
    n = args.organizations
    print(f"python {platform.python_version()}, {platform.machine()}, {n:,} organizations")
    if not args.reuse:
        reset(args.database_url)
    engine = make_engine(args.database_url)
    sm = make_sessionmaker(engine)
    out: dict[str, Any] = {}
    if args.reuse:
        migrate.upgrade(args.database_url)  # a portfolio built by an older schema
    with sm() as session:
        if args.reuse:
            p = reuse(session)
        else:
            p = pf.build(args.database_url, session, catalog, args.organizations)
        # what `oca serve` does before it serves: every round pair not stored yet (all of
        # them after a bulk load, which does not go through submit) made and stored
        t, cpu = time.perf_counter(), time.process_time()
        paired = refresh_pairs(session, catalog)
        print(
            f"round pairs: {paired:,} made and stored in {time.perf_counter() - t:.1f} s "
            f"(CPU {time.process_time() - cpu:.1f} s)"
        )
    with psycopg.connect(pf.psycopg_dsn(args.database_url)) as conn:
        size = conn.execute(
            "SELECT pg_size_pretty(pg_database_size(current_database()))"
        ).fetchone()
    print(
        f"portfolio: {p.counts}, {len(p.cohort_sizes) or '?'} cohorts + 1 of all, "
        f"loaded in {p.load_seconds:.0f} s, database {size[0] if size else '?'}"
    )
    out["portfolio"] = {"counts": p.counts, "cohorts": p.cohort_sizes, "load_s": p.load_seconds}
    bench = Bench(args.database_url, catalog, p, sm)
    with tempfile.TemporaryDirectory(prefix="oca-scale-") as tmp:
        for run in range(args.runs):
            print(f"run {run + 1} of {args.runs}")
            bench.bare()
            bench.in_process(args.profile if run == 0 else None)
            if not args.no_http:
                bench.over_http(Path(tmp))
    out["reads"] = bench.results
    print("summary over runs (p50 of each run: best / median):")
    for name, rows in bench.results.items():
        for how in ("bare SQL", "in-process", "HTTP"):
            p50s = [r["p50"] for r in rows if r["how"] == how]
            p95s = [r["p95"] for r in rows if r["how"] == how]
            cpus = [r["cpu_p50"] for r in rows if r["how"] == how and r["cpu_p50"] is not None]
            if p50s:
                print(
                    f"  {name:11} {how:11} p50 {min(p50s):8.1f} / {statistics.median(p50s):8.1f} ms"
                    f"   p95 {min(p95s):8.1f} / {statistics.median(p95s):8.1f} ms"
                    f"   goal < {GOALS_MS[name]} ms"
                    + (f"   CPU p50 {statistics.median(cpus):.1f} ms" if cpus else "")
                )
    if not args.no_rescore:
        out["rescore"] = rescore(
            args.database_url,
            sm,
            catalog,
            args.profile,
            args.rescore_processes,
            REPO_ROOT / "instruments",
        )
    if args.workbooks:
        out["import_job"] = import_as_job(
            args.database_url, sm, catalog, bench.principal, args.workbooks
        )
        if args.direct_import:
            out["import"] = import_workbooks_once(sm, catalog, bench.principal, args.workbooks)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, default=str))
    engine.dispose()


if __name__ == "__main__":
    main()
