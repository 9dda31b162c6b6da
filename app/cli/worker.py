"""`oca worker`: run queued jobs without serving HTTP (web workers may then run with
OCA_JOBS_ENABLED=false)."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Annotated

import typer
from pydantic import ValidationError
from sqlalchemy import Engine

from app.cli.common import (
    err,
    fail,
    friendly_errors,
    instrument_catalog,
    out,
    read_settings,
    session_scope,
)
from app.db.session import make_sessionmaker
from app.excel.sandbox import PoolSettings, close_default_pool, open_default_pool
from app.services.evidence_store import sweep_staging


def worker(
    concurrency: Annotated[
        int | None,
        typer.Option(
            metavar="N", min=1, max=16, help="Jobs run at once (default: OCA_JOBS_CONCURRENCY)"
        ),
    ] = None,
) -> None:
    """Run queued jobs (imports sent with Prefer: respond-async) until SIGTERM or Ctrl-C."""
    from app.services.jobs_runner import JobRunner

    try:
        settings = read_settings()
    except ValidationError as exc:
        lines = [f"OCA_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors()]
        raise fail("cannot start:\n  " + "\n  ".join(lines)) from None
    if concurrency is not None:
        settings = settings.model_copy(update={"jobs_concurrency": concurrency})
    problems = settings.problems()
    if problems:
        raise fail("cannot start:\n  " + "\n  ".join(problems))
    sweep_staging(settings.evidence_folder)  # uploads a killed process left half received
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    with friendly_errors():
        catalog = instrument_catalog(settings)
        with session_scope(settings, create=False, migrate_first=False, catalog=catalog) as session:
            engine = session.get_bind()
            assert isinstance(engine, Engine)
            runner = JobRunner(make_sessionmaker(engine), settings, catalog)
            open_default_pool(PoolSettings(settings.parser_workers, settings.parser_max_requests))
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, on_signal)
            runner.start()
            out.print(
                f"running jobs, {settings.jobs_concurrency} at a time; stop with Ctrl-C or SIGTERM "
                f"(running jobs get {settings.jobs_shutdown_seconds:g} s to reach a step)"
            )
            try:
                while not stop.wait(1.0):
                    alive, detail = runner.alive()
                    if not alive:
                        raise fail(f"the job runner stopped: {detail}")
            finally:
                runner.stop()
                close_default_pool()
    err.print("stopped; unfinished jobs are back in the queue")
