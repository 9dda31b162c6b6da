"""The organization page's "Compared with peers": nothing but the reason with four peers; with
five, the API's percentiles, one chart bar per dimension with its data table; never a peer's
name or id; another workspace's organizations never count."""

from __future__ import annotations

import re
import uuid
from typing import Any

from app.web.i18n import number
from tests.api.factories import call, create_org, get, ok, scored
from tests.conftest import Tenant
from tests.web.conftest import People, csrf_of
from tests.web.test_pages_assessment import part, text_of


def values(seed: int) -> Any:
    return lambda key, index: 1 + (index * (seed + 1) + seed) % 4


def _peers(tenant: Tenant, n: int) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    out = []
    for i in range(n):
        org = create_org(tenant, name=f"Peer{uuid.uuid4().hex[:6]} {i}")
        out.append((org, scored(tenant, org["id"], "oca", "baseline", values(i))))
    return out


def _section(html: str) -> str:
    return part(html, "peers", "</section>")


def test_four_peers_show_only_why(signed_in: People, other_tenant: Tenant) -> None:
    tenant = signed_in.tenant
    _peers(tenant, 4)
    _peers(other_tenant, 3)  # another workspace never completes the five
    org = create_org(tenant, name="Subject Org")
    scored(tenant, org["id"], "oca", "baseline", 3)
    browser = signed_in("viewer")
    en = _section(browser.get(f"/organizations/{org['id']}?lang=en").text)
    assert "Compared with peers" in en
    assert "at least 5 other organizations" in text_of(en)
    assert "<svg" not in en and "Percentile" not in en
    es = _section(browser.get(f"/organizations/{org['id']}?lang=es").text)
    assert "Comparación con pares" in es and "al menos 5 otras organizaciones" in text_of(es)


def test_five_peers_give_the_apis_percentiles_without_naming_one(signed_in: People) -> None:
    tenant = signed_in.tenant
    peers = _peers(tenant, 5)
    org = create_org(tenant, name="Subject Org")
    mine = scored(tenant, org["id"], "oca", "baseline", values(2))
    api = get(tenant, f"/v1/assessments/{mine['id']}/benchmark")
    assert api["state"] == "shown"
    browser = signed_in("viewer")
    html = browser.get(f"/organizations/{org['id']}?lang=en").text
    section = _section(html)
    words = text_of(section)
    assert "the other 5 organizations" in words
    # one bar (a diamond for the organization) per dimension with a score, and the data table
    scored_dims = [s for s in api["dimensions"] if s["value"] is not None]
    assert section.count("<polygon") == len(scored_dims) + 1  # + the legend's diamond
    for s in api["dimensions"]:
        title = s["title"]["en"]
        row = re.search(rf"<th scope=\"row\">{re.escape(title)}</th>(.*?)</tr>", section, re.S)
        assert row, title
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1))
        assert cells[1] == number(s["percentile"], 0), (title, cells)
        assert cells[2] == number(s["median"], 2)
    overall = re.search(r"Overall score</th>(.*?)</tr>", section, re.S)
    assert overall and number(api["overall"]["percentile"], 0) in overall.group(1)
    for other, assessment in peers:
        assert other["name"] not in html
        assert other["id"] not in html and assessment["id"] not in html
    es = text_of(_section(browser.get(f"/organizations/{org['id']}?lang=es").text))
    assert "Comparación con pares" in es and "Percentil" in es


def test_admins_opt_in_on_a_page_and_the_organization_page_offers_shared_peers(
    signed_in: People, other_tenant: Tenant
) -> None:
    tenant = signed_in.tenant
    round = f"round {uuid.uuid4().hex[:8]}"
    theirs = []
    for i in range(5):
        org = create_org(other_tenant, name=f"Faraway{uuid.uuid4().hex[:6]} {i}")
        theirs.append((org, scored(other_tenant, org["id"], "oca", round, values(i))))
    ok(call(other_tenant, "PATCH", "/v1/workspace", "admin", json={"shares_scores": True}))
    org = create_org(tenant, name="Subject Org")
    scored(tenant, org["id"], "oca", round, 3)
    url = f"/organizations/{org['id']}?lang=en"

    viewer = signed_in("viewer")
    assert "All sharing workspaces" not in _section(viewer.get(url).text)  # not sharing yet
    assert viewer.get("/admin/sharing").status_code == 403

    admin = signed_in("admin")
    page = admin.get("/admin/sharing?lang=es")
    assert page.status_code == 200 and "no comparte sus puntajes" in text_of(page.text)
    forged = admin.post("/admin/sharing", data={"csrf_token": "0" * 64, "shares": "true"})
    assert forged.status_code == 403
    done = admin.post("/admin/sharing", data={"csrf_token": csrf_of(page.text), "shares": "true"})
    assert done.status_code == 303
    assert "Ahora se comparten" in admin.get(done.headers["location"]).text  # Spanish chosen
    assert get(tenant, "/v1/workspace")["shares_scores"] is True

    section = _section(viewer.get(url).text)
    assert "All sharing workspaces" in section and "peers=shared" in section
    shared = _section(viewer.get(url + "&peers=shared").text)
    assert "5 other organizations" in text_of(shared) and "<svg" in shared
    for other, assessment in theirs:
        assert other["name"] not in shared and other["id"] not in shared
        assert assessment["id"] not in shared
    assert viewer.get(url + "&peers=all").status_code == 400  # a page refuses a bad query
