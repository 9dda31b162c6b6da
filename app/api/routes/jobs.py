"""Jobs: long work done outside the request (an import with `Prefer: respond-async`), polled
here."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Response
from fastapi.responses import FileResponse, JSONResponse

from app.api.deps import CatalogDep, PrincipalDep, SessionDep, SettingsDep
from app.api.routing import NOT_FOUND, attachment, v1_router
from app.api.schemas.imports import ImportRead
from app.api.schemas.jobs import (
    JobLinks,
    JobProgress,
    JobRead,
    RawExportCreate,
    RawExportRead,
)
from app.domain.rounding import rounded_numbers
from app.services import jobs as svc
from app.services.job_kinds import enqueue_raw_export

router = v1_router("jobs")

POLL_AFTER_SECONDS = 1  # Retry-After while a job is queued or running


def job_read(job: svc.JobView) -> JobRead:
    """The job as a client sees it; the result once it succeeded."""
    result: ImportRead | RawExportRead | None = None
    if job.status == "succeeded" and job.kind == "export.raw" and job.result is not None:
        result = RawExportRead.model_validate(job.result)
    elif job.status == "succeeded" and job.kind == "import" and job.result is not None:
        results = job.result["results"]
        result = ImportRead.model_validate(
            {
                "dry_run": job.result["dry_run"],
                "accepted": sum(r["status"] != "rejected" for r in results),
                "rejected": sum(r["status"] == "rejected" for r in results),
                "results": [rounded_numbers(r) for r in results],
            }
        )
    has_file = job.status == "succeeded" and job.file_name is not None
    return JobRead(
        id=job.id,
        kind=job.kind,
        status=job.status,
        progress=JobProgress(done=job.progress_done, total=job.progress_total),
        attempts=job.attempts,
        max_attempts=job.max_attempts,
        error=job.error,
        error_es=job.error_es,
        created_by=job.created_by,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        result=result,
        links=JobLinks(
            self=f"/v1/jobs/{job.id}",
            download=f"/v1/jobs/{job.id}/file" if has_file else None,
        ),
    )


def poll_headers(job: svc.JobView) -> dict[str, str]:
    if job.status in ("queued", "running"):
        return {"Retry-After": str(POLL_AFTER_SECONDS)}
    return {}


def accepted(job: svc.JobView, **headers: str) -> JSONResponse:
    """202 Accepted: the job, and where to poll it."""
    return JSONResponse(
        job_read(job).model_dump(mode="json"),
        status_code=202,
        headers={"Location": f"/v1/jobs/{job.id}", **headers, **poll_headers(job)},
    )


ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {
        "model": JobRead,
        "description": "Accepted as a job: poll `Location`",
        "headers": {"Location": {"schema": {"type": "string"}, "description": "/v1/jobs/{id}"}},
    }
}


@router.post(
    "/cohorts/{cohort_id}/export-jobs",
    status_code=202,
    summary="Export a cohort's raw data (xlsx or csv) in a background job",
    description="The same file as `/v1/cohorts/{id}/export.xlsx` or `export.csv`, made by a job: "
    "for cohorts with thousands of assessments. Answers 202 with `Location: /v1/jobs/{id}`; "
    "once the job succeeded, `links.download` gives the file.",
    response_model=JobRead,
    responses={**ACCEPTED, **NOT_FOUND},
)
def create_raw_export_job(
    cohort_id: uuid.UUID,
    body: RawExportCreate,
    session: SessionDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    catalog: CatalogDep,
) -> Any:
    job = enqueue_raw_export(
        session, principal, settings, catalog, cohort_id, body.instrument_id, body.format, body.lang
    )
    return accepted(job)


@router.get(
    "/jobs/{job_id}",
    summary="A job's status, progress and, once it succeeded, its result",
    description="Poll while `status` is `queued` or `running` (the answer then carries "
    "`Retry-After` in seconds). A job whose worker stopped mid-job is queued again and goes on "
    "where it was; after its last attempt it is `failed` with the reason in `error`.",
    responses=NOT_FOUND,
)
def get_job(
    job_id: uuid.UUID, session: SessionDep, principal: PrincipalDep, response: Response
) -> JobRead:
    job = svc.read(session, principal, job_id)
    response.headers.update(poll_headers(job))
    return job_read(job)


@router.get(
    "/jobs/{job_id}/file",
    summary="The file a job made (once it succeeded)",
    response_class=FileResponse,
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "The file"},
        **NOT_FOUND,
    },
)
def get_job_file(
    job_id: uuid.UUID, session: SessionDep, principal: PrincipalDep, settings: SettingsDep
) -> Any:
    made = svc.download(session, principal, settings, job_id)
    return FileResponse(made.path, media_type=made.media_type, headers=attachment(made.name))
