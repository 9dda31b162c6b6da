"""A workspace's own instrument versions: drafts from a text or a workbook, derivation, previews,
publication (``app.services.owned_instruments``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import File, Request, UploadFile, status
from starlette.concurrency import run_in_threadpool

from app.api.deps import AdminDep, LibraryDep, PrincipalDep, SessionDep, SettingsDep
from app.api.routes.instruments import IdPath, VersionPath
from app.api.routing import CONFLICT, NOT_FOUND, Responses, problem, v1_router
from app.api.schemas.common import Page
from app.api.schemas.instruments import (
    DeriveRequest,
    OwnVersionRead,
    ScoreTrialRead,
    ScoreTrialRequest,
)
from app.domain.answers import RawAnswer
from app.domain.instrument import Instrument
from app.domain.rounding import rounded_numbers
from app.services import owned_instruments as svc
from app.services.authoring import authoring_limits

router = v1_router("instruments")

TEXT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The instrument version as YAML or JSON, in the shape of a library file "
        "(docs/instruments.md)",
        "content": {
            "application/yaml": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "object"}},
        },
    }
}
REJECTED: Responses = {
    413: problem("The request is larger than the configured limit"),
    422: problem("Not a valid instrument version; `errors` lists every problem with its place"),
}


def _read(own: svc.OwnVersion) -> OwnVersionRead:
    row = own.row
    return OwnVersionRead(
        id=row.instrument_id,
        version=row.version,
        status="published" if row.status == svc.PUBLISHED else "draft",
        content_hash=row.content_hash,
        title=row.title,
        derived_from=row.derived_from,
        supersedes=own.supersedes,
        dropped_items=own.dropped_items,
        new_items=own.new_items,
        created_by=row.created_by,
        created_at=row.loaded_at,
        published_by=row.published_by,
        published_at=row.published_at,
    )


async def _workbook(file: UploadFile, max_bytes: int) -> Instrument:
    data = await file.read()  # the app-wide body limit bounds this; the reader checks it again
    return await run_in_threadpool(svc.read_workbook, data, authoring_limits(max_bytes))


async def _saved(save: Callable[..., Any], *args: Any) -> OwnVersionRead:
    """A draft created or replaced by ``save`` (on a worker thread), as the API reads it."""
    row = await run_in_threadpool(save, *args)
    return _read(svc.describe(row))


@router.get("/instruments/own", summary="The workspace's own instrument versions, drafts included")
def list_own(session: SessionDep, principal: PrincipalDep) -> Page[OwnVersionRead]:
    return Page[OwnVersionRead](
        items=[_read(svc.describe(r)) for r in svc.list_owned(session, principal)]
    )


@router.post(
    "/instruments/own",
    status_code=status.HTTP_201_CREATED,
    summary="Create a draft from an instrument text (YAML or JSON)",
    description="The version label must carry the word `local` (e.g. `2015.2-local`). A draft "
    "can be replaced, previewed and deleted until it is published.",
    openapi_extra=TEXT_BODY,
    responses={**CONFLICT, **REJECTED},
)
async def create_from_text(
    request: Request, session: SessionDep, principal: PrincipalDep, library: LibraryDep
) -> OwnVersionRead:
    instrument = svc.read_text(await request.body())
    return await _saved(svc.create_draft, session, principal, library, instrument)


@router.post(
    "/instruments/own/authoring",
    status_code=status.HTTP_201_CREATED,
    summary="Create a draft from an authoring workbook",
    description="The workbook as `.../authoring.xlsx` writes it (docs/authoring.md); every "
    "problem is listed with its sheet and cell.",
    responses={**CONFLICT, **REJECTED},
)
async def create_from_workbook(
    session: SessionDep,
    principal: PrincipalDep,
    library: LibraryDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="An authoring workbook (.xlsx)")],
) -> OwnVersionRead:
    instrument = await _workbook(file, settings.max_upload_bytes)
    return await _saved(svc.create_draft, session, principal, library, instrument)


@router.post(
    "/instruments/{instrument_id}/versions/{version}/derive",
    status_code=status.HTTP_201_CREATED,
    summary="Derive a draft from a library version or one of the workspace's own",
    description="A copy under a new label that supersedes the original item for item. Edit it "
    "(drop, add, reword, reweight); each save completes its crosswalk: items kept map to "
    "themselves, items gone map to null, so series and comparisons across the two compare "
    "what they share and name the rest.",
    responses={**NOT_FOUND, **CONFLICT, **REJECTED},
)
def derive(
    body: DeriveRequest,
    session: SessionDep,
    principal: PrincipalDep,
    library: LibraryDep,
    instrument_id: str = IdPath,
    version: str = VersionPath,
) -> OwnVersionRead:
    row = svc.derive(session, principal, library, instrument_id, version, body.version)
    return _read(svc.describe(row))


@router.put(
    "/instruments/{instrument_id}/versions/{version}",
    summary="Replace a draft's text (YAML or JSON)",
    description="A published version is immutable: 409.",
    openapi_extra=TEXT_BODY,
    responses={**NOT_FOUND, **CONFLICT, **REJECTED},
)
async def replace_from_text(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    library: LibraryDep,
    instrument_id: str = IdPath,
    version: str = VersionPath,
) -> OwnVersionRead:
    instrument = svc.read_text(await request.body())
    return await _saved(
        svc.replace_draft, session, principal, library, instrument_id, version, instrument
    )


@router.put(
    "/instruments/{instrument_id}/versions/{version}/authoring",
    summary="Replace a draft from an authoring workbook",
    responses={**NOT_FOUND, **CONFLICT, **REJECTED},
)
async def replace_from_workbook(
    session: SessionDep,
    principal: PrincipalDep,
    library: LibraryDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="An authoring workbook (.xlsx)")],
    instrument_id: str = IdPath,
    version: str = VersionPath,
) -> OwnVersionRead:
    instrument = await _workbook(file, settings.max_upload_bytes)
    return await _saved(
        svc.replace_draft, session, principal, library, instrument_id, version, instrument
    )


@router.delete(
    "/instruments/{instrument_id}/versions/{version}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a draft",
    responses={**NOT_FOUND, **CONFLICT},
)
def delete_draft(
    session: SessionDep,
    principal: PrincipalDep,
    instrument_id: str = IdPath,
    version: str = VersionPath,
) -> None:
    svc.delete_draft(session, principal, instrument_id, version)


@router.post(
    "/instruments/{instrument_id}/versions/{version}/publish",
    summary="Publish a draft (admin): immutable from now on, usable by assessments",
    description="Emits the webhook event `instrument.published`.",
    responses={**NOT_FOUND, **CONFLICT},
)
def publish(
    session: SessionDep,
    principal: AdminDep,
    instrument_id: str = IdPath,
    version: str = VersionPath,
) -> OwnVersionRead:
    return _read(svc.describe(svc.publish(session, principal, instrument_id, version)))


@router.post(
    "/instruments/{instrument_id}/versions/{version}/score-trial",
    summary="Score sample answers with a version (a draft included); nothing is stored",
    responses={**NOT_FOUND, 422: problem("Answers that cannot be accepted, each named")},
)
def score_trial(
    body: ScoreTrialRequest,
    session: SessionDep,
    principal: PrincipalDep,
    library: LibraryDep,
    instrument_id: str = IdPath,
    version: str = VersionPath,
) -> ScoreTrialRead:
    answers = [RawAnswer(a.item, a.value, a.note) for a in body.answers]
    digest, payload = svc.score_trial(session, principal, library, instrument_id, version, answers)
    return ScoreTrialRead(
        instrument_id=instrument_id,
        version=version,
        content_hash=digest,
        score=rounded_numbers(payload),
    )
