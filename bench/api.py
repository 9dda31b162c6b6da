"""HTTP benchmark of the real server: uvicorn + the app factory, one worker, on SQLite and
PostgreSQL, driven from a separate process.

Usage:
    .venv/bin/python bench/api.py [--seconds 8] [--db sqlite|postgresql|both] [--runs 1]
                                  [--warmup 2] [--json results.json]
    (needs `wrk`: apt-get install -y wrk; PostgreSQL at postgres@127.0.0.1:5432 for that database;
    the admin URL can be changed with OCA_BENCH_PG_ADMIN)

Each run, per database (runs alternate between databases; the tables give medians over runs):
migrate a fresh database (SQLite file in a temp dir; PostgreSQL database
``oca_bench_<pid>`` on 127.0.0.1:5432, created here and dropped at the end — never ``test``),
load the demo data, a 24-organization cohort (services) and a 1,000-organization x 2-round cohort
(bulk rows checked against the services, real scores), create an editor key, start
``uvicorn app.main:create_app --factory`` (1 worker, 127.0.0.1, free port, --no-access-log,
uvloop/httptools when installed), then measure, each after a warm-up, with a time cap
(--seconds) and a request cap:

  (f) GET /healthz — the bare route of the same app (async def, no auth, no DB): the ceiling
      GET /v1/instruments — authenticated, no query but the key's: the floor of any /v1 read
  (b) GET /v1/assessments/{id}/scores           16 and 1 clients (rotating over 48 assessments)
  (c) GET /v1/organizations/{id}/series         16 and 1 clients (rotating over 24 organizations)
  (d) GET /v1/cohorts/{id}/comparison, 24 orgs  16 and 1 clients
  (e) GET /v1/cohorts/{id}/comparison, 1,000 x 2, 1 client (latency)
  (a) POST /v1/assessments (45 answers) + POST /v1/assessments/{id}/submit, 16 clients

(d) again while a client creates and submits an assessment once, then five times a second: the
dashboard that keeps up with a data-entry session.

Nothing is cached between requests (the service keeps no state across them), so every read here
is the real path: the key looked up, the data read and the answer computed.

GETs are driven by wrk (one thread); the POST flow by a small asyncio HTTP/1.1 client in this
process. Client and server share the machine's cores: the table shows the server's CPU (% of one
core), the load generator's, and the whole box's (% of all cores).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import re
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _data
import _load
from _load import Result

from app.catalog import load_catalog
from app.config import REPO_ROOT
from app.db import migrate

PG_ADMIN = os.environ.get("OCA_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{db}"
FORBIDDEN_DATABASES = {"test", "postgres", "template0", "template1", "root"}

# Goals
READ_VS_BARE = {"scores": 0.5, "series": 0.3, "cohort24": 0.3}  # issue 9
READ_P99_MS = 50.0
BIG_COHORT_MS = 150.0

READS = ("scores", "series", "cohort24")
LABELS = {
    "healthz": "(f) GET /healthz [bare route]",
    "floor": "    GET /v1/instruments [auth floor]",
    "scores": "(b) GET /v1/assessments/{id}/scores",
    "series": "(c) GET /v1/organizations/{id}/series",
    "cohort24": "(d) GET /v1/cohorts/{id}/comparison 24",
    "scores@1": "(b) GET .../scores",
    "series@1": "(c) GET .../series",
    "cohort24@1": "(d) GET .../comparison 24",
    "cohort1000": "(e) GET /v1/cohorts/{id}/comparison 1000x2",
    "mixed1": "(d) comparison 24 while 1 create+submit/s",
    "mixed5": "(d) comparison 24 while 5 create+submit/s",
    "write": "(a) create+submit (1 op = 2 requests)",
    "create": "      POST /v1/assessments",
    "submit": "      POST /v1/assessments/{id}/submit",
}
ORDER = (
    "healthz",
    "floor",
    "scores",
    "series",
    "cohort24",
    "scores@1",
    "series@1",
    "cohort24@1",
    "cohort1000",
    "mixed1",
    "mixed5",
    "write",
    "create",
    "submit",
)


# --- PostgreSQL database lifecycle ---------------------------------------------------------------


def pg_create(name: str) -> None:
    import psycopg

    if name in FORBIDDEN_DATABASES or not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise SystemExit(f"refusing to use database name {name!r}")
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')


def pg_drop(name: str) -> None:
    import psycopg

    if name in FORBIDDEN_DATABASES:
        return
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg_version() -> str:
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            return str(row[0]) if row else "?"
    except Exception as exc:
        return f"unavailable ({exc})"


# --- measurement ---------------------------------------------------------------------------------


def get_json(port: int, path: str, key: str | None) -> tuple[int, Any, int]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    with urllib.request.urlopen(req, timeout=60) as r:
        body = r.read()
        return r.status, json.loads(body), len(body)


def check_reads(port: int, ds: _data.Dataset, paths: dict[str, list[str]]) -> dict[str, int]:
    """One request per endpoint before timing: status 200 and the expected shape; body sizes."""
    sizes = {}
    status, body, sizes["healthz"] = get_json(port, paths["healthz"][0], None)
    assert status == 200 and body == {"status": "ok"}, body
    status, body, sizes["scores"] = get_json(port, paths["scores"][0], ds.key)
    assert status == 200 and body["overall"]["score"] is not None, body
    status, body, sizes["series"] = get_json(port, paths["series"][0], ds.key)
    assert status == 200 and len(body["points"]) == 2, body
    for name, n in (("cohort24", len(ds.orgs_24)), ("cohort1000", ds.big)):
        status, body, sizes[name] = get_json(port, paths[name][0], ds.key)
        assert status == 200, body
        assert len(body["organizations_with_both"]) == n, (name, n)
    return sizes


def answer_set(ds: _data.Dataset, rnd: random.Random) -> list[dict[str, Any]]:
    """Every OCA item answered around a random latent capacity, as the API takes them."""
    capacity = rnd.uniform(0.2, 0.9)
    answers = []
    for k in ds.item_keys:
        values = ds.allowed[k]
        pos = capacity * (len(values) - 1) + rnd.gauss(0, 0.6)
        v = values[min(len(values) - 1, max(0, round(pos)))]
        answers.append({"item": k, "value": int(v) if float(v).is_integer() else v})
    return answers


def write_operation(ds: _data.Dataset, tag: str) -> Any:
    """create (45 answers) + submit; bodies pre-rendered (8 answer sets): a cheap client."""
    rnd = random.Random(tag)
    variants = []
    for _ in range(8):
        answers = answer_set(ds, rnd)
        variants.append(
            json.dumps(
                {
                    "organization_id": "ORG",
                    "instrument_id": _data.INSTRUMENT,
                    "instrument_version": ds.instrument_version,
                    "round": "ROUND",
                    "assessed_on": "2024-05-01",
                    "assessor": "bench",
                    "answers": answers,
                },
                separators=(",", ":"),
            )
        )
    id_re = re.compile(rb'"id":"([0-9a-f-]{36})"')

    async def op(call: Any, wid: int, seq: int) -> None:
        body = (
            variants[seq % len(variants)]
            .replace('"ORG"', f'"{_data.write_target(ds, wid, seq)}"', 1)
            .replace('"ROUND"', f'"{tag}-{wid}-{seq}"', 1)
            .encode()
        )
        created = await call("create", "POST", "/v1/assessments", body, 201)
        m = id_re.search(created)
        if m is None:
            raise RuntimeError(f"no id in {created[:200]!r}")
        await call("submit", "POST", f"/v1/assessments/{m.group(1).decode()}/submit", b"", 200)

    return op


def paced_writer(port: int, ds: _data.Dataset, rate: float, tag: str) -> tuple[Any, Any]:
    """A thread that creates and submits an OCA assessment ``rate`` times a second until stopped:
    the writes made while (d) is measured. Returns (thread, stop event)."""
    import threading

    stop = threading.Event()
    headers = {"Authorization": f"Bearer {ds.key}", "Content-Type": "application/json"}
    rnd = random.Random(tag)

    def post(path: str, body: bytes) -> Any:
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}{path}", data=body, headers=headers, method="POST"
        )
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read())

    def loop() -> None:
        n = 0
        while not stop.is_set():
            started = time.monotonic()
            body = {
                "organization_id": str(_data.write_target(ds, 0, n)),
                "instrument_id": _data.INSTRUMENT,
                "round": f"{tag}-{n}",
                "assessed_on": "2024-05-01",
                "answers": answer_set(ds, rnd),
            }
            created = post("/v1/assessments", json.dumps(body).encode())
            post(f"/v1/assessments/{created['id']}/submit", b"")
            n += 1
            stop.wait(max(0.0, 1 / rate - (time.monotonic() - started)))
        thread.writes = n  # type: ignore[attr-defined]

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return thread, stop


def read_paths(ds: _data.Dataset) -> dict[str, list[str]]:
    return {
        "healthz": ["/healthz"],
        "scores": [f"/v1/assessments/{a}/scores" for a in ds.assessments_24],
        "series": [f"/v1/organizations/{o}/series?instrument_id=oca" for o in ds.orgs_24],
        "cohort24": [f"/v1/cohorts/{ds.cohort_24}/comparison?instrument_id=oca"],
        "cohort1000": [f"/v1/cohorts/{ds.cohort_1000}/comparison?instrument_id=oca"],
        "floor": ["/v1/instruments"],
    }


def measure_gets(
    port: int,
    pid: int,
    ds: _data.Dataset,
    args: argparse.Namespace,
    workdir: Path,
    plan: list[tuple[str, str, int, int, float]],
    sizes: dict[str, int],
) -> dict[str, Result]:
    """Each (name, endpoint, clients, request cap, seconds) after a warm-up, by wrk."""
    paths = read_paths(ds)
    out: dict[str, Result] = {}
    for name, endpoint, clients, cap, seconds in plan:
        common = {"server_pid": pid, "workdir": workdir}
        if args.warmup > 0:
            _load.run_wrk(
                name,
                port,
                paths[endpoint],
                ds.key,
                clients=clients,
                seconds=args.warmup,
                cap=cap,
                **common,
            )
        r = _load.run_wrk(
            name,
            port,
            paths[endpoint],
            ds.key,
            clients=clients,
            seconds=seconds,
            cap=cap,
            **common,
        )
        r.extra["bytes"] = sizes[endpoint]
        out[name] = r
        print(f"  {progress(r)}", flush=True)
    return out


def measure_once(
    port: int, pid: int, ds: _data.Dataset, args: argparse.Namespace, workdir: Path, run: int
) -> dict[str, Result]:
    paths = read_paths(ds)
    sizes = check_reads(port, ds, paths)
    sizes["floor"] = get_json(port, "/v1/instruments", ds.key)[2]
    many, cap_big, short = args.max_requests, args.max_big_requests, max(1.0, args.seconds / 2)
    plan = [  # name, endpoint, clients, request cap, seconds
        ("healthz", "healthz", 16, many, args.seconds),
        ("floor", "floor", 16, many, args.seconds),
        ("scores", "scores", 16, many, args.seconds),
        ("series", "series", 16, many, args.seconds),
        ("cohort24", "cohort24", 16, many, args.seconds),
        ("scores@1", "scores", 1, many, short),
        ("series@1", "series", 1, many, short),
        ("cohort24@1", "cohort24", 1, many, short),
        ("cohort1000", "cohort1000", 1, cap_big, args.seconds),
    ]
    out = measure_gets(port, pid, ds, args, workdir, plan, sizes)
    tag = f"r{run}-{os.getpid()}-{int(time.time())}"
    for rate in (1, 5):  # reads of a dashboard while data keeps changing
        thread, stop = paced_writer(port, ds, rate, f"{tag}-mix{rate}")
        mixed = measure_gets(
            port,
            pid,
            ds,
            args,
            workdir,
            [(f"mixed{rate}", "cohort24", 16, many, args.seconds)],
            sizes,
        )
        stop.set()
        thread.join(60)
        mixed[f"mixed{rate}"].extra["writes"] = getattr(thread, "writes", 0)
        out.update(mixed)
    if args.warmup > 0:
        _load.run_async(
            "write",
            port,
            ds.key,
            write_operation(ds, tag + "w"),
            clients=16,
            seconds=args.warmup,
            cap_ops=args.max_ops,
            server_pid=pid,
        )
    op, per = _load.run_async(
        "write",
        port,
        ds.key,
        write_operation(ds, tag),
        clients=16,
        seconds=args.seconds,
        cap_ops=args.max_ops,
        server_pid=pid,
    )
    out["write"] = op
    out.update(per)
    print(f"  {progress(op)}", flush=True)
    return out


def progress(r: Result) -> str:
    what = f"{r.ops_per_s:,.0f} ops/s" if r.ops is not None else f"{r.rps:,.0f} req/s"
    return (
        f"{r.name:10} c={r.clients:<2} n={r.requests:<7} {what:>12}  p50 {r.p50_ms:7.1f} ms"
        f"  p99 {r.p99_ms:7.1f} ms  err {r.errors}  cpu srv {r.server_cpu:.0f}% "
        f"gen {r.generator_cpu:.0f}% box {r.box_cpu:.0f}%"
    )


@contextlib.contextmanager
def fresh_database(kind: str, workdir: Path, pg_name: str) -> Iterator[str]:
    """The URL of a new, empty database: a SQLite file in ``workdir``, or the PostgreSQL database
    ``pg_name``, created here and dropped when the block ends, however it ends."""
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'bench.db'}"
        return
    pg_create(pg_name)
    try:
        yield PG_URL.format(db=pg_name)
    finally:
        pg_drop(pg_name)
        print(f"[{kind}] dropped database {pg_name}")


def bench_database(kind: str, args: argparse.Namespace, catalog: Any, run: int) -> dict[str, Any]:
    """One independent run: a fresh database, data, a fresh server, every measurement."""
    with tempfile.TemporaryDirectory(prefix="oca-bench-") as tmp:
        workdir = Path(tmp)
        pg_name = args.pg_database or f"oca_bench_{os.getpid()}"
        with fresh_database(kind, workdir, pg_name) as url:
            t = time.perf_counter()
            migrate.upgrade(url)
            ds = _data.prepare(url, catalog, big=args.big, verify=not args.no_verify)
            setup_s = time.perf_counter() - t
            print(
                f"[{kind} run {run + 1}/{args.runs}] data ready in {setup_s:.1f} s: {ds.counts}",
                flush=True,
            )
            with _load.uvicorn_server(url, REPO_ROOT, workdir / "server.log", workdir) as (
                proc,
                port,
                server_args,
            ):
                print(
                    f"[{kind} run {run + 1}/{args.runs}] server pid {proc.pid}: "
                    + " ".join(server_args),
                    flush=True,
                )
                result = measure_once(port, proc.pid, ds, args, workdir, run)
            return {"setup_s": setup_s, "counts": ds.counts, "run": result, "server": server_args}


# --- report --------------------------------------------------------------------------------------


def median_result(results: list[Result]) -> Result:
    """Medians of each number across runs (req/s via requests and seconds of the median run)."""
    if len(results) == 1:
        return results[0]
    by_rate = sorted(results, key=lambda r: r.ops_per_s if r.ops is not None else r.rps)
    mid = by_rate[len(by_rate) // 2]
    med = Result(**{**asdict(mid)})
    med.p50_ms = statistics.median(r.p50_ms for r in results)
    med.p99_ms = statistics.median(r.p99_ms for r in results)
    med.server_cpu = statistics.median(r.server_cpu for r in results)
    med.generator_cpu = statistics.median(r.generator_cpu for r in results)
    med.box_cpu = statistics.median(r.box_cpu for r in results)
    med.errors = sum(r.errors for r in results)
    rates = [r.ops_per_s if r.ops is not None else r.rps for r in results]
    med.extra = {
        **mid.extra,
        "range": (min(rates), max(rates)),
        "server_ms": statistics.median(r.server_ms for r in results),
    }
    return med


def table(kind: str, data: dict[str, Any], args: argparse.Namespace) -> list[str]:
    runs = data["runs"]
    med = {name: median_result([r[name] for r in runs]) for name in runs[0]}
    bare = med["healthz"].rps
    lines = [
        f"{kind}: {len(runs)} run(s), median; {args.seconds:g} s per endpoint after "
        f"{args.warmup:g} s warm-up; server: {' '.join(data['server'])}",
        f"{'endpoint':45} {'clients':>7} {'requests':>9} {'req/s':>8} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'x bare':>7} {'KB':>6} {'srv ms':>7} {'srv%':>5} {'gen%':>5} "
        f"{'box%':>5}",
    ]
    for name in ORDER:
        r = med.get(name)
        if r is None:
            continue
        if name == "write":
            rate = f"{r.ops_per_s:,.1f}"
            count = f"{r.ops}"
        else:
            rate = f"{r.rps:,.0f}" if r.rps >= 100 else f"{r.rps:,.1f}"
            count = str(r.requests)
        compared = (*READS, "floor", "mixed1", "mixed5")
        ratio = f"{r.rps / bare:.2f}" if r.clients == 16 and name in compared else ""
        kb = f"{r.extra.get('bytes', 0) / 1024:.1f}" if "bytes" in r.extra else ""
        cpu = (
            f"{r.server_ms:7.2f} {r.server_cpu:5.0f} {r.generator_cpu:5.0f} {r.box_cpu:5.0f}"
            if name not in ("create", "submit")
            else ""
        )
        rng = r.extra.get("range")
        flag = " (capped)" if r.capped else ""
        err = f"  errors {r.errors}" if r.errors else ""
        if "writes" in r.extra:
            err += f"  ({r.extra['writes']} writes meanwhile)"
        spread = (
            f"  [{rng[0]:,.0f}-{rng[1]:,.0f}]" if rng and name not in ("create", "submit") else ""
        )
        unit = " ops" if name == "write" else ""
        lines.append(
            f"{LABELS[name]:45} {r.clients:>7} {count + unit:>9} {rate:>8} {r.p50_ms:8.1f} "
            f"{r.p99_ms:8.1f} {ratio:>7} {kb:>6} {cpu}{spread}{flag}{err}"
        )
    lines.append(
        "srv ms = server CPU per request (per op for create+submit); srv% = server CPU in % of "
        "one core; gen% = load generator; box% = whole machine, % of all cores"
    )
    lines.append("")
    lines.append("goals:")
    for name in READS:
        r = med[name]
        goal = READ_VS_BARE[name]
        ok = r.rps >= goal * bare
        lines.append(
            f"  [{'PASS' if ok else 'FAIL'}] {name}: {r.rps:,.0f} req/s = {r.rps / bare:.2f} x "
            f"bare ({bare:,.0f}); goal >= {goal} x"
        )
    for name in READS:
        r = med[name]
        ok = r.p99_ms < READ_P99_MS
        lines.append(
            f"  [{'PASS' if ok else 'FAIL'}] {name}: p99 {r.p99_ms:.1f} ms at 16 clients; "
            f"goal < {READ_P99_MS:g} ms"
        )
    r = med["cohort1000"]
    ok = r.p99_ms < BIG_COHORT_MS
    lines.append(
        f"  [{'PASS' if ok else 'FAIL'}] cohort comparison 1,000 x 2: p50 "
        f"{r.p50_ms:.0f} ms, p99 {r.p99_ms:.0f} ms at 1 client ({r.requests} requests); "
        f"goal < {BIG_COHORT_MS:g} ms"
    )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="per endpoint (time cap)")
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument(
        "--runs", type=int, default=1, help="independent runs per database (fresh data and server)"
    )
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before each endpoint")
    parser.add_argument("--big", type=int, default=1000, help="organizations in the big cohort")
    parser.add_argument("--max-requests", type=int, default=200_000, help="cap per GET endpoint")
    parser.add_argument("--max-big-requests", type=int, default=2_000, help="cap, big cohort")
    parser.add_argument("--max-ops", type=int, default=50_000, help="cap, create+submit ops")
    parser.add_argument("--pg-database", help="name of the temporary PostgreSQL database")
    parser.add_argument("--no-verify", action="store_true", help="skip the data checks")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args()
    if not _load.wrk_available():
        print("wrk is required (Debian: apt-get install -y wrk)", file=sys.stderr)
        return 2

    def _term(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, _term)  # so `finally` stops the server and drops the database

    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    wrk_version = os.popen("wrk -v 2>&1").read().split("\n")[0].split(" [")[0]
    print(
        f"python {platform.python_version()}, {os.cpu_count()} CPU(s) shared by server and load "
        f"generator; {wrk_version}; SQLite {sqlite3.sqlite_version}"
        + (f"; PostgreSQL {pg_version()}" if "postgresql" in kinds else "")
    )
    print(f"load average before: {Path('/proc/loadavg').read_text().split()[:3]}")
    catalog = load_catalog(REPO_ROOT / "instruments")
    results: dict[str, Any] = {}
    for run in range(args.runs):  # databases alternate, so slow drift of the box hits both
        for kind in kinds:
            one = bench_database(kind, args, catalog, run)
            entry = results.setdefault(kind, {**one, "runs": []})
            entry["runs"].append(one.pop("run"))
    print(f"\nload average after: {Path('/proc/loadavg').read_text().split()[:3]}")
    for kind in kinds:
        print()
        print("\n".join(table(kind, results[kind], args)))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    k: {**v, "runs": [{n: asdict(r) for n, r in run.items()} for run in v["runs"]]}
                    for k, v in results.items()
                },
                indent=1,
                default=str,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
