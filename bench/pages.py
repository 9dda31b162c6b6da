"""Server time of the two heaviest pages for one organization: its page (10 OCA rounds of 45
items: the rounds table, the series chart of 8 lines, the lens profile) and one of its assessment
pages (the explained tree of 45 items with notes), plus a NUPAS assessment page (risk and
conditions). Goal: < 50 ms each.

Usage:
    .venv/bin/python bench/pages.py [--requests 60] [--db sqlite|postgresql]
    (PostgreSQL: a database ``oca_bench_pages_<pid>`` on postgres@127.0.0.1:5432, made and dropped)

The data is made through the REST API of the real app (in process); the pages are then asked
through the same app, signed in as a viewer, after a warm-up. The time printed is the app's own
(the ``oca.access`` log line of each request: from the first byte in to the response out), with
the in-process client's round trip beside it.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

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

PASSWORD = "bench-password-long"
ROUNDS = 10
WORKSPACE = "bench-pages"


class Timings(logging.Handler):
    """Collects the server's own time from the access log ("... -> 200 in 12.3 ms")."""

    def __init__(self) -> None:
        super().__init__()
        self.ms: list[float] = []

    def emit(self, record: logging.LogRecord) -> None:
        found = re.search(r" in ([\d.]+) ms", record.getMessage())
        if found:
            self.ms.append(float(found.group(1)))


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
    return {"org": org["id"], "assessments": ids, "nupas": n["id"]}


def prepare(url: str, data_dir: Path) -> tuple[TestClient, dict[str, Any], str]:
    """A migrated database with the data, and a client signed in as a viewer."""
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
    client = TestClient(create_app(settings), follow_redirects=False)
    client.__enter__()
    made = seed(client, key)
    form = client.get("/sign-in").text
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', form)
    assert token
    signed = client.post(
        "/sign-in",
        data={"csrf_token": token.group(1), "email": email, "password": PASSWORD, "next": "/"},
    )
    assert signed.status_code == 303, signed.text[:300]
    return client, made, email


def measure(client: TestClient, path: str, n: int, timings: Timings) -> tuple[float, float, float]:
    for _ in range(5):
        assert client.get(path).status_code == 200, path
    timings.ms.clear()
    wall = []
    for _ in range(n):
        t0 = time.perf_counter()
        resp = client.get(path)
        wall.append((time.perf_counter() - t0) * 1000)
        assert resp.status_code == 200
    server = sorted(timings.ms)
    p95 = server[int(len(server) * 0.95) - 1]
    return statistics.median(server), p95, statistics.median(wall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
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
    timings = Timings()
    access = logging.getLogger("oca.access")
    try:
        client, made, _ = prepare(url, tmp)
        access.addHandler(timings)
        access.propagate = False
        pages = {
            f"organization page ({ROUNDS} OCA rounds + 1 NUPAS)": f"/organizations/{made['org']}",
            "assessment page (OCA, 45 items)": f"/assessments/{made['assessments'][-1]}",
            "assessment page (NUPAS, 52 items, risk)": f"/assessments/{made['nupas']}",
            "organizations list": "/organizations",
        }
        print(f"{args.db}, {args.requests} requests each after 5 warm-up (ms)")
        print(f"{'page':<48} {'server median':>14} {'server p95':>11} {'client median':>14}")
        for label, path in pages.items():
            median, p95, wall = measure(client, path, args.requests, timings)
            print(f"{label:<48} {median:>14.1f} {p95:>11.1f} {wall:>14.1f}")
        client.__exit__(None, None, None)
    finally:
        if args.db == "postgresql":
            with admin.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


if __name__ == "__main__":
    main()
