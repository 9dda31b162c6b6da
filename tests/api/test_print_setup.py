"""Every sheet of every template and export prints readably on A4 or Letter: checked on real files
made by the real app (how they looked was checked by printing them with LibreOffice)."""

from __future__ import annotations

import io
from typing import Any

import openpyxl
import pytest
from openpyxl.utils import get_column_letter, range_boundaries

from app.catalog import Catalog
from app.excel.layout import ITEM_HEADERS, ItemColumn
from tests.api.factories import call, item_keys, ok
from tests.conftest import Tenant

INSTRUMENTS = ("oca", "opi", "nupas", "csa-sustainability", "cla")
LANGS = ("en", "es")
# characters of column width a landscape page holds at a readable scale (about 70 %)
READABLE_PER_PAGE = 200.0
PORTRAIT_WIDTH = 75.0  # characters of a portrait page at full size


def _book(data: bytes) -> Any:
    return openpyxl.load_workbook(io.BytesIO(data))


def _printed_width(ws: Any) -> float:
    area = ws.print_area
    if area:
        first, _, last, _ = range_boundaries(str(area).split("!")[-1].replace("$", ""))
    else:
        first, last = 1, ws.max_column
    return sum(
        ws.column_dimensions[get_column_letter(c)].width or 8.43 for c in range(first, last + 1)
    )


def check_sheet(ws: Any, where: str) -> None:
    if ws.sheet_state != "visible":
        return
    setup = ws.page_setup
    assert setup.orientation in ("portrait", "landscape"), where
    assert ws.sheet_properties.pageSetUpPr is not None, where
    assert ws.sheet_properties.pageSetUpPr.fitToPage, where
    assert setup.fitToHeight == 0, where  # as many pages tall as needed
    assert setup.fitToWidth >= 1, where
    per_page = _printed_width(ws) / setup.fitToWidth
    limit = READABLE_PER_PAGE if setup.orientation == "landscape" else PORTRAIT_WIDTH * 1.4
    assert per_page <= limit, (where, per_page)
    if setup.fitToWidth > 1:
        assert ws.print_title_cols, where  # the row's names on every page
        assert setup.pageOrder == "overThenDown", where  # a row's parts on consecutive pages
    if ws.max_row > 20 and ws.max_column > 2:
        assert ws.print_title_rows, where  # a long table repeats its header
    for chart in ws._charts:
        axis = chart.x_axis
        if getattr(chart, "type", None) in ("bar", "col"):
            assert axis.tickLblSkip == 1, where  # every category named


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("instrument", INSTRUMENTS)
def test_templates_print_readably(
    tenant: Tenant, catalog: Catalog, instrument: str, lang: str
) -> None:
    f = catalog.latest(instrument)
    assert f is not None
    url = f"/v1/instruments/{instrument}/versions/{f.instrument.version}/template.xlsx?lang={lang}"
    resp = call(tenant, "GET", url, role="viewer")
    assert resp.status_code == 200
    wb = _book(resp.content)
    for ws in wb.worksheets:
        check_sheet(ws, f"{instrument} {lang} {ws.title}")
    instructions = wb.worksheets[1]
    assert instructions.page_setup.orientation == "portrait"
    assert instructions.column_dimensions["A"].width <= PORTRAIT_WIDTH
    text = " ".join(str(c.value) for c in instructions["A"] if c.value)
    has = {
        ItemColumn.guidance: any(i.guidance is not None for i in f.instrument.items.values()),
        ItemColumn.evidence: any(i.evidence is not None for i in f.instrument.items.values()),
    }
    for column, present in has.items():  # the instructions name only columns that exist
        assert (ITEM_HEADERS[column][lang] in text) == present, (instrument, column)


def _scored(tenant: Tenant, org: str, instrument: str, round_: str, when: str, v: int) -> str:
    body = {
        "organization_id": org,
        "instrument_id": instrument,
        "round": round_,
        "assessed_on": when,
        "answers": [
            {"item": k, "value": "yes" if instrument == "nupas" else v}
            for k in item_keys(instrument)
        ],
    }
    aid = str(ok(call(tenant, "POST", "/v1/assessments", json=body), 201)["id"])
    ok(call(tenant, "POST", f"/v1/assessments/{aid}/submit"))
    return aid


@pytest.mark.parametrize("instrument", INSTRUMENTS)
def test_exports_print_readably(tenant: Tenant, instrument: str) -> None:
    org = ok(call(tenant, "POST", "/v1/organizations", json={"name": "Imprenta"}), 201)["id"]
    cohort = ok(call(tenant, "POST", "/v1/cohorts", json={"name": "Grupo"}), 201)["id"]
    ok(call(tenant, "PUT", f"/v1/cohorts/{cohort}/members/{org}"))
    aid = _scored(tenant, org, instrument, "baseline", "2024-01-01", 2)
    _scored(tenant, org, instrument, "endline", "2025-01-01", 3)
    for lang in LANGS:
        q = f"instrument_id={instrument}&lang={lang}"
        for url in (
            f"/v1/assessments/{aid}/export.xlsx?lang={lang}",
            f"/v1/organizations/{org}/series.xlsx?{q}",
            f"/v1/cohorts/{cohort}/comparison.xlsx?{q}",
            f"/v1/cohorts/{cohort}/export.xlsx?{q}",
        ):
            resp = call(tenant, "GET", url, role="viewer")
            assert resp.status_code == 200, (url, resp.text[:200])
            for ws in _book(resp.content).worksheets:
                check_sheet(ws, f"{url} {ws.title}")


@pytest.mark.parametrize("lang", LANGS)
def test_annotated_workbook_prints_its_problems_on_one_page_wide(
    tenant: Tenant, catalog: Catalog, lang: str
) -> None:
    f = catalog.latest("csa-sustainability")
    assert f is not None
    version = f.instrument.version
    url = f"/v1/instruments/csa-sustainability/versions/{version}/template.xlsx?lang={lang}"
    wb = _book(call(tenant, "GET", url, role="viewer").content)
    ws = wb.worksheets[2]
    column = next(c.column for c in ws[1] if c.value in ("Answer", "Respuesta"))
    for row in range(2, 5):
        ws.cell(row=row, column=column).value = "maybe"
    buffer = io.BytesIO()
    wb.save(buffer)
    files = [("files", ("taller.xlsx", buffer.getvalue(), "application/octet-stream"))]
    resp = tenant.client.post("/v1/imports?annotate=true", files=files, headers=tenant.headers())
    assert resp.status_code == 422
    marked = _book(resp.content)
    problems = marked.worksheets[0]
    assert problems.title in ("Problems", "Problemas")
    assert problems.page_setup.orientation == "landscape"
    assert problems.print_title_rows
    assert problems.page_setup.fitToWidth == 1
    assert _printed_width(problems) <= 140  # one landscape page at full size
    for sheet in marked.worksheets:
        check_sheet(sheet, f"annotated {lang} {sheet.title}")
