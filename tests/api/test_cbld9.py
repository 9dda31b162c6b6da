"""CBLD-9 through the API: a performance metric recorded on assessments, and the indicator per US
fiscal year for a cohort, with the organizations behind each number."""

from __future__ import annotations

import io
from typing import Any

from openpyxl import load_workbook

from tests.api.factories import (
    add_member,
    assert_problem,
    call,
    create_assessment,
    create_cohort,
    create_org,
    get,
    ok,
    scored,
    submit,
)


def _perf(value: float, metric: str = "Local revenue (%)", better: bool = True) -> dict[str, Any]:
    return {"metric": metric, "value": value, "higher_is_better": better}


def test_cbld9_per_fiscal_year_with_the_organizations_behind_it(tenant: Any) -> None:
    cohort = create_cohort(tenant, name="Activity")
    orgs = {n: create_org(tenant, name=f"{n} org") for n in "ABCD"}
    for o in orgs.values():
        add_member(tenant, cohort["id"], o["id"])
    plan = {
        "A": [("2024-02-01", 10.0), ("2025-03-01", 14.0)],  # improved
        "B": [("2024-02-01", 30.0), ("2025-03-01", 30.0)],  # the same: not improved
        "C": [("2024-02-01", 5.0)],  # never measured again
    }
    for n, points in plan.items():
        for i, (on, value) in enumerate(points):
            scored(
                tenant,
                orgs[n]["id"],
                "opi",
                ["baseline", "endline"][i],
                2,
                assessed_on=on,
                performance=_perf(value),
            )
    scored(tenant, orgs["D"]["id"], "opi", "baseline", 2, assessed_on="2024-02-01")  # no metric
    r = get(tenant, f"/v1/cohorts/{cohort['id']}/cbld-9", params={"fiscal_year": 2025})
    assert (r["indicator"], r["fiscal_year"], r["starts_on"], r["ends_on"]) == (
        "CBLD-9",
        2025,
        "2024-10-01",
        "2025-09-30",
    )
    assert r["title"]["en"].startswith("CBLD-9") and r["title"]["es"].startswith("CBLD-9")
    assert (r["denominator"], r["numerator"], r["share_improved"]) == (2, 1, 0.5)
    assert r["improved"] == [orgs["A"]["id"]] and r["not_improved"] == [orgs["B"]["id"]]
    a = r["organizations"][0]
    assert a["name"] == "A org" and a["metrics"][0]["change"] == 4.0
    assert [w["id"] for w in r["not_measured_again"]] == [orgs["C"]["id"]]
    before = get(tenant, f"/v1/cohorts/{cohort['id']}/cbld-9", params={"fiscal_year": 2024})
    assert before["denominator"] == 0 and before["share_improved"] is None


def test_the_performance_metric_on_an_assessment(tenant: Any) -> None:
    org = create_org(tenant)
    a = create_assessment(tenant, org["id"], "opi", "baseline", 2, performance=_perf(3.5))
    assert a["performance"] == _perf(3.5)
    url = f"/v1/assessments/{a['id']}"
    patched = ok(
        call(
            tenant,
            "PATCH",
            url,
            json={"performance": _perf(7, "Days to report", better=False)},
            headers={"If-Match": a["etag"]},
        )
    )
    assert patched["performance"] == _perf(7.0, "Days to report", better=False)
    removed = ok(
        call(
            tenant, "PATCH", url, json={"performance": None}, headers={"If-Match": patched["etag"]}
        )
    )
    assert removed["performance"] is None
    assert submit(tenant, a["id"])["performance"] is None


def test_bad_performance_and_fiscal_years_are_refused(tenant: Any) -> None:
    org = create_org(tenant)
    for bad in ({"metric": "", "value": 1}, {"metric": "x"}, {"metric": "x", "value": "nan"}):
        body = {
            "organization_id": org["id"],
            "instrument_id": "opi",
            "round": "baseline",
            "assessed_on": "2024-01-01",
            "performance": bad,
        }
        assert_problem(call(tenant, "POST", "/v1/assessments", json=body), 422)
    cohort = create_cohort(tenant, name="FY")
    for fy in ("1999", "2101", "fy25", ""):
        resp = call(tenant, "GET", f"/v1/cohorts/{cohort['id']}/cbld-9", params={"fiscal_year": fy})
        assert_problem(resp, 422)


def test_cbld9_in_excel_in_both_languages(tenant: Any) -> None:
    cohort = create_cohort(tenant, name="Excel FY")
    org = create_org(tenant, name="Asociación Œuvre")
    add_member(tenant, cohort["id"], org["id"])
    for i, (on, value) in enumerate([("2024-02-01", 10.0), ("2025-03-01", 12.5)]):
        r = ["baseline", "endline"][i]
        scored(tenant, org["id"], "opi", r, 2, assessed_on=on, performance=_perf(value))
    for lang, words in (
        ("en", ("Yes", "Percent improved")),
        ("es", ("Sí", "Porcentaje que mejoró")),
    ):
        resp = call(
            tenant,
            "GET",
            f"/v1/cohorts/{cohort['id']}/cbld-9.xlsx",
            params={"fiscal_year": 2025, "lang": lang},
        )
        assert resp.status_code == 200, resp.text
        ws = load_workbook(io.BytesIO(resp.content))["CBLD-9"]
        cells = [c for row in ws.iter_rows(values_only=True) for c in row if c is not None]
        assert ws["A1"].value.startswith("CBLD-9")
        assert words[0] in cells and words[1] in cells
        assert "Asociación Œuvre" in cells and 2.5 in cells and 1.0 in cells  # change; share


def test_a_huge_performance_value_is_shown_not_a_500(tenant: Any) -> None:
    """Found by the bad-input campaign: a value of 1e26 broke the cohort's CBLD-9 (500) and a
    PATCH with it (500 in the audit log's rounding)."""
    cohort = create_cohort(tenant, name="Huge")
    org = create_org(tenant, name="Huge org")
    add_member(tenant, cohort["id"], org["id"])
    scored(
        tenant, org["id"], "opi", "baseline", 2, assessed_on="2024-02-01", performance=_perf(1e26)
    )
    later = scored(
        tenant, org["id"], "opi", "endline", 2, assessed_on="2025-03-01", performance=_perf(1.0)
    )
    r = get(tenant, f"/v1/cohorts/{cohort['id']}/cbld-9", params={"fiscal_year": 2025})
    assert r["denominator"] == 1 and r["not_improved"] == [org["id"]]
    draft = create_assessment(tenant, org["id"], "opi", "midline", 2, assessed_on="2024-06-01")
    url = f"/v1/assessments/{draft['id']}"
    etag = call(tenant, "GET", url).headers["etag"]
    response = call(
        tenant, "PATCH", url, json={"performance": _perf(-1e27)}, headers={"If-Match": etag}
    )
    assert response.status_code == 200, response.text
    assert response.json()["performance"]["value"] == -1e27
    assert later["status"] == "submitted"
