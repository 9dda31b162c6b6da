"""CPU per request of the app itself, without HTTP: the ASGI app called in-process (lifespan,
middleware, routing, dependencies, thread hops, database), the server's background threads off.

Where ``bench/api.py`` measures the real server under ``wrk`` (and on a shared machine its
numbers move with the neighbours' load), this counts the process's CPU time per request of one
endpoint, which moves much less, and is the thing to run under a profiler:

    .venv/bin/python bench/asgi_cpu.py --db sqlite --endpoint scores --requests 4000
    .venv/bin/py-spy record --gil -f raw -o out.txt -- .venv/bin/python bench/asgi_cpu.py ...

On a shared machine whose speed drifts from minute to minute, compare with ``--repeat 5
--relative-to healthz``: each measure is made five times, each just after one of the bare route,
and the median ratio printed beside the costs.

Endpoints: healthz, floor (GET /v1/instruments), scores, series, cohort24, write (POST
/v1/assessments with 45 answers + POST …/submit; CPU per create + submit). The data is
bench/api.py's (a fresh SQLite file, or PostgreSQL database ``--pg-database``, dropped after).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _data
import api as http_bench

from app.catalog import load_catalog
from app.config import Settings
from app.db import migrate
from app.main import create_app

_ID = re.compile(rb'"id":"([0-9a-f-]{36})"')


class Driver:
    def __init__(self, app: Any, key: str) -> None:
        self.app = app
        self.auth = f"Bearer {key}".encode()

    async def call(self, method: str, target: str, body: bytes = b"", expect: int = 200) -> bytes:
        path, _, query = target.partition("?")
        headers = [(b"host", b"bench"), (b"authorization", self.auth)]
        if body:
            headers += [(b"content-type", b"application/json")]
            headers += [(b"content-length", str(len(body)).encode())]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 80),
            "state": {},
        }
        status: list[int] = []
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        if status[0] != expect:
            raise RuntimeError(f"{method} {target}: {status[0]} {b''.join(chunks)[:300]!r}")
        return b"".join(chunks)


def bodies(ds: _data.Dataset) -> list[str]:
    rnd = random.Random(9)
    return [
        json.dumps(
            {
                "organization_id": "ORG",
                "instrument_id": _data.INSTRUMENT,
                "instrument_version": ds.instrument_version,
                "round": "ROUND",
                "assessed_on": "2024-05-01",
                "assessor": "bench",
                "answers": http_bench.answer_set(ds, rnd),
            },
            separators=(",", ":"),
        )
        for _ in range(8)
    ]


async def measure(
    settings: Settings,
    ds: _data.Dataset,
    endpoint: str,
    requests: int,
    clients: int,
    repeat: int = 1,
    relative_to: str | None = None,
) -> dict[str, float]:
    """CPU per request of ``endpoint``, ``repeat`` times in turn: the median and the least, and
    when ``relative_to`` names another endpoint, that one measured just before each time and the
    median of the ratios (on a shared machine whose speed drifts from minute to minute, a ratio
    of two costs measured a second apart moves far less than either)."""
    app = create_app(settings)
    paths = http_bench.read_paths(ds)
    variants = bodies(ds)
    seq = 0

    async def one(driver: Driver, name: str, worker: int, i: int) -> None:
        nonlocal seq
        if name != "write":
            targets = paths[name]
            await driver.call("GET", targets[(i + worker) % len(targets)])
            return
        seq += 1
        body = (
            variants[seq % len(variants)]
            .replace('"ORG"', f'"{_data.write_target(ds, worker, seq)}"', 1)
            .replace('"ROUND"', f'"cpu-{seq}"', 1)
        )
        created = await driver.call("POST", "/v1/assessments", body.encode(), 201)
        found = _ID.search(created)
        assert found is not None
        await driver.call("POST", f"/v1/assessments/{found.group(1).decode()}/submit")

    async def run(driver: Driver, name: str, worker: int, count: int) -> None:
        for i in range(count):
            await one(driver, name, worker, i)

    per_client = requests // clients
    done = per_client * clients

    async def cost(driver: Driver, name: str) -> tuple[float, float]:
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(run(driver, name, w, per_client) for w in range(clients)))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        return 1000 * cpu / done, 1000 * wall / done

    rounds, ratios = [], []
    async with app.router.lifespan_context(app):
        driver = Driver(app, ds.key)
        for name in (endpoint, relative_to):
            if name is not None:
                warm = 10 if name == "write" else 200
                await asyncio.gather(*(run(driver, name, w, warm) for w in range(clients)))
        for _ in range(repeat):
            reference = (await cost(driver, relative_to))[0] if relative_to else None
            rounds.append(await cost(driver, endpoint))
            if reference is not None:
                ratios.append(rounds[-1][0] / reference)
    rounds.sort()
    ratios.sort()
    return {
        "cpu_ms": rounds[len(rounds) // 2][0],
        "wall_ms": rounds[len(rounds) // 2][1],
        "cpu_min_ms": rounds[0][0],
        "ratio": ratios[len(ratios) // 2] if ratios else float("nan"),
        "requests": done,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--endpoint",
        choices=("healthz", "floor", "scores", "series", "cohort24", "write"),
        default="scores",
    )
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=16, help="concurrent requests")
    parser.add_argument(
        "--relative-to",
        choices=("healthz", "floor", "scores", "series", "cohort24"),
        help="measure this endpoint just before each measure, and print the median ratio",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="measure this many times in turn, on the same data: the median and the least "
        "(on a shared machine the least is the steadiest estimate of the cost)",
    )
    parser.add_argument("--big", type=int, default=50, help="organizations in the big cohort")
    parser.add_argument("--pg-database", default=f"oca_bench_cpu_{os.getpid()}")
    args = parser.parse_args()
    catalog = load_catalog(Settings().instruments_dir)
    with tempfile.TemporaryDirectory(prefix="oca-cpu-") as tmp:
        if args.db == "sqlite":
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        else:
            http_bench.pg_create(args.pg_database)
            url = http_bench.PG_URL.format(db=args.pg_database)
        try:
            migrate.upgrade(url)
            ds = _data.prepare(url, catalog, big=args.big, verify=False)
            settings = Settings(
                database_url=url,
                data_dir=Path(tmp),
                log_level="warning",
                webhook_delivery=False,
                jobs_enabled=False,
                rate_limit_per_key=10**9,
                rate_limit_per_address=10**9,
            )
            out = asyncio.run(
                measure(
                    settings,
                    ds,
                    args.endpoint,
                    args.requests,
                    args.clients,
                    args.repeat,
                    args.relative_to,
                )
            )
        finally:
            if args.db == "postgresql":
                http_bench.pg_drop(args.pg_database)
    print(
        f"{args.db} {args.endpoint} clients={args.clients}: {out['cpu_ms']:.3f} ms CPU "
        f"per {'create + submit' if args.endpoint == 'write' else 'request'} "
        f"({out['wall_ms']:.3f} ms wall, {out['requests']:.0f})"
        + (f"; least of {args.repeat}: {out['cpu_min_ms']:.3f} ms" if args.repeat > 1 else "")
        + (f"; {out['ratio']:.2f}x {args.relative_to}" if args.relative_to else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
