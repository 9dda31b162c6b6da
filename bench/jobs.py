"""An import of N workbooks (default 100) done directly and done as a background job.

Usage: .venv/bin/python bench/jobs.py [--workbooks 100] [--database-url URL]
Makes N filled OPI workbooks of N organizations, then imports them twice into two new
workspaces of a fresh database (a new SQLite file, or the database URL given, migrated): once by
``import_workbooks`` as the synchronous API call does, once as a job (enqueue, then a real
``JobRunner`` until it succeeded). Prints seconds for each and the job's cost per workbook (its
progress record, its kept result, the claim and the polling).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path

from app.catalog import load_catalog
from app.config import REPO_ROOT, Settings
from app.db import migrate
from app.db.models import Job
from app.db.session import make_engine, make_sessionmaker
from app.excel import Limits, Prefill, build_template
from app.services import imports
from app.services.instruments import sync_catalog
from app.services.job_kinds import enqueue_import
from app.services.jobs_runner import JobRunner
from app.services.keys import authenticate, create_key


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workbooks", type=int, default=100)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="oca-bench-jobs-"))
    url = args.database_url or f"sqlite:///{folder / 'bench.db'}"
    migrate.upgrade(url)
    catalog = load_catalog(REPO_ROOT / "instruments")
    settings = Settings(
        database_url=url, data_dir=folder, jobs_poll_seconds=0.05, jobs_enabled=True
    )
    f = catalog.latest("opi")
    assert f is not None
    uploads = []
    for n in range(args.workbooks):
        answers = {k: 1 + (n + i) % 4 for i, k in enumerate(f.instrument.item_keys)}
        pre = Prefill(f"Org {n:04d}", None, "baseline", date(2024, 2, 2), None, answers, {})  # type: ignore[arg-type]
        uploads.append(
            imports.Upload(f"{n}.xlsx", build_template(f.instrument, f.content_hash, "en", pre))
        )
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        sync_catalog(session, catalog)
        direct_key = create_key(session, workspace=f"direct-{folder.name}", role="editor")
        job_key = create_key(session, workspace=f"job-{folder.name}", role="editor")
        direct = authenticate(session, direct_key.secret)
        as_job = authenticate(session, job_key.secret)
        assert direct is not None and as_job is not None

        started = time.perf_counter()
        results = imports.import_workbooks(
            session,
            direct,
            catalog,
            uploads,
            create_organizations=True,
            limits=Limits(max_bytes=settings.max_upload_bytes),
        )
        sync_s = time.perf_counter() - started
        assert all(r.status == "created" for r in results)

        started = time.perf_counter()
        job = enqueue_import(
            session, as_job, settings, uploads, dry_run=False, create_organizations=True
        )
        enqueue_s = time.perf_counter() - started
    runner = JobRunner(sessions, settings, catalog)
    runner.start()
    try:
        while True:
            with sessions() as session:
                row = session.get(Job, job.id)
                assert row is not None
                if row.status in ("succeeded", "failed"):
                    break
            time.sleep(0.05)
    finally:
        runner.stop()
    job_s = time.perf_counter() - started
    assert row.status == "succeeded", row.error
    backend = engine.dialect.name
    n = args.workbooks
    print(f"{backend}: {n} workbooks")
    print(f"  direct import      {sync_s:7.2f} s  ({1000 * sync_s / n:.1f} ms per workbook)")
    print(f"  enqueue (stored)   {enqueue_s:7.2f} s")
    print(f"  job, enqueue->done {job_s:7.2f} s  ({1000 * job_s / n:.1f} ms per workbook)")
    print(f"  job cost           {1000 * (job_s - sync_s) / n:+7.1f} ms per workbook")
    engine.dispose()
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
