"""Server time of the two heaviest pages for one organization: its page (10 OCA rounds of 45
items: the rounds table, the series chart of 8 lines, the lens profile) and one of its assessment
pages (the explained tree of 45 items with notes), plus a NUPAS assessment page (risk and
conditions). Goal: < 50 ms each.

Usage:
    .venv/bin/python -m bench.pages [--requests 60] [--db sqlite|postgresql] [--writes-per-s 10]
    (PostgreSQL: a database ``oca_bench_pages_<pid>`` on postgres@127.0.0.1:5432, made and dropped)

The data is made through the REST API of the real app (in process). The pages are then asked of
a real server (uvicorn, one worker, no cache of any kind exists) by a signed-in viewer, one at a
time after a warm-up, in two phases: quiet, and with writes mixed in (a second process creates
and submits OCA assessments in the same workspace and changes a draft of the measured
organization, at a steady rate). In each phase the bare route (``/healthz``: no session, no
database) is measured the same way, as the floor. The time printed is the server's own (its
``oca.access`` log line: first byte in to response out), with the client's round trip beside it.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx2 as httpx
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.catalog import load_catalog
from app.config import REPO_ROOT, Settings
from app.db import migrate
from app.db.session import make_engine, make_sessionmaker
from app.domain.instrument import Instrument
from app.main import create_app
from app.services import people
from app.services.keys import create_key
from bench._load import uvicorn_server

PASSWORD = "bench-password-long"
ROUNDS = 10
WORKSPACE = "bench-pages"


def _instrument(instrument_id: str) -> Instrument:
    found = load_catalog(REPO_ROOT / "instruments").latest(instrument_id)
    assert found is not None
    return found.instrument


def seed(client: TestClient, key: str) -> dict[str, Any]:
    """An organization with ten OCA rounds (45 items, notes) and a NUPAS assessment."""
    h = {"Authorization": f"Bearer {key}"}

    def ok(resp: Any, status: int = 200) -> Any:
        assert resp.status_code == status, resp.text[:500]
        return resp.json()

    org = ok(
        client.post(
            "/v1/organizations",
            headers=h,
            json={
                "name": "Red de Mujeres del Istmo",
                "country": "MX",
                "region": "Oaxaca",
                "thematic_areas": ["derechos", "salud"],
                "tags": ["rural"],
                "external_id": "RMI-001",
            },
        ),
        201,
    )
    items = [i.key for d in _instrument("oca").dimensions for a in d.areas for i in a.items]
    ids = []
    for r in range(ROUNDS):
        answers = [
            {
                "item": k,
                "value": "na"
                if (i + r) % 17 == 0
                else 1 + (i * 7 + r * 3) % 4 // (1 if r > 4 else 2),
                "note": f"Evidencia revisada en la visita {r + 1}" if i % 5 == 0 else None,
            }
            for i, k in enumerate(items)
        ]
        label = "baseline" if r == 0 else ("endline" if r == ROUNDS - 1 else f"round-{r + 1}")
        body = {
            "organization_id": org["id"],
            "instrument_id": "oca",
            "round": label,
            "assessed_on": f"{2016 + r}-03-01",
            "assessor": "Equipo de evaluación",
            "answers": answers,
        }
        a = ok(client.post("/v1/assessments", headers=h, json=body), 201)
        ok(client.post(f"/v1/assessments/{a['id']}/submit", headers=h))
        ids.append(a["id"])
    n_items = [
        (d.key, i.key) for d in _instrument("nupas").dimensions for a in d.areas for i in a.items
    ]
    body = {
        "organization_id": org["id"],
        "instrument_id": "nupas",
        "round": "baseline",
        "assessed_on": "2024-05-01",
        "answers": [
            {"item": k, "value": "no" if d == "procurement" or j % 9 == 0 else "yes"}
            for j, (d, k) in enumerate(n_items)
        ],
    }
    n = ok(client.post("/v1/assessments", headers=h, json=body), 201)
    ok(client.post(f"/v1/assessments/{n['id']}/submit", headers=h))
    other = ok(client.post("/v1/organizations", headers=h, json={"name": "Otra OSC"}), 201)
    draft = ok(
        client.post(
            "/v1/assessments",
            headers=h,
            json={
                "organization_id": org["id"],
                "instrument_id": "oca",
                "round": "draft-under-edit",
                "assessed_on": "2026-03-01",
                "answers": [{"item": items[0], "value": 2}],
            },
        ),
        201,
    )
    return {
        "org": org["id"],
        "assessments": ids,
        "nupas": n["id"],
        "other_org": other["id"],
        "draft": draft["id"],
        "items": items,
    }


def prepare(url: str, data_dir: Path) -> tuple[dict[str, Any], str, str]:
    """A migrated database with the data; the editor key and the viewer's e-mail."""
    migrate.upgrade(url)
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        key = create_key(session, workspace=WORKSPACE, role="editor").secret
        email = f"viewer-{os.getpid()}@example.org"
        people.create_person(
            session,
            email=email,
            name="Viewer",
            password=PASSWORD,
            workspace=WORKSPACE,
            role="viewer",
        )
    engine.dispose()
    settings = Settings(
        database_url=url, instruments_dir=REPO_ROOT / "instruments", data_dir=data_dir
    )
    with TestClient(create_app(settings)) as client:
        made = seed(client, key)
    return made, key, email


def sign_in(client: httpx.Client, email: str) -> None:
    form = client.get("/sign-in").text
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', form)
    assert token
    signed = client.post(
        "/sign-in",
        data={"csrf_token": token.group(1), "email": email, "password": PASSWORD, "next": "/"},
    )
    assert signed.status_code == 303, signed.text[:300]


def writer(base: str, key: str, made: dict[str, Any], per_s: float, stop: Any) -> None:
    """Steady writes in the measured workspace until told to stop: a new OCA assessment of the
    other organization, created and submitted; every third turn, a change to a draft of the
    measured organization (so nothing about its pages could stay remembered)."""
    h = {"Authorization": f"Bearer {key}"}
    items = made["items"]
    n = 0
    with httpx.Client(base_url=base, headers=h, timeout=30) as c:
        while not stop.is_set():
            began = time.perf_counter()
            answers = [{"item": k, "value": 1 + (i + n) % 4} for i, k in enumerate(items)]
            body = {
                "organization_id": made["other_org"],
                "instrument_id": "oca",
                "round": f"w-{os.getpid()}-{n}",
                "assessed_on": "2025-06-01",
                "answers": answers,
            }
            made_now = c.post("/v1/assessments", json=body)
            assert made_now.status_code == 201, made_now.text[:300]
            done = c.post(f"/v1/assessments/{made_now.json()['id']}/submit")
            assert done.status_code == 200, done.text[:300]
            if n % 3 == 0:
                draft = c.get(f"/v1/assessments/{made['draft']}")
                changed = c.patch(
                    f"/v1/assessments/{made['draft']}",
                    headers={"If-Match": draft.headers["ETag"]},
                    json={"answers": [{"item": items[0], "value": 1 + n % 4}]},
                )
                assert changed.status_code == 200, changed.text[:300]
            n += 1
            time.sleep(max(0.0, 1 / per_s - (time.perf_counter() - began)))


_ACCESS = re.compile(r"GET (\S+) -> (\d+) in ([\d.]+) ms")


def server_times(log: Path, start: int, path: str) -> list[float]:
    """The server's own times for GET ``path`` in the log written after byte ``start``."""
    with log.open("rb") as f:
        f.seek(start)
        text_ = f.read().decode("utf-8", "replace")
    return [float(m[3]) for m in _ACCESS.finditer(text_) if m[1] == path and m[2] == "200"]


def measure(client: httpx.Client, log: Path, path: str, n: int) -> tuple[float, float, float]:
    for _ in range(5):
        assert client.get(path).status_code == 200, path
    time.sleep(0.2)  # the warm-up's log lines are written before the mark
    start = log.stat().st_size
    wall = []
    for _ in range(n):
        t0 = time.perf_counter()
        resp = client.get(path)
        wall.append((time.perf_counter() - t0) * 1000)
        assert resp.status_code == 200
    time.sleep(0.3)
    server = sorted(server_times(log, start, path))
    assert len(server) == n, (path, len(server), n)
    p95 = server[int(len(server) * 0.95) - 1]
    return statistics.median(server), p95, statistics.median(wall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--writes-per-s", type=float, default=10.0)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="oca-bench-pages-"))
    admin_url = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    name = f"oca_bench_pages_{os.getpid()}"
    if args.db == "postgresql":
        admin = make_engine(admin_url).execution_options(isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    else:
        url = f"sqlite:///{tmp / 'bench.db'}"
    log = tmp / "server.log"
    try:
        made, key, email = prepare(url, tmp)
        pages = {
            f"organization page ({ROUNDS} OCA rounds + 1 NUPAS)": f"/organizations/{made['org']}",
            "assessment page (OCA, 45 items)": f"/assessments/{made['assessments'][-1]}",
            "assessment page (NUPAS, 52 items, risk)": f"/assessments/{made['nupas']}",
            "organizations list": "/organizations",
            "bare route (/healthz: no session, no database)": "/healthz",
        }
        env = {"OCA_LOG_LEVEL": "info", "OCA_LOG_FORMAT": "text"}
        with uvicorn_server(url, REPO_ROOT, log, tmp, extra_env=env) as (_, port, _args):
            base = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=base, timeout=30) as client:
                sign_in(client, email)
                for phase in ("quiet", "writes mixed in"):
                    stop = multiprocessing.Event()
                    proc = None
                    if phase != "quiet":
                        proc = multiprocessing.Process(
                            target=writer, args=(base, key, made, args.writes_per_s, stop)
                        )
                        proc.start()
                        time.sleep(1.0)
                    try:
                        print(
                            f"\n{args.db}, {phase}"
                            + (
                                f" ({args.writes_per_s:g} create+submit/s, a draft of this "
                                "organization changed every third)"
                                if proc
                                else ""
                            )
                            + f"; {args.requests} requests each after 5 warm-up (ms)"
                        )
                        print(
                            f"{'page':<48} {'server median':>14} {'server p95':>11} "
                            f"{'client median':>14}"
                        )
                        for label, path in pages.items():
                            median, p95, wall = measure(client, log, path, args.requests)
                            print(f"{label:<48} {median:>14.1f} {p95:>11.1f} {wall:>14.1f}")
                    finally:
                        stop.set()
                        if proc is not None:
                            proc.join(30)
                            if proc.exitcode != 0:
                                raise SystemExit(f"the writer failed (exit {proc.exitcode})")
    finally:
        if args.db == "postgresql":
            with admin.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


if __name__ == "__main__":
    main()
