"""The ratings workbook (issue 12): a sheet per rater named by code, laid out like the template's
answer sheets; it comes back into ratings all or nothing, each problem named by sheet and cell."""

from __future__ import annotations

from io import BytesIO
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import Engine

from tests.api.factories import (
    answers_for,
    assert_problem,
    call,
    create_assessment,
    create_org,
    db_counts,
    item_keys,
    ok,
)

KEYS = item_keys("oca")
ROW = {key: 2 + i for i, key in enumerate(KEYS)}  # one row per item, under the header


def url(a: dict[str, Any], rest: str = "") -> str:
    return f"/v1/assessments/{a['id']}/ratings{rest}"


def draft(tenant: Any) -> dict[str, Any]:
    org = create_org(tenant)
    return create_assessment(tenant, org["id"], answers=answers_for("oca", 3, only=KEYS[4:]))


def download(tenant: Any, a: dict[str, Any], **params: Any) -> Any:
    resp = call(tenant, "GET", url(a, ".xlsx"), params=params)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/vnd.openxmlformats")
    return load_workbook(BytesIO(resp.content))


def upload(tenant: Any, a: dict[str, Any], wb: Any) -> Any:
    out = BytesIO()
    wb.save(out)
    files = {"file": ("ratings.xlsx", out.getvalue(), "application/octet-stream")}
    return call(tenant, "POST", url(a, ".xlsx"), files=files)


def fill(ws: Any, values: dict[str, Any], notes: dict[str, str] | None = None) -> None:
    for key, value in values.items():
        ws.cell(row=ROW[key], column=3).value = value
    for key, note in (notes or {}).items():
        ws.cell(row=ROW[key], column=4).value = note


def test_round_trip_with_an_error_in_one_cell(tenant: Any, engine: Engine) -> None:
    a = draft(tenant)
    body = {"name": "Ana", "answers": [{"item": KEYS[0], "value": 1, "note": "no plan"}]}
    ok(call(tenant, "PUT", url(a, "/R01"), json=body))
    wb = download(tenant, a, blank=3, lang="es")
    assert wb.sheetnames == ["Instrucciones", "R01", "R02", "R03", "R04", "_meta"]
    assert wb["_meta"].sheet_state == "veryHidden"
    r01 = wb["R01"]
    # the same columns as the template's answer sheets, in Spanish; the stored rating prefilled
    assert [r01.cell(row=1, column=c).value for c in (1, 2, 3, 4)] == [
        "Clave",
        "Ítem",
        "Respuesta",
        "Notas / evidencia",
    ]
    assert r01.cell(row=ROW[KEYS[0]], column=1).value == KEYS[0]
    assert r01.cell(row=ROW[KEYS[0]], column=3).value == "Incipiente"
    assert r01.cell(row=ROW[KEYS[0]], column=4).value == "no plan"
    assert "Ana" not in str([[c.value for c in row] for ws in wb for row in ws.iter_rows()])

    fill(wb["R02"], {KEYS[0]: "Emergente", KEYS[1]: 3, KEYS[2]: "No aplica"}, {KEYS[1]: "ok"})
    fill(wb["R03"], {KEYS[0]: 4, KEYS[1]: "Excelente", KEYS[2]: 2})  # B: not on the scale
    stray = wb.copy_worksheet(wb["R03"])  # a copied sheet keeps Excel's name until renamed
    stray.title = "R03 (2)"
    before = db_counts(engine)
    problem = assert_problem(upload(tenant, a, wb), 422)
    found = {(e["sheet"], e["cell"], e["item"], e["code"]) for e in problem["errors"]}
    assert ("R03", f"C{ROW[KEYS[1]]}", KEYS[1], "not_on_scale") in found
    assert ("R03 (2)", None, None, "not_accepted") in found
    assert all(e["detail"] and e["detail_es"] for e in problem["errors"])
    assert db_counts(engine) == before  # all or nothing

    fill(wb["R03"], {KEYS[1]: 2})
    del wb["R03 (2)"]
    result = ok(upload(tenant, a, wb))
    assert [r["code"] for r in result["raters"]] == ["R01", "R02", "R03"]
    assert result["skipped_sheets"] == ["R04"]  # left blank: no rater made
    r01 = ok(call(tenant, "GET", url(a, "/R01")))
    assert r01["name"] == "Ana"  # a workbook names no one: the stored name stays
    assert r01["ratings"] == [{"item": KEYS[0], "value": 1.0, "note": "no plan"}]
    r02 = ok(call(tenant, "GET", url(a, "/R02")))
    assert [(x["item"], x["value"], x["note"]) for x in r02["ratings"]] == [
        (KEYS[0], 2.0, None),
        (KEYS[1], 3.0, "ok"),
        (KEYS[2], "na", None),
    ]
    assert_problem(call(tenant, "GET", url(a, "/R04")), 404)
    summary = ok(call(tenant, "GET", url(a)))
    first = summary["items"][0]
    assert (first["rated"], first["min"], first["max"], first["median"]) == (3, 1, 4, 2)
    assert first["disagreement"] is True

    # downloaded again: every stored rater prefilled, then the next free codes
    again = download(tenant, a, blank=1)
    assert again.sheetnames == ["Instructions", "R01", "R02", "R03", "R04", "_meta"]
    assert again["R02"].cell(row=ROW[KEYS[2]], column=3).value == "N/A"


def test_a_workbook_is_refused_when_it_is_not_this_assessments(tenant: Any) -> None:
    a, b = draft(tenant), draft(tenant)
    wb = download(tenant, a, blank=1)
    fill(wb["R01"], {KEYS[0]: 2})
    assert_problem(upload(tenant, b, wb), 422)
    template = call(tenant, "GET", "/v1/instruments/oca/versions/2015.2/template.xlsx")
    files = {"file": ("t.xlsx", template.content, "application/octet-stream")}
    assert_problem(call(tenant, "POST", url(a, ".xlsx"), files=files), 422)
    assert_problem(call(tenant, "POST", url(a, ".xlsx")), 422)  # no file
    assert_problem(call(tenant, "POST", url(a, ".xlsx"), "viewer"), 403)
    ok(upload(tenant, a, wb))
    ok(call(tenant, "POST", f"/v1/assessments/{a['id']}/submit"))
    assert_problem(upload(tenant, a, wb), 409)  # ratings change only on a draft
