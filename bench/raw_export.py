"""Cohort raw export of N assessments (default 10,000) through the service, as xlsx and CSV.

Usage: .venv/bin/python bench/raw_export.py [--assessments 10000]
Loads N OCA assessments (N/2 organizations x 2 rounds, every item answered) into a fresh SQLite
file with bulk inserts (not timed), then, each in a child process so peak memory is the
export's own: the service's xlsx export and its CSV export. Prints seconds and peak RSS.
Goal (issue 9): under 3 s and under 100 MB (issue 4 asked for 15 s and 300 MB).
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import insert

from app.catalog import load_catalog
from app.config import REPO_ROOT
from app.db import migrate
from app.db.models import (
    Answer,
    Assessment,
    AssessmentScore,
    Cohort,
    CohortMember,
    Organization,
    Workspace,
)
from app.db.session import make_engine
from app.services.instruments import sync_catalog


def load(url: str, n: int) -> tuple[str, str]:
    catalog = load_catalog(REPO_ROOT / "instruments")
    f = catalog.latest("oca")
    assert f is not None
    engine = make_engine(url)
    from app.db.session import make_sessionmaker

    with make_sessionmaker(engine)() as session:
        sync_catalog(session, catalog)
    now = datetime.now(UTC)
    ws, cohort = uuid.uuid4(), uuid.uuid4()
    keys = sorted(f.instrument.item_keys)
    rnd = random.Random(5)
    orgs = [uuid.uuid4() for _ in range(n // 2)]
    with engine.begin() as c:
        version_id = c.exec_driver_sql(
            "SELECT id FROM instrument_version WHERE instrument_id='oca'"
        ).scalar()
        c.execute(insert(Workspace), [{"id": ws, "name": "bench", "created_at": now}])
        c.execute(
            insert(Cohort),
            [
                {
                    "id": cohort,
                    "workspace_id": ws,
                    "name": "big",
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )
        c.execute(
            insert(Organization),
            [
                {
                    "id": o,
                    "workspace_id": ws,
                    "name": f"Organización {i:05d}",
                    "country": "MX",
                    "thematic_areas": [],
                    "tags": [],
                    "external_id": f"x-{i}",
                    "created_at": now,
                    "updated_at": now,
                    "row_version": 1,
                }
                for i, o in enumerate(orgs)
            ],
        )
        c.execute(
            insert(CohortMember),
            [{"cohort_id": cohort, "organization_id": o, "added_at": now} for o in orgs],
        )
        for batch in range(0, len(orgs), 500):
            assessments, answers, scores = [], [], []
            for o in orgs[batch : batch + 500]:
                for round_, on in (("baseline", date(2023, 1, 1)), ("endline", date(2024, 1, 1))):
                    aid = uuid.uuid4()
                    assessments.append(
                        {
                            "id": aid,
                            "workspace_id": ws,
                            "organization_id": o,
                            "instrument_version_id": version_id,
                            "instrument_id": "oca",
                            "instrument_version": f.instrument.version,
                            "round": round_,
                            "assessed_on": on,
                            "status": "submitted",
                            "revision": 1,
                            "is_current": True,
                            "source": "api",
                            "retrospective": False,
                            "created_at": now,
                            "updated_at": now,
                            "row_version": 1,
                        }
                    )
                    values = [float(rnd.randint(1, 4)) for _ in keys]
                    answers += [
                        {
                            "assessment_id": aid,
                            "item_key": k,
                            "position": p,
                            "value": v,
                            "is_na": False,
                            "note": None,
                        }
                        for p, (k, v) in enumerate(zip(keys, values, strict=True))
                    ]
                    scores.append(
                        {
                            "assessment_id": aid,
                            "computed_at": now,
                            "overall": sum(values) / len(values),
                            "summary": {},
                            "payload": {},
                        }
                    )
            c.execute(insert(Assessment), assessments)
            c.execute(insert(Answer), answers)
            c.execute(insert(AssessmentScore), scores)
    engine.dispose()
    return str(ws), str(cohort)


def _peak_mib() -> float:
    """This process's peak resident memory (VmHWM). Not ``ru_maxrss``: Linux carries that over
    from the parent through fork and exec, so a child would report the loader's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def export(url: str, cohort: str, kind: str) -> None:
    """Child process: one export, then its time and peak RSS."""
    from app.catalog import load_catalog
    from app.db.session import make_sessionmaker
    from app.services import exports
    from app.services.keys import cli_principal

    catalog = load_catalog(REPO_ROOT / "instruments")
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        principal = cli_principal(session, "bench", create=False)
        before = _peak_mib()
        start, cpu = time.perf_counter(), time.process_time()
        if kind == "xlsx":
            _, data = exports.cohort_raw(
                session, principal, catalog, uuid.UUID(cohort), "oca", "en"
            )
            size = len(data)
        else:
            _, chunks = exports.cohort_raw_csv(
                session, principal, catalog, uuid.UUID(cohort), "oca"
            )
            size = sum(len(c.encode()) for c in chunks)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    peak = _peak_mib()
    print(
        f"{kind:5} {seconds:8.2f} s {cpu:8.2f} s {peak:8.0f} MiB {before:8.0f} MiB"
        f" {size / 1e6:8.1f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--assessments", type=int, default=10_000)
    parser.add_argument("--child", nargs=3, metavar=("URL", "COHORT", "KIND"))
    args = parser.parse_args()
    if args.child:
        export(*args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'raw.db'}"
        migrate.upgrade(url)
        start = time.perf_counter()
        _, cohort = load(url, args.assessments)
        print(f"loaded {args.assessments} assessments in {time.perf_counter() - start:.1f} s")
        print(f"load average {os.getloadavg()[0]:.1f}; goal (issue 9): < 3 s and < 100 MB")
        print("kind  wall       CPU       peak RSS  RSS before export  file")
        for kind in ("xlsx", "csv"):
            subprocess.run([sys.executable, __file__, "--child", url, cohort, kind], check=True)


if __name__ == "__main__":
    main()
