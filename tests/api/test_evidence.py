"""Evidence on items (issue 12): real PDF, PNG and Word files kept and served back as attachments;
hostile files (a program renamed .pdf, HTML, a zip bomb, macros, an oversized file) refused with
nothing stored; links checked; verification status with who and when; roles, final assessments
and other workspaces; the store never keeps a file no row names. The tests of files run against
both stores: the folder, and an S3 bucket on a real S3-compatible server (tests/s3.py); what
only the S3 store does is in test_evidence_s3.py."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from app.config import Settings
from app.main import create_app
from app.services.evidence_store import FolderStore
from app.services.evidence_store import store_of as configured_store
from tests.api import evidence_files as files
from tests.api.factories import (
    assert_problem,
    audit_events,
    call,
    create_assessment,
    create_org,
    db_counts,
    error_codes,
    finalize,
    get,
    item_keys,
    ok,
    scored,
)
from tests.conftest import ContractClient, Tenant

ITEM, OTHER_ITEM = item_keys("oca")[:2]
LIMIT = 256 * 1024
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture(scope="module", params=["folder", "s3"])
def own_client(
    request: pytest.FixtureRequest, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """The app with an evidence store of its own (so its files can be counted: a folder, or a
    bucket of the S3 server) and a small size limit."""
    own = settings.model_copy(
        update={"evidence_dir": tmp_path_factory.mktemp("evidence"), "evidence_max_bytes": LIMIT}
    )
    if request.param == "s3":
        server = request.getfixturevalue("s3_server")
        own = server.settings(own, server.new_bucket())
    with ContractClient(create_app(own), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture()
def me(session: Session, own_client: TestClient) -> Tenant:
    return Tenant(session, own_client)


def store_of(tenant: Tenant) -> Any:
    """The app's own store (FolderStore or S3Store: both list their keys)."""
    return configured_store(tenant.client.app.state.settings)  # type: ignore[attr-defined]


def staging_of(tenant: Tenant) -> Path:
    return Path(tenant.client.app.state.settings.evidence_folder) / ".incoming"  # type: ignore[attr-defined]


def upload(
    tenant: Any,
    a: dict[str, Any],
    name: str,
    data: bytes,
    content_type: str = "application/octet-stream",
    item: str = ITEM,
    role: str = "editor",
    **form: str,
) -> Any:
    url = f"/v1/assessments/{a['id']}/items/{item}/evidence/files"
    return call(tenant, "POST", url, role, files={"file": (name, data, content_type)}, data=form)


def link(tenant: Any, a: dict[str, Any], url: str, item: str = ITEM, **kw: Any) -> Any:
    body = {"url": url, **kw}
    return call(tenant, "POST", f"/v1/assessments/{a['id']}/items/{item}/evidence", json=body)


def draft(tenant: Any) -> dict[str, Any]:
    return create_assessment(tenant, create_org(tenant)["id"])


def key_of(engine: Engine, evidence_id: str) -> str:
    with engine.connect() as conn:
        found = conn.execute(
            text("SELECT storage_key FROM evidence WHERE id = :i"),
            {"i": evidence_id.replace("-", "") if engine.dialect.name == "sqlite" else evidence_id},
        ).scalar_one()
    assert isinstance(found, str)
    return found


@pytest.mark.parametrize(
    ("name", "data", "media_type"),
    [
        ("Estados financieros 2025.pdf", files.pdf(), "application/pdf"),
        ("photo of the board.png", files.png(), "image/png"),
        ("minutes.docx", files.docx(), DOCX),
        ("budget.xlsx", files.xlsx(), XLSX),
    ],
    ids=["pdf", "png", "docx", "xlsx"],
)
def test_a_real_file_is_kept_and_served_back_as_an_attachment(
    me: Tenant, name: str, data: bytes, media_type: str
) -> None:
    a = draft(me)
    # the client's Content-Type is not believed: the type comes from the bytes
    e = ok(upload(me, a, name, data, "text/html", note="Signed by the treasurer"), 201)
    assert (e["kind"], e["item"], e["title"], e["note"]) == (
        "file",
        ITEM,
        name,
        "Signed by the treasurer",
    )
    assert e["file"] == {
        "name": name,
        "media_type": media_type,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    assert (e["status"], e["status_by"]) == ("self_reported", "key:" + e["created_by"][4:])
    assert e["created_by"].startswith("key:")
    # a viewer reads and downloads it
    r = call(me, "GET", f"/v1/assessments/{a['id']}/evidence/{e['id']}/file", "viewer")
    assert r.status_code == 200 and r.content == data
    assert r.headers["content-type"] == media_type
    assert r.headers["content-disposition"].startswith("attachment;")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in r.headers["content-security-policy"]
    assert get(me, f"/v1/assessments/{a['id']}/evidence/{e['id']}") == e


def test_the_download_name_is_safe_and_keeps_the_real_extension(me: Tenant) -> None:
    a = draft(me)
    e = ok(upload(me, a, "../../etc/Informe «anual».html", files.pdf()), 201)
    assert e["file"]["name"] == "Informe «anual».html"  # the last part only, kept as shown
    r = call(me, "GET", f"/v1/assessments/{a['id']}/evidence/{e['id']}/file")
    disposition = r.headers["content-disposition"]
    assert 'filename="Informe_anual.pdf"' in disposition
    assert "/" not in disposition.split("filename*=")[0]
    assert r.headers["content-type"] == "application/pdf"


HOSTILE = [
    ("report.pdf", files.EXE, "application/pdf", "type_not_allowed"),
    ("setup.exe", files.EXE, "application/x-msdownload", "type_not_allowed"),
    ("report.pdf", files.HTML, "application/pdf", "type_not_allowed"),
    ("chart.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script/></svg>', "image/svg+xml",
     "type_not_allowed"),
    ("old.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "application/msword",
     "type_not_allowed"),
    ("bomb.docx", files.zip_bomb_docx(), DOCX, "zip_bomb"),
    ("macros.docx", files.macro_docx(), DOCX, "macros"),
    ("entities.docx", files.dtd_docx(), DOCX, "unsafe_xml"),
    ("parts.docx", files.many_parts_zip(), DOCX, "too_many_parts"),
    ("truncated.docx", files.docx()[:300], DOCX, "not_a_workbook"),
    ("empty.pdf", b"", "application/pdf", "empty"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "data", "content_type", "code"), HOSTILE, ids=[h[0] + "-" + h[3] for h in HOSTILE]
)
def test_a_hostile_file_is_refused_and_nothing_is_stored(
    me: Tenant, engine: Engine, name: str, data: bytes, content_type: str, code: str
) -> None:
    a = draft(me)
    store = store_of(me)
    before, counts = set(store.keys()), db_counts(engine)
    body = assert_problem(upload(me, a, name, data, content_type), 422)
    assert error_codes(body) == [(None, code)]
    assert body["errors"][0]["detail_es"]
    assert set(store.keys()) == before
    assert db_counts(engine) == counts
    assert list(staging_of(me).iterdir()) == []  # the staged copy is gone too


def test_an_oversized_file_is_refused_while_it_arrives(me: Tenant, engine: Engine) -> None:
    a = draft(me)
    before, counts = set(store_of(me).keys()), db_counts(engine)
    big = files.pdf() + b"%" * LIMIT
    body = assert_problem(upload(me, a, "big.pdf", big), 413, "content-too-large")
    assert body["limit"] == LIMIT
    assert (set(store_of(me).keys()), db_counts(engine)) == (before, counts)
    ok(upload(me, a, "fits.pdf", files.pdf() + b"%" * (LIMIT - 2000)), 201)


def test_the_same_file_twice_is_refused_by_the_database_and_leaves_no_file(
    me: Tenant, engine: Engine
) -> None:
    """The file is stored before its row; when the database refuses the row (its unique
    constraint), the stored file is deleted again."""
    a = draft(me)
    store = store_of(me)
    first = ok(upload(me, a, "a.pdf", files.pdf()), 201)
    keys = set(store.keys())
    assert key_of(engine, first["id"]) in keys
    body = assert_problem(upload(me, a, "same bytes, other name.pdf", files.pdf()), 409)
    assert "already" in body["detail"]
    assert set(store.keys()) == keys
    # the same file on another item is fine
    ok(upload(me, a, "a.pdf", files.pdf(), item=OTHER_ITEM), 201)


def test_deleting_evidence_removes_its_file(me: Tenant, engine: Engine) -> None:
    a = draft(me)
    e = ok(upload(me, a, "photo.png", files.png()), 201)
    key = key_of(engine, e["id"])
    assert key in set(store_of(me).keys())
    ok(call(me, "DELETE", f"/v1/assessments/{a['id']}/evidence/{e['id']}"), 204)
    assert key not in set(store_of(me).keys())
    assert_problem(call(me, "GET", f"/v1/assessments/{a['id']}/evidence/{e['id']}/file"), 404)
    newest_first = [x["action"] for x in audit_events(me)]
    assert newest_first[:2] == ["evidence.delete", "evidence.add"]


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "file:///etc/passwd",
        "ftp://example.org/report.pdf",
        "https://user:secret@example.org/",
        "https:///no-host",
        "https://example.org/" + "a" * 2000,
        "https://example.org/with space",
        "https://exämple.org/",
    ],
)
def test_a_bad_link_is_refused(tenant: Any, engine: Engine, url: str) -> None:
    a = draft(tenant)
    counts = db_counts(engine)
    resp = link(tenant, a, url)
    assert_problem(resp, 422)
    assert db_counts(engine) == counts


def test_links_are_kept_and_counted_per_item_on_the_assessment(tenant: Any) -> None:
    a = scored(tenant, create_org(tenant)["id"])  # submitted: evidence may still be added
    scores = get(tenant, f"/v1/assessments/{a['id']}/scores")
    first = ok(link(tenant, a, "https://example.org/annual-report", title="Annual report"), 201)
    assert (first["kind"], first["url"], first["file"]) == (
        "link",
        "https://example.org/annual-report",
        None,
    )
    second = ok(link(tenant, a, "http://example.org/minutes", item=OTHER_ITEM), 201)
    assert second["title"] == "example.org"
    assert_problem(link(tenant, a, "https://example.org/annual-report"), 409)
    path = f"/v1/assessments/{a['id']}/evidence/{second['id']}"
    ok(call(tenant, "PATCH", path, json={"status": "verified"}))
    read = get(tenant, f"/v1/assessments/{a['id']}")
    assert read["evidence"] == [
        {"item": ITEM, "count": 1, "self_reported": 1, "reviewed": 0, "verified": 0},
        {"item": OTHER_ITEM, "count": 1, "self_reported": 0, "reviewed": 0, "verified": 1},
    ]
    listed = get(tenant, f"/v1/assessments/{a['id']}/evidence")
    assert [e["id"] for e in listed["evidence"]] == [first["id"], second["id"]]
    assert listed["items"] == read["evidence"]
    only = get(tenant, f"/v1/assessments/{a['id']}/evidence", params={"item": OTHER_ITEM})
    assert [e["id"] for e in only["evidence"]] == [second["id"]]
    # evidence never changes a score
    assert get(tenant, f"/v1/assessments/{a['id']}/scores") == scores


def test_the_verification_status_records_who_and_when(tenant: Any) -> None:
    a = draft(tenant)
    e = ok(link(tenant, a, "https://example.org/policy"), 201)
    path = f"/v1/assessments/{a['id']}/evidence/{e['id']}"
    reviewed = ok(call(tenant, "PATCH", path, "admin", json={"status": "reviewed"}))
    admin_name = reviewed["status_by"]
    assert admin_name.startswith("key:") and admin_name != e["status_by"]
    assert reviewed["status_at"] > e["status_at"]
    assert reviewed["created_by"] == e["created_by"]
    # a title change alone keeps who set the status, and when
    retitled = ok(call(tenant, "PATCH", path, json={"title": "Policy", "note": "p. 4"}))
    assert (retitled["status_by"], retitled["status_at"]) == (admin_name, reviewed["status_at"])
    assert (retitled["title"], retitled["note"]) == ("Policy", "p. 4")
    assert_problem(call(tenant, "PATCH", path, json={"status": "approved"}), 422)
    events = [x for x in audit_events(tenant) if x["action"] == "evidence.update"]
    assert [x["changes"].get("status") for x in events] == [None, ["self_reported", "reviewed"]]
    assert events[1]["actor"] == admin_name


def test_viewers_read_but_do_not_write(me: Tenant, engine: Engine) -> None:
    a = draft(me)
    e = ok(link(me, a, "https://example.org/x"), 201)
    counts = db_counts(engine)
    assert_problem(upload(me, a, "a.pdf", files.pdf(), role="viewer"), 403)
    url = f"/v1/assessments/{a['id']}/items/{ITEM}/evidence"
    assert_problem(call(me, "POST", url, "viewer", json={"url": "https://example.org/y"}), 403)
    path = f"/v1/assessments/{a['id']}/evidence/{e['id']}"
    assert_problem(call(me, "PATCH", path, "viewer", json={"status": "verified"}), 403)
    assert_problem(call(me, "DELETE", path, "viewer"), 403)
    assert db_counts(engine) == counts
    assert get(me, path)["status"] == "self_reported"


def test_a_final_assessment_keeps_its_evidence_as_it_is(me: Tenant, engine: Engine) -> None:
    a = scored(me, create_org(me)["id"])
    e = ok(upload(me, a, "a.pdf", files.pdf()), 201)
    finalize(me, a["id"])
    before, counts = set(store_of(me).keys()), db_counts(engine)
    assert_problem(upload(me, a, "b.png", files.png()), 409)
    assert_problem(link(me, a, "https://example.org/late"), 409)
    path = f"/v1/assessments/{a['id']}/evidence/{e['id']}"
    assert_problem(call(me, "PATCH", path, json={"status": "verified"}), 409)
    assert_problem(call(me, "DELETE", path), 409)
    assert (set(store_of(me).keys()), db_counts(engine)) == (before, counts)
    assert call(me, "GET", path + "/file").content == files.pdf()


def test_unknown_items_and_other_workspaces_are_not_found(
    me: Tenant, session: Session, own_client: TestClient, engine: Engine
) -> None:
    a = draft(me)
    e = ok(upload(me, a, "a.pdf", files.pdf()), 201)
    assert_problem(upload(me, a, "a.pdf", files.pdf(), item="no.such.item"), 404)
    other = Tenant(session, own_client)
    mine = draft(other)
    before, counts = set(store_of(me).keys()), db_counts(engine)
    for resp in (
        upload(other, a, "b.pdf", files.png()),
        link(other, a, "https://example.org/x"),
        call(other, "GET", f"/v1/assessments/{a['id']}/evidence"),
        call(other, "GET", f"/v1/assessments/{a['id']}/evidence/{e['id']}"),
        call(other, "GET", f"/v1/assessments/{a['id']}/evidence/{e['id']}/file"),
        call(other, "PATCH", f"/v1/assessments/{a['id']}/evidence/{e['id']}", json={}),
        call(other, "DELETE", f"/v1/assessments/{a['id']}/evidence/{e['id']}"),
    ):
        assert_problem(resp, 404)
    # the other workspace's own assessment does not reach this evidence either
    path = f"/v1/assessments/{mine['id']}/evidence/{e['id']}"
    assert_problem(call(other, "GET", path + "/file"), 404)
    assert_problem(call(other, "DELETE", path), 404)
    assert (set(store_of(me).keys()), db_counts(engine)) == (before, counts)


def test_the_store_refuses_keys_that_are_not_its_own(tmp_path: Path) -> None:
    store = FolderStore(tmp_path)
    for key in ("../../etc/passwd", "AB" * 16, "0" * 31, "0" * 32 + "/x"):
        with pytest.raises(ValueError):
            store.open(key)


def test_uploads_a_killed_process_left_are_cleaned_at_start(
    settings: Settings, tmp_path: Path
) -> None:
    """An upload received (``.incoming/upload-*``) or half moved (``??/.<key>.partial``) by a
    process that died is removed when the next one starts, once older than an hour; a younger
    one may be another worker's upload in flight and stays, and stored files are never touched."""
    folder = tmp_path / "evidence"
    store = FolderStore(folder)
    source = tmp_path / "kept.pdf"
    source.write_bytes(files.pdf())
    kept = store.put(source)
    left = {
        "old upload": folder / ".incoming" / "upload-k1ll3d",
        "old partial": folder / "ab" / f".{'ab' * 16}.partial",
        "new upload": folder / ".incoming" / "upload-inflight",
        "new partial": folder / "cd" / f".{'cd' * 16}.partial",
    }
    two_hours_ago = time.time() - 7200
    for name, path in left.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"%PDF-half")
        if name.startswith("old"):
            os.utime(path, (two_hours_ago, two_hours_ago))
    os.utime(store._path(kept), (two_hours_ago, two_hours_ago))
    with TestClient(create_app(settings.model_copy(update={"evidence_dir": folder}))):
        pass
    assert {name for name, path in left.items() if path.exists()} == {"new upload", "new partial"}
    assert list(store.keys()) == [kept]
    with store.open(kept) as stream:
        assert stream.read() == files.pdf()
