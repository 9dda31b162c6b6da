"""Jobs across real processes: an `oca worker` killed with SIGKILL mid-import leaves its job to the
next worker, which finishes it without importing any workbook twice; `oca serve` stopped with
SIGTERM finishes the request in flight and returns its running job to the queue with its
progress, and the next server finishes it. Every process started here is stopped with its
process group (tests/api/test_workers.py says why)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app.catalog import Catalog
from app.config import REPO_ROOT, Settings
from app.db.models import Assessment, Job
from app.services.keys import create_key
from tests.api.test_jobs import batch
from tests.api.test_workers import _stop, serving


def _multipart(files: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, data in files:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n".encode()
            + data
            + b"\r\n"
        )
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), boundary


def _import(
    base: str, key: str, files: list[tuple[str, bytes]], *, prefer: bool
) -> tuple[int, Any, Any]:
    """The status, the headers (names in any case) and the JSON body."""
    body, boundary = _multipart(files)
    headers = {
        "Authorization": f"Bearer {key}",
        "Content-Type": f"multipart/form-data; boundary={boundary}",
    }
    if prefer:
        headers["Prefer"] = "respond-async"
    request = urllib.request.Request(
        f"{base}/v1/imports?create_organizations=true", data=body, headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, json.loads(exc.read() or b"null")


def _job(engine: Engine, job_id: uuid.UUID) -> Job:
    with Session(engine) as s:
        job = s.get(Job, job_id)
        assert job is not None
        return job


def _until(engine: Engine, job_id: uuid.UUID, done: Any, seconds: float = 120) -> Job:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = _job(engine, job_id)
        if done(job):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id}: {job.status}, {job.progress_done} done")


@contextmanager
def worker(
    tmp_path: Path, database_url: str, data_dir: Path, name: str, poll: float = 0.1
) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "OCA_DATABASE_URL": database_url,
        "OCA_DATA_DIR": str(data_dir),
        "OCA_JOBS_LEASE_SECONDS": "2",
        "OCA_JOBS_POLL_SECONDS": str(poll),
    }
    log = (tmp_path / f"{name}.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker"],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        _stop(proc)
        log.close()


def _workspace_assessments(engine: Engine, workspace_id: uuid.UUID) -> int:
    with Session(engine) as s:
        return (
            s.scalar(
                select(func.count())
                .select_from(Assessment)
                .where(Assessment.workspace_id == workspace_id)
            )
            or 0
        )


def _queue_import(
    session: Session, settings: Settings, catalog: Catalog, n: int, tag: str
) -> tuple[Any, Job]:
    """An import job of ``n`` workbooks (and one rejected) queued by a new editor of a new
    workspace, with this process's own runner left asleep."""
    from app.services import job_kinds, jobs
    from app.services.imports import Upload
    from app.services.keys import authenticate

    key = create_key(session, workspace=f"ws-{uuid.uuid4().hex[:8]}", role="editor")
    principal = authenticate(session, key.secret)
    assert principal is not None
    job = job_kinds.enqueue_import(
        session,
        principal,
        settings,
        [Upload(name, data) for name, data in batch(catalog, n, tag)],
        dry_run=False,
        create_organizations=True,
    )
    jobs.WAKE.clear()
    return principal, job


def test_a_killed_worker_loses_nothing(
    tmp_path: Path,
    database_url: str,
    settings: Settings,
    engine: Engine,
    session: Session,
    catalog: Catalog,
) -> None:
    principal, job = _queue_import(session, settings, catalog, 24, "killed")

    with worker(tmp_path, database_url, settings.data_dir, "first") as first:
        running = _until(engine, job.id, lambda j: j.status == "running" and j.progress_done >= 3)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    left = _job(engine, job.id)
    assert left.status == "running" and left.claim is not None  # as the dead worker left it
    assert left.attempts == running.attempts
    killed_at = left.progress_done

    with worker(tmp_path, database_url, settings.data_dir, "second"):
        done = _until(engine, job.id, lambda j: j.status in ("succeeded", "failed"))
    assert done.status == "succeeded", (done.error, (tmp_path / "second.log").read_text())
    assert done.attempts == left.attempts + 1
    assert done.result is not None
    statuses = [r["status"] for r in done.result["results"]]
    assert len(statuses) == 25 and statuses[-1] == "rejected"
    # The workbook in flight at the kill was rolled back and imported again ("created"), unless
    # the kill fell between its commit and the progress record: then it answers "unchanged".
    assert all(
        s == "created" or (s == "unchanged" and n == killed_at) for n, s in enumerate(statuses[:-1])
    ), statuses
    assert _workspace_assessments(engine, principal.workspace_id) == 24  # none twice


def test_a_queued_job_wakes_the_worker_of_another_process(
    tmp_path: Path,
    database_url: str,
    settings: Settings,
    engine: Engine,
    session: Session,
    catalog: Catalog,
) -> None:
    """PostgreSQL: an `oca worker` idle on a 60 s poll starts a job queued by this process
    within seconds, woken by LISTEN/NOTIFY. SQLite has no notifications: a worker there finds
    the job at its next poll (1 s here)."""
    postgres = engine.dialect.name == "postgresql"
    poll = 60.0 if postgres else 1.0
    with worker(tmp_path, database_url, settings.data_dir, "listen", poll=poll) as proc:
        deadline = time.monotonic() + 60
        while "running jobs" not in (tmp_path / "listen.log").read_text():
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.1)
        time.sleep(2.0)  # past its first look at the queue: idle, waiting on the poll
        _, job = _queue_import(session, settings, catalog, 1, "listen")
        queued_at = time.monotonic()
        done = _until(engine, job.id, lambda j: j.status in ("succeeded", "failed"), poll + 60)
        waited = time.monotonic() - queued_at
    assert done.status == "succeeded", done.error
    assert waited < (10.0 if postgres else poll + 10.0), waited


def test_sigterm_finishes_the_request_and_returns_the_job(
    tmp_path: Path, database_url: str, engine: Engine, session: Session, catalog: Catalog
) -> None:
    key = create_key(session, workspace=f"ws-{uuid.uuid4().hex[:8]}", role="editor")
    slow = batch(catalog, 24, "term-job")
    in_flight = batch(catalog, 8, "term-request")
    answer: dict[str, Any] = {}
    settings = {
        "OCA_JOBS_ENABLED": "true",
        "OCA_JOBS_POLL_SECONDS": "0.1",
        "OCA_JOBS_SHUTDOWN_SECONDS": "30",
    }
    # two workers, as in production: SIGTERM to the server reaches each worker through uvicorn
    with serving(2, tmp_path, database_url, **settings) as (proc, base):
        status, headers, queued = _import(base, key.secret, slow, prefer=True)
        assert status == 202, queued
        assert headers["Location"] == f"/v1/jobs/{queued['id']}"
        job_id = uuid.UUID(queued["id"])
        _until(engine, job_id, lambda j: j.progress_done >= 2)

        def request() -> None:
            answer["status"], _, answer["body"] = _import(base, key.secret, in_flight, prefer=False)

        sender = threading.Thread(target=request)
        sender.start()
        time.sleep(0.3)  # the upload is in, the import under way
        proc.send_signal(signal.SIGTERM)
        sender.join(timeout=120)
        proc.wait(timeout=60)
        log = (tmp_path / "server.log").read_text(errors="replace")
        assert proc.returncode == 0, log[-3000:]
        assert "Traceback" not in log
    assert answer["status"] == 200, answer
    assert [r["status"] for r in answer["body"]["results"]] == ["created"] * 8 + ["rejected"]
    stopped = _job(engine, job_id)
    assert stopped.status in ("queued", "succeeded"), stopped.status  # never left "running"
    assert stopped.claim is None
    if stopped.status == "queued":
        assert stopped.attempts == 0 and stopped.progress_done >= 2  # progress kept
        assert f"job {job_id} (import) requeued" in log

    with serving(1, tmp_path, database_url, **settings):
        done = _until(engine, job_id, lambda j: j.status in ("succeeded", "failed"))
    assert done.status == "succeeded", done.error
    assert done.result is not None
    assert [r["status"] for r in done.result["results"]] == ["created"] * 24 + ["rejected"]


def test_oca_worker_stops_on_sigterm(tmp_path: Path, database_url: str, settings: Settings) -> None:
    with worker(tmp_path, database_url, settings.data_dir, "term") as proc:
        deadline = time.monotonic() + 60
        while "running jobs" not in (tmp_path / "term.log").read_text():
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    log = (tmp_path / "term.log").read_text()
    assert "stopped; unfinished jobs are back in the queue" in log
    assert "Traceback" not in log


def test_oca_worker_names_settings_that_cannot_work(database_url: str) -> None:
    env = {**os.environ, "OCA_DATABASE_URL": database_url, "OCA_JOBS_CONCURRENCY": "0"}
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "worker"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "OCA_JOBS_CONCURRENCY: Input should be greater than or equal to 1" in done.stderr
    assert "Traceback" not in done.stderr
