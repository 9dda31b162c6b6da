"""The job runner: threads that claim queued jobs and run them, and one keeper thread that renews
their leases, recovers jobs whose runner died and prunes old ones.

The same runner serves SQLite and PostgreSQL, started by the app's lifespan in each web worker
(``OCA_JOBS_ENABLED``) or alone by ``oca worker``. Stopping it (SIGTERM, end of the lifespan)
lets each running job finish its current step, then returns it to the queue; a job that does not
reach a step within ``OCA_JOBS_SHUTDOWN_SECONDS`` is returned to the queue anyway (its late
writes are then refused: the claim is no longer its own)."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable

import psycopg
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from app.catalog import Catalog
from app.config import Settings
from app.db.errors import Busy
from app.db.models import Job
from app.domain.errors import DomainError
from app.excel.sandbox import SandboxBusy
from app.services import jobs
from app.services.job_kinds import HANDLERS
from app.services.metrics import JOB_SECONDS, JOBS_FINISHED
from app.services.owned_instruments import workspace_catalog

log = logging.getLogger("oca.jobs")
PRUNE_EVERY_S = 3600.0

Handler = Callable[[jobs.JobContext], jobs.Outcome]


def execute(ctx: jobs.JobContext, handlers: dict[str, Handler] | None = None) -> str:
    """Run one claimed job to its end and record it; the outcome (succeeded, failed, requeued,
    lost)."""
    job = ctx.job
    handler = (handlers or HANDLERS).get(job.kind)
    started = time.perf_counter()
    outcome, failure = None, None
    try:
        if handler is None:
            raise jobs.JobFailed(
                f"this server does not know jobs of kind {job.kind!r}",
                f"este servidor no conoce trabajos del tipo {job.kind!r}",
            )
        outcome = handler(ctx)
    except jobs.JobStopped:
        jobs.requeue(ctx.sessions, job.id, ctx.token, count_attempt=False)
        return _ended(job, "requeued", started)
    except jobs.LeaseLost:
        log.warning("job %s: another runner took it over (this runner's lease lapsed)", job.id)
        return "lost"
    except jobs.JobFailed as exc:
        failure = exc
    except (Busy, SandboxBusy):
        if job.attempts < job.max_attempts:
            jobs.requeue(ctx.sessions, job.id, ctx.token, count_attempt=True)
            return _ended(job, "requeued", started)
        failure = jobs.JobFailed(
            "the server stayed too busy to run this job; ask for it again later",
            "el servidor estuvo demasiado ocupado para ejecutar este trabajo; pídalo más tarde",
        )
    except DomainError as exc:
        failure = jobs.JobFailed(str(exc), str(exc))
    except Exception as exc:
        log.exception("job %s (%s) failed", job.id, job.kind)
        name = type(exc).__name__
        failure = jobs.JobFailed(
            f"unexpected error ({name}); the server log has the details under job {job.id}",
            f"error inesperado ({name}); el registro del servidor tiene los detalles bajo el "
            f"trabajo {job.id}",
        )
    if not jobs.finish(ctx.sessions, job.id, ctx.token, outcome, failure):
        log.warning("job %s ended, but another runner holds it now: result not recorded", job.id)
        return "lost"
    return _ended(job, "succeeded" if failure is None else "failed", started)


def _ended(job: Job, outcome: str, started: float) -> str:
    JOBS_FINISHED.labels(job.kind, outcome).inc()
    JOB_SECONDS.labels(job.kind).observe(time.perf_counter() - started)
    log.info("job %s (%s) %s after %d step(s)", job.id, job.kind, outcome, job.progress_done)
    return outcome


class JobRunner:
    """``jobs_concurrency`` threads that run jobs, and a keeper, owned by whoever starts it."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        catalog: Catalog,
        handlers: dict[str, Handler] | None = None,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.catalog = catalog
        self.handlers = handlers or HANDLERS
        self.stopping = threading.Event()
        self._held: dict[uuid.UUID, str] = {}
        self._lock = threading.Lock()
        self._beat = time.monotonic()
        self.every = max(0.2, min(settings.jobs_lease_seconds / 3, 10.0))
        self.workers = [
            threading.Thread(target=self._work, name=f"oca-jobs-{n + 1}", daemon=True)
            for n in range(settings.jobs_concurrency)
        ]
        self.keeper = threading.Thread(target=self._keep, name="oca-jobs-keeper", daemon=True)
        self.listener = (
            threading.Thread(target=self._listen, name="oca-jobs-listener", daemon=True)
            if make_url(settings.effective_database_url).get_backend_name() == "postgresql"
            else None
        )
        self.started = False

    def start(self) -> None:
        # jobs left running by a worker that died are taken back as soon as their lease lapsed
        jobs.recover(self.sessions)
        self.keeper.start()
        if self.listener is not None:
            self.listener.start()
        for t in self.workers:
            t.start()
        self.started = True

    def alive(self) -> tuple[bool, str]:
        """For /readyz: every thread runs, and the keeper went round recently."""
        if not self.started:
            return False, "not started"
        dead = [t.name for t in (self.keeper, *self.workers) if not t.is_alive()]
        if dead:
            return False, "stopped: " + ", ".join(dead)
        late = time.monotonic() - self._beat
        if late > 3 * self.every + 5:
            return False, f"the keeper has not gone round for {late:.0f} s"
        with self._lock:
            running = len(self._held)
        return True, f"{len(self.workers)} runner thread(s), {running} job(s) running"

    def stop(self, grace: float | None = None) -> None:
        """Let running jobs finish their current step (up to ``grace`` seconds, default
        ``jobs_shutdown_seconds``), then return whatever still runs to the queue."""
        self.stopping.set()
        jobs.WAKE.set()
        wait = self.settings.jobs_shutdown_seconds if grace is None else grace
        deadline = time.monotonic() + wait
        for t in self.workers:
            if t.is_alive():
                t.join(timeout=max(0.0, deadline - time.monotonic()))
        with self._lock:
            left = dict(self._held)
            self._held.clear()
        for job_id, token in left.items():
            if jobs.requeue(self.sessions, job_id, token, count_attempt=False):
                log.warning("job %s did not reach a step in time: returned to the queue", job_id)
        for thread in (self.keeper, self.listener):
            if thread is not None and thread.is_alive():
                thread.join(timeout=5)

    # --- threads ---------------------------------------------------------------------------------

    def run_one(self) -> str | None:
        """Claim one queued job and run it here; its outcome, or None when none was queued."""
        claimed = jobs.claim_next(self.sessions, self.settings)
        if claimed is None:
            return None
        job, token = claimed
        with self._lock:
            self._held[job.id] = token
        try:
            ctx = jobs.JobContext(
                job=job,
                token=token,
                principal=jobs.principal_of(job),
                folder=jobs.folder(self.settings, job.workspace_id, job.id),
                sessions=self.sessions,
                settings=self.settings,
                catalog=self._catalog_of(job.workspace_id),
                stopping=self.stopping,
            )
            return execute(ctx, self.handlers)
        finally:
            with self._lock:
                self._held.pop(job.id, None)

    def _catalog_of(self, workspace_id: uuid.UUID) -> Catalog:
        """The catalog the job's workspace sees: the library plus its published versions."""
        with self.sessions() as session:
            return workspace_catalog(session, self.catalog, workspace_id)

    def _work(self) -> None:
        while not self.stopping.is_set():
            try:
                ran = self.run_one()
            except Exception:
                log.exception("job runner round failed; trying again shortly")
                ran = None
            if ran is None and not self.stopping.is_set():
                jobs.WAKE.wait(self.settings.jobs_poll_seconds)
                jobs.WAKE.clear()

    def _listen(self) -> None:
        """PostgreSQL: wake the runner threads when any process queues a job (LISTEN on the
        channel ``jobs.announce`` notifies). The poll stays as the floor: while the listening
        connection is down (the database restarting), jobs wait at most one poll."""
        url = make_url(self.settings.effective_database_url).set(drivername="postgresql")
        conninfo = url.render_as_string(hide_password=False)
        while not self.stopping.is_set():
            try:
                with psycopg.connect(conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {jobs.CHANNEL}")
                    jobs.WAKE.set()  # whatever was queued while nobody listened
                    while not self.stopping.is_set():
                        for _ in conn.notifies(timeout=1.0):
                            jobs.WAKE.set()
            except psycopg.Error as exc:
                log.warning("job listener lost its connection (%s); polling until it is back", exc)
                self.stopping.wait(5.0)

    def _keep(self) -> None:
        pruned_at = 0.0
        while not self.stopping.wait(self.every):
            try:
                with self._lock:
                    held = dict(self._held)
                jobs.renew(self.sessions, self.settings, held)
                jobs.recover(self.sessions)
                if time.monotonic() - pruned_at > PRUNE_EVERY_S:
                    pruned_at = time.monotonic()
                    jobs.prune(self.sessions, self.settings)
            except Exception:
                log.exception("job keeper round failed; trying again shortly")
            self._beat = time.monotonic()
