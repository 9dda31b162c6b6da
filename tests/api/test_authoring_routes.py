"""The authoring workbook through the API, the instrument page and the CLI: the same workbook,
and the dry-run check answers a summary or every problem with its place."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.catalog import Catalog
from app.cli import app as cli_app
from app.excel.authoring import build_authoring
from tests.conftest import Tenant
from tests.web.conftest import People, signed_in  # noqa: F401  (fixture)

URL = "/v1/instruments/{id}/versions/{version}/authoring.xlsx"
CHECK = "/v1/instruments/authoring/check"


def _broken(catalog: Catalog) -> bytes:
    f = catalog.get("opi", "2015.2")
    assert f is not None
    wb = openpyxl.load_workbook(io.BytesIO(build_authoring(f.instrument)))
    survey = wb["survey"]
    weight = next(c.column for c in survey[1] if c.value == "weight")
    survey.cell(4, weight).value = "heavy"
    survey.cell(4, 1).value = "select_one nowhere"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_api_download_and_check_round_trip(client: TestClient, tenant: Tenant) -> None:
    answer = client.get(URL.format(id="oca", version="2015.2"), headers=tenant.headers("viewer"))
    assert answer.status_code == 200
    assert "oca-2015.2-authoring.xlsx" in answer.headers["content-disposition"]
    checked = client.post(
        CHECK,
        files={"file": ("a.xlsx", answer.content)},
        headers=tenant.headers(),  # a POST: an editor's key (viewer keys are read-only)
    )
    assert checked.status_code == 200, checked.text
    body = checked.json()
    assert (body["id"], body["version"], body["known_version"]) == ("oca", "2015.2", True)
    assert (body["dimensions"], body["areas"], body["items"]) == (7, 45, 45)
    missing = client.get(URL.format(id="oca", version="9.9"), headers=tenant.headers("viewer"))
    assert missing.status_code == 404


def test_api_check_lists_every_problem(
    client: TestClient, tenant: Tenant, catalog: Catalog
) -> None:
    answer = client.post(
        CHECK, files={"file": ("a.xlsx", _broken(catalog))}, headers=tenant.headers()
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    errors = answer.json()["errors"]
    places = {(e["code"], e["sheet"], e["cell"]) for e in errors}
    assert ("not_a_number", "survey", places_of(errors, "not_a_number")) in places
    assert ("unknown_scale", "survey", "A4") in places
    assert all(e["detail"] and e["detail_es"] for e in errors)
    garbage = client.post(CHECK, files={"file": ("a.xlsx", b"hello")}, headers=tenant.headers())
    assert garbage.status_code == 422
    assert garbage.json()["errors"][0]["code"] == "not_a_workbook"


def places_of(errors: list[dict[str, str]], code: str) -> str:
    return next(e["cell"] for e in errors if e["code"] == code)


def test_api_needs_a_key(client: TestClient) -> None:
    assert client.get(URL.format(id="oca", version="2015.2")).status_code == 401
    assert client.post(CHECK, files={"file": ("a.xlsx", b"x")}).status_code == 401
    schema = client.get("/openapi.json").json()
    assert URL.replace("{id}", "{instrument_id}") in schema["paths"]
    assert CHECK in schema["paths"]


def test_instrument_page_links_the_same_workbook(
    signed_in: People,  # noqa: F811
    client: TestClient,
) -> None:
    browser = signed_in("viewer")
    page = browser.get("/instruments/opi/2015.2", headers={"Accept-Language": "es"})
    assert 'href="/instruments/opi/2015.2/authoring.xlsx"' in page.text
    assert "Descargar libro de edición" in page.text
    download = browser.get("/instruments/opi/2015.2/authoring.xlsx")
    assert download.status_code == 200
    api = client.get(
        URL.format(id="opi", version="2015.2"), headers=signed_in.tenant.headers("viewer")
    )
    rows = [
        [r for ws in openpyxl.load_workbook(io.BytesIO(d)).worksheets for r in ws.values]
        for d in (download.content, api.content)
    ]
    assert rows[0] == rows[1]


def test_cli_exports_and_checks(tmp_path: Path, catalog: Catalog) -> None:
    target = tmp_path / "cla.xlsx"
    result = CliRunner().invoke(
        cli_app, ["export", "authoring", "cla", "--version", "2017.1", "-o", str(target)]
    )
    assert result.exit_code == 0, result.output
    ok = CliRunner().invoke(cli_app, ["instruments", "check-authoring", str(target)])
    assert ok.exit_code == 0, ok.output
    assert "cla 2017.1" in ok.output
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(_broken(catalog))
    refused = CliRunner().invoke(cli_app, ["instruments", "check-authoring", str(bad)])
    assert refused.exit_code == 1
    assert "survey!A4" in refused.output and "2 problem(s)" in refused.output
