"""Evidence on an assessment's items (issue 12): files and links that back an answer, each with a
verification status (self-reported, reviewed, verified) and who set it when. docs/evidence.md.

Evidence never changes a score. It may be added, reviewed and removed while the assessment is a
draft or submitted, not once it is final. Anyone in the workspace reads it; editors and admins
write it. Every write is in the audit log. A file is stored before its row is written and deleted
again when the row cannot be, and leaves the store inside the transaction that deletes its row
(before the commit), so the store never keeps a file no row names, and a store that cannot be
used (``StoreUnavailable``, a 503) changes nothing in the database.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO, Final, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.catalog import Catalog
from app.db.models import Assessment, Evidence, EvidenceStatus, Status
from app.db.session import write_transaction
from app.domain.errors import Conflict, Forbidden, Invalid, NotFound
from app.services.assessment_reads import get_assessment
from app.services.common import Timestamp, audit, now
from app.services.evidence_files import BY_MEDIA_TYPE, EvidenceFiles, recognise, stage
from app.services.evidence_store import FileStore, discard
from app.services.filenames import safe_filename
from app.services.instruments import resolve_instrument
from app.services.keys import Principal

MAX_URL: Final = 2000
MAX_TITLE: Final = 200
MAX_NOTE: Final = 4000
StatusName = Literal["self_reported", "reviewed", "verified"]


# --- shapes --------------------------------------------------------------------------------------


class EvidenceFile(BaseModel):
    name: str = Field(description="The name it was uploaded under (shown, never used as a path)")
    media_type: str = Field(description="Read from the file's bytes, not from the upload")
    size: int = Field(description="Bytes")
    sha256: str


class EvidenceRead(BaseModel):
    id: uuid.UUID
    assessment_id: uuid.UUID
    item: str
    kind: Literal["file", "link"]
    title: str
    note: str | None
    url: str | None = Field(description="A link's address (http or https); null for a file")
    file: EvidenceFile | None = Field(description="A file's details; null for a link")
    status: StatusName
    status_by: str = Field(description="Who set the status: key:<name>, person:<e-mail>, cli:")
    status_at: Timestamp
    created_by: str
    created_at: Timestamp


class ItemEvidence(BaseModel):
    """How much evidence one item has, and how far it has been checked."""

    item: str
    count: int
    self_reported: int
    reviewed: int
    verified: int


class EvidenceList(BaseModel):
    items: list[ItemEvidence] = Field(description="Per item with evidence, in instrument order")
    evidence: list[EvidenceRead]


def evidence_read(e: Evidence) -> EvidenceRead:
    file = None
    if e.kind == "file":
        assert e.file_name is not None and e.media_type is not None
        assert e.size is not None and e.sha256 is not None
        file = EvidenceFile(name=e.file_name, media_type=e.media_type, size=e.size, sha256=e.sha256)
    return EvidenceRead(
        id=e.id,
        assessment_id=e.assessment_id,
        item=e.item_key,
        kind="file" if e.kind == "file" else "link",
        title=e.title,
        note=e.note,
        url=e.url,
        file=file,
        status=EvidenceStatus(e.status).value,
        status_by=e.status_by,
        status_at=e.status_at,
        created_by=e.created_by,
        created_at=e.created_at,
    )


# --- checks --------------------------------------------------------------------------------------


def _invalid(pointer: str, code: str, en: str, es: str) -> Invalid:
    return Invalid(en, errors=[{"pointer": pointer, "code": code, "detail": en, "detail_es": es}])


def check_url(url: str) -> str:
    """An http or https address of at most 2,000 plain characters, with a host and no user name
    or password in it; anything else (javascript:, data:, file:) is refused."""
    url = url.strip()
    parts = urlsplit(url) if url.isascii() and url.isprintable() and " " not in url else None
    if (
        parts is None
        or len(url) > MAX_URL
        or parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or parts.username is not None
    ):
        raise _invalid(
            "/url",
            "invalid_url",
            f"not a link evidence can be: give an http:// or https:// address of at most "
            f"{MAX_URL} characters, without a user name or password",
            f"no es un enlace válido como evidencia: indique una dirección http:// o https:// de "
            f"{MAX_URL} caracteres como máximo, sin usuario ni contraseña",
        )
    return url


def _text(value: str | None, pointer: str, limit: int) -> str | None:
    value = (value or "").strip()
    if len(value) > limit:
        raise _invalid(
            pointer,
            "too_long",
            f"{pointer[1:]} is longer than {limit} characters",
            f"{pointer[1:]} tiene más de {limit} caracteres",
        )
    return value or None


def _writable(principal: Principal, a: Assessment) -> None:
    if not principal.can_write:
        raise Forbidden("evidence is added and reviewed by editors and admins")
    if a.status == Status.final:
        raise Conflict(
            "the assessment is final; its evidence no longer changes", status_now=a.status
        )


def _item(catalog: Catalog, a: Assessment, item_key: str) -> str:
    instrument = resolve_instrument(catalog, a.instrument_id, a.instrument_version).instrument
    if item_key not in instrument.items:
        raise NotFound(f"{a.instrument_id} {a.instrument_version} has no item {item_key!r}")
    return item_key


def _find(session: Session, a: Assessment, evidence_id: uuid.UUID) -> Evidence:
    e = session.get(Evidence, evidence_id)
    if e is None or e.assessment_id != a.id:
        raise NotFound(f"assessment {a.id} has no evidence {evidence_id}")
    return e


_DUPLICATE: Final = (
    "this item has this evidence already (the same file or link)",
    "este ítem ya tiene esta evidencia (el mismo archivo o enlace)",
)


# --- reading -------------------------------------------------------------------------------------


def counts(a: Assessment, rows: Iterable[tuple[str, str]]) -> list[ItemEvidence]:
    """Per item, the evidence and its statuses, from (item, status) pairs; items in the order
    of the assessment's answers, then any other in key order."""
    per: dict[str, Counter[str]] = {}
    for item, status in rows:
        per.setdefault(item, Counter())[status] += 1
    answered = {x.item_key: i for i, x in enumerate(a.answers)}
    return [
        ItemEvidence(
            item=k,
            count=sum(per[k].values()),
            self_reported=per[k][EvidenceStatus.self_reported],
            reviewed=per[k][EvidenceStatus.reviewed],
            verified=per[k][EvidenceStatus.verified],
        )
        for k in sorted(per, key=lambda k: (answered.get(k, len(answered)), k))
    ]


def item_counts(session: Session, a: Assessment) -> list[ItemEvidence]:
    """The assessment's evidence per item (only items that have some)."""
    query = select(Evidence.item_key, Evidence.status).where(Evidence.assessment_id == a.id)
    return counts(a, [(k, s) for k, s in session.execute(query)])


def list_evidence(
    session: Session, principal: Principal, assessment_id: uuid.UUID, item: str | None = None
) -> EvidenceList:
    """The assessment's evidence (of one item, if given), oldest first, and its counts."""
    a = get_assessment(session, principal, assessment_id)
    query = select(Evidence).where(Evidence.assessment_id == a.id)
    if item is not None:
        query = query.where(Evidence.item_key == item)
    rows = list(session.scalars(query.order_by(Evidence.created_at, Evidence.id)))
    return EvidenceList(
        items=counts(a, [(e.item_key, e.status) for e in rows]),
        evidence=[evidence_read(e) for e in rows],
    )


def get_evidence(
    session: Session, principal: Principal, assessment_id: uuid.UUID, evidence_id: uuid.UUID
) -> EvidenceRead:
    a = get_assessment(session, principal, assessment_id)
    return evidence_read(_find(session, a, evidence_id))


@dataclass(frozen=True)
class Download:
    filename: str
    media_type: str
    size: int
    stream: BinaryIO


def open_file(
    session: Session,
    principal: Principal,
    store: FileStore,
    assessment_id: uuid.UUID,
    evidence_id: uuid.UUID,
) -> Download:
    """A file's bytes, named as it was uploaded (else by its title) with the extension of the
    type recognised from its bytes."""
    a = get_assessment(session, principal, assessment_id)
    e = _find(session, a, evidence_id)
    if e.kind != "file" or e.storage_key is None or e.media_type not in BY_MEDIA_TYPE:
        raise NotFound(f"evidence {evidence_id} is a link, not a file")
    try:
        stream = store.open(e.storage_key)
    except FileNotFoundError:
        raise NotFound(
            f"the file of evidence {evidence_id} is missing from the evidence store"
        ) from None
    kind = BY_MEDIA_TYPE[e.media_type]
    stem = (e.file_name or "").rsplit(".", 1)[0]
    name = safe_filename(stem or e.title, ext=kind.ext)
    return Download(name, kind.media_type, e.size or 0, stream)


# --- writing -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewEvidence:
    item: str
    title: str | None = None
    note: str | None = None


def _row(principal: Principal, a: Assessment, given: NewEvidence, title: str) -> Evidence:
    moment = now()
    return Evidence(
        assessment_id=a.id,
        item_key=given.item,
        title=_text(given.title, "/title", MAX_TITLE) or title[:MAX_TITLE],
        note=_text(given.note, "/note", MAX_NOTE),
        status=EvidenceStatus.self_reported,
        status_by=principal.actor,
        status_at=moment,
        created_by=principal.actor,
        created_at=moment,
    )


def _insert(session: Session, principal: Principal, a: Assessment, e: Evidence) -> EvidenceRead:
    """Inside a write transaction: the row and its audit entry; the same file or link twice on
    one item is refused by the database's own unique constraint (409)."""
    session.add(e)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(_DUPLICATE[0], detail_es=_DUPLICATE[1]) from None
    audit(
        session,
        principal,
        "evidence.add",
        "assessment",
        a.id,
        {"evidence": str(e.id), "item": e.item_key, "kind": e.kind, "sha256": e.sha256},
    )
    return evidence_read(e)


def add_link(
    session: Session,
    principal: Principal,
    catalog: Catalog,
    assessment_id: uuid.UUID,
    given: NewEvidence,
    url: str,
) -> EvidenceRead:
    """Add a link as evidence of one item (self-reported until someone reviews it)."""
    with write_transaction(session):
        a = get_assessment(session, principal, assessment_id)
        _item(catalog, a, given.item)
        _writable(principal, a)
        e = _row(principal, a, given, "")
        e.kind, e.url = "link", check_url(url)
        e.title = e.title or (urlsplit(e.url).hostname or e.url)[:MAX_TITLE]
        return _insert(session, principal, a, e)


def add_file(
    session: Session,
    principal: Principal,
    catalog: Catalog,
    files: EvidenceFiles,
    assessment_id: uuid.UUID,
    given: NewEvidence,
    upload: BinaryIO | None,
    file_name: str,
) -> EvidenceRead:
    """Add a file as evidence of one item: received within the size limit, recognised by its
    bytes, stored under a random key, then recorded; when the record fails the stored file is
    deleted again, and a refused file is never stored."""
    a = get_assessment(session, principal, assessment_id)  # 404 before anything is read
    _item(catalog, a, given.item)
    _writable(principal, a)
    if upload is None:
        raise _invalid(
            "/file", "missing", "send the file as 'file'", "envíe el archivo como 'file'"
        )
    name = (file_name or "").strip().replace("\\", "/").rsplit("/", 1)[-1][:255] or "file"
    staged = stage(upload, files.staging, files.max_bytes)
    key = None
    try:
        kind = recognise(staged.path, files.limits)
        key = files.store.put(staged.path)
        with write_transaction(session):
            a = get_assessment(session, principal, assessment_id)
            _writable(principal, a)
            e = _row(principal, a, given, name)
            e.kind, e.storage_key, e.file_name = "file", key, name
            e.media_type, e.size, e.sha256 = kind.media_type, staged.size, staged.sha256
            return _insert(session, principal, a, e)
    except BaseException:
        if key is not None:
            discard(files.store, [key])
        raise
    finally:
        staged.path.unlink(missing_ok=True)


def update_evidence(
    session: Session,
    principal: Principal,
    assessment_id: uuid.UUID,
    evidence_id: uuid.UUID,
    changes: dict[str, str | None],
) -> EvidenceRead:
    """Change the verification status (recording who and when), the title or the note."""
    with write_transaction(session):
        a = get_assessment(session, principal, assessment_id)
        e = _find(session, a, evidence_id)
        _writable(principal, a)
        done: dict[str, object] = {}
        if "status" in changes:
            if changes["status"] not in list(EvidenceStatus):
                raise _invalid(
                    "/status",
                    "invalid_status",
                    "status is one of self_reported, reviewed, verified",
                    "el estado es self_reported, reviewed o verified",
                )
            status = EvidenceStatus(changes["status"])
            if status != e.status:
                done["status"] = [e.status, status.value]
                e.status, e.status_by, e.status_at = status, principal.actor, now()
        if "title" in changes:
            title = _text(changes["title"], "/title", MAX_TITLE)
            if title is None:
                raise _invalid(
                    "/title", "empty", "title cannot be empty", "el título no puede estar vacío"
                )
            if title != e.title:
                e.title, done["title"] = title, True
        if "note" in changes:
            note = _text(changes["note"], "/note", MAX_NOTE)
            if note != e.note:
                e.note, done["note"] = note, True
        if done:
            session.flush()
            audit(
                session,
                principal,
                "evidence.update",
                "assessment",
                a.id,
                {"evidence": str(e.id), "item": e.item_key, **done},
            )
        return evidence_read(e)


def delete_evidence(
    session: Session,
    principal: Principal,
    store: FileStore,
    assessment_id: uuid.UUID,
    evidence_id: uuid.UUID,
) -> None:
    """Remove evidence. A file's bytes leave the store once the row's deletion is flushed and
    before it is committed: a store that fails then rolls the deletion back (503, nothing
    changed), so a deleted row never leaves its file behind."""
    with write_transaction(session):
        a = get_assessment(session, principal, assessment_id)
        e = _find(session, a, evidence_id)
        _writable(principal, a)
        key = e.storage_key
        session.delete(e)
        audit(
            session,
            principal,
            "evidence.delete",
            "assessment",
            a.id,
            {"evidence": str(e.id), "item": e.item_key, "kind": e.kind},
        )
        session.flush()
        if key is not None:
            store.delete(key)
