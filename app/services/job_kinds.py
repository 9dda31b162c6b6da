"""What each kind of job does, and how it is asked for. Each kind works in steps and records
each one (``ctx.step``), so a run that takes over a job continues after the last recorded step.

- ``import``: the bulk workbook import of ``POST /v1/imports`` (``Prefer: respond-async``). Each
  workbook is one step, imported by ``app.services.imports.import_each`` exactly as the
  synchronous call does (all-or-nothing per workbook, the next ones read in the parser pool while
  one is written), and its result is kept with the progress.
  A workbook imported by a run that died before recording it is imported again by the next run
  and answers ``unchanged`` (the import knows the file by its SHA-256): nothing is written twice.
- ``export.raw``: a cohort's raw data (one row per assessment, one column per item), as
  ``/v1/cohorts/{id}/export.xlsx`` or ``export.csv`` make it, written to the job's file. A step is
  a batch of rows read; a run that takes the job over starts the file again.
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal

from sqlalchemy.orm import Session

from app.catalog import Catalog
from app.config import Settings
from app.domain.errors import Invalid
from app.excel import Limits, RawRow, export_raw, export_raw_csv
from app.excel.problems import Problem
from app.services import imports, jobs
from app.services.exports import raw_rows
from app.services.filenames import safe_filename
from app.services.keys import Principal
from app.services.organizations import get_cohort

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"
ROWS_PER_STEP = 500

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
) -> jobs.JobView:
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
    job = jobs.enqueue(
        session,
        principal,
        settings,
        "import",
        {"dry_run": dry_run, "create_organizations": create_organizations, "files": files},
        total=len(files),
        files=[(f"{n}.xlsx", u.data) for n, u in enumerate(uploads)],
    )
    return jobs.JobView.of(job)


def run_import(ctx: jobs.JobContext) -> jobs.Outcome:
    dry_run = bool(ctx.params["dry_run"])
    files: list[dict[str, Any]] = ctx.params["files"]
    results: list[dict[str, Any]] = [ctx.kept(n) for n in range(ctx.done)]  # earlier runs
    limits = Limits(max_bytes=ctx.settings.max_upload_bytes)
    uploads = (
        imports.Upload(
            files[n]["name"],
            ctx.input(f"{n}.xlsx", files[n]["sha256"]),
            Problem.from_dict(files[n]["problem"]) if files[n]["problem"] else None,
        )
        for n in range(len(results), len(files))
    )
    with ctx.sessions() as session:
        each = imports.import_each(
            session,
            ctx.principal,
            ctx.catalog,
            uploads,
            dry_run=dry_run,
            create_organizations=bool(ctx.params["create_organizations"]),
            limits=limits,
        )
        with contextlib.closing(each):  # a run that stops leaves no workbook being read
            for result in each:
                n = len(results)
                results.append(imports.result_json(result))
                ctx.keep(n, results[-1])
                ctx.step(n + 1, len(files))
    return jobs.Outcome({"dry_run": dry_run, "results": results})


# --- export.raw ---------------------------------------------------------------------------------


def enqueue_raw_export(
    session: Session,
    principal: Principal,
    settings: Settings,
    catalog: Catalog,
    cohort_id: uuid.UUID,
    instrument_id: str,
    file_format: Literal["xlsx", "csv"],
    lang: str,
) -> jobs.JobView:
    """Queue the raw export of a cohort of the caller's workspace (not found otherwise)."""
    get_cohort(session, principal, cohort_id)
    if catalog.latest(instrument_id) is None:
        raise Invalid(f"unknown instrument: {instrument_id}")
    params = {
        "cohort_id": str(cohort_id),
        "instrument_id": instrument_id,
        "format": file_format,
        "lang": lang,
    }
    return jobs.JobView.of(jobs.enqueue(session, principal, settings, "export.raw", params))


def run_raw_export(ctx: jobs.JobContext) -> jobs.Outcome:
    p = ctx.params
    cohort_id, instrument_id = uuid.UUID(p["cohort_id"]), str(p["instrument_id"])
    f = ctx.catalog.latest(instrument_id)
    if f is None:
        raise jobs.JobFailed(
            f"the instrument {instrument_id} is no longer loaded on this server",
            f"el instrumento {instrument_id} ya no está cargado en este servidor",
        )
    with ctx.sessions() as session:
        cohort = get_cohort(session, ctx.principal, cohort_id)
        counted = _counting(ctx, raw_rows(session, ctx.principal, cohort_id, instrument_id))
        if p["format"] == "csv":
            data = "".join(export_raw_csv(f.instrument, counted)).encode("utf-8")
        else:
            data = export_raw(f.instrument, counted, str(p["lang"]))
    ctx.result_path.write_bytes(data)
    ext = "csv" if p["format"] == "csv" else "xlsx"
    return jobs.Outcome(
        {"rows": ctx.done, "format": ext, "bytes": len(data)},
        file_name=safe_filename(instrument_id, "raw", cohort.name, ext=ext),
        file_type=CSV if ext == "csv" else XLSX,
    )


def _counting(ctx: jobs.JobContext, rows: Iterator[RawRow]) -> Iterator[RawRow]:
    """The rows, with a step recorded every ``ROWS_PER_STEP`` (and at the end)."""
    n = 0
    ctx.step(0)
    for row in rows:
        yield row
        n += 1
        if n % ROWS_PER_STEP == 0:
            ctx.step(n)
    ctx.step(n, n)


HANDLERS: dict[str, Handler] = {"import": run_import, "export.raw": run_raw_export}
