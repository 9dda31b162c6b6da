"""The action plan on the pages: the assessment page proposes the weakest areas, an editor makes
the plan and tracks its actions (with the form token and the plan's ETag), a stale form saves
nothing, a viewer reads but cannot edit, another workspace's plan is a 404 page."""

from __future__ import annotations

import io
import re
from html import unescape
from typing import Any

import openpyxl

from tests.api.factories import call, create_org, get, ok, scored
from tests.api.test_plans import WEAK, baseline
from tests.conftest import Tenant
from tests.web.conftest import People, csrf_of

ETAG = re.compile(r'name="etag" value="([^"]+)"')


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def plan_of(tenant: Tenant, a_id: str) -> Any:
    return get(tenant, f"/v1/assessments/{a_id}/plan")


def test_editor_makes_and_tracks_a_plan_in_both_languages(signed_in: People) -> None:
    tenant = signed_in.tenant
    a = baseline(tenant, create_org(tenant)["id"])
    editor = signed_in("editor")
    es = editor.get(f"/assessments/{a['id']}?lang=es").text
    assert "Esta evaluación todavía no tiene plan de acción." in es
    assert "Experiencia en auditorías" in es and "Hacer el plan de acción" in es
    form = editor.get(f"/assessments/{a['id']}/plan")
    assert form.status_code == 200 and 'value="fmi.audit" checked' in form.text
    made = editor.post(
        f"/assessments/{a['id']}/plan", data={"csrf_token": csrf_of(form.text), "areas": [WEAK]}
    )
    assert made.status_code == 303, made.text[:400]
    assert [p["area"] for p in plan_of(tenant, a["id"])["priorities"]] == [WEAK]
    page = editor.get(f"/assessments/{a['id']}/plan?lang=en").text
    pid = plan_of(tenant, a["id"])["priorities"][0]["id"]
    added = editor.post(
        f"/assessments/{a['id']}/plan/priorities/{pid}/actions",
        data={
            "csrf_token": csrf_of(page),
            "etag": unescape(ETAG.search(page).group(1)),
            "what": "Hire an auditor",
            "who": "Treasurer",
            "due_on": "2024-02-01",
            "resources": "TA",
        },
    )
    assert added.status_code == 303, added.text[:400]
    x = plan_of(tenant, a["id"])["priorities"][0]["actions"][0]
    assert (x["what"], x["who"], x["due_on"], x["overdue"]) == (
        "Hire an auditor",
        "Treasurer",
        "2024-02-01",
        True,
    )
    page = editor.get(f"/assessments/{a['id']}/plan?lang=en").text
    tag = unescape(ETAG.search(page).group(1))
    fields = {
        "csrf_token": csrf_of(page),
        "etag": tag,
        "what": "Hire an auditor",
        "who": "",
        "due_on": "2024-02-01",
        "resources": "TA",
        "status": "done",
        "progress": "Signed",
    }
    done = editor.post(f"/assessments/{a['id']}/plan/actions/{x['id']}", data=fields)
    assert done.status_code == 303
    x = plan_of(tenant, a["id"])["priorities"][0]["actions"][0]
    assert (x["status"], x["progress"], x["who"], x["overdue"]) == ("done", "Signed", None, False)
    # the same form again: its ETag is stale, nothing is saved and the page says why
    stale = editor.post(
        f"/assessments/{a['id']}/plan/actions/{x['id']}", data={**fields, "status": "dropped"}
    )
    assert stale.status_code == 409 and "Someone else changed the plan" in stale.text
    assert plan_of(tenant, a["id"])["priorities"][0]["actions"][0]["status"] == "done"
    # the assessment page shows the plan, in English and Spanish
    en = text_of(editor.get(f"/assessments/{a['id']}?lang=en").text)
    assert "Action plan Audit Experience" in en and "Hire an auditor" in en and "done" in en
    es = text_of(editor.get(f"/assessments/{a['id']}?lang=es").text)
    assert "Plan de acción Experiencia en auditorías" in es and "hecha" in es
    xlsx = editor.get(f"/assessments/{a['id']}/plan.xlsx?lang=es")
    ws = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    assert ws.cell(2, 3).value == "Hire an auditor" and ws.cell(2, 7).value == "hecha"


def test_next_round_shows_on_the_plan(signed_in: People) -> None:
    tenant = signed_in.tenant
    org = create_org(tenant)
    a = baseline(tenant, org["id"])
    ok(
        call(
            tenant,
            "POST",
            f"/v1/assessments/{a['id']}/plan",
            json={"priorities": [{"area": WEAK, "actions": [{"what": "A", "status": "done"}]}]},
        ),
        201,
    )
    scored(tenant, org["id"], "oca", "endline", 3, assessed_on="2025-01-10")
    html = text_of(signed_in("viewer").get(f"/assessments/{a['id']}?lang=en").text)
    assert "Closed against the next round 'endline'" in html
    assert "Improved (+2" in html and "1 of 1 actions done" in html


def test_viewer_reads_but_cannot_edit(signed_in: People) -> None:
    tenant = signed_in.tenant
    a = baseline(tenant, create_org(tenant)["id"])
    ok(call(tenant, "POST", f"/v1/assessments/{a['id']}/plan", json={"priorities": []}), 201)
    viewer = signed_in("viewer")
    html = viewer.get(f"/assessments/{a['id']}?lang=en").text
    assert "Action plan" in html and "Edit the plan" not in html
    assert viewer.get(f"/assessments/{a['id']}/plan").status_code == 403
    token = csrf_of(viewer.get("/").text)
    refused = viewer.post(
        f"/assessments/{a['id']}/plan/priorities",
        data={"csrf_token": token, "etag": "*", "area": "adm.it"},
    )
    assert refused.status_code == 403
    assert plan_of(tenant, a["id"])["priorities"] == []


def test_forms_need_the_token(signed_in: People) -> None:
    tenant = signed_in.tenant
    a = baseline(tenant, create_org(tenant)["id"])
    editor = signed_in("editor")
    refused = editor.post(
        f"/assessments/{a['id']}/plan", data={"csrf_token": "0" * 64, "areas": [WEAK]}
    )
    assert refused.status_code == 403
    assert call(tenant, "GET", f"/v1/assessments/{a['id']}/plan").status_code == 404


def test_another_workspaces_plan_is_a_404_page(signed_in: People, other_tenant: Tenant) -> None:
    a = baseline(other_tenant, create_org(other_tenant)["id"])
    ok(call(other_tenant, "POST", f"/v1/assessments/{a['id']}/plan", json={}), 201)
    editor = signed_in("editor")
    for path in ("/plan", "/plan.xlsx", ""):
        assert editor.get(f"/assessments/{a['id']}{path}").status_code == 404


def test_editor_uploads_the_plan_workbook(signed_in: People) -> None:
    tenant = signed_in.tenant
    a = baseline(tenant, create_org(tenant)["id"])
    ok(
        call(
            tenant,
            "POST",
            f"/v1/assessments/{a['id']}/plan",
            json={"priorities": [{"area": WEAK, "actions": [{"what": "Audit"}]}]},
        ),
        201,
    )
    editor = signed_in("editor")
    wb = openpyxl.load_workbook(io.BytesIO(editor.get(f"/assessments/{a['id']}/plan.xlsx").content))
    wb["Plan"]["G2"] = "done"
    out = io.BytesIO()
    wb.save(out)
    page = editor.get(f"/assessments/{a['id']}/plan?lang=en").text
    assert "Upload the workbook" in page
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sent = editor.post(
        f"/assessments/{a['id']}/plan.xlsx",
        data={"csrf_token": csrf_of(page)},
        files={"file": ("plan.xlsx", out.getvalue(), xlsx)},
    )
    assert sent.status_code == 303, sent.text[:300]
    assert plan_of(tenant, a["id"])["priorities"][0]["actions"][0]["status"] == "done"
    again = editor.post(
        f"/assessments/{a['id']}/plan.xlsx",
        data={"csrf_token": csrf_of(page)},
        files={"file": ("plan.xlsx", out.getvalue(), xlsx)},
    )
    assert again.status_code == 409 and "Download it again" in again.text


def test_a_damaged_plan_workbook_is_said_once_in_each_language(signed_in: People) -> None:
    """A file that is no workbook: the page says so once (the refusal and its one problem were
    the same sentence, shown twice in Spanish), and the plan is as it was."""
    tenant = signed_in.tenant
    a = baseline(tenant, create_org(tenant)["id"])
    plan = {"priorities": [{"area": WEAK, "actions": [{"what": "Audit"}]}]}
    ok(call(tenant, "POST", f"/v1/assessments/{a['id']}/plan", json=plan), 201)
    editor = signed_in("editor")
    before = plan_of(tenant, a["id"])
    for lang, said in (("en", "not an Excel workbook"), ("es", "no es un libro de Excel")):
        page = editor.get(f"/assessments/{a['id']}/plan?lang={lang}").text
        refused = editor.post(
            f"/assessments/{a['id']}/plan.xlsx",
            data={"csrf_token": csrf_of(page)},
            files={"file": ("plan.xlsx", b"PK\x03\x04 not a workbook", "application/octet-stream")},
        )
        assert refused.status_code == 422
        assert text_of(refused.text).count(said) == 1, text_of(refused.text)
        none = editor.post(f"/assessments/{a['id']}/plan.xlsx", data={"csrf_token": csrf_of(page)})
        assert none.status_code == 422
    assert plan_of(tenant, a["id"]) == before


def test_the_cohort_page_lists_overdue_actions_and_where_help_is_needed(
    signed_in: People,
) -> None:
    from tests.api.factories import add_member, create_cohort
    from tests.api.test_plans import make_plan, plan_body

    tenant = signed_in.tenant
    cohort = create_cohort(tenant)
    late, fine = create_org(tenant, name="Org Atrasada"), create_org(tenant, name="Org Al Día")
    for org, due in ((late, "2024-03-01"), (fine, "2999-01-01")):
        add_member(tenant, cohort["id"], org["id"])
        ok(make_plan(tenant, baseline(tenant, org["id"])["id"], plan_body(due)), 201)
    viewer = signed_in("viewer")
    html = viewer.get(f"/cohorts/{cohort['id']}?lang=en").text
    assert "Where help is most needed" in html and "Overdue actions (1)" in html
    assert "Audit Experience" in html and f">{WEAK}<" not in html  # areas named by their titles
    overdue = html.split("<h3>Overdue actions (1)</h3>")[1].split("</table>")[0]
    assert "Org Atrasada" in overdue and "Hire an external auditor" in overdue
    assert "Org Al Día" not in overdue  # its action is not due yet
    assert "Acciones atrasadas (1)" in viewer.get(f"/cohorts/{cohort['id']}?lang=es").text
