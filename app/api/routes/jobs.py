"""Jobs: long work done outside the request (an import with `Prefer: respond-async`), polled
here."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Response
from fastapi.responses import FileResponse

from app.api.deps import PrincipalDep, SessionDep, SettingsDep
from app.api.routing import NOT_FOUND, attachment, v1_router
from app.api.schemas.imports import ImportRead
from app.api.schemas.jobs import JobLinks, JobProgress, JobRead
from app.db.models import Job
from app.domain.rounding import rounded_numbers
from app.services import jobs as svc

router = v1_router("jobs")

POLL_AFTER_SECONDS = 1  # Retry-After while a job is queued or running


def job_read(job: Job) -> JobRead:
    """The job as a client sees it; the result once it succeeded."""
    result = None
    if job.status == "succeeded" and job.kind == "import" and job.result is not None:
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


def poll_headers(job: Job) -> dict[str, str]:
    if job.status in ("queued", "running"):
        return {"Retry-After": str(POLL_AFTER_SECONDS)}
    return {}


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
    job = svc.get(session, principal, job_id)
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
    job = svc.download(session, principal, settings, job_id)
    assert job.file_name is not None and job.file_type is not None
    return FileResponse(
        svc.result_path(settings, job),
        media_type=job.file_type,
        headers=attachment(job.file_name),
    )
