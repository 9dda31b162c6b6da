"""Everything a Spanish user reads is Spanish: messages, the template's rounds, the exports."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import openpyxl

from app.catalog import Catalog
from app.excel import CoverField, Prefill, build_template
from app.excel.layout import COVER_SHEET, cover_cell
from tests.api.factories import assert_problem, call, item_keys, ok
from tests.conftest import Tenant


def _org(tenant: Tenant, name: str) -> str:
    return str(ok(call(tenant, "POST", "/v1/organizations", json={"name": name}), 201)["id"])


def _body(org: str, answers: dict[str, object], round_: str = "baseline") -> dict[str, Any]:
    return {
        "organization_id": org,
        "instrument_id": "oca",
        "round": round_,
        "assessed_on": "2024-05-05",
        "answers": [{"item": k, "value": v} for k, v in answers.items()],
    }


def test_messages_are_spanish_and_say_no_aplica(tenant: Tenant) -> None:
    org = _org(tenant, "Org es")
    keys = item_keys("oca")
    bad = assert_problem(
        call(tenant, "POST", "/v1/assessments", json=_body(org, {keys[0]: 9})), 422
    )
    (error,) = bad["errors"]
    assert "«No aplica»" in error["detail_es"] and "N/A" not in error["detail_es"]

    aid = ok(call(tenant, "POST", "/v1/assessments", json=_body(org, {keys[0]: 2})), 201)["id"]
    body = assert_problem(call(tenant, "POST", f"/v1/assessments/{aid}/submit"), 422)
    assert body["detail_es"].startswith("la evaluación no está lo bastante completa")
    assert body["errors"] and all(
        e["detail_es"] == "sin respuesta (respóndalo o márquelo «No aplica»)"
        for e in body["errors"]
    )


def _cover_round(data: bytes) -> tuple[Any, list[str]]:
    wb = openpyxl.load_workbook(io.BytesIO(data))
    ws = wb[COVER_SHEET["es"]]
    where = cover_cell(CoverField.round)
    lists = [dv.formula1 for dv in ws.data_validations.dataValidation if where in str(dv.sqref)]
    return ws[where].value, lists


def test_spanish_template_rounds_are_spanish_and_import_as_the_same_round(
    tenant: Tenant, catalog: Catalog
) -> None:
    r = call(tenant, "GET", "/v1/instruments/opi/versions/2015.1/template.xlsx?lang=es")
    _, lists = _cover_round(ok_bytes(r))
    assert lists == ['"línea de base,medio término,línea final"']

    f = catalog.latest("opi")
    assert f is not None
    answers: dict[str, object] = dict.fromkeys(f.instrument.item_keys, 3)
    pre = Prefill("Org ronda", None, "Línea de Base", date(2024, 1, 9), None, answers, {})  # type: ignore[arg-type]
    data = build_template(f.instrument, f.content_hash, "es", pre)
    files = [("files", ("ronda.xlsx", data, "application/octet-stream"))]
    r = tenant.client.post(
        "/v1/imports?create_organizations=true", files=files, headers=tenant.headers()
    )
    (result,) = ok(r)["results"]
    assert result["round"] == "baseline"
    aid = result["assessment_id"]
    assert ok(call(tenant, "GET", f"/v1/assessments/{aid}"))["round"] == "baseline"

    # the assessment back in its Spanish template: the round reads in Spanish
    again = call(tenant, "GET", f"/v1/assessments/{aid}/template.xlsx?lang=es")
    assert _cover_round(ok_bytes(again))[0] == "línea de base"


def ok_bytes(resp: Any) -> bytes:
    assert resp.status_code == 200, resp.text[:300]
    return bytes(resp.content)


def _texts(data: bytes) -> list[str]:
    wb = openpyxl.load_workbook(io.BytesIO(data))
    return [str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value]


def test_spanish_exports_name_rounds_and_statuses_in_spanish(tenant: Tenant) -> None:
    org = _org(tenant, "Org exportada")
    cohort = ok(call(tenant, "POST", "/v1/cohorts", json={"name": "Grupo"}), 201)["id"]
    ok(call(tenant, "PUT", f"/v1/cohorts/{cohort}/members/{org}"))
    full = dict.fromkeys(item_keys("oca"), 3)
    aids = []
    for round_, when in (("baseline", "2024-01-01"), ("endline", "2025-01-01")):
        body = {**_body(org, full, round_), "assessed_on": when}
        aid = ok(call(tenant, "POST", "/v1/assessments", json=body), 201)["id"]
        ok(call(tenant, "POST", f"/v1/assessments/{aid}/submit"))
        aids.append(aid)
    for url in (
        f"/v1/assessments/{aids[0]}/export.xlsx?lang=es",
        f"/v1/organizations/{org}/series.xlsx?instrument_id=oca&lang=es",
        f"/v1/cohorts/{cohort}/comparison.xlsx?instrument_id=oca&lang=es",
    ):  # (the raw data export keeps the stored codes: it is data for R, Stata, SPSS)
        texts = _texts(ok_bytes(call(tenant, "GET", url, role="viewer")))
        joined = "\n".join(texts)
        assert "línea de base" in joined, url
        for english in ("baseline", "endline", "submitted", "Submitted"):
            assert english not in texts, (url, english)
            assert not any(t.startswith(english) for t in texts), (url, english)
