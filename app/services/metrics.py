"""Prometheus metrics: what an operator graphs and alerts on.

Every metric is process-wide. With several worker processes, ``oca serve`` points the client at a
shared folder (``PROMETHEUS_MULTIPROC_DIR``) before the workers start, and a scrape of any worker
sums all of them. Labels are bounded: routes are templates (``/v1/assessments/{assessment_id}``),
never raw paths.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client import REGISTRY as DEFAULT_REGISTRY
from sqlalchemy import Engine, event

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

REQUESTS = Counter("oca_http_requests", "HTTP requests answered", ("method", "route", "status"))
LATENCY = Histogram(
    "oca_http_request_duration_seconds",
    "Time from the request's arrival to the end of its answer",
    ("method", "route"),
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
IMPORTS = Counter(
    "oca_imported_workbooks",
    "Workbooks through the import, by outcome (created, updated, revised, unchanged, rejected…)",
    ("outcome", "dry_run"),
)
SCORING = Histogram(
    "oca_scoring_seconds",
    "Time to score one assessment with the engine",
    buckets=(0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01),
)
POOL_IN_USE = Gauge(
    "oca_db_connections_in_use",
    "Database connections checked out of the pool",
    multiprocess_mode="livesum",
)
JOBS = Gauge(
    "oca_jobs",
    "Jobs in the database by status (queued, running, succeeded, failed), counted at each scrape; "
    "finished ones are kept OCA_JOBS_KEEP_DAYS",
    ("status",),
    multiprocess_mode="mostrecent",
)
JOBS_FINISHED = Counter(
    "oca_jobs_finished",
    "Job runs ended in this process, by kind and outcome (succeeded, failed, requeued: returned "
    "to the queue at shutdown or after a busy database)",
    ("kind", "outcome"),
)
JOBS_RECOVERED = Counter(
    "oca_jobs_recovered",
    "Jobs whose runner stopped mid-job (lease lapsed), by what became of them (requeued, failed)",
    ("outcome",),
)
JOB_SECONDS = Histogram(
    "oca_job_duration_seconds",
    "Time one run of a job took, by kind",
    ("kind",),
    buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800),
)


@contextmanager
def timed_scoring() -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        SCORING.observe(time.perf_counter() - started)


def record_request(method: str, route: str, status: int, seconds: float) -> None:
    REQUESTS.labels(method, route, str(status)).inc()
    LATENCY.labels(method, route).observe(seconds)


def count_pool_use(engine: Engine) -> None:
    """Keep POOL_IN_USE exact: one up on each checkout, one down on each return."""
    event.listen(engine.pool, "checkout", lambda *_: POOL_IN_USE.inc())
    event.listen(engine.pool, "checkin", lambda *_: POOL_IN_USE.dec())


def exposition() -> tuple[bytes, str]:
    """The metrics of this process, or of every worker when they share a folder."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(DEFAULT_REGISTRY), CONTENT_TYPE_LATEST


def share_metrics_between_workers(folder: Path) -> None:
    """Before worker processes start: let every worker count into one fresh folder."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    os.environ[MULTIPROC_ENV] = str(folder.resolve())
