"""Workbooks kept between a dry-run preview and the person's "Confirm import", for the web pages.

Why on disk, not in memory or re-uploaded: the preview and the confirmation are two requests that
may reach two different worker processes, so process memory cannot hold the files; asking the
person to pick the same files again (a browser cannot pre-fill a file input) is error-prone and
slow on a phone. So the upload is kept in a folder under ``data_dir`` (shared by every worker of
one deployment, like the SQLite file and exports):

    <data_dir>/staged-imports/<workspace id>/<random id>/
        manifest.json          who, when, the option chosen, one preview result per workbook
        <sha256>.xlsx          each workbook's bytes, named by their hash (checked when read back)
        result-<n>.json        what the confirmed import did to workbook n

The random id (128 bits) is unguessable, and the folder lives under the uploader's workspace: a
person of another workspace gets "not found". A confirmed workbook's bytes are deleted at once;
the folder goes when it is older than ``TTL`` (swept at every new upload). The import itself is the
one of ``app.services.imports`` — the same path as ``POST /v1/imports``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from app.catalog import Catalog
from app.domain.errors import NotFound
from app.excel import Limits
from app.excel.problems import Problem
from app.services import imports
from app.services.keys import Principal
from app.services.uploads import expand_uploads

STAGED = "staged-imports"  # the folder under data_dir
TTL_SECONDS = 2 * 60 * 60
_EMPTY = hashlib.sha256(b"").hexdigest()
_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")


@dataclass
class StagedFile:
    """One workbook of a staged upload: its preview, and the import's result once confirmed."""

    n: int
    name: str
    sha256: str
    preview: imports.WorkbookResult
    done: imports.WorkbookResult | None = None

    @property
    def importable(self) -> bool:
        return self.preview.status != "rejected" and self.done is None

    @property
    def annotatable(self) -> bool:
        """Rejected with bytes to mark (a zip member that could not be unpacked has none)."""
        return bool(self.preview.problems) and self.sha256 != _EMPTY


@dataclass
class Staged:
    id: str
    created: float
    create_organizations: bool
    files: list[StagedFile] = field(default_factory=list)

    @property
    def confirmed(self) -> bool:
        return any(f.done is not None for f in self.files)


def _folder(root: Path, principal: Principal, staged_id: str) -> Path:
    if not _ID.match(staged_id):
        raise NotFound("upload")
    return root / str(principal.workspace_id) / staged_id


def _result_dict(r: imports.WorkbookResult) -> dict[str, Any]:
    data = asdict(r)
    data["problems"] = [p.to_dict() for p in r.problems]
    return data


def _result_of(data: dict[str, Any]) -> imports.WorkbookResult:
    problems = [Problem.from_dict(p) for p in data.pop("problems")]
    return imports.WorkbookResult(**data, problems=problems)


def _write(path: Path, data: object) -> None:
    """Atomic: a reader in another worker sees the old file or the new one, never half of it."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


def sweep(root: Path, now: float | None = None) -> int:
    """Delete staged uploads older than ``TTL_SECONDS``; returns how many went."""
    limit = (now or time.time()) - TTL_SECONDS
    gone = 0
    if not root.is_dir():
        return 0
    for workspace in root.iterdir():
        for folder in workspace.iterdir() if workspace.is_dir() else ():
            try:
                old = folder.stat().st_mtime < limit
            except FileNotFoundError:  # another worker swept it first
                continue
            if old:
                shutil.rmtree(folder, ignore_errors=True)
                gone += 1
    return gone


def preview(
    session: Session,
    principal: Principal,
    catalog: Catalog,
    root: Path,
    uploads: Sequence[imports.Upload],
    *,
    create_organizations: bool,
    limits: Limits,
) -> str:
    """Dry-run every workbook of an upload (a .zip is unpacked) and keep them; returns the id.

    Raises ``imports.UploadRejected`` when the upload as a whole cannot be read.
    """
    expanded = expand_uploads(uploads, limits)
    results = imports.import_workbooks(
        session,
        principal,
        catalog,
        expanded,
        dry_run=True,
        create_organizations=create_organizations,
        limits=limits,
    )
    sweep(root)
    staged_id = secrets.token_urlsafe(16)
    folder = _folder(root, principal, staged_id)
    folder.mkdir(parents=True)
    files: list[dict[str, Any]] = []
    for n, (upload, result) in enumerate(zip(expanded, results, strict=True)):
        digest = hashlib.sha256(upload.data).hexdigest()
        (folder / f"{digest}.xlsx").write_bytes(upload.data)
        files.append(
            {"n": n, "name": upload.name, "sha256": digest, "preview": _result_dict(result)}
        )
    manifest = {
        "workspace_id": str(principal.workspace_id),
        "created": time.time(),
        "create_organizations": create_organizations,
        "files": files,
    }
    _write(folder / "manifest.json", manifest)
    return staged_id


def load(root: Path, principal: Principal, staged_id: str) -> Staged:
    """A staged upload of the principal's workspace (expired or foreign ones are not found)."""
    folder = _folder(root, principal, staged_id)
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError, ValueError):
        raise NotFound("upload") from None
    if manifest["workspace_id"] != str(principal.workspace_id) or (
        time.time() - manifest["created"] > TTL_SECONDS
    ):
        raise NotFound("upload")
    staged = Staged(staged_id, manifest["created"], manifest["create_organizations"])
    for f in manifest["files"]:
        done_path = folder / f"result-{f['n']}.json"
        done = None
        if done_path.exists():
            done = _result_of(json.loads(done_path.read_text(encoding="utf-8")))
        staged.files.append(
            StagedFile(f["n"], f["name"], f["sha256"], _result_of(f["preview"]), done)
        )
    return staged


@dataclass(frozen=True)
class Waiting:
    """A recent upload of the workspace with workbooks not imported yet (the home page's list)."""

    id: str
    created: float
    rejected: int  # workbooks to correct
    unconfirmed: int  # workbooks that passed the check but were not imported


def waiting(root: Path, principal: Principal) -> list[Waiting]:
    """The workspace's live uploads with something left to do, newest first."""
    folder = root / str(principal.workspace_id)
    found: list[Waiting] = []
    for child in folder.iterdir() if folder.is_dir() else ():
        try:
            staged = load(root, principal, child.name)
        except NotFound:  # expired, foreign or half-written: not shown
            continue
        rejected = sum(f.preview.status == "rejected" for f in staged.files)
        unconfirmed = sum(f.importable for f in staged.files)
        if rejected or unconfirmed:
            found.append(Waiting(staged.id, staged.created, rejected, unconfirmed))
    return sorted(found, key=lambda w: w.created, reverse=True)[:10]


def workbook(root: Path, principal: Principal, staged: Staged, n: int) -> imports.Upload:
    """The bytes of workbook ``n``, checked against the hash they were stored under."""
    found = next((f for f in staged.files if f.n == n), None)
    if found is None:
        raise NotFound("workbook")
    path = _folder(root, principal, staged.id) / f"{found.sha256}.xlsx"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise NotFound("workbook") from None
    if hashlib.sha256(data).hexdigest() != found.sha256:
        raise NotFound("workbook")
    return imports.Upload(found.name, data)


def confirm(
    session: Session,
    principal: Principal,
    catalog: Catalog,
    root: Path,
    staged_id: str,
    picks: Sequence[int],
    *,
    limits: Limits,
) -> list[imports.WorkbookResult]:
    """Import exactly the picked workbooks (each all-or-nothing), with the option of the preview.

    A picked workbook already imported, or rejected in the preview, is skipped. The bytes of an
    imported workbook are deleted; a rejected one's stay for its annotated copy until expiry.
    """
    staged = load(root, principal, staged_id)
    folder = _folder(root, principal, staged_id)
    wanted = {f.n: f for f in staged.files if f.importable and f.n in set(picks)}
    out = []
    for n in sorted(wanted):
        upload = workbook(root, principal, staged, n)
        (result,) = imports.import_workbooks(
            session,
            principal,
            catalog,
            [upload],
            create_organizations=staged.create_organizations,
            limits=limits,
        )
        _write(folder / f"result-{n}.json", _result_dict(result))
        wanted[n].done = result
        still_needed = any(f.sha256 == wanted[n].sha256 and f.importable for f in staged.files)
        if result.status != "rejected" and not still_needed:
            (folder / f"{wanted[n].sha256}.xlsx").unlink(missing_ok=True)
        out.append(result)
    return out
