"""The action plan in real Chromium: an editor makes a plan from the proposed weak areas, adds an
action and marks it done; the section and the edit page pass axe-core in Spanish and English."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from playwright.sync_api import Page, expect

from app.services import keys
from tests.api.factories import answers_for
from tests.browser.conftest import Server, Team, assert_accessible, sign_in


def _api(server: Server, secret: str, path: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        server.url + path,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as answer:
        return json.loads(answer.read())


def _scored(server: Server, team: Team) -> str:
    with server.sessions() as session:
        secret = keys.create_key(session, workspace=team.workspace, role="editor").secret
    org = _api(server, secret, "/v1/organizations", {"name": "Fundación Río"})
    answers = answers_for("oca", lambda key, _: 1 if key.startswith("fmi.audit") else 3)
    a = _api(
        server,
        secret,
        "/v1/assessments",
        {
            "organization_id": org["id"],
            "instrument_id": "oca",
            "round": "baseline",
            "assessed_on": "2024-01-10",
            "answers": answers,
        },
    )
    _api(server, secret, f"/v1/assessments/{a['id']}/submit", {})
    return str(a["id"])


def test_editor_makes_a_plan_and_tracks_an_action(page: Page, team: Team, server: Server) -> None:
    a_id = _scored(server, team)
    sign_in(page, team.emails["editor"])
    page.goto(f"/assessments/{a_id}")
    expect(page.get_by_role("heading", name="Plan de acción")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("link", name="Hacer el plan de acción").click()
    expect(page.get_by_label("Experiencia en auditorías")).to_be_checked()
    assert_accessible(page)
    page.get_by_role("button", name="Crear el plan").click()
    expect(page.get_by_role("status")).to_have_text("Cambios guardados.")
    page.get_by_text("Añadir una acción").first.click()
    page.locator("textarea[id^=new-what-]").first.fill("Contratar una auditoría externa")
    page.locator("input[id^=new-who-]").first.fill("Tesorería")
    page.locator("input[id^=new-due-]").first.fill("2024-03-01")
    page.get_by_role("button", name="Añadir una acción").first.click()
    expect(page.get_by_text("atrasada").first).to_be_visible()
    page.locator("select[id^=status-]").first.select_option("done")
    page.get_by_role("button", name="Guardar la acción").first.click()
    expect(page.get_by_role("status")).to_be_visible()
    assert_accessible(page)
    page.goto(f"/assessments/{a_id}?lang=en")
    section = page.locator("section.plan")
    expect(section).to_contain_text("Contratar una auditoría externa")
    expect(section).to_contain_text("done")
    assert_accessible(page)
