"""In a real browser: the organization page's "Compared with peers" section (chart, legend,
tables) passes axe-core in both languages, at a phone's width and a desktop's."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from playwright.sync_api import Page, expect

from app.services.keys import create_key
from tests.api.factories import item_keys
from tests.browser.conftest import Server, Team, assert_accessible, sign_in


def _api(server: Server, key: str, path: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        server.url + path,
        data=json.dumps(body or {}).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as answer:
        return json.loads(answer.read())


def _scored_org(server: Server, key: str, name: str, seed: int) -> str:
    org: str = _api(server, key, "/v1/organizations", {"name": name})["id"]
    answers = [
        {"item": k, "value": 1 + (i * (seed + 1) + seed) % 4}
        for i, k in enumerate(item_keys("oca"))
    ]
    body = {
        "organization_id": org,
        "instrument_id": "oca",
        "round": "baseline",
        "assessed_on": "2024-01-10",
        "answers": answers,
    }
    assessment = _api(server, key, "/v1/assessments", body)
    _api(server, key, f"/v1/assessments/{assessment['id']}/submit")
    return org


def test_the_peers_section_is_accessible(page: Page, team: Team, server: Server) -> None:
    with server.sessions() as session:
        key = create_key(session, workspace=team.workspace, role="editor").secret
        session.commit()
    for i in range(5):
        _scored_org(server, key, f"Peer {i}", i)
    org = _scored_org(server, key, "Subject", 2)
    sign_in(page, team.emails["viewer"])
    for lang, title in (("es", "Comparación con pares"), ("en", "Compared with peers")):
        for width in (390, 1280):
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(f"/organizations/{org}?lang={lang}")
            section = page.locator("section.peers")
            expect(section.get_by_role("heading", level=2)).to_have_text(title)
            expect(section.get_by_role("img")).to_have_count(1)
            section.locator("details.data summary").click()
            assert_accessible(page)
