"""The organization page's "Compared with peers": nothing but the reason with four peers; with
five, the API's percentiles, one chart bar per dimension with its data table; never a peer's
name or id; another workspace's organizations never count."""

from __future__ import annotations

import re
import uuid
from typing import Any

from app.web.i18n import number
from tests.api.factories import create_org, get, scored
from tests.conftest import Tenant
from tests.web.conftest import People
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
