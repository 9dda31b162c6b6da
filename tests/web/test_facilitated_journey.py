"""Issue 12 from end to end: a facilitated OCA endline with eight raters — three through the
API, three in one Excel workbook with a sheet each, two on their own page through a personal
link —, the consensus proposed from their ratings and applied, evidence and verification on
some items, after a baseline whose action plan this round closes; then the organization report
shows the raters' disagreement (to the facilitator only), the verification gap, the plan's
outcome and where the organization stands among its peers."""

from __future__ import annotations

import re
import uuid
from io import BytesIO
from typing import Any

from openpyxl import load_workbook

from tests.api.factories import answers_for, call, create_assessment, create_org, get, ok, scored
from tests.api.test_plans import baseline, plan_body
from tests.api.test_ratings_excel import fill
from tests.web.conftest import People, csrf_of

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _ratings(base: int, spread: int) -> dict[str, Any]:
    """One rater's values: ``base`` on every item, the first item ``spread`` away."""
    keys = [a["item"] for a in answers_for("oca", 3)]
    return {k: (base + spread if n == 0 else base) for n, k in enumerate(keys)}


def test_a_facilitated_round_from_ratings_to_the_report(signed_in: People) -> None:
    tenant = signed_in.tenant
    tag = uuid.uuid4().hex[:6]
    endline = f"endline {tag}"
    for i in range(5):  # peers in the same round, for the standing
        peer = create_org(tenant, name=f"Peer {tag} {i}")
        scored(tenant, peer["id"], "oca", endline, 2 + i % 2, assessed_on="2025-01-10")
    org = create_org(tenant, name=f"Facilitada {tag}")
    first = baseline(tenant, org["id"])  # its weakest area is WEAK
    ok(call(tenant, "POST", f"/v1/assessments/{first['id']}/plan", json=plan_body()), 201)

    a = create_assessment(tenant, org["id"], "oca", endline, 3, assessed_on="2025-01-10")
    ratings = f"/v1/assessments/{a['id']}/ratings"
    # three raters through the API
    for n, (base, spread) in enumerate(((3, -2), (3, 0), (3, -1)), start=1):
        values = _ratings(base, spread)
        body = {"answers": [{"item": k, "value": v} for k, v in values.items()]}
        ok(call(tenant, "PUT", f"{ratings}/R0{n}", json=body))
    # three in one workbook, a sheet each
    r = call(tenant, "GET", f"{ratings}.xlsx", params={"blank": 3})
    wb = load_workbook(BytesIO(r.content))
    for code, (base, spread) in zip(("R04", "R05", "R06"), ((3, 1), (3, 1), (3, 0)), strict=True):
        fill(wb[code], _ratings(base, spread))
    out = BytesIO()
    wb.save(out)
    files = {"file": ("ratings.xlsx", out.getvalue(), "application/octet-stream")}
    ok(call(tenant, "POST", f"{ratings}.xlsx", files=files))
    # two on their own page, through a personal link
    for code in ("R07", "R08"):
        link = ok(call(tenant, "POST", f"{ratings}/{code}/link", json={"days": 7}), 201)
        rater = signed_in.browser()
        page = rater.get(link["path"] + "?lang=es")
        assert page.status_code == 200
        form = {"csrf_token": csrf_of(page.text), "action": "finish"}
        form |= {f"a.{k}": str(v) for k, v in _ratings(3, 1 if code == "R07" else -1).items()}
        saved = rater.post(link["path"], data=form)
        assert saved.status_code in (200, 303), saved.text[:500]
    summary = get(tenant, ratings, "editor")
    answered = {r["code"]: r["answered"] for r in summary["raters"]}
    assert answered == {f"R0{n}": 45 for n in range(1, 9)}, answered
    assert summary["disagreements"] == 1  # the first item: from 1 to 4 among the eight

    # the consensus from their ratings, applied under the assessment's ETag
    current = get(tenant, f"/v1/assessments/{a['id']}", "editor")
    applied = ok(
        call(
            tenant,
            "POST",
            f"{ratings}/consensus",
            json={"apply": True},
            headers={"If-Match": current["etag"]},
        )
    )
    assert applied["applied"] is True
    ok(call(tenant, "POST", f"/v1/assessments/{a['id']}/submit"))

    # evidence and verification on two items
    keys = list(_ratings(3, 0))
    files = {"file": ("acta.pdf", PDF, "application/pdf")}
    evidence = ok(
        call(
            tenant, "POST", f"/v1/assessments/{a['id']}/items/{keys[1]}/evidence/files", files=files
        ),
        201,
    )
    ok(
        call(
            tenant,
            "PATCH",
            f"/v1/assessments/{a['id']}/evidence/{evidence['id']}",
            json={"status": "verified"},
        )
    )
    body = {"answers": [{"item": k, "value": 1, "note": "acta revisada"} for k in keys[1:3]]}
    ok(call(tenant, "PATCH", f"/v1/assessments/{a['id']}/verification", json=body))

    # the report: plan closed, peers, verification gap, and the disagreement for facilitators
    url = f"/organizations/{org['id']}/report?instrument=oca&from=baseline&to={endline}&lang=en"
    editor = signed_in("editor").get(url).text
    plan = re.search(r'id="plan".*?</section>', editor, re.S)
    assert plan and "Improved" in plan.group(0)  # its area went from 1 to the consensus, 3
    assert 'id="peers"' in editor and "Percentile" in editor
    verified = re.search(r'id="verified-1".*?</section>', editor, re.S)
    assert verified and "2 of 45 items were verified" in verified.group(0)
    raters = re.search(r'id="raters-1".*?</section>', editor, re.S)
    assert raters and "8 raters rated on their own" in raters.group(0)
    viewer = signed_in("viewer").get(url).text
    assert 'id="raters-' not in viewer and 'id="verified-1"' in viewer
