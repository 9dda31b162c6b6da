"""Checks of a workspace archive before anything is written (``services.archive``): those that
need no database (the archive agrees with itself: unique ids, references, own versions' texts
and hashes, evidence rows and files), then those against the target (the versions its
assessments name, their items, ids and labels still free, the people it already has)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.catalog import Catalog, CatalogError, InstrumentFile, content_hash
from app.catalog.owned import owned_file, owned_problems
from app.db.models import (
    ApiKey,
    Assessment,
    Cohort,
    Evidence,
    EvidenceStatus,
    InstrumentVersion,
    Organization,
    Person,
    Rater,
    Workspace,
)
from app.domain.errors import Invalid
from app.services.archive_format import (
    SPECS,
    Archive,
    ArchiveError,
    TableSpec,
)
from app.services.evidence import check_url
from app.services.evidence_files import BY_MEDIA_TYPE
from app.services.owned_instruments import DRAFT, PUBLISHED

CHUNK = 500  # ids per IN (...) list


# --- import: checks that need no database ---------------------------------------------------------


def _instrument_keys(manifest: dict[str, Any]) -> dict[tuple[str, str], str]:
    listed = manifest.get("instruments")
    if not isinstance(listed, list):
        raise ArchiveError("manifest.json: 'instruments' must be a list")
    out: dict[tuple[str, str], str] = {}
    for x in listed:
        if not (
            isinstance(x, dict)
            and all(isinstance(x.get(k), str) for k in ("id", "version", "content_hash"))
        ):
            raise ArchiveError(
                "manifest.json: each instrument needs an id, a version and a content_hash"
            )
        out[(x["id"], x["version"])] = x["content_hash"]
    return out


def _unique(rows: list[dict[str, Any]], spec: TableSpec) -> None:
    keys = [c.name for c in spec.columns if c.primary_key]
    if not keys:
        return
    seen = {tuple(r[k] for k in keys) for r in rows}
    if len(seen) != len(rows):
        raise ArchiveError(f"table {spec.name}: the same key appears twice")


def _refer(rows: list[dict[str, Any]], table: str, column: str, known: set[Any]) -> None:
    bad = [r[column] for r in rows if r[column] is not None and r[column] not in known]
    if bad:
        raise ArchiveError(
            f"table {table}: {column} {bad[0]} names nothing in this archive "
            f"({len(bad)} such row(s)); a workspace archive refers only to itself"
        )


def check_archive(archive: Archive) -> None:
    """Everything in an archive must belong to its one workspace and refer only to itself, so a
    crafted archive cannot attach rows to another workspace of the target database."""
    rows = archive.rows
    if len(rows["workspace"]) != 1:
        raise ArchiveError("an archive holds exactly one workspace")
    ws = rows["workspace"][0]["id"]
    for spec in SPECS:
        _unique(rows[spec.name], spec)
        if any(c.name == "workspace_id" for c in spec.columns):
            _refer(rows[spec.name], spec.name, "workspace_id", {ws})
    ids = {
        name: {r["id"] for r in rows[name]}
        for name in ("person", "organization", "cohort", "assessment", "rater")
    }
    _refer(rows["membership"], "membership", "person_id", ids["person"])
    _refer(rows["cohort_member"], "cohort_member", "cohort_id", ids["cohort"])
    _refer(rows["cohort_member"], "cohort_member", "organization_id", ids["organization"])
    _refer(rows["assessment"], "assessment", "organization_id", ids["organization"])
    _refer(rows["assessment"], "assessment", "replaces_id", ids["assessment"])
    _refer(rows["answer"], "answer", "assessment_id", ids["assessment"])
    _refer(rows["assessment_score"], "assessment_score", "assessment_id", ids["assessment"])
    _refer(rows["evidence"], "evidence", "assessment_id", ids["assessment"])
    _refer(rows["rater"], "rater", "assessment_id", ids["assessment"])
    _refer(rows["rating"], "rating", "rater_id", ids["rater"])
    _refer(rows["verified_answer"], "verified_answer", "assessment_id", ids["assessment"])
    _check_evidence(archive)
    emails = [r["email"] for r in rows["person"]]
    if len(set(emails)) != len(emails):
        raise ArchiveError("table person: the same e-mail appears twice")
    for org in rows["organization"]:
        for column in ("tags", "thematic_areas"):
            value = org[column]
            if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
                raise ArchiveError(f"table organization: {column} must be a list of texts")
    if any(not isinstance(e["changes"], dict | None) for e in rows["audit_event"]):
        raise ArchiveError("table audit_event: changes must be an object or empty")
    listed = _instrument_keys(archive.manifest)
    used = {(r["instrument_id"], r["instrument_version"]) for r in rows["assessment"]}
    unlisted = sorted(used - set(listed))
    if unlisted:
        raise ArchiveError(
            "assessments use instrument versions the manifest does not list: "
            + ", ".join(f"{i} {v}" for i, v in unlisted)
        )


def own_files(archive: Archive) -> dict[tuple[str, str], InstrumentFile]:
    """The workspace's own versions of the archive, each parsed from its text, which must still
    give its content hash (a published version is immutable: its text travels unchanged)."""
    found: dict[tuple[str, str], InstrumentFile] = {}
    for row in archive.rows["instrument_version"]:
        label = (row["instrument_id"], row["version"])
        where = f"table instrument_version: {' '.join(label)}"
        if label in found:
            raise ArchiveError(f"{where} appears twice")
        if row["status"] not in (DRAFT, PUBLISHED):
            raise ArchiveError(f"{where}: status {row['status']!r} is not draft or published")
        text = (row["content"] or "").encode()
        if content_hash(text) != row["content_hash"]:  # checked here: the parsed are cached by hash
            raise ArchiveError(f"{where}: its text does not give its content hash")
        try:
            f = owned_file(text, row["content_hash"])
        except CatalogError as exc:
            raise ArchiveError(f"{where}: {'; '.join(exc.problems)}") from None
        if (f.instrument.id, f.instrument.version) != label:
            raise ArchiveError(f"{where}: its text is {f.instrument.id} {f.instrument.version}")
        problems = owned_problems(f.instrument)
        if problems:
            raise ArchiveError(f"{where}: {problems[0].en}")
        found[label] = f
    return found


def _check_evidence(archive: Archive) -> None:
    """Each evidence row is a whole file or a whole link, and each file row has its file."""
    for e in archive.rows["evidence"]:
        where = f"table evidence: {e['id']}"
        file_columns = [e[c] for c in ("file_name", "media_type", "size", "sha256")]
        if e["kind"] == "file":
            if e["url"] is not None or None in file_columns:
                raise ArchiveError(f"{where}: a file needs a name, type, size and sha256, no url")
            if e["media_type"] not in BY_MEDIA_TYPE:
                raise ArchiveError(f"{where}: files of type {e['media_type']!r} are not kept")
        elif e["kind"] == "link":
            if e["url"] is None or any(x is not None for x in file_columns):
                raise ArchiveError(f"{where}: a link needs a url and nothing of a file")
            try:
                check_url(e["url"])
            except Invalid as exc:
                raise ArchiveError(f"{where}: {exc.detail}") from None
        else:
            raise ArchiveError(f"{where}: kind is 'file' or 'link'")
        if e["status"] not in list(EvidenceStatus):
            raise ArchiveError(f"{where}: status {e['status']!r} is not a verification status")
    wanted = {e["id"] for e in archive.rows["evidence"] if e["kind"] == "file"}
    if wanted != archive.files:
        odd = sorted(map(str, wanted ^ archive.files))
        raise ArchiveError(
            f"evidence files and rows do not match ({len(odd)} without the other, e.g. {odd[0]})"
        )


def parents_first(assessments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Revisions after what they replace (the foreign key is checked row by row on SQLite)."""
    placed: set[Any] = set()
    ordered: list[dict[str, Any]] = []
    waiting = list(assessments)
    while waiting:
        ready = [a for a in waiting if a["replaces_id"] is None or a["replaces_id"] in placed]
        if not ready:
            raise ArchiveError("table assessment: revisions replace each other in a circle")
        ordered += ready
        placed |= {a["id"] for a in ready}
        waiting = [a for a in waiting if a["id"] not in placed]
    return ordered


# --- import: checks against the target ------------------------------------------------------------


def versions_of(
    session: Session, catalog: Catalog, archive: Archive, own: dict[tuple[str, str], InstrumentFile]
) -> dict[tuple[str, str], int]:
    """The target's row id of each library version the archive uses; refuses, listing every
    difference, unless each exists here with the same content hash (the workspace's own versions
    come with the archive: their labels must be free here)."""
    problems: list[str] = []
    found: dict[tuple[str, str], int] = {}
    rows = {(r.instrument_id, r.version): r for r in session.scalars(select(InstrumentVersion))}
    published = {
        (r["instrument_id"], r["version"])
        for r in archive.rows["instrument_version"]
        if r["status"] == PUBLISHED
    }
    taken = sorted(" ".join(label) for label in own if label in rows)
    if taken:
        raise ArchiveError(
            "the label(s) of the workspace's own instrument versions are in use in this database "
            f"already (labels are unique service-wide): {', '.join(taken)}; nothing was imported"
        )
    for (ins, version), digest in sorted(_instrument_keys(archive.manifest).items()):
        f, row = catalog.get(ins, version), rows.get((ins, version))
        if (ins, version) in own:
            if own[(ins, version)].content_hash != digest:
                problems.append(f"{ins} {version}: the manifest's hash is not its text's")
            elif (ins, version) not in published:
                problems.append(f"{ins} {version}: a draft, which no assessment can use")
        elif f is None or row is None:
            problems.append(f"{ins} {version}: not among this server's instruments")
        elif f.content_hash != digest or row.content_hash != digest:
            problems.append(
                f"{ins} {version}: archive hash {digest[:12]}…, here {f.content_hash[:12]}…"
            )
        else:
            found[(ins, version)] = row.id
    if problems:
        raise ArchiveError(
            "the archive's instrument versions differ from this server's; nothing was imported:\n  "
            + "\n  ".join(problems)
        )
    return found


def check_items(catalog: Catalog, archive: Archive) -> None:
    """Every answer, evidence, rating and verified answer names an item of its version."""
    rows = archive.rows
    instrument_of = {
        a["id"]: (a["instrument_id"], a["instrument_version"]) for a in rows["assessment"]
    }
    assessment_of = {r["id"]: r["assessment_id"] for r in rows["rater"]}
    named = [
        *(("an answer", r["assessment_id"], r["item_key"]) for r in rows["answer"]),
        *(("evidence", r["assessment_id"], r["item_key"]) for r in rows["evidence"]),
        *(("a rating", assessment_of[r["rater_id"]], r["item_key"]) for r in rows["rating"]),
        *(
            ("a verified answer", r["assessment_id"], r["item_key"])
            for r in rows["verified_answer"]
        ),
    ]
    for what, assessment_id, item in named:
        ins, version = instrument_of[assessment_id]
        f = catalog.get(ins, version)
        assert f is not None  # checked by versions_of
        if item not in f.instrument.items:
            raise ArchiveError(f"{what} names item '{item}', which {ins} {version} does not have")
    for answer in rows["answer"]:
        if answer["is_na"] and answer["value"] is not None:
            raise ArchiveError(f"answer to '{answer['item_key']}' is N/A and has a value")


def _existing(session: Session, column: Any, values: Sequence[Any]) -> list[Any]:
    found: list[Any] = []
    for start in range(0, len(values), CHUNK):
        chunk = values[start : start + CHUNK]
        found += session.scalars(select(column).where(column.in_(chunk)))
    return found


def check_free(session: Session, archive: Archive, name: str) -> None:
    """Refuse a name or an id that the target already has: ids are kept, never remapped."""
    if session.scalar(select(Workspace.id).where(Workspace.name == name)) is not None:
        raise ArchiveError(
            f"a workspace named '{name}' exists in this database; import under another name "
            "with --as NEWNAME"
        )
    rows = archive.rows
    for table, column, values in (
        ("workspace", Workspace.id, [r["id"] for r in rows["workspace"]]),
        ("organization", Organization.id, [r["id"] for r in rows["organization"]]),
        ("cohort", Cohort.id, [r["id"] for r in rows["cohort"]]),
        ("assessment", Assessment.id, [r["id"] for r in rows["assessment"]]),
        ("evidence", Evidence.id, [r["id"] for r in rows["evidence"]]),
        ("rater", Rater.id, [r["id"] for r in rows["rater"]]),
        ("rater link", Rater.link_hash, [r["link_hash"] for r in rows["rater"] if r["link_hash"]]),
        ("API key", ApiKey.id, [r["id"] for r in rows["api_key"]]),
        ("API key prefix", ApiKey.prefix, [r["prefix"] for r in rows["api_key"]]),
    ):
        taken = _existing(session, column, values)
        if taken:
            raise ArchiveError(
                f"{len(taken)} {table} id(s) of the archive exist in this database already "
                f"(e.g. {taken[0]}); was this archive imported here before? Nothing was imported."
            )


def people_of(session: Session, archive: Archive) -> tuple[dict[uuid.UUID, uuid.UUID], list[str]]:
    """People are matched by e-mail: one who has an account here keeps it (and its password)
    and gets the archived membership; a new one arrives with the archived id and hash."""
    people = archive.rows["person"]
    emails = [p["email"] for p in people]
    here = {
        email: pid
        for email, pid in session.execute(
            select(Person.email, Person.id).where(Person.email.in_(emails))
        )
    }
    mapping = {p["id"]: here.get(p["email"], p["id"]) for p in people}
    new_ids = [p["id"] for p in people if p["email"] not in here]
    taken = _existing(session, Person.id, new_ids)
    if taken:
        raise ArchiveError(
            f"person id {taken[0]} exists in this database under another e-mail; "
            "nothing was imported"
        )
    return mapping, sorted(p["email"] for p in people if p["email"] in here)
