"""The organization pages: the list searches and pages the workspace's organizations only; an
organization's page shows its rounds, the series the API sends drawn as a chart with its data
table, the lens profile and weakest areas of the latest round, and links to the report."""

from __future__ import annotations

import re

from app.web.charts.series import PLOT_HEIGHT, TOP, Axis, Line, series_chart
from app.web.i18n import number
from tests.api.factories import (
    add_member,
    create_assessment,
    create_cohort,
    create_org,
    get,
    scored,
)
from tests.conftest import Tenant
from tests.web.conftest import People
from tests.web.test_pages_assessment import part, text_of


def test_the_list_searches_and_shows_cohorts_and_latest_rounds(
    signed_in: People, other_tenant: Tenant
) -> None:
    tenant = signed_in.tenant
    alpha = create_org(tenant, name="Alpha Colectivo", country="MX")
    beta = create_org(tenant, name="Beta Red", country="GT")
    cohort = create_cohort(tenant, name="Cohorte 2024")
    add_member(tenant, cohort["id"], alpha["id"])
    scored(tenant, alpha["id"], "oca", round="baseline", assessed_on="2024-01-10")
    endline = scored(tenant, alpha["id"], "oca", round="endline", assessed_on="2025-01-10")
    create_org(other_tenant, name="Alpha Foreign")
    browser = signed_in("viewer")
    html = browser.get("/organizations?lang=en").text
    assert "Alpha Colectivo" in html and "Beta Red" in html
    assert "Alpha Foreign" not in html
    assert "Cohorte 2024" in html
    assert f'href="/assessments/{endline["id"]}"' in html  # the latest round only
    assert "oca · baseline" not in html
    found = browser.get("/organizations", params={"q": "alpha", "lang": "en"}).text
    assert "Alpha Colectivo" in found and "Beta Red" not in found
    assert f'href="/organizations/{alpha["id"]}"' in found
    none = browser.get("/organizations", params={"q": "zzz", "lang": "es"}).text
    assert "Ninguna organización" in none
    assert beta["id"]


def test_the_list_is_paged(signed_in: People) -> None:
    tenant = signed_in.tenant
    for i in range(27):
        create_org(tenant, name=f"Paged {i:02d}")
    browser = signed_in("viewer")
    first = browser.get("/organizations?lang=en").text
    assert first.count('href="/organizations/') == 25
    nxt = re.search(r'rel="next" href="([^"]+)"', first)
    assert nxt, "no next page link"
    second = browser.get(nxt.group(1).replace("&amp;", "&")).text
    assert second.count('href="/organizations/') == 2
    assert 'rel="next"' not in second


def test_the_organization_page_shows_rounds_series_lenses_and_weakest(signed_in: People) -> None:
    tenant = signed_in.tenant
    org = create_org(
        tenant,
        name="Red Comunitaria",
        country="MX",
        region="Oaxaca",
        thematic_areas=["salud"],
        tags=["rural"],
        external_id="RC-1",
    )
    base = scored(tenant, org["id"], "oca", round="baseline", value=2, assessed_on="2024-01-10")
    end = scored(
        tenant,
        org["id"],
        "oca",
        round="endline",
        value=lambda key, i: 1 + i % 4,
        assessed_on="2025-01-10",
    )
    draft = create_assessment(tenant, org["id"], "nupas", round="baseline", value="yes")
    series = get(tenant, f"/v1/organizations/{org['id']}/series", params={"instrument_id": "oca"})
    latest = get(tenant, f"/v1/assessments/{end['id']}/scores")
    html = signed_in("viewer").get(f"/organizations/{org['id']}?lang=en").text
    for fact in ("Oaxaca", "salud", "rural", "RC-1", "MX"):
        assert fact in html
    assert f'href="/organizations/{org["id"]}/report' in html
    for a in (base, end, draft):
        assert f'href="/assessments/{a["id"]}"' in html
    assert "draft" in html
    # the chart: an accessible SVG, and its data table has the API's numbers
    assert 'role="img"' in html and "<svg" in html
    table = part(html, "series", "</section>")
    overall_row = next(
        r for r in re.findall(r"<tr>.*?</tr>", table, re.S) if "Overall" in text_of(r)
    )
    shown = [number(p["overall"]["score"], 2) for p in series["points"]]
    assert text_of(overall_row).split()[1:] == shown
    for d in series["points"][-1]["dimensions"]:
        assert number(d["score"], 2) in table
    # the four lenses and weakest areas of the latest round
    for lens, value in latest["lens"].items():
        assert lens.title() in html and number(value["score"], 0) in html
    for w in latest["weakest"]:
        assert w["title"]["en"] in html
    assert latest["lowest_level"], "the endline has areas at level 1"
    assert f"({len(latest['lowest_level'])})" in text_of(part(html, "lowest", "</p>"))
    es = signed_in("viewer").get(f"/organizations/{org['id']}?lang=es").text
    assert "Financiamiento" in es and "Áreas más débiles" in es


def test_another_workspaces_organization_is_a_404_page(
    signed_in: People, other_tenant: Tenant
) -> None:
    org = create_org(other_tenant, name="Hidden Org")
    got = signed_in("admin").get(f"/organizations/{org['id']}?lang=es")
    assert got.status_code == 404 and "text/html" in got.headers["content-type"]
    assert "Hidden Org" not in got.text and "Página no encontrada" in got.text


def test_the_series_chart_breaks_lines_at_gaps_and_shows_every_number() -> None:
    chart = series_chart(
        title="T",
        description="D",
        rounds=["baseline", "midline", "endline"],
        lines=[Line("Overall", [2.0, None, 3.5], strong=True), Line("A <b>", [1.0, 2.0, 4.0])],
        axis=Axis(1.0, 4.0, [1.0, 2.0, 3.0, 4.0]),
        number=lambda v: number(v, 2),
        caption="C",
        first_head="Measure",
    )
    svg = str(chart.figure.svg())
    assert svg.count("<circle") == 5  # no point where there is no value
    assert svg.count("<path") == 1  # the overall has no two consecutive values: no line
    assert "<b>" not in svg and "A &lt;b&gt;" in svg
    assert chart.figure.table.rows[0] == ["Overall", "2.00", "—", "3.50"]
    assert [e.label for e in chart.legend] == ["Overall", "A <b>"]
    # the axis starts where the scale starts: value 1 sits on the baseline of the plot
    ys = [float(y) for y in re.findall(r'cy="([\d.]+)"', svg)]
    assert max(ys) == TOP + PLOT_HEIGHT


def test_an_organization_without_scores_and_an_unknown_instrument_choice(
    signed_in: People,
) -> None:
    tenant = signed_in.tenant
    empty = create_org(tenant, name="Sin Rondas")
    browser = signed_in("viewer")
    html = browser.get(f"/organizations/{empty['id']}?lang=en").text
    assert "This organization has no assessments yet." in html and "<svg" not in html
    org = create_org(tenant)
    scored(tenant, org["id"], "nupas", value="yes")
    chosen = browser.get(f"/organizations/{org['id']}?instrument=nope&lang=en").text
    assert 'role="img"' in chosen and "percentage of risk points" in chosen


def test_only_writers_are_offered_a_new_assessment(signed_in: People) -> None:
    org = create_org(signed_in.tenant, name="Nueva Ronda")
    link = f'href="/organizations/{org["id"]}/assessments/new"'
    assert link not in signed_in("viewer").get(f"/organizations/{org['id']}").text
    editor = signed_in("editor")
    assert link in editor.get(f"/organizations/{org['id']}").text
    assert editor.get(f"/organizations/{org['id']}/assessments/new").status_code == 200
