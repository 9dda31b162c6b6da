"""Uploading workbooks in the browser: a dry-run preview naming every problem by sheet and cell,
then importing exactly the checked workbooks through the same service as POST /v1/imports."""

from __future__ import annotations

import io
import re
import time
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
from fastapi.testclient import TestClient

from app.catalog import Catalog
from app.config import Settings
from app.excel import Prefill, build_template
from app.main import create_app
from app.services import staged_imports
from tests.conftest import Tenant
from tests.web.conftest import People, csrf_of, form_token

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def workbook(catalog: Catalog, instrument: str, org: str, value: float, lang: str = "en") -> bytes:
    """A template of the project's own generator, every answer filled with ``value``."""
    f = catalog.latest(instrument)
    assert f is not None
    answers = dict.fromkeys(f.instrument.item_keys, value)
    pre = Prefill(org, None, "baseline", date(2024, 2, 2), "A. Consultant", answers, {})
    return build_template(f.instrument, f.content_hash, lang, pre)


def break_answer(data: bytes, value: object) -> tuple[bytes, str, str]:
    """Type a bad value into the first answer cell of the first dimension sheet."""
    wb = openpyxl.load_workbook(io.BytesIO(data))
    ws = wb.worksheets[2]
    headers = [c.value for c in ws[1]]
    column = next(i for i, h in enumerate(headers, start=1) if h in ("Answer", "Respuesta"))
    cell = ws.cell(row=2, column=column)
    cell.value = value
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue(), ws.title, cell.coordinate


def upload(
    browser: TestClient, files: list[tuple[str, bytes]], *, create: bool = True, lang: str = "en"
) -> Any:
    token = form_token(browser, "/uploads")
    data = {"csrf_token": token}
    if create:
        data["create_organizations"] = "true"
    return browser.post(
        f"/uploads?lang={lang}",
        data=data,
        files=[("files", (n, d, "application/octet-stream")) for n, d in files],
    )


def staged(answer: Any) -> str:
    assert answer.status_code == 303, answer.text[:800]
    found = re.fullmatch(r"/uploads/([A-Za-z0-9_-]{22})", answer.headers["location"])
    assert found, answer.headers["location"]
    return found.group(1)


def api(tenant: Tenant, path: str) -> Any:
    r = tenant.client.get(path, headers=tenant.headers("viewer"))
    assert r.status_code == 200, r.text
    return r.json()


def nothing_written(tenant: Tenant) -> None:
    assert api(tenant, "/v1/assessments")["items"] == []
    assert api(tenant, "/v1/organizations")["items"] == []


def test_an_error_is_named_by_sheet_and_cell_then_the_fixed_workbook_imports(
    signed_in: People, catalog: Catalog
) -> None:
    browser = signed_in("editor")
    good = workbook(catalog, "opi", "Fundación Árbol", 3.0)
    bad, sheet, cell = break_answer(good, 7)  # off the scale

    first = staged(upload(browser, [("arbol.xlsx", bad)]))
    page = browser.get(f"/uploads/{first}?lang=en")
    assert page.status_code == 200
    assert "arbol.xlsx" in page.text and "Fundación Árbol" in page.text
    assert f"<td>{sheet}</td><td>{cell}</td>" in page.text
    assert "rejected: fix the problems" in page.text
    assert 'name="pick"' not in page.text  # a rejected workbook cannot be picked
    nothing_written(signed_in.tenant)

    spanish = browser.get(f"/uploads/{first}?lang=es")
    assert "rechazado" in spanish.text and f"<td>{cell}</td>" in spanish.text

    marked = browser.get(f"/uploads/{first}/annotated/0")
    assert marked.status_code == 200 and marked.headers["content-type"] == XLSX
    ws = openpyxl.load_workbook(io.BytesIO(marked.content))[sheet]
    assert ws[cell].comment is not None  # the offending cell carries the problem

    second = staged(upload(browser, [("arbol.xlsx", good)]))
    preview = browser.get(f"/uploads/{second}?lang=en")
    assert "would create an assessment" in preview.text and "(new organization)" in preview.text
    assert "opi 2015.2" in preview.text and "baseline" in preview.text
    nothing_written(signed_in.tenant)  # the preview is a dry run

    done = browser.post(
        f"/uploads/{second}/import", data={"csrf_token": csrf_of(preview.text), "pick": "0"}
    )
    assert done.status_code == 303 and done.headers["location"] == f"/uploads/{second}#results"
    result = browser.get(f"/uploads/{second}?lang=en")
    assert "Imported: 1. Rejected: 0." in result.text
    (a,) = api(signed_in.tenant, "/v1/assessments")["items"]
    assert a["status"] == "submitted" and a["round"] == "baseline"
    scores = api(signed_in.tenant, f"/v1/assessments/{a['id']}/scores")
    assert scores["overall"]["score"] == 3.0
    assert f"/assessments/{a['id']}" in result.text
    # confirming twice imports nothing more
    again = browser.post(
        f"/uploads/{second}/import", data={"csrf_token": csrf_of(result.text), "pick": "0"}
    )
    assert again.status_code == 303
    assert len(api(signed_in.tenant, "/v1/assessments")["items"]) == 1


def test_a_zip_of_two_workbooks_imports_exactly_the_checked_ones(
    signed_in: People, catalog: Catalog, settings: Settings
) -> None:
    browser = signed_in("editor")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("ronda/uno.xlsx", workbook(catalog, "opi", "Org Uno", 2.0, "es"))
        z.writestr("ronda/dos.xlsx", workbook(catalog, "opi", "Org Dos", 4.0, "es"))
    key = staged(upload(browser, [("lote.zip", buffer.getvalue())], lang="es"))
    page = browser.get(f"/uploads/{key}")
    assert page.status_code == 200
    assert "lote.zip/ronda/uno.xlsx" in page.text and "lote.zip/ronda/dos.xlsx" in page.text
    assert page.text.count("se crearía una evaluación") == 2
    assert "Confirmar importación (2)" in page.text

    token = csrf_of(page.text)
    # another worker process (its own app, same settings) answers the confirmation
    other_worker = TestClient(create_app(settings), follow_redirects=False)
    other_worker.cookies = browser.cookies
    with other_worker:
        confirmed = other_worker.post(
            f"/uploads/{key}/import", data={"csrf_token": token, "pick": "1"}
        )
    assert confirmed.status_code == 303
    names = [o["name"] for o in api(signed_in.tenant, "/v1/organizations")["items"]]
    assert names == ["Org Dos"]  # only the checked one

    # the progress script's way: one workbook per request, answered 204
    step = browser.post(
        f"/uploads/{key}/import", data={"csrf_token": token, "pick": "0", "step": "true"}
    )
    assert step.status_code == 204
    names = sorted(o["name"] for o in api(signed_in.tenant, "/v1/organizations")["items"])
    assert names == ["Org Dos", "Org Uno"]
    assert len(api(signed_in.tenant, "/v1/assessments")["items"]) == 2
    folder = Path(signed_in.client.app.state.settings.data_dir) / "staged-imports"  # type: ignore[attr-defined]
    kept = list((folder / str(signed_in.tenant.principal.workspace_id) / key).glob("*.xlsx"))
    assert kept == []  # imported workbooks are not kept


def test_a_viewer_gets_403_and_a_post_without_token_writes_nothing(
    signed_in: People, catalog: Catalog
) -> None:
    viewer = signed_in("viewer")
    assert viewer.get("/uploads").status_code == 403
    assert 'href="/uploads"' not in viewer.get("/").text
    data = workbook(catalog, "opi", "Org V", 2.0)
    files = [("files", ("v.xlsx", data, "application/octet-stream"))]
    token = csrf_of(viewer.get("/").text)
    refused = viewer.post("/uploads", data={"csrf_token": token}, files=files)
    assert refused.status_code == 403

    editor = signed_in("editor")
    forged = editor.post("/uploads", data={"create_organizations": "true"}, files=files)
    assert forged.status_code in (400, 403)
    wrong = editor.post("/uploads", data={"csrf_token": "0" * 64}, files=files)
    assert wrong.status_code == 403
    folder = Path(signed_in.client.app.state.settings.data_dir) / "staged-imports"  # type: ignore[attr-defined]
    assert not (folder / str(signed_in.tenant.principal.workspace_id)).exists()

    key = staged(upload(editor, [("v.xlsx", data)]))
    assert editor.post(f"/uploads/{key}/import", data={"pick": "0"}).status_code in (400, 403)
    stolen = viewer.post(f"/uploads/{key}/import", data={"csrf_token": token, "pick": "0"})
    assert stolen.status_code == 403
    nothing_written(signed_in.tenant)


def test_another_workspace_cannot_see_an_upload_and_old_ones_expire(
    signed_in: People, catalog: Catalog, other_tenant: Tenant
) -> None:
    editor = signed_in("editor")
    key = staged(upload(editor, [("x.xlsx", workbook(catalog, "opi", "Org X", 2.0))]))
    stranger = signed_in("editor", workspace=other_tenant.name)
    assert stranger.get(f"/uploads/{key}").status_code == 404
    assert stranger.get(f"/uploads/{key}/annotated/0").status_code == 404
    assert editor.get("/uploads/not-an-id").status_code == 404

    root = Path(signed_in.client.app.state.settings.data_dir) / "staged-imports"  # type: ignore[attr-defined]
    assert staged_imports.sweep(root, now=time.time() + staged_imports.TTL_SECONDS + 60) >= 1
    assert editor.get(f"/uploads/{key}").status_code == 404


def test_a_damaged_zip_is_refused_on_the_form_and_no_file_is_asked_for(
    signed_in: People,
) -> None:
    editor = signed_in("editor")
    answer = upload(editor, [("roto.zip", b"PK\x03\x04 not really a zip")], lang="es")
    assert answer.status_code == 422
    assert "el archivo zip está dañado" in answer.text
    token = form_token(editor, "/uploads")
    empty = editor.post(
        "/uploads?lang=en",
        data={"csrf_token": token},
        files=[("files", ("", b"", "application/octet-stream"))],
    )
    assert empty.status_code == 422 and "Choose at least one file." in empty.text


def test_the_home_page_lists_uploads_left_to_do_and_recent_imports(
    signed_in: People, catalog: Catalog
) -> None:
    browser = signed_in("editor")
    good = workbook(catalog, "opi", "Casa Abierta", 3.0)
    bad, _, _ = break_answer(good, 7)
    rejected = staged(upload(browser, [("casa.xlsx", bad)]))
    home = browser.get("/?lang=en").text
    assert f'href="/uploads/{rejected}"' in home and "1 to correct, 0 not imported" in home
    assert "Recent imports" not in home

    fixed = staged(upload(browser, [("casa.xlsx", good)]))
    preview = browser.get(f"/uploads/{fixed}")
    browser.post(
        f"/uploads/{fixed}/import", data={"csrf_token": csrf_of(preview.text), "pick": "0"}
    )
    home = browser.get("/?lang=es").text
    assert "Importaciones recientes" in home and "Casa Abierta — opi baseline" in home
    assert f'href="/uploads/{fixed}"' not in home  # nothing left to do in that one
    # a viewer is offered no upload to finish
    assert "/uploads/" not in signed_in("viewer").get("/").text


def test_the_annotated_copy_of_a_workbook_named_in_any_script_downloads(
    signed_in: People, catalog: Catalog
) -> None:
    """A file name outside Latin-1 once made the annotated download a 500 (its header was built
    by hand); every download now names its file the same way (RFC 6266 ``filename*``)."""
    browser = signed_in("editor")
    bad, _, _ = break_answer(workbook(catalog, "opi", "Фонд Київ", 3.0), 7)
    key = staged(upload(browser, [("Київ звіт.xlsx", bad)]))
    marked = browser.get(f"/uploads/{key}/annotated/0")
    assert marked.status_code == 200 and marked.headers["content-type"] == XLSX
    disposition = marked.headers["content-disposition"]
    assert disposition.startswith("attachment;") and "filename*=UTF-8''" in disposition
    assert "%D0%9A%D0%B8%D1%97%D0%B2" in disposition  # Київ, percent-encoded
