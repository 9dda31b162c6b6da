"""Background jobs: long work (an import of hundreds of workbooks, a large export) run outside the
request, with progress a client polls at ``GET /v1/jobs/{id}``.

One table, ``job``, is both what clients read and the queue, on SQLite and PostgreSQL alike
(docs/jobs.md says why not a queue library). ``enqueue`` stores the job's input files under
``<data_dir>/jobs/<workspace>/<job id>/`` and then commits the queued row; a runner
(``app.services.jobs_runner``: threads owned by the app's lifespan, or ``oca worker``) claims it
with a lease (``app.services.leases``, shared with the webhook outbox), renews the lease while it
works, records progress after each step and ends it succeeded or failed with a reason.

A runner that dies mid-job (killed, out of memory, machine gone) stops renewing; once its lease has
lapsed, ``recover`` puts the job back in the queue, or fails it with that reason after
``max_attempts`` runs. A runner asked to stop (SIGTERM) lets each job finish its current step and
returns it to the queue with its progress kept, without counting the run as an attempt. Work is
written step by step (each workbook of an import is its own transaction and its result is kept
with the progress), so a run that takes a job over continues where the last step ended.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

import orjson
from sqlalchemy import CursorResult, delete, func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from app.catalog import Catalog
from app.config import Settings
from app.db.models import Job, Role
from app.db.session import write_transaction
from app.domain.errors import NotFound
from app.services.common import get_scoped, now
from app.services.keys import Principal
from app.services.leases import lapsed, new_token, take
from app.services.metrics import JOBS, JOBS_RECOVERED

KINDS: tuple[str, ...] = ("import", "export.raw")
STATUSES: tuple[str, ...] = ("queued", "running", "succeeded", "failed")
FOLDER = "jobs"  # under data_dir
RESULT_FILE = "result"  # a job's download, in its folder

# Runners of this process wait on this between polls; ``enqueue`` sets it, so a job enqueued by a
# request of the same process starts at once instead of at the next poll.
WAKE = threading.Event()
# PostgreSQL: the channel on which a queued job is announced to the runners of every process
CHANNEL = "oca_jobs"


def announce(session: Session) -> None:
    """Tell the runners of every process that a job is queued: PostgreSQL's NOTIFY, delivered
    when the transaction commits, so never before the row can be claimed. (This process's
    runner is woken with ``WAKE`` after the commit; on SQLite other processes find the job at
    their next poll.)"""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"NOTIFY {CHANNEL}"))


class JobStopped(Exception):
    """The runner is stopping: the job goes back to the queue with its progress."""


class LeaseLost(Exception):
    """Another runner took the job over (this one's lease lapsed): stop, record nothing."""


class JobFailed(Exception):
    """A reason the job cannot succeed, for the person who asked, in English and Spanish."""

    def __init__(self, en: str, es: str) -> None:
        super().__init__(en)
        self.en = en
        self.es = es


@dataclass(frozen=True)
class Outcome:
    """What a finished job gives: its result, and the name and type of the download it wrote to
    ``ctx.result_path`` (if any)."""

    result: dict[str, Any]
    file_name: str | None = None
    file_type: str | None = None


def folder(settings: Settings, workspace_id: uuid.UUID, job_id: uuid.UUID) -> Path:
    return settings.data_dir / FOLDER / str(workspace_id) / str(job_id)


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def lease(settings: Settings) -> timedelta:
    return timedelta(seconds=settings.jobs_lease_seconds)


# --- asking for work and reading it -------------------------------------------------------------


def enqueue(
    session: Session,
    principal: Principal,
    settings: Settings,
    kind: str,
    params: dict[str, Any],
    *,
    total: int | None = None,
    files: Sequence[tuple[str, bytes]] = (),
) -> Job:
    """Store the job's input ``files`` (name, bytes) in its folder, then commit it queued.

    The files are on disk before the row exists, so a runner never sees a job without its input;
    if the row cannot be written, the folder is removed again."""
    if kind not in KINDS:
        raise ValueError(f"job kind {kind!r} is not in KINDS")
    job_id = uuid.uuid4()
    where = folder(settings, principal.workspace_id, job_id)
    where.mkdir(parents=True)
    try:
        for name, data in files:
            if "/" in name or name.startswith(".") or name == RESULT_FILE:
                raise ValueError(f"job input file name {name!r}")
            _write(where / name, data)
        with write_transaction(session):
            job = Job(
                id=job_id,
                workspace_id=principal.workspace_id,
                kind=kind,
                status="queued",
                params=params,
                principal={
                    "key_id": str(principal.key_id) if principal.key_id else None,
                    "key_name": principal.key_name,
                    "role": principal.role.value,
                    "person_id": str(principal.person_id) if principal.person_id else None,
                },
                created_by=principal.actor[:160],
                progress_done=0,
                progress_total=total,
                attempts=0,
                max_attempts=settings.jobs_max_attempts,
                created_at=now(),
            )
            session.add(job)
            announce(session)
    except BaseException:
        shutil.rmtree(where, ignore_errors=True)
        raise
    WAKE.set()
    return job


@dataclass(frozen=True, slots=True)
class JobView:
    """A job as a client polls it: where it stands and, once it succeeded, what it made."""

    id: uuid.UUID
    kind: str
    status: str
    progress_done: int
    progress_total: int | None
    attempts: int
    max_attempts: int
    error: str | None
    error_es: str | None
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    result: dict[str, Any] | None
    file_name: str | None

    @classmethod
    def of(cls, job: Job) -> JobView:
        return cls(
            id=job.id,
            kind=job.kind,
            status=job.status,
            progress_done=job.progress_done,
            progress_total=job.progress_total,
            attempts=job.attempts,
            max_attempts=job.max_attempts,
            error=job.error,
            error_es=job.error_es,
            created_by=job.created_by,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            result=job.result,
            file_name=job.file_name,
        )


@dataclass(frozen=True, slots=True)
class JobFile:
    """The file a succeeded job made, on disk."""

    path: Path
    name: str
    media_type: str


def get(session: Session, principal: Principal, job_id: uuid.UUID) -> Job:
    """A job of the caller's workspace; another workspace's is not found."""
    return get_scoped(session, principal, Job, job_id, "job")


def read(session: Session, principal: Principal, job_id: uuid.UUID) -> JobView:
    """A job of the caller's workspace as a client polls it; another workspace's is not found."""
    return JobView.of(get(session, principal, job_id))


def download(
    session: Session, principal: Principal, settings: Settings, job_id: uuid.UUID
) -> JobFile:
    """A succeeded job's file, still on disk; otherwise not found."""
    job = get(session, principal, job_id)
    made = job.status == "succeeded" and job.file_name is not None
    if not made or not result_path(settings, job).is_file():
        raise NotFound(f"job {job_id} has no file to download (yet)")
    assert job.file_name is not None and job.file_type is not None
    return JobFile(result_path(settings, job), job.file_name, job.file_type)


def result_path(settings: Settings, job: Job) -> Path:
    return folder(settings, job.workspace_id, job.id) / RESULT_FILE


def principal_of(job: Job) -> Principal:
    """Who asked for the job, as they were when they asked: the job acts on their behalf."""
    p = job.principal
    return Principal(
        workspace_id=job.workspace_id,
        key_id=uuid.UUID(p["key_id"]) if p.get("key_id") else None,
        key_name=str(p["key_name"]),
        role=Role(p["role"]),
        person_id=uuid.UUID(p["person_id"]) if p.get("person_id") else None,
    )


# --- running ------------------------------------------------------------------------------------


@dataclass
class JobContext:
    """What a job's code gets: its input, who asked, where its files are, and ``step`` to record
    progress (which also notices a runner that is stopping or a lease that was lost)."""

    job: Job
    token: str
    principal: Principal
    folder: Path
    sessions: sessionmaker[Session]
    settings: Settings
    catalog: Catalog
    stopping: threading.Event = field(default_factory=threading.Event)

    @property
    def params(self) -> dict[str, Any]:
        return self.job.params

    @property
    def done(self) -> int:
        """Steps done by earlier runs of this job (0 the first time)."""
        return self.job.progress_done

    @property
    def result_path(self) -> Path:
        return self.folder / RESULT_FILE

    def input(self, name: str, sha256: str | None = None) -> bytes:
        """An input file stored by ``enqueue``; a missing or changed one fails the job."""
        try:
            data = (self.folder / name).read_bytes()
        except OSError:
            raise JobFailed(
                f"the stored input file {name} is missing (was {self.settings.data_dir} "
                "emptied, or is it not shared with this worker?)",
                f"falta el archivo de entrada guardado {name} (¿se vació "
                f"{self.settings.data_dir}, o no se comparte con este proceso?)",
            ) from None
        if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
            raise JobFailed(
                f"the stored input file {name} has changed since it was uploaded",
                f"el archivo de entrada guardado {name} cambió desde que se subió",
            )
        return data

    def keep(self, n: int, value: Any) -> None:
        """Keep what step ``n`` (from 0) gave, for the run that finishes the job; call it before
        recording the step."""
        _write(self.folder / f"step-{n}.json", orjson.dumps(value))

    def kept(self, n: int) -> Any:
        """What an earlier run kept for step ``n``."""
        return orjson.loads(self.input(f"step-{n}.json"))

    def step(self, done: int, total: int | None = None) -> None:
        """Record progress; then, if the runner is stopping, end the run here
        (``JobStopped``)."""
        values: dict[str, Any] = {"progress_done": done}
        if total is not None:
            values["progress_total"] = total
        if not _update_mine(self.sessions, self.job.id, self.token, values):
            raise LeaseLost(str(self.job.id))
        self.job.progress_done = done
        if self.stopping.is_set():
            raise JobStopped(str(self.job.id))


def _update_mine(
    sessions: sessionmaker[Session], job_id: uuid.UUID, token: str, values: dict[str, Any]
) -> bool:
    """Change the job while this runner still holds it; False when the claim is gone."""
    with sessions() as session, write_transaction(session):
        result = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.claim == token, Job.status == "running")
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        done = cast(CursorResult[Any], result).rowcount == 1
        if done and values.get("status") == "queued":
            announce(session)
        return done


def claim_next(
    sessions: sessionmaker[Session], settings: Settings, at: datetime | None = None
) -> tuple[Job, str] | None:
    """Take the oldest queued job for this runner: the job and the claim token, or None."""
    at = at or now()
    with sessions() as session:
        # most polls find nothing: a read, so an idle runner never takes SQLite's write lock
        if session.scalar(select(Job.id).where(Job.status == "queued").limit(1)) is None:
            return None
        token = new_token()
        with write_transaction(session):
            mine = take(
                session,
                Job,
                select(Job.id).where(Job.status == "queued").order_by(Job.created_at).limit(1),
                [Job.status == "queued"],
                {
                    "status": "running",
                    "claim": token,
                    "claimed_until": at + lease(settings),
                    "attempts": Job.attempts + 1,
                    "started_at": func.coalesce(Job.started_at, at),
                },
                token,
            )
            job = session.get(Job, mine[0]) if mine else None
    return (job, token) if job is not None else None


def renew(sessions: sessionmaker[Session], settings: Settings, held: dict[uuid.UUID, str]) -> None:
    """Extend the leases this runner holds (its jobs are still being worked on)."""
    if not held:
        return
    until = now() + lease(settings)
    with sessions() as session, write_transaction(session):
        for job_id, token in held.items():
            session.execute(
                update(Job)
                .where(Job.id == job_id, Job.claim == token, Job.status == "running")
                .values(claimed_until=until)
                .execution_options(synchronize_session=False)
            )


def finish(
    sessions: sessionmaker[Session],
    job_id: uuid.UUID,
    token: str,
    outcome: Outcome | None = None,
    failure: JobFailed | None = None,
) -> bool:
    """End the run: succeeded with ``outcome`` or failed with ``failure``'s reason."""
    values: dict[str, Any] = {"claim": None, "claimed_until": None, "finished_at": now()}
    if outcome is not None:
        values |= {
            "status": "succeeded",
            "result": outcome.result,
            "file_name": outcome.file_name,
            "file_type": outcome.file_type,
            "error": None,
            "error_es": None,
        }
    else:
        assert failure is not None
        values |= {"status": "failed", "error": failure.en, "error_es": failure.es}
    done = _update_mine(sessions, job_id, token, values)
    WAKE.set()
    return done


def requeue(
    sessions: sessionmaker[Session], job_id: uuid.UUID, token: str, *, count_attempt: bool
) -> bool:
    """Put a claimed job back in the queue with its progress. A run ended by a shutdown does
    not count as an attempt."""
    values: dict[str, Any] = {"status": "queued", "claim": None, "claimed_until": None}
    if not count_attempt:
        values["attempts"] = Job.attempts - 1
    return _update_mine(sessions, job_id, token, values)


def recover(sessions: sessionmaker[Session], at: datetime | None = None) -> tuple[int, int]:
    """Jobs whose runner stopped renewing (killed, or its machine gone): queue them again, or
    fail them with that reason once they have had their attempts. Returns (requeued, failed)."""
    at = at or now()
    stale = (Job.status == "running", lapsed(Job.claimed_until, at))
    with sessions() as session:
        if session.scalar(select(Job.id).where(*stale).limit(1)) is None:
            return 0, 0
        requeued = failed = 0
        with write_transaction(session):
            jobs = session.scalars(
                select(Job).where(*stale).with_for_update(skip_locked=True).limit(100)
            ).all()
            for job in jobs:
                job.claim = None
                job.claimed_until = None
                if job.attempts >= job.max_attempts:
                    job.status = "failed"
                    job.finished_at = at
                    job.error = (
                        f"the worker running this job stopped before it ended, {job.attempts} "
                        "time(s); it is not tried again (the server log of that worker may say why)"
                    )
                    job.error_es = (
                        f"el proceso que ejecutaba este trabajo se detuvo antes de terminar, "
                        f"{job.attempts} vez/veces; no se intenta de nuevo (el registro del "
                        "servidor puede decir por qué)"
                    )
                    failed += 1
                else:
                    job.status = "queued"
                    requeued += 1
            if requeued:
                announce(session)
    if requeued:
        JOBS_RECOVERED.labels("requeued").inc(requeued)
        WAKE.set()
    if failed:
        JOBS_RECOVERED.labels("failed").inc(failed)
    return requeued, failed


# --- keeping the table small, and counting it ---------------------------------------------------


def prune(sessions: sessionmaker[Session], settings: Settings, at: datetime | None = None) -> int:
    """Delete jobs that ended over ``jobs_keep_days`` ago, with their folders; how many."""
    limit = (at or now()) - timedelta(days=settings.jobs_keep_days)
    with sessions() as session:
        old = session.execute(
            select(Job.id, Job.workspace_id).where(
                Job.status.in_(("succeeded", "failed")), Job.finished_at < limit
            )
        ).all()
        if not old:
            return 0
        with write_transaction(session):
            session.execute(
                delete(Job)
                .where(Job.id.in_([job_id for job_id, _ in old]))
                .execution_options(synchronize_session=False)
            )
    for job_id, workspace_id in old:
        shutil.rmtree(folder(settings, workspace_id, job_id), ignore_errors=True)
    return len(old)


def counts(sessions: sessionmaker[Session]) -> dict[str, int]:
    """How many jobs are in each status (every status, zero included)."""
    with sessions() as session:
        rows = session.execute(select(Job.status, func.count()).group_by(Job.status)).all()
        found = {status: count for status, count in rows}
    return {status: int(found.get(status, 0)) for status in STATUSES}


def refresh_gauges(sessions: sessionmaker[Session]) -> None:
    """Before a scrape: set ``oca_jobs{status}`` from the table (the same in every worker)."""
    for status, count in counts(sessions).items():
        JOBS.labels(status).set(count)
