"""How long a job queued by one process waits before an ``oca worker`` in another starts it.

Usage: .venv/bin/python bench/job_wakeup.py [--url postgresql+psycopg://…] [--jobs 10] [--poll 60]

Starts a real ``oca worker`` (poll ``--poll`` seconds) on the database, then queues ``--jobs``
raw-export jobs one at a time from this process, each after the worker has gone idle, and prints
the wait from the commit of the job to its start (``started_at`` - ``created_at``). On
PostgreSQL the worker is woken by LISTEN/NOTIFY; on SQLite it waits for its poll.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from app.catalog import load_catalog
from app.config import REPO_ROOT, Settings
from app.db import migrate
from app.db.models import Job
from app.db.session import make_engine, make_sessionmaker
from app.services import job_kinds, organizations
from app.services.keys import authenticate, create_key


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test_main")
    parser.add_argument("--jobs", type=int, default=10)
    parser.add_argument("--poll", type=float, default=60.0)
    args = parser.parse_args()
    migrate.upgrade(args.url)
    data = Path(tempfile.mkdtemp())
    settings = Settings(database_url=args.url, data_dir=data)
    sessions = make_sessionmaker(make_engine(args.url))
    catalog = load_catalog(REPO_ROOT / "instruments")
    with sessions() as session:
        key = create_key(session, workspace=f"wake-{uuid.uuid4().hex[:8]}", role="editor")
        principal = authenticate(session, key.secret)
        assert principal is not None
        cohort, _ = organizations.create_cohort(session, principal, "empty", None)
    env = {
        **os.environ,
        "OCA_DATABASE_URL": args.url,
        "OCA_DATA_DIR": str(data),
        "OCA_JOBS_POLL_SECONDS": str(args.poll),
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    waits: list[float] = []
    try:
        time.sleep(5)  # started, and past its first look at the queue
        for _ in range(args.jobs):
            with sessions() as session:
                job = job_kinds.enqueue_raw_export(
                    session, principal, settings, catalog, cohort.id, "oca", "csv", "en"
                )
            deadline = time.monotonic() + args.poll + 30
            while time.monotonic() < deadline:
                with sessions() as session:
                    found = session.get(Job, job.id)
                    assert found is not None
                    if found.started_at is not None:
                        waits.append((found.started_at - found.created_at).total_seconds())
                        break
                time.sleep(0.01)
            time.sleep(1)
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    ms = sorted(w * 1000 for w in waits)
    print(f"{args.url.split('@')[-1]}: poll {args.poll} s, {len(ms)} jobs")
    print(
        f"wait from queued to started: median {statistics.median(ms):.0f} ms, max {ms[-1]:.0f} ms"
    )


if __name__ == "__main__":
    main()
