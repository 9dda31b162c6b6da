"""The plan workbook round trip: exported, edited in Excel, imported back (all or nothing, only
over the plan it was exported from), read by the same guarded reader as every upload."""

from __future__ import annotations

import io
from typing import Any

import openpyxl

from tests.api.factories import assert_problem, call, create_org, get, ok
from tests.api.test_plans import WEAK, baseline, make_plan

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def exported(tenant: Any, a_id: str, lang: str = "en") -> Any:
    resp = call(tenant, "GET", f"/v1/assessments/{a_id}/plan.xlsx", "viewer", params={"lang": lang})
    assert resp.status_code == 200, resp.text
    return openpyxl.load_workbook(io.BytesIO(resp.content))


def upload(tenant: Any, a_id: str, wb: Any, role: str = "editor") -> Any:
    out = io.BytesIO()
    wb.save(out)
    files = {"file": ("plan.xlsx", out.getvalue(), XLSX)}
    return call(tenant, "POST", f"/v1/assessments/{a_id}/plan.xlsx", role, files=files)


def test_round_trip_updates_and_adds(tenant: Any) -> None:
    a = baseline(tenant, create_org(tenant)["id"])
    ok(make_plan(tenant, a["id"]), 201)
    wb = exported(tenant, a["id"], "es")
    ws = wb["Plan"]
    assert ws["J2"].value == WEAK and ws["K2"].value
    ws["G2"], ws["H2"], ws["D2"] = "hecha", "Contrato firmado", "Tesorera"
    ws.append(["", "", "Buy laptops", "Admin", "2030-01-31", "", "", "", "", "adm.it"])
    ws.append(["", "", "Publish statements", "", "", "", "en curso", "", "", WEAK])
    result = ok(upload(tenant, a["id"], wb))
    assert (result["updated"], result["added"]) == (1, 2)
    plan = get(tenant, f"/v1/assessments/{a['id']}/plan")
    audit, it = plan["priorities"]
    first, second = audit["actions"]
    assert (first["status"], first["progress"], first["who"]) == (
        "done",
        "Contrato firmado",
        "Tesorera",
    )
    assert first["due_on"] == "2024-03-01"  # a date cell read back as the same day
    assert (second["what"], second["status"]) == ("Publish statements", "in_progress")
    assert it["area"] == "adm.it"
    assert (it["actions"][0]["what"], it["actions"][0]["due_on"]) == ("Buy laptops", "2030-01-31")
    # the same workbook again: the plan changed since it was exported, nothing is applied
    assert_problem(upload(tenant, a["id"], wb), 412)
    assert len(get(tenant, f"/v1/assessments/{a['id']}/plan")["priorities"][0]["actions"]) == 2


def test_bad_cells_change_nothing(tenant: Any) -> None:
    a = baseline(tenant, create_org(tenant)["id"])
    ok(make_plan(tenant, a["id"]), 201)
    before = get(tenant, f"/v1/assessments/{a['id']}/plan")
    wb = exported(tenant, a["id"])
    ws = wb["Plan"]
    ws["G2"] = "maybe"
    ws["E2"] = "next week"
    ws["H2"] = "=1+1"
    ws.append(["", "", "x", "", "", "", "", "", "", "no.such.area"])
    body = assert_problem(upload(tenant, a["id"], wb), 422)
    pointers = {e["pointer"] for e in body["errors"]}
    assert {"Plan!G2", "Plan!E2", "Plan!H2", "Plan!J3"} <= pointers, body
    assert get(tenant, f"/v1/assessments/{a['id']}/plan") == before


def test_only_its_own_plan_editors_and_workspace(tenant: Any, other_tenant: Any) -> None:
    org = create_org(tenant)
    a = baseline(tenant, org["id"])
    b = baseline(tenant, org["id"], round="second")
    ok(make_plan(tenant, a["id"]), 201)
    ok(make_plan(tenant, b["id"]), 201)
    wb = exported(tenant, a["id"])
    assert_problem(upload(tenant, b["id"], wb), 422)
    assert_problem(upload(tenant, a["id"], wb, "viewer"), 403)
    assert_problem(upload(other_tenant, a["id"], wb), 404)
    files = {"file": ("plan.xlsx", b"not a workbook at all", XLSX)}
    assert_problem(call(tenant, "POST", f"/v1/assessments/{a['id']}/plan.xlsx", files=files), 422)
