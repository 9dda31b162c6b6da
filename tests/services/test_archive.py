"""A workspace moved by archive: built through the REST API, exported, imported into a fresh
SQLite database, a fresh PostgreSQL database and (exported again from PostgreSQL) back into
SQLite; every read the API offers answers alike in all of them. Bad archives write nothing.

The PostgreSQL target is its own database (``OCA_ARCHIVE_PG_URL``, by default
``<the test database>_archive``, created when missing),
emptied and migrated by the test.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app.catalog import Catalog
from app.cli import app as cli_app
from app.config import Settings
from app.db import migrate
from app.db.models import InstrumentVersion, Membership, Person, Rater, Workspace
from app.db.session import make_engine, make_sessionmaker
from app.main import create_app
from app.services.archive import ArchiveError, export_workspace, import_workspace
from app.services.common import now
from app.services.evidence_files import EvidenceFiles
from app.services.people import create_person
from tests.api import evidence_files
from tests.api.factories import (
    TABLES,
    add_member,
    call,
    create_assessment,
    create_cohort,
    create_org,
    finalize,
    item_keys,
    ok,
    submit,
)
from tests.conftest import INSTRUMENTS, Tenant, own_postgres_database
from tests.s3 import S3Server

OCA = item_keys("oca")
NUPAS = item_keys("nupas")


# --- the workspace, built as a partner application would ------------------------------------------


def _oca(value: int, *, na: str | None = None, note: str | None = None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i, key in enumerate(OCA):
        answer: dict[str, Any] = {"item": key, "value": "na" if key == na else (value + i) % 4 + 1}
        if note and i % 7 == 0:
            answer["note"] = f"{note} {i}: evidencia «ñ» ✓"
        out.append(answer)
    return out


def build_workspace(tenant: Tenant, session: Session) -> dict[str, Any]:
    a = create_org(tenant, name="Asociación Ñandú", country="PY", tags=["rural", "women"])
    b = create_org(tenant, name="Beta Trust", external_id="B-1", thematic_areas=["health"])
    c = create_org(tenant, name="Gamma")
    cohort = create_cohort(tenant, name="Round 2026", description="first cohort")
    for org in (a, b, c):
        add_member(tenant, cohort["id"], org["id"])
    perf = {"metric": "Local revenue (%)", "value": 12.5, "higher_is_better": True}
    # A: a baseline with N/A and notes, finalized, corrected by a revision; then an endline
    base = create_assessment(
        tenant, a["id"], "oca", answers=_oca(1, na=OCA[2], note="nota"), assessor="Ana"
    )
    add_evidence(tenant, base["id"])
    base = finalize(tenant, submit(tenant, base["id"])["id"])
    fix = ok(
        call(
            tenant,
            "POST",
            f"/v1/assessments/{base['id']}/revisions",
            json={"assessor": "Reviewer", "answers": [{"item": OCA[0], "value": 4}]},
        ),
        201,
    )
    submit(tenant, fix["id"])
    submit(
        tenant,
        create_assessment(
            tenant, a["id"], "oca", "endline", answers=_oca(2), assessed_on="2025-02-03"
        )["id"],
    )
    # B: baseline and endline with a performance metric, a NUPAS with an N/A
    for rnd, value, on in (("baseline", 0, "2024-01-10"), ("endline", 3, "2025-03-01")):
        made = create_assessment(
            tenant, b["id"], "oca", rnd, answers=_oca(value), assessed_on=on, performance=perf
        )
        submit(tenant, made["id"])
    nupas = [{"item": k, "value": 1 if i % 3 else 0} for i, k in enumerate(NUPAS)]
    nupas[1] = {"item": NUPAS[1], "value": "N/A", "note": "no aplica aquí"}
    submit(tenant, create_assessment(tenant, b["id"], "nupas", answers=nupas)["id"])
    # C: a draft with a note-only answer (no score), rated by three raters, one with a link
    draft = create_assessment(
        tenant,
        c["id"],
        "oca",
        answers=[{"item": OCA[0], "value": 2}, {"item": OCA[1], "value": None, "note": "later"}],
    )
    for code, values in (("R01", (1, 2, "na")), ("R02", (2, 2, 3)), ("R03", (4, 3, 3))):
        body = {"answers": [{"item": k, "value": v} for k, v in zip(OCA, values, strict=False)]}
        ok(call(tenant, "PUT", f"/v1/assessments/{draft['id']}/ratings/{code}", json=body))
    ok(call(tenant, "POST", f"/v1/assessments/{draft['id']}/ratings/R01/link"), 201)
    # B's endline, verified item by item
    verified = [{"item": OCA[0], "value": 1, "note": "no minutes"}, {"item": OCA[3], "value": "na"}]
    url = f"/v1/assessments/{made['id']}/verification"
    ok(call(tenant, "PATCH", url, json={"answers": verified}))
    create_person(
        session,
        email=f"ana-{tenant.name}@example.org",
        name="Ana",
        password="a long enough password",
        workspace=tenant.name,
        role="editor",
    )
    return {"cohort": cohort["id"], "orgs": [a["id"], b["id"], c["id"]], "assessments": 7}


def add_own_version(tenant: Tenant, world: dict[str, Any]) -> str:
    """A version of the workspace's own, derived from the OCA and published, with a submitted
    assessment on it; and a draft derived from that one. Returns the published label."""
    label = f"2015.2-local.{uuid.uuid4().hex[:8]}"
    derive = "/v1/instruments/oca/versions/{}/derive"
    ok(call(tenant, "POST", derive.format("2015.2"), json={"version": label}), 201)
    ok(call(tenant, "POST", f"/v1/instruments/oca/versions/{label}/publish", "admin"))
    ok(call(tenant, "POST", derive.format(label), json={"version": f"{label}.1"}), 201)
    body = {
        "organization_id": world["orgs"][2],
        "instrument_id": "oca",
        "instrument_version": label,
        "round": "own",
        "assessed_on": "2025-06-01",
        "answers": _oca(3),
    }
    submit(tenant, ok(call(tenant, "POST", "/v1/assessments", json=body), 201)["id"])
    world.update(own=label, assessments=world["assessments"] + 1)
    return label


def add_evidence(tenant: Tenant, assessment_id: str) -> None:
    """A PDF, a Word document and a link on the assessment, one of them verified."""
    items = f"/v1/assessments/{assessment_id}/items"
    for item, name, data in ((OCA[0], "Informe «2025».pdf", evidence_files.pdf()),
                             (OCA[1], "acta.docx", evidence_files.docx())):  # fmt: skip
        url = f"{items}/{item}/evidence/files"
        ok(call(tenant, "POST", url, files={"file": (name, data)}, data={"note": "ñ"}), 201)
    body = {"url": "https://example.org/informe", "title": "Informe anual"}
    made = ok(call(tenant, "POST", f"{items}/{OCA[0]}/evidence", json=body), 201)
    path = f"/v1/assessments/{assessment_id}/evidence/{made['id']}"
    ok(call(tenant, "PATCH", path, "admin", json={"status": "verified"}))


# --- what the API answers -------------------------------------------------------------------------


def answers(client: TestClient, tenant: Tenant, world: dict[str, Any]) -> dict[str, Any]:
    """Every read of the workspace: bytes as sent, ETags, and the audit log without its event
    numbers (each database numbers events itself; the order must be the same)."""
    viewer = {"Authorization": f"Bearer {tenant.keys['viewer']}"}
    admin = {"Authorization": f"Bearer {tenant.keys['admin']}"}
    seen: dict[str, Any] = {}

    def read(path: str, **params: Any) -> bytes:
        resp = client.get(path, params=params, headers=viewer)
        assert resp.status_code == 200, (path, resp.text)
        seen[f"{path} {sorted(params.items())}"] = (resp.content, resp.headers.get("etag"))
        return resp.content

    def read_as_admin(path: str) -> None:
        resp = client.get(path, headers=admin)
        assert resp.status_code == 200, (path, resp.text)
        seen[f"{path} admin"] = (resp.content, resp.headers.get("etag"))

    orgs = json.loads(read("/v1/organizations", limit=200))["items"]
    assessments = json.loads(read("/v1/assessments", limit=200))["items"]
    assert len(orgs) == 3 and len(assessments) == world["assessments"]
    read("/v1/instruments")
    if "own" in world:
        read_as_admin("/v1/instruments/own")
        for label in (world["own"], f"{world['own']}.1"):
            read(f"/v1/instruments/oca/versions/{label}")
    for org in orgs:
        read(f"/v1/organizations/{org['id']}")
        for instrument in ("oca", "nupas"):
            read(f"/v1/organizations/{org['id']}/series", instrument_id=instrument)
    read(
        f"/v1/organizations/{world['orgs'][0]}/comparison",
        instrument_id="oca",
        baseline="baseline",
        endline="endline",
    )
    for a in assessments:
        read(f"/v1/assessments/{a['id']}")
        evidence = json.loads(read(f"/v1/assessments/{a['id']}/evidence"))["evidence"]
        for e in evidence:
            if e["kind"] == "file":
                read(f"/v1/assessments/{a['id']}/evidence/{e['id']}/file")
        if a["status"] != "draft":
            read(f"/v1/assessments/{a['id']}/scores")
            read(f"/v1/assessments/{a['id']}/verification")
        else:
            read_as_admin(f"/v1/assessments/{a['id']}/ratings")
            for code in ("R01", "R02", "R03"):
                resp = client.get(f"/v1/assessments/{a['id']}/ratings/{code}", headers=admin)
                seen[f"{a['id']} {code}"] = (resp.status_code, resp.content)
    read("/v1/cohorts")
    read(f"/v1/cohorts/{world['cohort']}")
    read(f"/v1/cohorts/{world['cohort']}/comparison", instrument_id="oca")
    read(f"/v1/cohorts/{world['cohort']}/comparison", instrument_id="oca", threshold=0.5)
    read(f"/v1/cohorts/{world['cohort']}/cbld-9", fiscal_year=2025)
    audit = client.get("/v1/audit", params={"limit": 200}, headers=admin)
    assert audit.status_code == 200, audit.text
    seen["audit"] = [{k: v for k, v in e.items() if k != "id"} for e in audit.json()["items"]]
    return seen


# --- databases ------------------------------------------------------------------------------------


def evidence_in(store: Path) -> list[Path]:
    """The files an evidence folder holds (its staging area is always left empty)."""
    return sorted(store.glob("??/*")) + sorted(store.glob(".incoming/*"))


def _settings(url: str, tmp: Path) -> Settings:
    return Settings(
        database_url=url,
        instruments_dir=INSTRUMENTS,
        data_dir=tmp,
        auth_failures_per_address=1_000_000,
        rate_limit_per_address=0,
        rate_limit_per_key=0,
    )


@pytest.fixture()
def fresh_pg() -> Iterator[str]:
    url = os.environ.get("OCA_ARCHIVE_PG_URL") or own_postgres_database("archive")
    if os.environ.get("OCA_ARCHIVE_PG_URL"):
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    migrate.upgrade(url)
    yield url


def cli(
    url: str, *args: str, evidence: Path | None = None, s3: dict[str, str] | None = None
) -> tuple[int, str]:
    env = {"OCA_DATABASE_URL": url, **(s3 or {})}
    if evidence is not None:
        env["OCA_EVIDENCE_DIR"] = str(evidence)
    result = CliRunner().invoke(cli_app, list(args), env=env)
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.output


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        found = {
            t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in (*TABLES, "person", "membership", "verified_answer")
        }
        own = "SELECT count(*) FROM instrument_version WHERE workspace_id IS NOT NULL"
        return {**found, "instrument_version": conn.execute(text(own)).scalar_one()}


# --- the round trip -------------------------------------------------------------------------------


def test_round_trip_sqlite_postgresql_sqlite_answers_alike(
    tenant: Tenant,
    session: Session,
    client: TestClient,
    settings: Settings,
    database_url: str,
    catalog: Catalog,
    fresh_pg: str,
    tmp_path: Path,
) -> None:
    world = build_workspace(tenant, session)
    add_own_version(tenant, world)
    source = answers(client, tenant, world)
    first = tmp_path / "first.zip"
    mine = settings.evidence_folder
    code, output = cli(
        database_url, "workspace", "export", tenant.name, "--to", str(first), evidence=mine
    )
    assert code == 0, output
    code, output = cli(
        database_url, "workspace", "export", tenant.name, "--to", str(first), evidence=mine
    )
    assert code == 1 and "exists already" in output

    # each target database has an evidence folder of its own
    data = {name: tmp_path / name for name in ("lite", "pg", "back")}
    stores = {name: folder / "evidence" for name, folder in data.items()}

    # into a new SQLite file, by the command (which creates and migrates it)
    lite = f"sqlite:///{tmp_path / 'first.db'}"
    code, output = cli(
        lite, "workspace", "import", str(first), "--keep-keys-active", evidence=stores["lite"]
    )
    assert code == 0, output
    assert "7 score(s) recomputed" in output and "7 by the same engine version" in output

    # into a new PostgreSQL database, by the service; then out of it again
    pg_settings = _settings(fresh_pg, data["pg"])
    pg_engine = make_engine(fresh_pg)
    with make_sessionmaker(pg_engine)() as pg:
        files = EvidenceFiles.of(pg_settings)
        report = import_workspace(pg, catalog, first, files=files, keep_keys_active=True)
        assert (report.keys_revoked, report.links_revoked, report.scores_recomputed) == (0, 0, 7)
        assert report.counts["evidence"] == 3
        assert (report.counts["instrument_version"], report.counts["rating"]) == (2, 9)
        assert report.counts["verified_answer"] == 2
        second = tmp_path / "second.zip"
        export_workspace(pg, tenant.name, second, files.store)
    pg_engine.dispose()

    # and back into SQLite
    back = f"sqlite:///{tmp_path / 'back.db'}"
    code, output = cli(
        back, "workspace", "import", str(second), "--keep-keys-active", evidence=stores["back"]
    )
    assert code == 0, output

    for name, url in (("lite", lite), ("pg", fresh_pg), ("back", back)):
        assert len(evidence_in(stores[name])) == 2  # the PDF and the Word document
        with TestClient(create_app(_settings(url, data[name]))) as target:
            got = answers(target, tenant, world)
        for key, value in source.items():
            assert got[key] == value, (url, key)
        assert got.keys() == source.keys()
    files_read = [k for k in source if k.endswith("/file []")]
    assert len(files_read) == 2
    assert {source[k][0] for k in files_read} == {evidence_files.pdf(), evidence_files.docx()}

    # the same rows came back: people with their password hash, members, answers with notes
    def people(url: str) -> list[tuple[Any, ...]]:
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                return [
                    tuple(r)
                    for r in conn.execute(
                        select(Person.id, Person.email, Person.password_hash, Membership.role)
                        .join(Membership, Membership.person_id == Person.id)
                        .where(Membership.workspace_id == tenant.principal.workspace_id)
                    )
                ]
        finally:
            engine.dispose()

    assert people(database_url) == people(back) != []
    # both archives say the same thing, table by table
    with zipfile.ZipFile(first) as one, zipfile.ZipFile(second) as two:
        a, b = json.loads(one.read("manifest.json")), json.loads(two.read("manifest.json"))
        assert a["tables"] == b["tables"]
        assert b["source_database"] == "postgresql"


def test_keys_come_back_revoked_by_default(
    tenant: Tenant, session: Session, settings: Settings, database_url: str, tmp_path: Path
) -> None:
    world = build_workspace(tenant, session)
    archive = tmp_path / "ws.zip"
    mine = settings.evidence_folder
    assert (
        cli(database_url, "workspace", "export", tenant.name, "--to", str(archive), evidence=mine)[
            0
        ]
        == 0
    )
    target = f"sqlite:///{tmp_path / 't.db'}"
    code, output = cli(
        target, "workspace", "import", str(archive), "--as", "moved", evidence=tmp_path / "evidence"
    )
    assert code == 0, output
    assert "3 API key(s) imported revoked" in output
    assert "1 rater link(s) imported revoked" in output
    with TestClient(create_app(_settings(target, tmp_path / "data"))) as moved:
        resp = moved.get(f"/v1/organizations/{world['orgs'][0]}", headers=tenant.headers("viewer"))
        assert resp.status_code == 401
    # the same archive again: the name is taken, then the ids are
    code, output = cli(
        target, "workspace", "import", str(archive), "--as", "moved", evidence=tmp_path / "evidence"
    )
    assert code == 1 and "a workspace named 'moved' exists" in output
    code, output = cli(
        target, "workspace", "import", str(archive), "--as", "again", evidence=tmp_path / "evidence"
    )
    assert code == 1 and "exist in this database already" in output
    engine = make_engine(target)
    try:
        with engine.connect() as conn:
            links = conn.execute(select(Rater.link_hash, Rater.link_revoked_at)).all()
    finally:
        engine.dispose()
    assert [revoked is not None for hash_, revoked in links if hash_] == [True]


# --- bad archives ---------------------------------------------------------------------------------


def _entries(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _rewrite(
    path: Path, target: Path, change: Callable[[dict[str, bytes], dict[str, Any]], None]
) -> Path:
    """A copy of an archive changed by ``change`` (entries and parsed manifest); table checksums
    are brought up to date afterwards unless the change set them, so only the change differs."""
    entries = _entries(path)
    manifest = json.loads(entries.pop("manifest.json"))
    before = {n: t["sha256"] for n, t in manifest["tables"].items()}
    change(entries, manifest)
    for name, table in manifest["tables"].items():
        if table["sha256"] == before[name] and table["entry"] in entries:
            table["sha256"] = hashlib.sha256(entries[table["entry"]]).hexdigest()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("manifest.json", json.dumps(manifest))
        for name, data in entries.items():
            zf.writestr(zipfile.ZipInfo(name), data)
    target.write_bytes(buffer.getvalue())
    return target


def _edit_rows(
    entries: dict[str, bytes], table: str, edit: Callable[[dict[str, Any]], None]
) -> None:
    rows = [json.loads(line) for line in entries[f"tables/{table}.jsonl"].splitlines()]
    edit(rows[0])
    entries[f"tables/{table}.jsonl"] = b"".join(
        json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in rows
    )


def _version(_: dict[str, bytes], manifest: dict[str, Any]) -> None:
    manifest["format_version"] = 3


def _count(_: dict[str, bytes], manifest: dict[str, Any]) -> None:
    manifest["tables"]["organization"]["count"] += 1


def _traversal(entries: dict[str, bytes], _: dict[str, Any]) -> None:
    entries["../../evil.sh"] = b"echo owned"


def _stray(entries: dict[str, bytes], _: dict[str, Any]) -> None:
    entries["tables/extra.jsonl"] = b""


def _tampered_row(entries: dict[str, bytes], manifest: dict[str, Any]) -> None:
    entries["tables/answer.jsonl"] = entries["tables/answer.jsonl"].replace(
        b'"value":', b'"valu":', 1
    )
    manifest["tables"]["answer"]["sha256"] = "0" * 64  # left as it is: a checksum mismatch


def _foreign_org(entries: dict[str, bytes], _: dict[str, Any]) -> None:
    _edit_rows(entries, "assessment", lambda r: r.update(organization_id=str(_SOMEONE_ELSES)))


def _hash(_: dict[str, bytes], manifest: dict[str, Any]) -> None:
    manifest["instruments"][0]["content_hash"] = "f" * 64


def _bad_role(entries: dict[str, bytes], _: dict[str, Any]) -> None:
    # passes every check of the file; the database's CHECK constraint refuses it mid-import
    _edit_rows(entries, "membership", lambda r: r.update(role="owner"))


def _bad_tags(entries: dict[str, bytes], _: dict[str, Any]) -> None:
    _edit_rows(entries, "organization", lambda r: r.update(tags={"not": "a list"}))


def _evidence(entries: dict[str, bytes], media_type: str | None) -> dict[str, Any]:
    """The evidence row of this file type (None: the link), changed in place by the caller and
    written back by ``_put_evidence``."""
    rows = [json.loads(line) for line in entries["tables/evidence.jsonl"].splitlines()]
    return next(r for r in rows if r["media_type"] == media_type)


def _put_evidence(entries: dict[str, bytes], changed: dict[str, Any]) -> None:
    rows = [json.loads(line) for line in entries["tables/evidence.jsonl"].splitlines()]
    rows = [changed if r["id"] == changed["id"] else r for r in rows]
    entries["tables/evidence.jsonl"] = b"".join(
        json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in rows
    )


_DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _file_changed(entries: dict[str, bytes], _: dict[str, Any]) -> None:
    # the second file: the first is stored by then, and must be deleted again
    name = f"evidence/{_evidence(entries, _DOCX)['id']}"
    entries[name] = entries[name][:-1] + b"!"


def _file_missing(entries: dict[str, bytes], _: dict[str, Any]) -> None:
    del entries[f"evidence/{_evidence(entries, 'application/pdf')['id']}"]


def _as_pdf(data: bytes) -> Callable[[dict[str, bytes], dict[str, Any]], None]:
    """Other bytes under the PDF's row, with their own size and SHA-256."""

    def change(entries: dict[str, bytes], _: dict[str, Any]) -> None:
        row = _evidence(entries, "application/pdf")
        entries[f"evidence/{row['id']}"] = data
        digest = hashlib.sha256(data).hexdigest()
        _put_evidence(entries, {**row, "size": len(data), "sha256": digest})

    return change


def _script_link(entries: dict[str, bytes], _: dict[str, Any]) -> None:
    _put_evidence(entries, {**_evidence(entries, None), "url": "javascript:alert(1)"})


_SOMEONE_ELSES = "00000000-0000-4000-8000-000000000001"

BAD = [
    ("version", _version, "archive format version 3"),
    ("counts", _count, "tables/organization.jsonl holds 3 row(s); manifest.json says 4"),
    ("traversal", _traversal, "unsafe entry name(s) in the archive: ../../evil.sh"),
    ("stray entry", _stray, "unexpected entry name(s) in the archive: tables/extra.jsonl"),
    ("checksum", _tampered_row, "tables/answer.jsonl does not match its checksum"),
    ("foreign reference", _foreign_org, "names nothing in this archive"),
    ("tags", _bad_tags, "table organization: tags must be a list of texts"),
    ("instrument hash", _hash, "instrument versions differ from this server's"),
    ("constraint", _bad_role, "the database refused a row of the archive; nothing was imported"),
    ("evidence file changed", _file_changed, "differs from its size or sha256"),
    ("evidence file missing", _file_missing, "evidence files and rows do not match"),
    ("html as pdf", _as_pdf(evidence_files.HTML), "is not one of the allowed kinds"),
    ("png as pdf", _as_pdf(evidence_files.png()), "is not the application/pdf it claims"),
    ("script link", _script_link, "not a link evidence can be"),
]


@pytest.fixture()
def good_archive(
    tenant: Tenant, session: Session, settings: Settings, database_url: str, tmp_path: Path
) -> Path:
    build_workspace(tenant, session)
    path = tmp_path / "good.zip"
    mine = settings.evidence_folder
    assert (
        cli(database_url, "workspace", "export", tenant.name, "--to", str(path), evidence=mine)[0]
        == 0
    )
    return path


@pytest.fixture()
def target(tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    url = f"sqlite:///{tmp_path / 'target.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    yield url, engine
    engine.dispose()


@pytest.mark.parametrize(
    ("change", "message"), [(c, m) for _, c, m in BAD], ids=[n for n, *_ in BAD]
)
def test_a_bad_archive_is_refused_and_writes_nothing(
    good_archive: Path,
    target: tuple[str, Engine],
    tmp_path: Path,
    change: Callable[[dict[str, bytes], dict[str, Any]], None],
    message: str,
) -> None:
    url, engine = target
    bad = _rewrite(good_archive, tmp_path / "bad.zip", change)
    before = counts(engine)
    code, output = cli(url, "workspace", "import", str(bad), evidence=tmp_path / "evidence")
    assert code == 1
    assert message in " ".join(output.split()), output
    assert counts(engine) == before
    assert evidence_in(tmp_path / "evidence") == []  # no file stored for rows never written
    # the untouched archive still imports: the refusal was about the change alone
    code, output = cli(
        url, "workspace", "import", str(good_archive), evidence=tmp_path / "evidence"
    )
    assert code == 0, output
    assert len(evidence_in(tmp_path / "evidence")) == 2


def test_a_truncated_or_foreign_file_is_refused(
    good_archive: Path, target: tuple[str, Engine], tmp_path: Path, catalog: Catalog
) -> None:
    url, engine = target
    data = good_archive.read_bytes()
    cut = tmp_path / "cut.zip"
    cut.write_bytes(data[: len(data) // 2])
    not_zip = tmp_path / "notes.zip"
    not_zip.write_text("hello")
    before = counts(engine)
    for path in (cut, not_zip):
        code, output = cli(url, "workspace", "import", str(path), evidence=tmp_path / "evidence")
        assert code == 1 and "is not a readable zip archive" in output, output
    with make_sessionmaker(engine)() as s, pytest.raises(ArchiveError, match="truncated"):
        import_workspace(s, catalog, cut, files=EvidenceFiles.of(_settings(url, tmp_path)))
    assert counts(engine) == before


def test_database_backup_of_a_running_sqlite(
    good_archive: Path, target: tuple[str, Engine], tmp_path: Path
) -> None:
    url, engine = target
    assert (
        cli(url, "workspace", "import", str(good_archive), evidence=tmp_path / "evidence")[0] == 0
    )
    copy = tmp_path / "copy.db"
    with engine.connect() as reader:  # a reader holds the database open, as a server would
        reader.execute(text("SELECT count(*) FROM assessment")).scalar_one()
        code, output = cli(url, "db", "backup", "--to", str(copy))
    assert code == 0 and "integrity check ok" in output, output
    copied = make_engine(f"sqlite:///{copy}")
    try:
        assert counts(copied) == counts(engine)
    finally:
        copied.dispose()
    code, output = cli(url, "db", "backup", "--to", str(copy))
    assert code == 1 and "exists already" in output


def test_a_person_with_an_account_here_keeps_it_and_joins(
    good_archive: Path, target: tuple[str, Engine], database_url: str, tmp_path: Path
) -> None:
    url, engine = target
    with zipfile.ZipFile(good_archive) as zf:
        person = json.loads(zf.read("tables/person.jsonl").splitlines()[0])
    with make_sessionmaker(engine)() as here:
        mine = create_person(
            here,
            email=person["email"],
            name="Ana here",
            password="another long password",
            workspace="elsewhere",
            role="viewer",
        )
    code, output = cli(
        url, "workspace", "import", str(good_archive), evidence=tmp_path / "evidence"
    )
    assert code == 0, output
    assert f"already had an account here (kept their password): {person['email']}" in " ".join(
        output.split()
    )
    with engine.connect() as conn:
        rows = conn.execute(
            select(Person.id, Person.password_hash, Membership.role)
            .join(Membership, Membership.person_id == Person.id)
            .where(Person.email == person["email"])
            .order_by(Membership.role)
        ).all()
    assert [(r.id, r.role) for r in rows] == [(mine.id, "editor"), (mine.id, "viewer")]
    assert {r.password_hash for r in rows} == {mine.password_hash} != {person["password_hash"]}


# --- older archives and the workspace's own versions ----------------------------------------------

_NEW_IN_2 = ("instrument_version", "rater", "rating", "verified_answer")


def _as_version_1(entries: dict[str, bytes], manifest: dict[str, Any]) -> None:
    """An archive as version 1 wrote it before evidence: without the tables added since."""
    manifest["format_version"] = 1
    for table in (*_NEW_IN_2, "evidence"):
        del entries[manifest["tables"].pop(table)["entry"]]
    for name in [n for n in entries if n.startswith("evidence/")]:
        del entries[name]


def test_a_version_1_archive_still_imports(
    good_archive: Path, target: tuple[str, Engine], tmp_path: Path
) -> None:
    url, engine = target
    old = _rewrite(good_archive, tmp_path / "v1.zip", _as_version_1)
    before = counts(engine)
    code, output = cli(url, "workspace", "import", str(old), evidence=tmp_path / "evidence")
    assert code == 0, output
    after = counts(engine)
    assert after["assessment"] - before["assessment"] == 7
    assert after["answer"] > before["answer"]
    assert [after[t] - before[t] for t in (*_NEW_IN_2, "evidence")] == [0] * 5
    # a version-2 archive must describe every table
    partial = _rewrite(
        good_archive, tmp_path / "v2.zip", lambda e, m: e.pop(m["tables"].pop("rater")["entry"])
    )
    code, output = cli(url, "workspace", "import", str(partial), evidence=tmp_path / "evidence")
    assert code == 1 and "'tables' must describe exactly" in output, output


@pytest.fixture()
def own_archive(
    tenant: Tenant, session: Session, settings: Settings, database_url: str, tmp_path: Path
) -> tuple[Path, str]:
    label = add_own_version(tenant, build_workspace(tenant, session))
    path = tmp_path / "own.zip"
    mine = settings.evidence_folder
    code, output = cli(
        database_url, "workspace", "export", tenant.name, "--to", str(path), evidence=mine
    )
    assert code == 0, output
    return path, label


def _reworded(entries: dict[str, bytes], _: dict[str, Any]) -> None:
    """A published version's text changed in the archive, its hash left as it was."""
    _edit_rows(
        entries,
        "instrument_version",
        lambda r: r.update(content=r["content"].replace("title:", "title: ", 1)),
    )


def test_own_versions_keep_their_text_and_their_labels_never_collide(
    own_archive: tuple[Path, str], target: tuple[str, Engine], tmp_path: Path
) -> None:
    archive, label = own_archive
    url, engine = target
    evidence = tmp_path / "evidence"
    changed = _rewrite(archive, tmp_path / "changed.zip", _reworded)
    before = counts(engine)
    code, output = cli(url, "workspace", "import", str(changed), evidence=evidence)
    assert code == 1 and "its text does not give its content hash" in output, output
    # another workspace here has taken one of the labels: refused, naming it, nothing written
    with make_sessionmaker(engine)() as here:
        create_person(
            here,
            email="someone@example.org",
            name="Someone",
            password="a long enough password",
            workspace="elsewhere",
            role="admin",
        )
        elsewhere = here.scalar(select(Workspace.id).where(Workspace.name == "elsewhere"))
        here.add(
            InstrumentVersion(
                instrument_id="oca",
                version=label,
                content_hash="0" * 64,
                title="theirs",
                loaded_at=now(),
                workspace_id=elsewhere,
                status="draft",
                content="theirs",
            )
        )
        here.commit()
    before = counts(engine)
    code, output = cli(url, "workspace", "import", str(archive), "--as", "x", evidence=evidence)
    assert code == 1, output
    assert f"in use in this database already (labels are unique service-wide): oca {label};" in (
        " ".join(output.split())
    )
    assert counts(engine) == before
    assert evidence_in(evidence) == []


# --- evidence in an S3 bucket ---------------------------------------------------------------------


def test_a_workspace_moves_into_and_out_of_an_s3_store(
    good_archive: Path, target: tuple[str, Engine], tmp_path: Path, s3_server: S3Server
) -> None:
    """Imported with its files into a bucket (tests/s3.py), exported from it again: the same
    bytes for each file; a bucket that is missing stops both with one line, writing nothing."""
    url, engine = target
    staging = tmp_path / "staging"
    missing = s3_server.env("oca-no-such-bucket")
    before = counts(engine)
    code, output = cli(url, "workspace", "import", str(good_archive), evidence=staging, s3=missing)
    assert code == 1 and "the evidence store has no bucket" in output, output
    assert counts(engine) == before
    assert evidence_in(staging) == []

    bucket = s3_server.new_bucket()
    into = s3_server.env(bucket)
    code, output = cli(url, "workspace", "import", str(good_archive), evidence=staging, s3=into)
    assert code == 0, output
    stored = s3_server.objects(bucket)
    assert len(stored) == 2 and all(name.startswith("evidence/") for name in stored)
    assert sorted(stored.values()) == sorted([evidence_files.pdf(), evidence_files.docx()])
    assert evidence_in(staging) == []  # nothing left behind in the local folder

    out = tmp_path / "from-s3.zip"
    name = json.loads(zipfile.ZipFile(good_archive).read("manifest.json"))["workspace"]["name"]
    code, output = cli(url, "workspace", "export", name, "--to", str(out), s3=missing)
    assert code == 1 and "the evidence store has no bucket" in output, output
    assert not out.exists()
    code, output = cli(url, "workspace", "export", name, "--to", str(out), s3=into)
    assert code == 0, output

    def files_of(archive: Path) -> dict[str, bytes]:
        with zipfile.ZipFile(archive) as zf:
            return {n: zf.read(n) for n in zf.namelist() if n.startswith("evidence/")}

    assert files_of(out) == files_of(good_archive) != {}
