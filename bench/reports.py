"""Benchmark: the cohort report PDF for 40 organizations (goal: < 5 s), through the real app.

A fresh SQLite database (or ``--database-url``) gets one workspace, a cohort of 40 organizations
with an OCA baseline and endline each (made through the services: create, submit), and a viewer
who signs in with a password. Then the report is asked for as a person's browser would
(``GET /cohorts/{id}/report.pdf``), warm-up once, and timed N times; the HTML page and one
organization's PDF are timed too, for scale.

    .venv/bin/python -m bench.reports [--runs 5] [--organizations 40] [--database-url URL]
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import subprocess
import tempfile
import time
from datetime import date
from pathlib import Path

from fastapi.testclient import TestClient

from app.catalog import load_catalog
from app.config import REPO_ROOT, Settings
from app.db import migrate
from app.db.session import make_engine, make_sessionmaker
from app.domain.answers import RawAnswer
from app.main import create_app
from app.services import assessments, organizations, people
from app.services.keys import authenticate, create_key

WORKSPACE = "bench-reports"
EMAIL, PASSWORD = "officer@example.org", "a-long-enough-secret"


def load(url: str, n: int) -> tuple[str, str]:
    """The cohort and one organization (ids), with 40 paired OCA assessments."""
    catalog = load_catalog(REPO_ROOT / "instruments")
    f = catalog.latest("oca")
    assert f is not None
    rnd = random.Random(40)  # benchmark data, not secrets
    with make_sessionmaker(make_engine(url))() as session:
        key = create_key(session, workspace=WORKSPACE, role="admin", name="bench")
        principal = authenticate(session, key.secret)
        assert principal is not None
        session.rollback()
        people.create_person(
            session,
            email=EMAIL,
            name="Officer",
            password=PASSWORD,
            workspace=WORKSPACE,
            role="viewer",
        )
        cohort, _ = organizations.create_cohort(session, principal, "Cohorte de 40", None)
        first = ""
        for i in range(n):
            org, _ = organizations.upsert_by_external_id(
                session,
                principal,
                f"b-{i:03d}",
                organizations.OrgData(name=f"Organización {i + 1:02d}", country="MX"),
            )
            first = first or str(org.id)
            organizations.add_member(session, principal, cohort.id, org.id)
            start = rnd.uniform(1.2, 2.8)
            for label, on, level in (
                ("baseline", date(2024, 2, 1), start),
                ("endline", date(2025, 2, 1), start + rnd.uniform(-0.4, 1.2)),
            ):
                answers = [
                    RawAnswer(k, "na")
                    if rnd.random() < 0.03 and f.instrument.allows_na(item)
                    else RawAnswer(k, min(4, max(1, round(level + rnd.gauss(0, 0.6)))))
                    for k, item in f.instrument.items.items()
                ]
                data = assessments.AssessmentData(
                    organization_id=org.id,
                    instrument_id="oca",
                    instrument_version=f.instrument.version,
                    round=label,
                    assessed_on=on,
                    assessor=None,
                    retrospective=False,
                    answers=answers,
                )
                a, _ = assessments.create_assessment(session, principal, catalog, data)
                assessments.submit(session, principal, catalog, a.id)
        return str(cohort.id), first


def sign_in(client: TestClient) -> None:
    page = client.get("/sign-in").text
    token = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', page)
    assert token
    answer = client.post(
        "/sign-in",
        data={"csrf_token": token.group(1), "email": EMAIL, "password": PASSWORD, "next": "/"},
    )
    assert answer.status_code == 303, answer.text[:300]


def timed(client: TestClient, path: str, runs: int) -> tuple[list[float], bytes]:
    client.get(path)  # warm-up: templates, fonts, Pango
    times, body = [], b""
    for _ in range(runs):
        t0 = time.perf_counter()
        answer = client.get(path)
        times.append(time.perf_counter() - t0)
        assert answer.status_code == 200, (path, answer.status_code)
        body = answer.content
    return times, body


def pages(pdf: bytes) -> str:
    try:
        with tempfile.NamedTemporaryFile(suffix=".pdf") as tmp:
            tmp.write(pdf)
            tmp.flush()
            out = subprocess.run(["pdfinfo", tmp.name], capture_output=True, text=True).stdout
        found = re.search(r"^Pages:\s+(\d+)", out, re.M)
        return found.group(1) if found else "?"
    except FileNotFoundError:
        return "? (pdfinfo not installed)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--organizations", type=int, default=40)
    ap.add_argument("--database-url")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="oca-bench-reports-"))
    url = args.database_url or f"sqlite:///{work / 'bench.db'}"
    migrate.upgrade(url)
    settings = Settings(database_url=url, instruments_dir=REPO_ROOT / "instruments", data_dir=work)
    with TestClient(create_app(settings), follow_redirects=False) as client:
        t0 = time.perf_counter()
        cohort, org = load(url, args.organizations)
        took = time.perf_counter() - t0
        print(f"data: {args.organizations} organizations x 2 rounds in {took:.1f} s")
        sign_in(client)
        rows = [
            ("cohort report PDF", f"/cohorts/{cohort}/report.pdf?lang=es"),
            ("cohort report PDF, anonymized", f"/cohorts/{cohort}/report.pdf?lang=en&anonymized=1"),
            ("cohort report page (HTML)", f"/cohorts/{cohort}/report?lang=es"),
            ("organization report PDF", f"/organizations/{org}/report.pdf?lang=es"),
        ]
        print(f"{'what':34} {'median':>8} {'min':>8} {'max':>8}  size, pages")
        for label, path in rows:
            times, body = timed(client, path, args.runs)
            size = f"{len(body) / 1024:.0f} KiB"
            extra = f", {pages(body)} pages" if body.startswith(b"%PDF") else ""
            print(
                f"{label:34} {statistics.median(times):7.2f}s {min(times):7.2f}s "
                f"{max(times):7.2f}s  {size}{extra}"
            )
        best = statistics.median(timed(client, rows[0][1], 1)[0])
        print(
            f"goal: cohort report PDF for {args.organizations} organizations < 5 s: "
            f"{'met' if best < 5 else 'NOT met'}"
        )


if __name__ == "__main__":
    main()
