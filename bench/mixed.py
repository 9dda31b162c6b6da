"""The mixed load of a partner application (issue 9): many clients, mostly reads, some writes, for
a minute, against the real server with one or several uvicorn workers.

Usage:
    .venv/bin/python bench/mixed.py [--seconds 60] [--clients 32] [--db sqlite|postgresql|both]
                                    [--workers 1,4] [--workbooks 300] [--json results.json]
    (PostgreSQL at postgres@127.0.0.1:5432; the admin URL can be changed with OCA_BENCH_PG_ADMIN)

Each configuration (database x worker count) gets a fresh database (a SQLite file in a temporary
directory, or ``oca_mixed_<pid>`` on PostgreSQL, dropped at the end), the data of
``bench/api.py`` (the demo, a 24-organization cohort with baseline and endline, 16 organizations
to write to, a bulk cohort) and a fresh ``uvicorn app.main:create_app --factory --workers N``.
Then ``--clients`` keep-alive connections each run, for ``--seconds`` after a warm-up, one
operation after another, chosen at random with these weights:

  40 %  GET /v1/assessments/{id}/scores          (48 assessments)
  20 %  GET /v1/organizations/{id}/series         (24 organizations)
  20 %  GET /v1/cohorts/{id}/comparison           (the 24-organization cohort)
  15 %  POST /v1/assessments (45 answers) + POST /v1/assessments/{id}/submit
   5 %  POST /v1/imports?create_organizations=true, one filled OCA workbook (multipart)

so 80 % of the operations are reads and 20 % writes, as issue 9 describes the load (``--weights``
changes the mix, e.g. ``scores=1`` for reads of scores alone). The workbooks
(``--workbooks`` of them, made once by ``bench/excel.py``'s generator, each naming a new
organization) are taken in turn; once all have been imported, importing one again is the
"unchanged" answer, still a parse and a comparison. Every answer must have its expected status;
a client that gets another ends, and counts as an error.

Printed per configuration: requests per second (every HTTP request counts, a create + submit is
two), p50 and p99 over all requests and per kind, errors, and the CPU of the server's whole
process group (the supervisor, its workers and their parser workers) per request. With several
configurations on PostgreSQL the last line gives the rate of the most workers over that of one.
Client and server share this machine's cores; the load generator's own CPU is printed too.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import signal
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _data
import _load
from _load import Result
from api import fresh_database, pg_version, read_paths, write_operation
from excel import make_workbooks

from app.catalog import load_catalog
from app.config import REPO_ROOT
from app.db import migrate

# issue 9's goals for this load
RATE_GOAL = 800.0  # requests/s, one worker
P99_GOAL_MS = 150.0
SCALE_GOAL = 1.6  # four workers over one, PostgreSQL

WEIGHTS = "scores=40,series=20,cohort24=20,write=15,import=5"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def multipart(filename: str, data: bytes) -> tuple[bytes, str]:
    """One file as the `files` field of a multipart/form-data body, and its content type."""
    boundary = f"oca-bench-{random.getrandbits(64):016x}"
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="files"; filename="{filename}"\r\n'
        f"Content-Type: {XLSX}\r\n\r\n"
    ).encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), (
        f"multipart/form-data; boundary={boundary}"
    )


def parse_weights(text: str) -> dict[str, float]:
    """``scores=40,series=20,...``: the operations' relative weights (a kind left out is 0)."""
    kinds = dict(item.split("=", 1) for item in text.split(",") if item.strip())
    unknown = set(kinds) - {"scores", "series", "cohort24", "write", "import"}
    if unknown:
        raise SystemExit(f"unknown operation(s) in --weights: {', '.join(sorted(unknown))}")
    return {k: float(v) for k, v in kinds.items()}


def mixed_operation(
    ds: _data.Dataset,
    workbooks: list[tuple[bytes, str]],
    tag: str,
    seed: int,
    weights_of: dict[str, float],
) -> Any:
    """One operation of the mix per call, drawn by the client's own random stream."""
    paths = read_paths(ds)
    write = write_operation(ds, tag)
    names = list(weights_of)
    weights = list(weights_of.values())
    streams: dict[int, random.Random] = {}
    taken = iter(range(10**9))
    imported = re.compile(rb'"status":"(created|updated|unchanged)"')

    async def op(call: Any, wid: int, seq: int) -> None:
        rnd = streams.setdefault(wid, random.Random(seed * 1000 + wid))
        kind = rnd.choices(names, weights)[0]
        if kind == "write":
            await write(call, wid, seq)
        elif kind == "import":
            body, content_type = workbooks[next(taken) % len(workbooks)]
            answer = await call(
                "import",
                "POST",
                "/v1/imports?create_organizations=true",
                body,
                200,
                content_type,
            )
            if imported.search(answer) is None:
                raise RuntimeError(f"import: {answer[:300]!r}")
        else:
            choices = paths[kind]
            await call(kind, "GET", choices[rnd.randrange(len(choices))], b"", 200)

    return op


def run_configuration(
    kind: str,
    workers: int,
    args: argparse.Namespace,
    catalog: Any,
    workbooks: list[tuple[bytes, str]],
) -> dict[str, Any]:
    """A fresh database and server with `workers` workers; the warm-up, then the measured mix."""
    name = f"{kind} x{workers}"
    with tempfile.TemporaryDirectory(prefix="oca-mixed-") as tmp:
        workdir = Path(tmp)
        with fresh_database(kind, workdir, f"oca_mixed_{os.getpid()}") as url:
            started = time.perf_counter()
            migrate.upgrade(url)
            ds = _data.prepare(url, catalog, big=args.big, verify=False)
            print(f"[{name}] data ready in {time.perf_counter() - started:.1f} s", flush=True)
            with _load.uvicorn_server(
                url, REPO_ROOT, workdir / "server.log", workdir, workers=workers
            ) as (proc, port, server_args):
                print(f"[{name}] server pid {proc.pid}: {' '.join(server_args)}", flush=True)
                tag = f"m{os.getpid()}-{workers}-{int(time.time())}"
                common = {"clients": args.clients, "cap_ops": 10**9, "server_pid": proc.pid}
                if args.warmup > 0:
                    _load.run_async(
                        "warm-up",
                        port,
                        ds.key,
                        mixed_operation(ds, workbooks[-8:], tag + "w", 1, args.weights),
                        seconds=args.warmup,
                        group=True,
                        **common,
                    )
                load = Path("/proc/loadavg").read_text().split()[:3]
                op, per = _load.run_async(
                    "mixed",
                    port,
                    ds.key,
                    mixed_operation(ds, workbooks[:-8], tag, 2, args.weights),
                    seconds=args.seconds,
                    group=True,
                    **common,
                )
            op.extra["load_before"] = load
            op.extra["load_after"] = Path("/proc/loadavg").read_text().split()[:3]
            op.extra["server_ms"] = (
                op.server_cpu / 100 * op.seconds / op.requests * 1000 if op.requests else 0.0
            )
            print(f"[{name}] {summary(op)}", flush=True)
            return {"kind": kind, "workers": workers, "mixed": op, "per": per}


def summary(op: Result) -> str:
    return (
        f"{op.rps:,.0f} req/s over {op.seconds:.1f} s ({op.requests:,} requests, "
        f"{op.ops:,} operations), p50 {op.p50_ms:.1f} ms, p99 {op.p99_ms:.1f} ms, "
        f"{op.errors} errors; server {op.server_cpu:.0f} % of a core "
        f"({op.server_ms:.2f} ms CPU per request), load generator {op.generator_cpu:.0f} %, "
        f"box {op.box_cpu:.0f} %"
    )


def report(results: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| database | workers | req/s | p50 ms | p99 ms | errors | server CPU ms/req | "
        "server % core | box % | goal |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        op: Result = r["mixed"]
        met = op.rps >= RATE_GOAL and op.p99_ms < P99_GOAL_MS and op.errors == 0
        lines.append(
            f"| {r['kind']} | {r['workers']} | {op.rps:,.0f} | {op.p50_ms:.1f} | "
            f"{op.p99_ms:.1f} | {op.errors} | {op.server_ms:.2f} | {op.server_cpu:.0f} | "
            f"{op.box_cpu:.0f} | {'met' if met else 'missed'} (≥ {RATE_GOAL:.0f}/s, "
            f"p99 < {P99_GOAL_MS:.0f} ms, 0 errors) |"
        )
    lines += [
        "",
        "| database | workers | kind | requests | p50 ms | p99 ms |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for r in results:
        for label, res in sorted(r["per"].items()):
            lines.append(
                f"| {r['kind']} | {r['workers']} | {label} | {res.requests:,} | "
                f"{res.p50_ms:.1f} | {res.p99_ms:.1f} |"
            )
    pg = {r["workers"]: r["mixed"].rps for r in results if r["kind"] == "postgresql"}
    if 1 in pg and len(pg) > 1:
        most = max(pg)
        ratio = pg[most] / pg[1] if pg[1] else 0.0
        lines.append("")
        lines.append(
            f"PostgreSQL, {most} workers over 1: {ratio:.2f}x "
            f"({'met' if ratio >= SCALE_GOAL else 'missed'}: goal ≥ {SCALE_GOAL}x)"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument(
        "--workers", default="1,4", help="worker counts for PostgreSQL (SQLite runs 1)"
    )
    parser.add_argument("--big", type=int, default=200, help="organizations in the bulk cohort")
    parser.add_argument("--workbooks", type=int, default=300)
    parser.add_argument(
        "--weights", default=WEIGHTS, type=parse_weights, help=f"the mix (default {WEIGHTS})"
    )
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args()

    def _term(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, _term)  # so `finally` stops the server and drops the database
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    print(
        f"python {platform.python_version()}, {os.cpu_count()} CPU(s) shared by server and load "
        f"generator" + (f"; PostgreSQL {pg_version()}" if "postgresql" in kinds else "")
    )
    print(f"load average before: {Path('/proc/loadavg').read_text().split()[:3]}")
    catalog = load_catalog(REPO_ROOT / "instruments")
    f = catalog.latest(_data.INSTRUMENT)
    assert f is not None
    started = time.perf_counter()
    made = make_workbooks(f, args.workbooks + 8, seed=9, prefix=f"mx{os.getpid()}")
    workbooks = [multipart(n, data) for n, data in made]
    print(f"{len(workbooks)} workbooks made in {time.perf_counter() - started:.1f} s")
    results = []
    for kind in kinds:
        counts = [int(w) for w in args.workers.split(",")] if kind == "postgresql" else [1]
        for workers in counts:
            results.append(run_configuration(kind, workers, args, catalog, workbooks))
    print(f"\nload average after: {Path('/proc/loadavg').read_text().split()[:3]}\n")
    print("\n".join(report(results)))
    if args.json:
        args.json.write_text(
            json.dumps(
                [
                    {
                        "kind": r["kind"],
                        "workers": r["workers"],
                        "mixed": asdict(r["mixed"]),
                        "per": {k: asdict(v) for k, v in r["per"].items()},
                    }
                    for r in results
                ],
                indent=1,
                default=str,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
