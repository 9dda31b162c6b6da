"""Importing filled workbooks: every workbook all-or-nothing, validated before anything is written.

The path is the same as the API's: answers are parsed by the domain, then one use case,
``assessments.import_answers``, creates the round's assessment (or updates its draft, or revises a
final one), scores it once and submits it when it is complete enough.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Generator, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.catalog import Catalog, InstrumentFile
from app.db.errors import Busy
from app.db.models import Assessment, Organization, Status
from app.db.session import serialize_on, write_transaction
from app.domain.answers import AnswersInvalid
from app.domain.errors import DomainError
from app.domain.instrument import Instrument
from app.domain.names import name_key
from app.excel import (
    FilledWorkbook,
    Limits,
    ProblemCode,
    WorkbookRejected,
    annotate,
    read_filled_workbook,
)
from app.excel.problems import Problem
from app.excel.reader import Cover, Expected
from app.excel.sandbox import SandboxBusy, default_pool
from app.services.assessment_records import AssessmentRecord
from app.services.assessments import ImportedAnswers, RoundOnAnotherVersion, import_answers
from app.services.filenames import safe_filename
from app.services.keys import Principal
from app.services.metrics import IMPORTS
from app.services.organizations import OrgData, create_organization_in_transaction
from app.services.round_pairs import store_pairs
from app.services.uploads import Upload, UploadRejected
from app.services.webhooks import emit
from app.services.workbook_covers import cover_problems

Status_ = Literal["created", "updated", "revised", "unchanged", "rejected"]


@dataclass
class WorkbookResult:
    file: str
    status: Status_
    dry_run: bool
    sha256: str | None = None
    assessment_id: str | None = None
    organization_id: str | None = None
    organization_created: bool = False
    instrument_id: str | None = None
    instrument_version: str | None = None
    round: str | None = None
    scored: bool = False
    overall: float | None = None
    reason: dict[str, str] | None = None
    problems: list[Problem] = field(default_factory=list)
    language: str | None = None
    organization_name: str | None = None  # as the cover names it (for people reading a preview)


class _DryRun(Exception):
    """Raised at the end of a dry run so the transaction rolls back everything it did."""


def _error(
    code: ProblemCode,
    en: str,
    es: str,
    *,
    sheet: str | None = None,
    cell: str | None = None,
    item: str | None = None,
) -> Problem:
    return Problem(code, en, es, sheet, cell, item)


# --- one workbook --------------------------------------------------------------------------------


def _resolver(catalog: Catalog) -> Any:
    def resolve(instrument_id: str, version: str) -> tuple[Instrument, str] | None:
        f = catalog.get(instrument_id, version)
        return (f.instrument, f.content_hash) if f else None

    return resolve


def _apply(
    session: Session,
    principal: Principal,
    f: InstrumentFile,
    wb: FilledWorkbook,
    org: Organization,
    result: WorkbookResult,
) -> AssessmentRecord:
    """The round's assessment takes the workbook's answers (created, updated or revised) and is
    scored once; a round on another version of the instrument rejects the workbook."""
    answers = ImportedAnswers(
        organization_id=org.id,
        round=wb.cover.round or "",
        answers=wb.answers,
        assessed_on=wb.cover.assessed_on,
        assessor=wb.cover.assessor,
        source=wb.source,
        source_sha256=wb.sha256,
        new_organization=result.organization_created,
    )
    try:
        done = import_answers(session, principal, f, answers)
    except RoundOnAnotherVersion as exc:
        raise _Rejected(
            _error(
                ProblemCode.version_mismatch,
                f"round '{exc.round}' already has an assessment on {exc.instrument_id} "
                f"{exc.existing_version}; this workbook is a {exc.offered_version} "
                "template — download the template of that version",
                f"la ronda '{exc.round}' ya tiene una evaluación en {exc.instrument_id} "
                f"{exc.existing_version}; este libro es una plantilla {exc.offered_version}"
                " — descargue la plantilla de esa versión",
            )
        ) from None
    result.status = done.change
    if done.submitted:
        result.scored = True
        result.overall = done.score.overall.score
    elif done.score.overall.reason is not None:
        r = done.score.overall.reason
        result.reason = {"code": r.code, "en": r.en, "es": r.es}
    return done.assessment


class _Rejected(Exception):
    def __init__(self, *problems: Problem) -> None:
        super().__init__(problems[0].en)
        self.problems = list(problems)


def import_workbook(
    session: Session,
    principal: Principal,
    catalog: Catalog,
    upload: Upload,
    *,
    dry_run: bool,
    create_organizations: bool,
    limits: Limits,
) -> WorkbookResult:
    """Import one workbook in one transaction; nothing is written unless all of it is good."""
    return _import_read(
        session, principal, catalog, upload, _read(upload, catalog, limits),
        dry_run=dry_run, create_organizations=create_organizations,
    )  # fmt: skip


# what reading a workbook gave: the workbook, or the rejection or busy pool it raised, or None for
# an upload already rejected while it was unpacked
_Read = FilledWorkbook | WorkbookRejected | SandboxBusy | None


def _read(
    upload: Upload, catalog: Catalog, limits: Limits, expect: Expected | None = None
) -> _Read:
    """Read and check a workbook's bytes (no database: safe in another thread)."""
    if upload.problem is not None:
        return None
    try:
        return read_filled_workbook(upload.data, _resolver(catalog), limits, expect)
    except (WorkbookRejected, SandboxBusy) as exc:
        return exc


def _import_read(
    session: Session,
    principal: Principal,
    catalog: Catalog,
    upload: Upload,
    read: _Read,
    *,
    dry_run: bool,
    create_organizations: bool,
) -> WorkbookResult:
    result = WorkbookResult(file=upload.name, status="rejected", dry_run=dry_run)
    if upload.problem is not None:
        result.problems = [upload.problem]
        return result
    if isinstance(read, SandboxBusy):  # this workbook only; the others keep their results
        result.problems = [
            _error(
                ProblemCode.not_accepted,
                "every workbook parser was busy; upload this workbook again in a few seconds",
                "todos los lectores de libros estaban ocupados; suba este libro de nuevo en unos "
                "segundos",
            )
        ]
        return result
    if isinstance(read, WorkbookRejected):
        exc = read
        result.problems = list(exc.problems)
        result.language = exc.language
        if isinstance(exc.cover, Cover):
            result.organization_name = _cover_name(exc.cover)
            result.round = exc.cover.round
        if isinstance(exc.cover, Cover) and exc.language is not None:
            # the workspace checks too, so one upload lists every problem (read only)
            _, more = cover_problems(
                session,
                principal,
                exc.cover,
                exc.language,
                create_organizations=create_organizations,
            )
            if session.in_transaction():
                session.rollback()
            result.problems += more
        return result
    assert read is not None  # an upload without a problem was read
    return import_filled(
        session, principal, catalog, read, result, dry_run=dry_run,
        create_organizations=create_organizations,
    )  # fmt: skip


def import_filled(
    session: Session,
    principal: Principal,
    catalog: Catalog,
    wb: FilledWorkbook,
    result: WorkbookResult,
    *,
    dry_run: bool,
    create_organizations: bool,
) -> WorkbookResult:
    """Import answers already read and checked (a workbook, or a field submission) in one
    transaction: matched to its organization, created, updated or revised, scored; idempotent
    by ``wb.sha256``. Nothing is written unless all of it is good, or on a dry run."""
    result.language = wb.meta.language
    f = catalog.get(wb.meta.instrument_id, wb.meta.instrument_version)
    assert f is not None  # the caller resolved it
    result.sha256 = wb.sha256
    result.instrument_id = f.instrument.id
    result.instrument_version = f.instrument.version
    result.round = wb.cover.round
    result.organization_name = _cover_name(wb.cover)
    try:
        with write_transaction(session):
            _import_in_transaction(
                session, principal, f, wb, result, create_organizations=create_organizations
            )
            if dry_run:
                raise _DryRun
            if result.scored and not result.organization_created and result.assessment_id:
                # its pairs with the organization's other rounds (a new one has none)
                store_pairs(session, catalog, uuid.UUID(result.assessment_id))
    except _DryRun:
        # what a dry run made was rolled back: never hand out the id of a row that does not exist
        if result.status in ("created", "revised"):
            result.assessment_id = None
        if result.organization_created:
            result.organization_id = None
    except _Rejected as exc:
        _reset(result, exc.problems)
    except AnswersInvalid as exc:  # the reader checked the answers already; kept as a safety net
        problems = [_error(ProblemCode.not_accepted, p.en, p.es, item=p.item) for p in exc.problems]
        _reset(result, problems)
    except Busy:
        raise  # the database is saturated: a 503 the client retries, not a verdict on the file
    except DomainError as exc:
        _reset(result, [_error(ProblemCode.not_accepted, exc.detail, exc.detail)])
    return result


def _cover_name(cover: Cover) -> str | None:
    return cover.organization_name or cover.organization_external_id


def _reset(result: WorkbookResult, problems: list[Problem]) -> None:
    result.status = "rejected"
    result.problems = problems
    result.assessment_id = None
    result.organization_id = None
    result.organization_created = False
    result.scored = False
    result.overall = None
    result.reason = None


def _import_in_transaction(
    session: Session,
    principal: Principal,
    f: InstrumentFile,
    wb: FilledWorkbook,
    result: WorkbookResult,
    *,
    create_organizations: bool,
) -> None:
    # Concurrent uploads of one workbook, or of several for one new organization, take turns:
    # the second sees what the first wrote ("unchanged", or the organization it created).
    serialize_on(session, "workbook", principal.workspace_id, wb.sha256)
    cover = wb.cover
    serialize_on(
        session,
        "organization",
        principal.workspace_id,
        name_key(cover.organization_name or cover.organization_external_id or ""),
    )
    same = session.scalar(
        select(Assessment).where(
            Assessment.workspace_id == principal.workspace_id,
            Assessment.source_sha256 == wb.sha256,
        )
    )
    if same is not None:
        result.status = "unchanged"
        result.assessment_id = str(same.id)
        result.organization_id = str(same.organization_id)
        result.scored = same.status != Status.draft
        return
    org, problems = cover_problems(
        session, principal, wb.cover, wb.meta.language, create_organizations=create_organizations
    )
    if problems:
        raise _Rejected(*problems)
    if org is None:
        name = wb.cover.organization_name or wb.cover.organization_external_id or ""
        org = create_organization_in_transaction(
            session, principal, OrgData(name=name, external_id=wb.cover.organization_external_id)
        )
        result.organization_created = True
    result.organization_id = str(org.id)
    a = _apply(session, principal, f, wb, org, result)
    result.assessment_id = str(a.id)
    emit(
        session,
        principal.workspace_id,
        "import.completed",
        {
            "file": result.file,
            "sha256": wb.sha256,
            "status": result.status,
            "assessment_id": a.id,
            "organization_id": org.id,
            "organization_created": result.organization_created,
            "scored": result.scored,
        },
    )


def import_each(
    session: Session,
    principal: Principal,
    catalog: Catalog,
    uploads: Iterable[Upload],
    *,
    dry_run: bool = False,
    create_organizations: bool = False,
    limits: Limits,
) -> Generator[WorkbookResult, None, None]:
    """Import workbooks one by one, in order, each all-or-nothing, and give each one's result
    when it is written. While one is written, the next ones are read in the parser pool (as many
    at once as it has workers): reading needs no database, so the results are those of reading
    and writing each in turn. ``uploads`` is consumed in the caller's thread."""
    width = default_pool().settings.size if limits.isolate else 1
    reader = ThreadPoolExecutor(max_workers=width, thread_name_prefix="oca-read-ahead")
    ahead: deque[tuple[Upload, Future[_Read]]] = deque()
    pending = iter(uploads)
    # the next workbooks are probably of the last one's version: the parser worker checks them
    # against it and sends back their answers, not their cells (the results are the same)
    expect: Expected | None = None
    try:
        while True:
            while len(ahead) <= width:  # the pool's width reading, one more waiting its turn
                upload = next(pending, None)
                if upload is None:
                    break
                ahead.append((upload, reader.submit(_read, upload, catalog, limits, expect)))
            if not ahead:
                return
            upload, read = ahead.popleft()
            done = read.result()
            if isinstance(done, FilledWorkbook):
                expect = _expected(catalog, done, expect)
            result = _import_read(
                session, principal, catalog, upload, done,
                dry_run=dry_run, create_organizations=create_organizations,
            )  # fmt: skip
            IMPORTS.labels(result.status, "true" if dry_run else "false").inc()
            yield result
    finally:  # also when the caller stops early: reads not started are dropped
        reader.shutdown(wait=True, cancel_futures=True)


def _expected(catalog: Catalog, wb: FilledWorkbook, last: Expected | None) -> Expected | None:
    f = catalog.get(wb.meta.instrument_id, wb.meta.instrument_version)
    if f is None:
        return last
    if last is not None and last.content_hash == f.content_hash:
        return last  # the same one: its definition is made once
    return Expected(f.instrument, f.content_hash)


def import_workbooks(
    session: Session,
    principal: Principal,
    catalog: Catalog,
    uploads: Iterable[Upload],
    *,
    dry_run: bool = False,
    create_organizations: bool = False,
    limits: Limits,
) -> list[WorkbookResult]:
    """Import workbooks one by one; each is all-or-nothing; one result per workbook."""
    return list(
        import_each(
            session, principal, catalog, uploads,
            dry_run=dry_run, create_organizations=create_organizations, limits=limits,
        )
    )  # fmt: skip


def annotated_copy(
    upload: Upload, result: WorkbookResult, limits: Limits
) -> tuple[str, bytes] | None:
    """A rejected workbook with each problem's cell red and commented, and the file name to give
    it; None when the file is too broken to annotate (its problems list says why)."""
    if not result.problems or not upload.data:
        return None
    try:
        marked = annotate(upload.data, result.problems, limits, result.language)
    except Exception:  # a file too broken to annotate: the problems list is the answer
        return None
    name = upload.name.rsplit("/", 1)[-1].removesuffix(".xlsx")
    return safe_filename(name[:80], "problems", ext="xlsx"), marked  # "-problems" survives


def result_json(r: WorkbookResult) -> dict[str, Any]:
    return {
        "file": r.file,
        "status": r.status,
        "dry_run": r.dry_run,
        "sha256": r.sha256,
        "assessment_id": r.assessment_id,
        "organization_id": r.organization_id,
        "organization_created": r.organization_created,
        "instrument_id": r.instrument_id,
        "instrument_version": r.instrument_version,
        "round": r.round,
        "scored": r.scored,
        "overall": r.overall,
        "reason": r.reason,
        "errors": [p.as_error() for p in r.problems],
    }


__all__ = [
    "Upload",
    "UploadRejected",
    "WorkbookResult",
    "annotated_copy",
    "import_each",
    "import_filled",
    "import_workbook",
    "import_workbooks",
    "result_json",
]
