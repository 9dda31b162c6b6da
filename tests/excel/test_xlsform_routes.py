"""The XLSForm download through the API, the instrument page and the CLI: the same workbook."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.cli import app as cli_app
from tests.conftest import Tenant
from tests.web.conftest import People, signed_in  # noqa: F401  (fixture)


def _rows(data: bytes) -> list[tuple[object, ...]]:
    book = openpyxl.load_workbook(io.BytesIO(data))
    return [row for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)]


def test_api_serves_the_xlsform(client: TestClient, tenant: Tenant) -> None:
    answer = client.get(
        "/v1/instruments/oca/versions/2015.2/xlsform.xlsx", headers=tenant.headers("viewer")
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert "oca-2015.2-xlsform.xlsx" in answer.headers["content-disposition"]
    rows = _rows(answer.content)
    assert rows[2][:2] == ("calculate", "oca_version")
    missing = client.get(
        "/v1/instruments/oca/versions/9.9/xlsform.xlsx", headers=tenant.headers("viewer")
    )
    assert missing.status_code == 404
    schema = client.get("/openapi.json").json()
    assert "/v1/instruments/{instrument_id}/versions/{version}/xlsform.xlsx" in schema["paths"]


def test_instrument_page_links_the_same_xlsform(
    signed_in: People,  # noqa: F811
    client: TestClient,
) -> None:
    browser = signed_in("viewer")
    page = browser.get("/instruments/opi/2015.2", headers={"Accept-Language": "en"})
    assert 'href="/instruments/opi/2015.2/xlsform.xlsx"' in page.text
    assert "Download XLSForm" in page.text
    download = browser.get("/instruments/opi/2015.2/xlsform.xlsx")
    assert download.status_code == 200
    api = client.get(
        "/v1/instruments/opi/versions/2015.2/xlsform.xlsx",
        headers=signed_in.tenant.headers("viewer"),
    )
    assert _rows(download.content) == _rows(api.content)
    assert browser.get("/instruments/opi/9.9/xlsform.xlsx").status_code == 404


def test_cli_writes_the_xlsform(tmp_path: Path) -> None:
    target = tmp_path / "form.xlsx"
    result = CliRunner().invoke(
        cli_app, ["export", "xlsform", "cla", "--version", "2017.1", "--to", str(target)]
    )
    assert result.exit_code == 0, result.output
    rows = _rows(target.read_bytes())
    assert rows[1][:2] == ("calculate", "oca_instrument")
    assert any(r[:2] == ("calculate", "oca_version") and r[-1] == "'2017.1'" for r in rows)
    newest = CliRunner().invoke(
        cli_app, ["export", "xlsform", "cla", "-o", str(tmp_path / "n.xlsx")]
    )
    assert newest.exit_code == 0
    assert any(r[-1] == "'2017.2'" for r in _rows((tmp_path / "n.xlsx").read_bytes()))
    wrong = CliRunner().invoke(cli_app, ["export", "xlsform", "nope"])
    assert wrong.exit_code != 0 and "unknown instrument" in wrong.output
