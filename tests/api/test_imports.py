"""Imports through the API: hostile files, annotation, zips, size limits; errors write nothing."""

from __future__ import annotations

import importlib.util
import io
import zipfile
from datetime import date
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient

from app.catalog import Catalog
from app.config import Settings
from app.excel import Prefill, build_template
from app.main import create_app
from tests.conftest import DATA, Tenant

HOSTILE = DATA / "hostile"
_spec = importlib.util.spec_from_file_location("make_corpus", HOSTILE / "make_corpus.py")
assert _spec is not None and _spec.loader is not None
_corpus = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_corpus)
EXPECTED: dict[str, str] = _corpus.EXPECTED


def post(tenant: Tenant, files: list[tuple[str, bytes]], query: str = "") -> Any:
    return tenant.client.post(
        f"/v1/imports{query}",
        files=[("files", (name, data, "application/octet-stream")) for name, data in files],
        headers=tenant.headers(),
    )


def nothing_written(tenant: Tenant) -> None:
    h = tenant.headers()
    assert tenant.client.get("/v1/assessments", headers=h).json()["items"] == []
    assert tenant.client.get("/v1/organizations", headers=h).json()["items"] == []


@pytest.mark.parametrize("name", sorted(EXPECTED), ids=sorted(EXPECTED))
def test_hostile_file_gets_a_problem_and_writes_nothing(tenant: Tenant, name: str) -> None:
    r = post(tenant, [(name, (HOSTILE / name).read_bytes())], "?create_organizations=true")
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"].endswith("workbook-rejected")
    assert [e["code"] for e in body["errors"]] == [EXPECTED[name]]
    assert all(e["detail"] and e["detail_es"] for e in body["errors"])
    nothing_written(tenant)


def _filled(catalog: Catalog, instrument: str, org: str, value: object, lang: str = "en") -> bytes:
    f = catalog.latest(instrument)
    assert f is not None
    answers = {k: value for k in f.instrument.item_keys}
    pre = Prefill(org, None, "baseline", date(2024, 2, 2), None, answers, {})  # type: ignore[arg-type]
    return build_template(f.instrument, f.content_hash, lang, pre)


def _break_answer(data: bytes, sheet_index: int, value: object) -> tuple[bytes, str, str]:
    """Write a bad value into the first answer cell of a dimension sheet."""
    wb = openpyxl.load_workbook(io.BytesIO(data))
    ws = wb.worksheets[sheet_index]
    headers = [c.value for c in ws[1]]
    column = next(i for i, h in enumerate(headers, start=1) if h in ("Answer", "Respuesta"))
    cell = ws.cell(row=2, column=column)
    cell.value = value
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue(), ws.title, cell.coordinate


def test_annotated_workbook_marks_the_bad_cells(tenant: Tenant, catalog: Catalog) -> None:
    data = _filled(catalog, "opi", "Org annotated", 3.0, "es")
    broken, sheet, cell = _break_answer(data, 2, "=1+2")  # a formula in an answer cell
    r = post(tenant, [("taller.xlsx", broken)], "?create_organizations=true&annotate=true")
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert int(r.headers["OCA-Problems"]) >= 1
    wb = openpyxl.load_workbook(io.BytesIO(r.content))
    marked = wb[sheet][cell]
    assert marked.comment is not None and marked.comment.text
    assert (marked.fill.fgColor.rgb or "").upper().endswith("7C80")
    nothing_written(tenant)

    # the JSON form of the same upload names sheet, cell and code
    r = post(tenant, [("taller.xlsx", broken)], "?create_organizations=true")
    error = r.json()["errors"][0]
    assert (error["sheet"], error["cell"], error["code"]) == (sheet, cell, "formula")


def test_out_of_scale_value_is_reported_by_cell(tenant: Tenant, catalog: Catalog) -> None:
    data = _filled(catalog, "oca", "Org scale", 2.0)
    broken, sheet, cell = _break_answer(data, 2, 7)
    r = post(tenant, [("o.xlsx", broken)], "?create_organizations=true")
    assert r.status_code == 422
    codes = {(e["sheet"], e["cell"], e["code"]) for e in r.json()["errors"]}
    assert (sheet, cell, "not_on_scale") in codes
    nothing_written(tenant)


def test_zip_of_workbooks_each_all_or_nothing(tenant: Tenant, catalog: Catalog) -> None:
    good = _filled(catalog, "csa-sustainability", "Org good", 3.0)
    bad, _, _ = _break_answer(_filled(catalog, "csa-sustainability", "Org bad", 2.0), 2, "maybe")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("round1/good.xlsx", good)
        z.writestr("round1/bad.xlsx", bad)
    r = post(tenant, [("batch.zip", buffer.getvalue())], "?create_organizations=true")
    assert r.status_code == 200, r.text
    results = {x["file"].rsplit("/", 1)[-1]: x for x in r.json()["results"]}
    assert results["good.xlsx"]["status"] == "created" and results["good.xlsx"]["scored"]
    assert results["bad.xlsx"]["status"] == "rejected"
    names = [
        o["name"]
        for o in tenant.client.get("/v1/organizations", headers=tenant.headers()).json()["items"]
    ]
    assert names == ["Org good"]  # the bad workbook created nothing, not even its organization


def test_unknown_organization_needs_permission(tenant: Tenant, catalog: Catalog) -> None:
    r = post(tenant, [("x.xlsx", _filled(catalog, "cla", "Nobody", 2.0))])
    assert r.status_code == 422
    assert r.json()["errors"][0]["code"] == "unknown_organization"
    nothing_written(tenant)
    created = tenant.client.post(
        "/v1/organizations", json={"name": "Nobody"}, headers=tenant.headers()
    ).json()
    r = post(tenant, [("x.xlsx", _filled(catalog, "cla", "nobody", 2.0))])  # matched by name
    assert r.status_code == 200
    assert r.json()["results"][0]["organization_id"] == created["id"]


def test_viewer_cannot_import(tenant: Tenant, catalog: Catalog) -> None:
    r = tenant.client.post(
        "/v1/imports",
        files=[
            ("files", ("x.xlsx", _filled(catalog, "cla", "V", 2.0), "application/octet-stream"))
        ],
        headers=tenant.headers("viewer"),
    )
    assert r.status_code == 403


def test_request_body_limit_is_413(settings: Settings, tenant: Tenant) -> None:
    small = settings.model_copy(update={"max_request_bytes": 50_000})
    with TestClient(create_app(small)) as c:
        r = c.post(
            "/v1/imports",
            files=[
                ("files", ("big.xlsx", b"PK\x03\x04" + b"0" * 200_000, "application/octet-stream"))
            ],
            headers=tenant.headers(),
        )
    assert r.status_code == 413
    assert r.headers["content-type"] == "application/problem+json", r.text
    nothing_written(tenant)


def test_a_saturated_database_is_503_not_a_rejected_file(
    tenant: Tenant, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.db.errors import Busy
    from app.services import imports

    def saturated(*_args: Any, **_kw: Any) -> None:
        raise Busy("the write waited too long for its turn; retry shortly")

    monkeypatch.setattr(imports, "_import_in_transaction", saturated)
    r = post(
        tenant, [("x.xlsx", _filled(catalog, "cla", "Busy Org", 2.0))], "?create_organizations=true"
    )
    assert r.status_code == 503, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["retry-after"]
    nothing_written(tenant)
