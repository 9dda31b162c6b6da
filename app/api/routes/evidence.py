"""Evidence on an assessment's items over REST (issue 12): files and links, their verification
status, and each file's download. Everyone in the workspace reads; editors and admins write."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import File, Form, Path, Query, UploadFile, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from app.api.deps import CatalogDep, PrincipalDep, SessionDep, SettingsDep
from app.api.routing import CONFLICT, NOT_FOUND, Responses, attachment, problem, v1_router
from app.api.schemas.records import LongText, Name, NotNull
from app.services import evidence as svc
from app.services.evidence_files import KINDS, EvidenceFiles
from app.services.evidence_store import chunks, store_of

router = v1_router("evidence")

ItemPath = Annotated[
    str,
    Path(min_length=1, max_length=64, description="The item's key", examples=["gls.vision.1"]),
]
WRITES = "Editors and admins; on a draft or submitted assessment (a final one answers 409)."
TOO_LARGE: Responses = {
    413: problem("The file is larger than the evidence limit (OCA_EVIDENCE_MAX_BYTES)")
}
STORE: Responses = {
    503: problem(
        "Busy, or the evidence store cannot be used right now (`reason`: unreachable, with "
        "`Retry-After`; denied or no_bucket, which an operator must fix); nothing was stored "
        "or changed"
    )
}


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LinkWrite(_In):
    url: str = Field(
        min_length=1,
        max_length=svc.MAX_URL,
        description="An http:// or https:// address (no user name or password in it)",
        examples=["https://example.org/annual-report-2025"],
    )
    title: Name | None = Field(default=None, description="Default: the link's host")
    note: LongText | None = None


class EvidencePatch(_In):
    status: svc.StatusName | NotNull = Field(
        default=None, description="Records who set it and when (self_reported, reviewed, verified)"
    )
    title: Name | NotNull = None
    note: LongText | None = None


def _files(settings: SettingsDep) -> EvidenceFiles:
    return EvidenceFiles.of(settings)


@router.get(
    "/assessments/{assessment_id}/evidence",
    summary="The assessment's evidence, with counts per item by verification status",
    responses=NOT_FOUND,
)
def list_evidence(
    assessment_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    item: Annotated[str | None, Query(max_length=64, description="Only this item's")] = None,
) -> svc.EvidenceList:
    return svc.list_evidence(session, principal, assessment_id, item)


@router.post(
    "/assessments/{assessment_id}/items/{item_key}/evidence",
    status_code=status.HTTP_201_CREATED,
    summary="Add a link as evidence of one item",
    description=WRITES + " The same link twice on one item answers 409.",
    responses={**NOT_FOUND, **CONFLICT},
)
def add_link(
    assessment_id: uuid.UUID,
    item_key: ItemPath,
    body: LinkWrite,
    session: SessionDep,
    principal: PrincipalDep,
    catalog: CatalogDep,
) -> svc.EvidenceRead:
    given = svc.NewEvidence(item_key, body.title, body.note)
    return svc.add_link(session, principal, catalog, assessment_id, given, body.url)


@router.post(
    "/assessments/{assessment_id}/items/{item_key}/evidence/files",
    status_code=status.HTTP_201_CREATED,
    summary="Add a file as evidence of one item",
    description=WRITES
    + " Allowed: "
    + ", ".join(k.label for k in KINDS)
    + ", recognised by the file's bytes (its name and Content-Type do not count). A refused "
    "file is not stored; the same file twice on one item answers 409.",
    responses={**NOT_FOUND, **CONFLICT, **TOO_LARGE, **STORE},
)
async def add_file(
    assessment_id: uuid.UUID,
    item_key: ItemPath,
    session: SessionDep,
    principal: PrincipalDep,
    catalog: CatalogDep,
    settings: SettingsDep,
    # optional to FastAPI so that another workspace's id is a 404 before any 422
    file: Annotated[
        UploadFile | None, File(description="PDF, image, .docx, .xlsx or .pptx")
    ] = None,
    title: Annotated[Name | None, Form(description="Default: the file's name")] = None,
    note: Annotated[LongText | None, Form()] = None,
) -> svc.EvidenceRead:
    given = svc.NewEvidence(item_key, title, note)
    upload, name = (file.file, file.filename or "") if file is not None else (None, "")
    return await run_in_threadpool(
        svc.add_file,
        session,
        principal,
        catalog,
        _files(settings),
        assessment_id,
        given,
        upload,
        name,
    )


@router.get(
    "/assessments/{assessment_id}/evidence/{evidence_id}",
    summary="One piece of evidence",
    responses=NOT_FOUND,
)
def get_evidence(
    assessment_id: uuid.UUID, evidence_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> svc.EvidenceRead:
    return svc.get_evidence(session, principal, assessment_id, evidence_id)


@router.get(
    "/assessments/{assessment_id}/evidence/{evidence_id}/file",
    summary="Download an evidence file (always as an attachment)",
    response_class=StreamingResponse,
    responses={
        **NOT_FOUND,
        **STORE,
        200: {
            "content": {k.media_type: {} for k in KINDS},
            "description": "The file, with the type read from its bytes at upload",
        },
    },
)
def download_evidence(
    assessment_id: uuid.UUID,
    evidence_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    settings: SettingsDep,
) -> StreamingResponse:
    found = svc.open_file(session, principal, store_of(settings), assessment_id, evidence_id)
    headers = {
        **attachment(found.filename),
        "Content-Length": str(found.size),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, no-store",
    }
    return StreamingResponse(chunks(found.stream), media_type=found.media_type, headers=headers)


@router.patch(
    "/assessments/{assessment_id}/evidence/{evidence_id}",
    summary="Set the verification status (who and when are recorded), the title or the note",
    description=WRITES,
    responses={**NOT_FOUND, **CONFLICT},
)
def update_evidence(
    assessment_id: uuid.UUID,
    evidence_id: uuid.UUID,
    body: EvidencePatch,
    session: SessionDep,
    principal: PrincipalDep,
) -> svc.EvidenceRead:
    changes = body.model_dump(exclude_unset=True)
    return svc.update_evidence(session, principal, assessment_id, evidence_id, changes)


@router.delete(
    "/assessments/{assessment_id}/evidence/{evidence_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove evidence (a file leaves the store with it)",
    description=WRITES,
    responses={**NOT_FOUND, **CONFLICT, **STORE},
)
def delete_evidence(
    assessment_id: uuid.UUID,
    evidence_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    settings: SettingsDep,
) -> None:
    svc.delete_evidence(session, principal, store_of(settings), assessment_id, evidence_id)
