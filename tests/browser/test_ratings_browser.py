"""Individual ratings in real Chromium: the Ratings section of a draft with four raters passes
axe-core in Spanish and English, and a viewer is offered no section at all."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from playwright.sync_api import Page, expect

from app.services import keys
from tests.api.factories import answers_for
from tests.api.test_ratings import KEYS, RATINGS
from tests.browser.conftest import Server, Team, assert_accessible, sign_in


def _api(server: Server, secret: str, method: str, path: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        server.url + path,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
        method=method,
    )
    with urllib.request.urlopen(request) as answer:
        return json.loads(answer.read())


def _rated(server: Server, team: Team) -> str:
    with server.sessions() as session:
        secret = keys.create_key(session, workspace=team.workspace, role="editor").secret
    org = _api(server, secret, "POST", "/v1/organizations", {"name": "Fundación Río"})
    a = _api(
        server,
        secret,
        "POST",
        "/v1/assessments",
        {
            "organization_id": org["id"],
            "instrument_id": "oca",
            "round": "baseline",
            "assessed_on": "2024-01-10",
            "answers": answers_for("oca", 3, only=KEYS[4:]),
        },
    )
    for code, values in RATINGS.items():
        answers = [{"item": k, "value": v} for k, v in values.items()]
        _api(
            server, secret, "PUT", f"/v1/assessments/{a['id']}/ratings/{code}", {"answers": answers}
        )
    return str(a["id"])


def test_the_ratings_section_is_accessible(page: Page, team: Team, server: Server) -> None:
    a_id = _rated(server, team)
    sign_in(page, team.emails["editor"])
    page.goto(f"/assessments/{a_id}")
    expect(page.get_by_role("heading", name="Calificaciones individuales")).to_be_visible()
    expect(page.get_by_text("desacuerdo", exact=True)).to_have_count(1)
    assert_accessible(page)
    page.goto(f"/assessments/{a_id}?lang=en")
    expect(page.get_by_role("heading", name="Individual ratings")).to_be_visible()
    assert_accessible(page)


def test_a_viewer_sees_no_ratings(page: Page, team: Team, server: Server) -> None:
    a_id = _rated(server, team)
    sign_in(page, team.emails["viewer"])
    page.goto(f"/assessments/{a_id}")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.get_by_role("heading", name="Calificaciones individuales")).to_have_count(0)
