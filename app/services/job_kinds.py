"""What each kind of job does, and how it is asked for. Each kind works in steps and records
each one (``ctx.step``), so a run that takes over a job continues after the last recorded step.

- ``import``: the bulk workbook import of ``POST /v1/imports`` (``Prefer: respond-async``). Each
  workbook is one step, imported by ``app.services.imports.import_workbooks`` exactly as the
  synchronous call does (all-or-nothing per workbook), and its result is kept with the progress.
  A workbook imported by a run that died before recording it is imported again by the next run
  and answers ``unchanged`` (the import knows the file by its SHA-256): nothing is written twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.orm import Session

from app.config import Settings
from app.db.models import Job
from app.excel import Limits
from app.excel.problems import Problem
from app.services import imports, jobs
from app.services.keys import Principal

Handler = Callable[[jobs.JobContext], jobs.Outcome]


# --- import -------------------------------------------------------------------------------------


def enqueue_import(
    session: Session,
    principal: Principal,
    settings: Settings,
    uploads: Sequence[imports.Upload],
    *,
    dry_run: bool,
    create_organizations: bool,
) -> Job:
    """Queue the import of workbooks already unpacked from the upload (a .zip's members, each
    with the problem found unpacking it, if any); their bytes are stored before it is queued."""
    files = [
        {
            "name": u.name,
            "sha256": hashlib.sha256(u.data).hexdigest(),
            "problem": u.problem.to_dict() if u.problem is not None else None,
        }
        for u in uploads
    ]
    return jobs.enqueue(
        session,
        principal,
        settings,
        "import",
        {"dry_run": dry_run, "create_organizations": create_organizations, "files": files},
        total=len(files),
        files=[(f"{n}.xlsx", u.data) for n, u in enumerate(uploads)],
    )


def run_import(ctx: jobs.JobContext) -> jobs.Outcome:
    dry_run = bool(ctx.params["dry_run"])
    files: list[dict[str, Any]] = ctx.params["files"]
    results: list[dict[str, Any]] = [ctx.kept(n) for n in range(ctx.done)]  # earlier runs
    limits = Limits(max_bytes=ctx.settings.max_upload_bytes)
    with ctx.sessions() as session:
        for n in range(len(results), len(files)):
            f = files[n]
            upload = imports.Upload(
                f["name"],
                ctx.input(f"{n}.xlsx", f["sha256"]),
                Problem.from_dict(f["problem"]) if f["problem"] else None,
            )
            (result,) = imports.import_workbooks(
                session,
                ctx.principal,
                ctx.catalog,
                [upload],
                dry_run=dry_run,
                create_organizations=bool(ctx.params["create_organizations"]),
                limits=limits,
            )
            results.append(imports.result_json(result))
            ctx.keep(n, results[-1])
            ctx.step(n + 1, len(files))
    return jobs.Outcome({"dry_run": dry_run, "results": results})


HANDLERS: dict[str, Handler] = {"import": run_import}
