"""Move or keep one workspace: export it to one archive, import the archive into another database.

What travels (``archive_format.SPECS``): the workspace, its own instrument versions (drafts and
published, their text and content hash), its people (password hashes, never sessions or one-time
links) and memberships, its API keys (hashes only), organizations, cohorts and members, every
assessment with every revision and its answers (values, N/A, notes), its evidence (rows, and
each file's bytes as an entry ``evidence/<id>``, given a new key in the target's store), raters
with their ratings (and the hash of their link), verified answers, when and by which engine each
stored score was computed, and the audit log. Ids are kept, so links into the service
(``/v1/assessments/{id}``) stay valid in the target. So are the labels of the workspace's own
versions (assessments name their version by it): a label the target already has, whoever's it
is, refuses the import, naming it.

What does not travel, and why:
- the stored score itself: it is derived data, recomputed on import by the same scoring path as
  a submit (``compute`` + ``store_score``), so an archive cannot carry a score its answers do not
  give. When the archive's score was made by this engine version the original ``computed_at`` is
  kept, so the score object is byte for byte the source's; otherwise it is computed now.
- the original workbooks: the database never stores them (only each upload's SHA-256, in
  ``assessment.source_sha256``, which travels).
- idempotency records, rate counters, sign-in attempts, web sessions, one-time links: short-lived
  and tied to a server.
- audit event numbers: the target numbers events with its own sequence, in the original order.

API keys and raters' links come back revoked unless asked otherwise (``keep_keys_active``): an
archive is a file that may be restored long after a key was revoked at the source, and the same
key working on two servers at once is rarely what a move wants. The key rows stay (revoked), so
the audit log still names each key; a facilitator issues a rater a new link.
"""

from __future__ import annotations

import uuid
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import ColumnElement, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from app.catalog import Catalog, InstrumentFile
from app.db import migrate
from app.db.models import (
    Answer,
    ApiKey,
    Assessment,
    AssessmentScore,
    AuditEvent,
    Cohort,
    CohortMember,
    Evidence,
    InstrumentVersion,
    Membership,
    Organization,
    Person,
    Rater,
    Rating,
    VerifiedAnswer,
    Workspace,
)
from app.db.session import write_transaction
from app.domain.errors import Invalid
from app.domain.names import name_key
from app.services.archive_checks import (
    CHUNK,
    check_archive,
    check_free,
    check_items,
    own_files,
    parents_first,
    people_of,
    versions_of,
)
from app.services.archive_format import (
    FORMAT,
    FORMAT_VERSION,
    SPEC,
    SPECS,
    Archive,
    ArchiveError,
    TableSpec,
    open_file,
    read_archive,
    write_archive,
)
from app.services.assessment_scoring import compute, store_score
from app.services.common import now
from app.services.evidence_files import EvidenceFiles, recognise, stage
from app.services.evidence_store import FileStore, discard
from app.services.instruments import sync_catalog
from app.services.round_pairs import refresh_pairs
from app.services.scores import ENGINE_VERSION, render_score

__all__ = ["ArchiveError", "ExportReport", "ImportReport", "export_workspace", "import_workspace"]


@dataclass(frozen=True)
class ExportReport:
    workspace: str
    path: Path
    counts: dict[str, int]
    size: int


@dataclass(frozen=True)
class ImportReport:
    workspace: str
    workspace_id: uuid.UUID
    counts: dict[str, int]
    people_already_here: list[str] = field(
        default_factory=list
    )  # e-mails; they keep their password
    keys_revoked: int = 0
    links_revoked: int = 0
    scores_recomputed: int = 0
    scores_time_kept: int = 0


# --- export ---------------------------------------------------------------------------------------


def _rows(session: Session, spec: TableSpec, *where: ColumnElement[bool], order: Any) -> Any:
    # Core, not the ORM: plain rows, a third of the cost
    return session.connection().execute(select(*spec.columns).where(*where).order_by(*order))


def _workspace_rows(session: Session, ws: uuid.UUID) -> Iterator[tuple[TableSpec, Iterable[Any]]]:
    """Every table's rows of one workspace, parents first; assessments by revision, so the
    assessment a revision replaces always comes before it."""
    in_ws_assessments = select(Assessment.id).where(Assessment.workspace_id == ws)
    members = select(Membership.person_id).where(Membership.workspace_id == ws)
    s = SPEC
    yield s["workspace"], _rows(session, s["workspace"], Workspace.id == ws, order=[Workspace.id])
    versions = s["instrument_version"]
    by_label = [InstrumentVersion.instrument_id, InstrumentVersion.version]
    yield versions, _rows(session, versions, InstrumentVersion.workspace_id == ws, order=by_label)
    yield s["person"], _rows(session, s["person"], Person.id.in_(members), order=[Person.email])
    yield (
        s["membership"],
        _rows(
            session, s["membership"], Membership.workspace_id == ws, order=[Membership.person_id]
        ),
    )
    for name, model in (("api_key", ApiKey), ("organization", Organization), ("cohort", Cohort)):
        yield (
            s[name],
            _rows(session, s[name], model.workspace_id == ws, order=[model.created_at, model.id]),
        )
    yield (
        s["cohort_member"],
        _rows(
            session,
            s["cohort_member"],
            CohortMember.cohort_id.in_(select(Cohort.id).where(Cohort.workspace_id == ws)),
            order=[CohortMember.cohort_id, CohortMember.organization_id],
        ),
    )
    yield (
        s["assessment"],
        _rows(
            session,
            s["assessment"],
            Assessment.workspace_id == ws,
            order=[Assessment.revision, Assessment.created_at, Assessment.id],
        ),
    )
    yield (
        s["answer"],
        _rows(
            session,
            s["answer"],
            Answer.assessment_id.in_(in_ws_assessments),
            order=[Answer.assessment_id, Answer.position],
        ),
    )
    yield (
        s["evidence"],
        _rows(
            session,
            s["evidence"],
            Evidence.assessment_id.in_(in_ws_assessments),
            order=[Evidence.assessment_id, Evidence.created_at, Evidence.id],
        ),
    )
    raters = select(Rater.id).where(Rater.assessment_id.in_(in_ws_assessments))
    for name, where, order in (
        ("rater", Rater.assessment_id.in_(in_ws_assessments), [Rater.assessment_id, Rater.code]),
        ("rating", Rating.rater_id.in_(raters), [Rating.rater_id, Rating.position]),
        (
            "verified_answer",
            VerifiedAnswer.assessment_id.in_(in_ws_assessments),
            [VerifiedAnswer.assessment_id, VerifiedAnswer.position],
        ),
    ):
        yield s[name], _rows(session, s[name], where, order=order)
    yield (
        s["assessment_score"],
        _rows(
            session,
            s["assessment_score"],
            AssessmentScore.assessment_id.in_(in_ws_assessments),
            order=[AssessmentScore.assessment_id],
        ),
    )
    yield (
        s["audit_event"],
        _rows(session, s["audit_event"], AuditEvent.workspace_id == ws, order=[AuditEvent.id]),
    )


def _instruments(session: Session, ws: uuid.UUID) -> list[dict[str, str]]:
    rows = session.execute(
        select(
            InstrumentVersion.instrument_id,
            InstrumentVersion.version,
            InstrumentVersion.content_hash,
        )
        .where(
            InstrumentVersion.id.in_(
                select(Assessment.instrument_version_id).where(Assessment.workspace_id == ws)
            )
        )
        .order_by(InstrumentVersion.instrument_id, InstrumentVersion.version)
    )
    return [{"id": i, "version": v, "content_hash": h} for i, v, h in rows]


def _files(
    session: Session, ws: uuid.UUID, store: FileStore
) -> Iterator[tuple[uuid.UUID, BinaryIO]]:
    """Every evidence file of the workspace, from the store, in the order of its rows."""
    rows = session.execute(
        select(Evidence.id, Evidence.storage_key)
        .join(Assessment, Assessment.id == Evidence.assessment_id)
        .where(Assessment.workspace_id == ws, Evidence.storage_key.is_not(None))
        .order_by(Evidence.assessment_id, Evidence.created_at, Evidence.id)
    )
    for evidence_id, key in rows.all():
        assert key is not None  # selected so
        try:
            yield evidence_id, store.open(key)
        except FileNotFoundError:
            raise ArchiveError(
                f"the file of evidence {evidence_id} is missing from the evidence store "
                "(OCA_EVIDENCE_DIR or OCA_EVIDENCE_S3_BUCKET); nothing was written"
            ) from None


def export_workspace(session: Session, name: str, target: Path, store: FileStore) -> ExportReport:
    """Write one archive of workspace ``name``, read in one snapshot of the database (a
    repeatable-read, read-only transaction on PostgreSQL; SQLite's read transaction in WAL mode
    is one already), so concurrent writes never give an archive half old, half new. Evidence
    files come from ``store``, each as an entry of its own."""
    if target.exists():
        raise ArchiveError(f"{target} exists already; choose another file or remove it first")
    if session.in_transaction():
        session.rollback()
    dialect = session.get_bind().dialect.name
    options: dict[str, Any] = {}
    if dialect == "postgresql":
        options = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
    with session.begin():
        connection = session.connection(execution_options=options)
        ws = session.scalar(select(Workspace).where(Workspace.name == name))
        if ws is None:
            raise ArchiveError(f"no workspace named '{name}' in this database")
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "created_at": now().isoformat(),
            "engine_version": ENGINE_VERSION,
            "schema_revision": migrate.current_revision(connection),
            "source_database": dialect,
            "workspace": {"id": str(ws.id), "name": ws.name},
            "instruments": _instruments(session, ws.id),
            "not_included": {
                "workbooks": "the database does not store uploaded workbooks, only their SHA-256 "
                "(assessment.source_sha256); evidence files do travel, as evidence/<id>",
                "scores": "recomputed from the answers on import; computed_at and engine_version "
                "travel",
                "secrets": "API keys, raters' links and passwords travel as hashes only (keys "
                "and links arrive revoked unless imported with --keep-keys-active); web sessions "
                "and one-time links do not travel",
            },
        }
        counts = write_archive(
            target, manifest, _workspace_rows(session, ws.id), lambda: _files(session, ws.id, store)
        )
    return ExportReport(ws.name, target, counts, target.stat().st_size)


# --- import: writing ------------------------------------------------------------------------------


def _insert(session: Session, spec: TableSpec, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(spec.table), rows)


def _store_files(path: Path, archive: Archive, files: EvidenceFiles) -> dict[uuid.UUID, str]:
    """Each evidence file of the archive into the store, under a new key, after the checks of
    an upload (its size and SHA-256 as its row says, its type recognised again from its bytes).
    On any refusal the files stored so far are deleted again."""
    keys: dict[uuid.UUID, str] = {}
    rows = [e for e in archive.rows["evidence"] if e["kind"] == "file"]
    try:
        with zipfile.ZipFile(path) as zf:
            for e in rows:
                where = f"the file of evidence {e['id']}"
                try:
                    staged = stage(open_file(zf, e["id"]), files.staging, e["size"])
                    try:
                        if (staged.size, staged.sha256) != (e["size"], e["sha256"]):
                            raise ArchiveError(f"{where} differs from its size or sha256")
                        if recognise(staged.path, files.limits).media_type != e["media_type"]:
                            raise ArchiveError(f"{where} is not the {e['media_type']} it claims")
                        keys[e["id"]] = files.store.put(staged.path)
                    finally:
                        staged.path.unlink(missing_ok=True)
                except Invalid as exc:
                    raise ArchiveError(f"{where}: {exc.detail}") from None
                except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
                    raise ArchiveError(f"{where} cannot be read: {exc}") from None
    except BaseException:
        discard(files.store, keys.values())
        raise
    return keys


def _rescore(session: Session, catalog: Catalog, archive: Archive) -> tuple[int, int]:
    """The stored scores, computed again from the imported answers by the submit path."""
    made = {r["assessment_id"]: r for r in archive.rows["assessment_score"]}
    ids = list(made)
    kept = 0
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        loaded = session.scalars(
            select(Assessment)
            .where(Assessment.id.in_(chunk))
            .options(selectinload(Assessment.answers))
        )
        for a in loaded:
            f = catalog.get(a.instrument_id, a.instrument_version)
            assert f is not None  # checked by versions_of
            store_score(session, f, a, compute(f, a))
        session.flush()
        for row in session.scalars(
            select(AssessmentScore).where(AssessmentScore.assessment_id.in_(chunk))
        ):
            original = made[row.assessment_id]
            if original["engine_version"] == ENGINE_VERSION:
                # same answers, same instrument hash, same rules: the source's score, made then
                row.computed_at = original["computed_at"]
                row.rendered = render_score(row.assessment_id, row.computed_at, row.payload)
                kept += 1
    return len(ids), kept


def import_workspace(
    session: Session,
    catalog: Catalog,
    path: Path,
    *,
    files: EvidenceFiles,
    name: str | None = None,
    keep_keys_active: bool = False,
) -> ImportReport:
    """Restore an archive into this database in one transaction: all of it or nothing (evidence
    files go into ``files.store`` first, and are deleted again when the import fails)."""
    archive = read_archive(path)
    check_archive(archive)
    own = own_files(archive)
    ws_row = archive.rows["workspace"][0]
    target_name = (name if name is not None else ws_row["name"]).strip()
    if not 1 <= len(target_name) <= 120:
        raise ArchiveError("a workspace name has 1 to 120 characters")
    sync_catalog(session, catalog)  # this server's versions are recorded (a no-op once done)
    keys = _store_files(path, archive, files)
    try:
        return _import_rows(
            session, catalog, own, archive, ws_row, target_name, keys, keep_keys_active
        )
    except BaseException:
        discard(files.store, keys.values())
        raise


def _import_rows(
    session: Session,
    library: Catalog,
    own: dict[tuple[str, str], InstrumentFile],
    archive: Archive,
    ws_row: dict[str, Any],
    target_name: str,
    file_keys: dict[uuid.UUID, str],
    keep_keys_active: bool,
) -> ImportReport:
    with write_transaction(session):
        versions = versions_of(session, library, archive, own)
        catalog = library.with_owned(own.values())
        check_items(catalog, archive)
        check_free(session, archive, target_name)
        person_ids, already_here = people_of(session, archive)
        rows = archive.rows
        moment = now()
        keys = [dict(k) for k in rows["api_key"]]
        raters = [dict(r) for r in rows["rater"]]
        revoked = links = 0
        if not keep_keys_active:
            for key in keys:
                if key["revoked_at"] is None:
                    key["revoked_at"] = moment
                    revoked += 1
            for rater in raters:
                if rater["link_hash"] is not None and rater["link_revoked_at"] is None:
                    rater["link_revoked_at"] = moment
                    links += 1
        try:
            _insert(session, SPEC["workspace"], [{**ws_row, "name": target_name}])
            _insert(session, SPEC["instrument_version"], rows["instrument_version"])
            versions |= _own_ids(session, ws_row["id"])
            _insert(
                session,
                SPEC["person"],
                [p for p in rows["person"] if p["email"] not in already_here],
            )
            _insert(
                session,
                SPEC["membership"],
                [{**x, "person_id": person_ids[x["person_id"]]} for x in rows["membership"]],
            )
            _insert(session, SPEC["api_key"], keys)
            orgs = [{**r, "name_key": name_key(r["name"])} for r in rows["organization"]]
            _insert(session, SPEC["organization"], orgs)
            for table in ("cohort", "cohort_member"):
                _insert(session, SPEC[table], rows[table])
            _insert(
                session,
                SPEC["assessment"],
                [
                    {
                        **a,
                        "instrument_version_id": versions[
                            (a["instrument_id"], a["instrument_version"])
                        ],
                    }
                    for a in parents_first(rows["assessment"])
                ],
            )
            _insert(session, SPEC["answer"], rows["answer"])
            _insert(
                session,
                SPEC["evidence"],
                [{**e, "storage_key": file_keys.get(e["id"])} for e in rows["evidence"]],
            )
            _insert(session, SPEC["rater"], raters)
            for table in ("rating", "verified_answer"):
                _insert(session, SPEC[table], rows[table])
            _insert(session, SPEC["audit_event"], rows["audit_event"])
            recomputed, kept = _rescore(session, catalog, archive)
            session.flush()
        except IntegrityError as exc:
            raise ArchiveError(
                f"the database refused a row of the archive; nothing was imported ({exc.orig})"
            ) from None
    # the rounds' pairs (derived: not in the archive) made as the rounds' submits made them
    refresh_pairs(session, library, ws_row["id"])
    counts = {spec.name: len(rows[spec.name]) for spec in SPECS}
    return ImportReport(
        target_name, ws_row["id"], counts, already_here, revoked, links, recomputed, kept
    )


def _own_ids(session: Session, ws: uuid.UUID) -> dict[tuple[str, str], int]:
    """The row ids the workspace's own versions got here."""
    found = session.execute(
        select(
            InstrumentVersion.instrument_id, InstrumentVersion.version, InstrumentVersion.id
        ).where(InstrumentVersion.workspace_id == ws)
    )
    return {(i, v): row_id for i, v, row_id in found}
