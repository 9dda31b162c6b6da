"""Evidence on the pages: a section of the assessment page listing each item's files and links
with their verification status, forms for editors and admins to add, review and remove them,
and each file's download. The same services as ``/v1/assessments/{id}/evidence``; a refusal
(a file of the wrong kind, too large, a bad link) becomes a page in the person's language."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile
from starlette.responses import Response, StreamingResponse

from app.catalog import Catalog
from app.domain.enums import EvidenceStatus, Status
from app.services import evidence as svc
from app.services.assessment_records import AssessmentRecord
from app.services.evidence_files import KINDS, EvidenceFiles
from app.services.evidence_store import chunks, store_of
from app.services.filenames import content_disposition
from app.services.instruments import resolve_instrument
from app.web.kit import FormDep, MemberDep, Page, PageRoute, db, finish, redirect
from app.web.security import CSRF_FIELD, check_csrf

router = APIRouter(route_class=PageRoute, include_in_schema=False)

ACCEPT = ",".join(sorted({f".{k.ext}" for k in KINDS} | {".jpeg"}))


@dataclass(frozen=True)
class ItemEvidenceRows:
    key: str
    text: str
    evidence: list[svc.EvidenceRead]


def _catalog(page: Page) -> Catalog:
    catalog: Catalog = page.request.app.state.catalog
    return catalog


def evidence_section(page: Page, session: Session, a: AssessmentRecord) -> dict[str, Any]:
    """What the assessment page shows of the evidence, item by item in the instrument's order,
    and the items a new piece can be added to."""
    listed = svc.list_evidence(session, page.who, a.id)
    instrument = resolve_instrument(_catalog(page), a.instrument_id, a.instrument_version)
    by_item: dict[str, list[svc.EvidenceRead]] = {}
    for e in listed.evidence:
        by_item.setdefault(e.item, []).append(e)
    items = [i for d in instrument.instrument.dimensions for x in d.areas for i in x.items]
    return {
        "items": [(i.key, page.text(i.text)) for i in items],
        "rows": [
            ItemEvidenceRows(i.key, page.text(i.text), by_item[i.key])
            for i in items
            if i.key in by_item
        ],
        "count": len(listed.evidence),
        "statuses": [s.value for s in EvidenceStatus],
        "can_change": page.can_write and a.status != Status.final,
        "accept": ACCEPT,
        "max_mb": round(page.request.app.state.settings.evidence_max_bytes / 1024 / 1024),
    }


def _text(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) and value.strip() else None


def _back(page: Page, assessment_id: uuid.UUID) -> Response:
    return redirect(page, f"/assessments/{assessment_id}#evidence")


@router.post("/assessments/{assessment_id}/evidence/file")
def add_file(assessment_id: uuid.UUID, page: MemberDep, form: FormDep) -> Response:
    who = page.require_write()
    check_csrf(page.request, str(form.get(CSRF_FIELD, "")))
    f = form.get("file")
    upload = f if isinstance(f, UploadFile) and f.filename else None
    given = svc.NewEvidence(_text(form, "item") or "", _text(form, "title"), _text(form, "note"))
    files = EvidenceFiles.of(page.request.app.state.settings)
    with db(page) as session:
        svc.add_file(
            session,
            who,
            _catalog(page),
            files,
            assessment_id,
            given,
            upload.file if upload else None,
            upload.filename or "" if upload else "",
        )
    return _back(page, assessment_id)


@router.post("/assessments/{assessment_id}/evidence/link")
def add_link(assessment_id: uuid.UUID, page: MemberDep, form: FormDep) -> Response:
    who = page.require_write()
    check_csrf(page.request, str(form.get(CSRF_FIELD, "")))
    given = svc.NewEvidence(_text(form, "item") or "", _text(form, "title"), _text(form, "note"))
    with db(page) as session:
        svc.add_link(session, who, _catalog(page), assessment_id, given, _text(form, "url") or "")
    return _back(page, assessment_id)


@router.post("/assessments/{assessment_id}/evidence/{evidence_id}/status")
def set_status(
    assessment_id: uuid.UUID, evidence_id: uuid.UUID, page: MemberDep, form: FormDep
) -> Response:
    who = page.require_write()
    check_csrf(page.request, str(form.get(CSRF_FIELD, "")))
    with db(page) as session:
        changes = {"status": _text(form, "status")}
        svc.update_evidence(session, who, assessment_id, evidence_id, changes)
    return _back(page, assessment_id)


@router.post("/assessments/{assessment_id}/evidence/{evidence_id}/delete")
def remove(
    assessment_id: uuid.UUID, evidence_id: uuid.UUID, page: MemberDep, form: FormDep
) -> Response:
    who = page.require_write()
    check_csrf(page.request, str(form.get(CSRF_FIELD, "")))
    store = store_of(page.request.app.state.settings)
    with db(page) as session:
        svc.delete_evidence(session, who, store, assessment_id, evidence_id)
    return _back(page, assessment_id)


@router.get("/assessments/{assessment_id}/evidence/{evidence_id}/file")
def download(assessment_id: uuid.UUID, evidence_id: uuid.UUID, page: MemberDep) -> Response:
    store = store_of(page.request.app.state.settings)
    with db(page) as session:
        found = svc.open_file(session, page.who, store, assessment_id, evidence_id)
    headers = {
        "Content-Disposition": content_disposition(found.filename),
        "Content-Length": str(found.size),
        "X-Content-Type-Options": "nosniff",
    }
    response = StreamingResponse(chunks(found.stream), media_type=found.media_type, headers=headers)
    page.set_lang = False
    finish(page.request, response, page)
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
