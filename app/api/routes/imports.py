from __future__ import annotations

from typing import Annotated

from fastapi import File, Header, Query, UploadFile
from fastapi.responses import Response

from app.api.deps import CatalogDep, PrincipalDep, SessionDep, SettingsDep
from app.api.problems import PROBLEM_JSON, problem_response
from app.api.routes.jobs import accepted
from app.api.routing import XLSX, problem, v1_router, xlsx_response
from app.api.schemas.imports import ImportRead
from app.api.schemas.jobs import JobRead
from app.domain.rounding import rounded_numbers
from app.excel import Limits, Problem
from app.services import imports as svc
from app.services.job_kinds import enqueue_import
from app.services.uploads import expand_uploads

router = v1_router("imports")


def prefers_async(prefer: str | None) -> bool:
    """RFC 7240: the ``Prefer`` header (several may be joined by commas) asks ``respond-async``."""
    return any(
        p.split(";", 1)[0].strip().lower() == "respond-async" for p in (prefer or "").split(",")
    )


def _limits(max_bytes: int) -> Limits:
    return Limits(max_bytes=max_bytes)


async def _read_uploads(files: list[UploadFile], max_bytes: int) -> list[svc.Upload]:
    uploads = []
    for index, f in enumerate(files):
        data = await f.read()  # the app-wide body limit bounds this; the reader checks each file
        uploads.append(svc.Upload(f.filename or f"upload-{index + 1}.xlsx", data))
    return uploads


@router.post(
    "/imports",
    summary="Import filled workbooks (.xlsx, or one .zip of them); each is all-or-nothing",
    description="With `Prefer: respond-async` (RFC 7240) the workbooks are checked as an "
    "upload (size, zip), stored, and imported by a background job: the answer is 202 with "
    "`Location: /v1/jobs/{id}` to poll; once the job succeeded, its `result` is this route's "
    "own answer (every workbook rejected is then a succeeded job with `accepted: 0`). Without "
    "it, or with annotate=true, the import happens within the request.",
    response_model=ImportRead,
    responses={
        202: {
            "model": JobRead,
            "description": "Accepted as a job (`Prefer: respond-async`): poll `Location`",
            "headers": {
                "Location": {"schema": {"type": "string"}, "description": "/v1/jobs/{id}"},
                "Preference-Applied": {"schema": {"type": "string"}},
            },
        },
        413: problem("The request is larger than the configured limit"),
        422: {
            "description": "Every workbook was rejected (problem+json with `results`), or, with "
            "annotate=true, the uploaded workbook with each problem marked in red",
            "content": {PROBLEM_JSON: {}, XLSX: {}},
        },
    },
)
async def import_workbooks(
    session: SessionDep,
    principal: PrincipalDep,
    catalog: CatalogDep,
    settings: SettingsDep,
    files: Annotated[list[UploadFile], File(description="One or more .xlsx, or one .zip")],
    dry_run: Annotated[bool, Query(description="Check everything, write nothing")] = False,
    create_organizations: Annotated[
        bool, Query(description="Create an organization the upload names but cannot match")
    ] = False,
    annotate_errors: Annotated[
        bool,
        Query(
            alias="annotate",
            description="With one workbook: if it is rejected, answer with the workbook itself, "
            "each offending cell red and commented",
        ),
    ] = False,
    prefer: Annotated[
        str | None,
        Header(description="`respond-async`: import in a background job, answer 202 at once"),
    ] = None,
) -> ImportRead | Response:
    limits = _limits(settings.max_upload_bytes)
    uploads = await _read_uploads(files, settings.max_upload_bytes)
    try:
        expanded = expand_uploads(uploads, limits)
    except svc.UploadRejected as exc:
        return problem_response(
            422,
            "workbook-rejected",
            "Upload rejected",
            exc.problem.en,
            errors=[
                {
                    "code": exc.problem.code.value,
                    "detail": exc.problem.en,
                    "detail_es": exc.problem.es,
                }
            ],
        )
    if annotate_errors and len(expanded) != 1:
        return problem_response(
            422, "validation-error", "Invalid input", "annotate=true takes exactly one workbook"
        )
    # Parsing runs in worker processes and the database calls are blocking: leave the event loop.
    from starlette.concurrency import run_in_threadpool

    if prefers_async(prefer) and not annotate_errors:
        job = await run_in_threadpool(
            enqueue_import,
            session,
            principal,
            settings,
            expanded,
            dry_run=dry_run,
            create_organizations=create_organizations,
        )
        return accepted(job, **{"Preference-Applied": "respond-async"})
    results = await run_in_threadpool(
        svc.import_workbooks,
        session,
        principal,
        catalog,
        expanded,
        dry_run=dry_run,
        create_organizations=create_organizations,
        limits=limits,
    )
    body = ImportRead(
        dry_run=dry_run,
        accepted=sum(r.status != "rejected" for r in results),
        rejected=sum(r.status == "rejected" for r in results),
        results=[rounded_numbers(svc.result_json(r)) for r in results],
    )
    if body.accepted:
        return body
    first = results[0]
    if annotate_errors and first.problems:
        marked = await run_in_threadpool(svc.annotated_copy, expanded[0], first, limits)
        if marked is not None:
            response = xlsx_response(*marked, status_code=422)
            response.headers["OCA-Problems"] = str(len(first.problems))
            return response
    return problem_response(
        422,
        "workbook-rejected",
        "Workbook rejected",
        "no workbook could be imported; nothing was written",
        errors=[e for r in body.results for e in (x.model_dump() for x in r.errors)],
        results=[r.model_dump() for r in body.results],
    )


@router.post(
    "/imports/submissions",
    summary="Import field submissions (KoboToolbox or ODK Central export of our XLSForm)",
    description=(
        "One CSV (comma or semicolon) or XLSX data export, one row per submission, of a form "
        "downloaded from `/v1/instruments/{id}/versions/{version}/xlsform.xlsx`. Headers may be "
        "Kobo's (`group/question`, bare names or labels, `_uuid`) or ODK Central's "
        "(`group-question`, `meta-instanceID`, `KEY`); answers may be choice names or labels. "
        "Each submission is all-or-nothing and becomes an assessment exactly as a workbook "
        "would; importing the same submission again answers `unchanged`. Every problem names "
        "its cell (column letter and row) in the export."
    ),
    response_model=ImportRead,
    responses={
        413: problem("The request is larger than the configured limit"),
        422: problem("The file is not such an export, or every submission was rejected"),
    },
)
async def import_submissions(
    session: SessionDep,
    principal: PrincipalDep,
    catalog: CatalogDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="A .csv or .xlsx data export")],
    dry_run: Annotated[bool, Query(description="Check everything, write nothing")] = False,
    create_organizations: Annotated[
        bool, Query(description="Create an organization a submission names but cannot match")
    ] = False,
) -> ImportRead | Response:
    from starlette.concurrency import run_in_threadpool

    from app.services.submissions import import_submissions as run

    upload = svc.Upload(file.filename or "submissions.csv", await file.read())
    try:
        results = await run_in_threadpool(
            run,
            session,
            principal,
            catalog,
            upload,
            dry_run=dry_run,
            create_organizations=create_organizations,
            limits=_limits(settings.max_upload_bytes),
        )
    except svc.UploadRejected as exc:
        return problem_response(
            422,
            "workbook-rejected",
            "Upload rejected",
            exc.problem.en,
            errors=[_problem_json(exc.problem)],
        )
    body = ImportRead(
        dry_run=dry_run,
        accepted=sum(r.status != "rejected" for r in results),
        rejected=sum(r.status == "rejected" for r in results),
        results=[rounded_numbers(svc.result_json(r)) for r in results],
    )
    if body.accepted or not results:
        return body
    return problem_response(
        422,
        "workbook-rejected",
        "Submissions rejected",
        "no submission could be imported; nothing was written",
        errors=[e for r in body.results for e in (x.model_dump() for x in r.errors)],
        results=[r.model_dump() for r in body.results],
    )


def _problem_json(p: Problem) -> dict[str, str | None]:
    return {"code": p.code.value, "detail": p.en, "detail_es": p.es, "sheet": p.sheet}
