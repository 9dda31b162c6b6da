"""Evidence on the assessment page: an editor uploads a PDF and adds a link through the forms (with
the form token), marks one verified and removes one; a refused file is a page in the person's
language; viewers see the evidence and download it, with no forms; English and Spanish."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.config import Settings
from app.main import create_app
from tests.api import evidence_files as files
from tests.api.factories import call, create_assessment, create_org, item_keys, ok
from tests.conftest import Tenant
from tests.s3 import S3Server, closed_port
from tests.web.conftest import People, csrf_of
from tests.web.test_plans_pages import text_of

ITEM = item_keys("oca")[0]


def test_editor_adds_reviews_and_removes_evidence_through_the_page(signed_in: People) -> None:
    tenant = signed_in.tenant
    a = create_assessment(tenant, create_org(tenant)["id"])
    editor = signed_in("editor")
    page = editor.get(f"/assessments/{a['id']}?lang=es")
    assert "Esta evaluación todavía no tiene evidencia." in text_of(page.text)
    token = csrf_of(page.text)
    sent = editor.post(
        f"/assessments/{a['id']}/evidence/file",
        data={"csrf_token": token, "item": ITEM, "note": "firmado"},
        files={"file": ("estados.pdf", files.pdf(), "application/pdf")},
    )
    assert sent.status_code == 303 and sent.headers["location"].endswith("#evidence")
    linked = editor.post(
        f"/assessments/{a['id']}/evidence/link",
        data={"csrf_token": token, "item": ITEM, "url": "https://example.org/acta"},
    )
    assert linked.status_code == 303
    # a program renamed .pdf: a page that says why, in Spanish; nothing added
    refused = editor.post(
        f"/assessments/{a['id']}/evidence/file",
        data={"csrf_token": token, "item": ITEM},
        files={"file": ("informe.pdf", files.EXE, "application/pdf")},
    )
    assert refused.status_code == 422
    assert "el archivo es un programa" in text_of(refused.text)
    no_token = editor.post(
        f"/assessments/{a['id']}/evidence/link",
        data={"item": ITEM, "url": "https://example.org/otra"},
    )
    assert no_token.status_code == 403

    listed = ok(call(tenant, "GET", f"/v1/assessments/{a['id']}/evidence"))["evidence"]
    assert [(e["kind"], e["note"]) for e in listed] == [("file", "firmado"), ("link", None)]
    pdf, link = listed
    shown = text_of(editor.get(f"/assessments/{a['id']}?lang=es").text)
    assert "estados.pdf" in shown and "example.org" in shown and "Declarada" in shown
    marked = editor.post(
        f"/assessments/{a['id']}/evidence/{link['id']}/status",
        data={"csrf_token": token, "status": "verified"},
    )
    assert marked.status_code == 303
    english = text_of(editor.get(f"/assessments/{a['id']}?lang=en").text)
    assert "Verified" in english and "Self-reported" in english
    removed = editor.post(
        f"/assessments/{a['id']}/evidence/{pdf['id']}/delete", data={"csrf_token": token}
    )
    assert removed.status_code == 303
    left = ok(call(tenant, "GET", f"/v1/assessments/{a['id']}/evidence"))
    assert [(e["id"], e["status"]) for e in left["evidence"]] == [(link["id"], "verified")]


def test_viewer_sees_and_downloads_but_has_no_forms(signed_in: People) -> None:
    tenant = signed_in.tenant
    a = create_assessment(tenant, create_org(tenant)["id"])
    url = f"/v1/assessments/{a['id']}/items/{ITEM}/evidence/files"
    e = ok(call(tenant, "POST", url, files={"file": ("photo.png", files.png())}), 201)
    viewer = signed_in("viewer")
    page = viewer.get(f"/assessments/{a['id']}?lang=en")
    assert "photo.png" in text_of(page.text)
    assert "Add a file" not in page.text and '/evidence/file"' not in page.text
    got = viewer.get(f"/assessments/{a['id']}/evidence/{e['id']}/file")
    assert got.status_code == 200 and got.content == files.png()
    assert got.headers["content-type"] == "image/png"
    assert got.headers["content-disposition"].startswith("attachment;")
    assert got.headers["x-content-type-options"] == "nosniff"
    refused = viewer.post(
        f"/assessments/{a['id']}/evidence/{e['id']}/delete",
        data={"csrf_token": csrf_of(page.text)},
    )
    assert refused.status_code == 403


def test_an_evidence_store_out_of_reach_is_a_page_in_the_persons_language(
    session: Session, settings: Settings, s3_server: S3Server, tmp_path: Path
) -> None:
    """An S3 store that cannot be reached: the form's answer is a 503 page that says so (in
    Spanish here) with Retry-After, and nothing is added."""
    down = s3_server.settings(
        settings,
        s3_server.new_bucket(),
        evidence_dir=tmp_path / "staging",
        evidence_s3_endpoint_url=closed_port(),
    )
    with TestClient(create_app(down), raise_server_exceptions=False) as app:
        people = People(session, app, Tenant(session, app))
        a = create_assessment(people.tenant, create_org(people.tenant)["id"])
        editor = people("editor")
        token = csrf_of(editor.get(f"/assessments/{a['id']}?lang=es").text)
        sent = editor.post(
            f"/assessments/{a['id']}/evidence/file?lang=es",
            data={"csrf_token": token, "item": ITEM},
            files={"file": ("estados.pdf", files.pdf(), "application/pdf")},
        )
        assert sent.status_code == 503 and sent.headers["retry-after"] == "30"
        assert "no se puede acceder al almacén de evidencias" in text_of(sent.text)
        listed = ok(call(people.tenant, "GET", f"/v1/assessments/{a['id']}/evidence"))
        assert listed["evidence"] == []
