"""A rater's own page in real Chromium, with no account: passes axe-core in Spanish and English,
saves through the form; and the verification table on the assessment page passes too."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from app.services import keys
from tests.api.test_ratings import KEYS
from tests.browser.conftest import Server, Team, assert_accessible, sign_in
from tests.browser.test_ratings_browser import _api, _rated


def test_the_rater_page_is_accessible_and_saves(page: Page, team: Team, server: Server) -> None:
    a_id = _rated(server, team)
    with server.sessions() as session:
        secret = keys.create_key(session, workspace=team.workspace, role="editor").secret
    link = _api(server, secret, "POST", f"/v1/assessments/{a_id}/ratings/R05/link", {})
    page.goto(f"{link['path']}?lang=es")
    expect(page.get_by_role("heading", name="Sus calificaciones")).to_be_visible()
    assert_accessible(page)
    page.goto(f"{link['path']}?lang=en")
    expect(page.get_by_role("heading", name="Your ratings")).to_be_visible()
    assert_accessible(page)
    page.locator(f'[id="a-{KEYS[0]}-4"]').check()
    page.get_by_role("button", name="Save and finish").click()
    expect(page.get_by_role("status")).to_contain_text("You finished")
    assert_accessible(page)


def test_the_verification_table_is_accessible(page: Page, team: Team, server: Server) -> None:
    a_id = _rated(server, team)
    with server.sessions() as session:
        secret = keys.create_key(session, workspace=team.workspace, role="editor").secret
    body = {"answers": [{"item": KEYS[5], "value": 1, "note": "no minutes found"}]}
    _api(server, secret, "PATCH", f"/v1/assessments/{a_id}/verification", body)
    sign_in(page, team.emails["viewer"])
    page.goto(f"/assessments/{a_id}")
    expect(
        page.get_by_role("heading", name="Verificación: autoevaluación y puntaje verificado")
    ).to_be_visible()
    assert_accessible(page)
