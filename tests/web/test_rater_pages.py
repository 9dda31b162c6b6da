"""A rater's own page: the facilitator issues the link on the assessment page (shown once), the
rater opens it with no account and sees the items in their language with the rubric's statements
and their own ratings only, saves and finishes with the form token; the facilitator sees who
finished; a revoked or closed link gives a page saying so. And the verification table."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from tests.api.factories import answers_for, call, instrument, ok, submit
from tests.api.test_ratings import A, B, rated, url
from tests.api.test_verification import verify
from tests.web.conftest import People, csrf_of
from tests.web.test_plans_pages import text_of

_LINK = re.compile(r'value="(https?://[^"]+/rate/(ocr_[^"]+))"')


def issue_on_page(editor: TestClient, a: dict[str, Any], code: str) -> str:
    page = editor.get(f"/assessments/{a['id']}?lang=en")
    token = csrf_of(page.text)
    shown = editor.post(
        f"/assessments/{a['id']}/ratings/link", data={"csrf_token": token, "code": code}
    )
    assert shown.status_code == 200, shown.text[:300]
    assert shown.headers["Referrer-Policy"] == "no-referrer"
    found = _LINK.search(shown.text)
    assert found, "the page shows the link"
    return found.group(2)


def test_a_rater_rates_through_their_link_and_sees_nothing_else(signed_in: People) -> None:
    tenant = signed_in.tenant
    a = rated(tenant)
    editor = signed_in("editor")
    token = issue_on_page(editor, a, "r02")

    rater = signed_in.browser()  # no account, no sign-in
    page = rater.get(f"/rate/{token}?lang=es")
    assert page.status_code == 200
    assert page.headers["Referrer-Policy"] == "no-referrer"
    text = text_of(page.text)
    assert "Sus calificaciones" in text and "R02" in text
    item = instrument("oca").items[A]
    assert item.text.es in text and item.levels[4].es in text  # the rubric's level statement
    # R02's own ratings are checked; nobody else's codes, the distribution or the consensus
    assert re.search(rf'name="a\.{A}" value="2" checked', page.text)
    for other in ("R01", "R03", "R04", "desacuerdo", "Consenso", "Mediana"):
        assert other not in text
    assert "/organizations" not in page.text and "/assessments/" not in page.text

    form = {"csrf_token": csrf_of(page.text), f"a.{A}": "4", f"n.{A}": "seen", "action": "finish"}
    assert rater.post(f"/rate/{token}", data={**form, "csrf_token": "x"}).status_code == 403
    done = rater.post(f"/rate/{token}", data=form)
    assert done.status_code == 303 and done.headers["location"].endswith("done=finished")
    # saved as R02's ratings: the whole form replaces them, so B (not sent) is now blank
    r02 = ok(call(tenant, "GET", url(a, "/R02")))
    assert r02["ratings"] == [{"item": A, "value": 4.0, "note": "seen"}]

    bad = rater.post(f"/rate/{token}?lang=en", data={**form, f"a.{B}": "Brilliant"})
    assert bad.status_code == 422 and "Nothing was saved" in text_of(bad.text)
    assert f'id="err-{B}"' in bad.text and re.search(rf'name="a\.{A}" value="4" checked', bad.text)

    facilitator = text_of(editor.get(f"/assessments/{a['id']}?lang=en").text)
    assert "Each rater's own link" in facilitator
    row = editor.get(f"/assessments/{a['id']}?lang=en").text.split('id="rater-R02"')[1]
    row = text_of(row.split("</tr>")[0])
    assert "active until" in row and "yes" in row

    # revoked on the page: the rater gets a page that says so, in their language
    assessment = editor.get(f"/assessments/{a['id']}?lang=es")
    revoke = editor.post(
        f"/assessments/{a['id']}/ratings/R02/revoke",
        data={"csrf_token": csrf_of(assessment.text)},
    )
    assert revoke.status_code == 303
    refused = rater.get(f"/rate/{token}?lang=es")
    assert refused.status_code == 403
    assert "pida uno nuevo" in text_of(refused.text)
    assert rater.post(f"/rate/{token}", data=form).status_code == 403


def test_a_closed_assessment_refuses_the_link_and_viewers_cannot_issue(
    signed_in: People,
) -> None:
    tenant = signed_in.tenant
    a = rated(tenant)
    token = issue_on_page(signed_in("editor"), a, "R07")
    viewer = signed_in("viewer")
    page = viewer.get(f"/assessments/{a['id']}")
    assert "/ratings/link" not in page.text
    denied = viewer.post(
        f"/assessments/{a['id']}/ratings/link", data={"csrf_token": csrf_of(page.text)}
    )
    assert denied.status_code == 403
    submit_all(tenant, a)
    refused = signed_in.browser().get(f"/rate/{token}?lang=en")
    assert refused.status_code == 403 and "ask your facilitator" in text_of(refused.text)


def submit_all(tenant: Any, a: dict[str, Any]) -> None:
    """Answer every item so that the draft can be submitted."""
    current = ok(call(tenant, "GET", f"/v1/assessments/{a['id']}"))
    body = {"answers": answers_for("oca", 3)}
    headers = {"If-Match": current["etag"]}
    ok(call(tenant, "PATCH", f"/v1/assessments/{a['id']}", json=body, headers=headers))
    submit(tenant, a["id"])


def test_the_assessment_page_shows_self_and_verified_scores(signed_in: People) -> None:
    tenant = signed_in.tenant
    a = rated(tenant)
    viewer = signed_in("viewer")
    assert "Verification" not in viewer.get(f"/assessments/{a['id']}?lang=en").text
    ok(verify(tenant, a, {A: 1}))
    en = text_of(viewer.get(f"/assessments/{a['id']}?lang=en").text)
    assert "Verification: self-score and verified score" in en and "Items verified: 1 of" in en
    es = text_of(viewer.get(f"/assessments/{a['id']}?lang=es").text)
    assert "Autoevaluación" in es and "Brecha" in es and "General" in es
