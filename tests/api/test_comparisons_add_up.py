"""Comparisons that add up, through the API: titles beside keys, each organization's scores in
the cohort comparison, items skipped in one round left out of both, shown changes that are the
difference of the shown numbers, rounded numbers in the audit log, and deprecations documented."""

from __future__ import annotations

import json
from typing import Any

from app.cli.openapi import openapi_text
from tests.api.factories import (
    add_member,
    audit_events,
    create_cohort,
    create_org,
    dimension_items,
    get,
    item_keys,
    scored,
)


def _varied(key: str, index: int) -> int:
    return 1 + (index * 7 + len(key)) % 4


def test_titles_beside_keys_and_each_organizations_scores(tenant: Any) -> None:
    cohort = create_cohort(tenant, name="Titled")
    org = create_org(tenant, name="Fundación Ñandú")
    add_member(tenant, cohort["id"], org["id"])
    base = scored(tenant, org["id"], "oca", "baseline", 2, assessed_on="2023-03-01")
    end = scored(tenant, org["id"], "oca", "endline", 3, assessed_on="2024-03-01")
    c = get(tenant, f"/v1/organizations/{org['id']}/comparison", params={"instrument_id": "oca"})
    assert c["organization_name"] == "Fundación Ñandú"
    for d in c["dimensions"]:
        assert d["title"]["en"] and d["title"]["es"]
        assert all(a["title"]["en"] and a["title"]["es"] for a in d["areas"])
    assert all(i["title"]["en"] and i["title"]["es"] for i in c["items"])
    assert {x["key"]: x["title"]["es"] for x in c["lens"]}["financing"] == "Financiamiento"
    cc = get(tenant, f"/v1/cohorts/{cohort['id']}/comparison", params={"instrument_id": "oca"})
    assert all(k["title"]["en"] and k["title"]["es"] for k in cc["keys"])
    (o,) = cc["organizations"]
    assert o["baseline"]["assessment_id"] == base["id"]
    assert o["endline"]["assessment_id"] == end["id"]
    assert o["baseline"]["scores"]["overall"] == 2.0 and o["endline"]["scores"]["overall"] == 3.0
    assert set(o["endline"]["scores"]) == {"overall", *dimension_items("oca")}
    assert o["left_out"] == []


def test_items_marked_na_at_endline_are_left_out_of_both_rounds(tenant: Any) -> None:
    """Baseline 4 on one item and 1 on the rest; the endline marks that item N/A: without the
    rule the endline drops (1 < mean with the 4), with it nothing changed."""
    keys = item_keys("oca")
    skipped = dimension_items("oca")["fmi"][0]
    cohort = create_cohort(tenant, name="Skips")
    org = create_org(tenant, name="Skipper")
    add_member(tenant, cohort["id"], org["id"])
    scored(tenant, org["id"], "oca", "baseline", lambda k, _: 4 if k == skipped else 1)
    scored(tenant, org["id"], "oca", "endline", lambda k, _: "na" if k == skipped else 1)
    c = get(tenant, f"/v1/organizations/{org['id']}/comparison", params={"instrument_id": "oca"})
    assert [(x["key"], x["code"]) for x in c["left_out"]] == [(skipped, "na_at_endline")]
    assert c["left_out"][0]["es"].endswith("en la línea final")
    assert c["compared_items"] == len(keys) - 1
    assert (c["overall"]["baseline"], c["overall"]["endline"]) == (1.0, 1.0)
    assert (c["overall"]["direction"], c["overall"]["outcome"]) == ("same", "unchanged")
    assert all(d["direction"] in ("same", "n/a") for d in c["dimensions"])
    cc = get(tenant, f"/v1/cohorts/{cohort['id']}/comparison", params={"instrument_id": "oca"})
    overall = cc["keys"][0]
    assert overall["directions"]["down"] == [] and overall["outcomes"]["declined"] == []
    assert [x["key"] for x in cc["organizations"][0]["left_out"]] == [skipped]
    assert cc["organizations"][0]["baseline"]["scores"]["overall"] == 1.0


def test_every_shown_change_is_the_difference_of_the_shown_numbers(tenant: Any) -> None:
    org = create_org(tenant)
    scored(tenant, org["id"], "oca", "baseline", _varied)
    scored(tenant, org["id"], "oca", "endline", lambda k, i: _varied(k, i + 1))
    c = get(tenant, f"/v1/organizations/{org['id']}/comparison", params={"instrument_id": "oca"})
    deltas = [c["overall"], *c["lens"]]
    for d in c["dimensions"]:
        deltas += [d, *d["areas"]]
    checked = 0
    for d in deltas:
        if d["delta"] is not None:
            assert d["delta"] == round(d["endline"] - d["baseline"], 2), d["key"]
            checked += 1
    assert checked > 20


def test_the_audit_log_shows_rounded_numbers(tenant: Any) -> None:
    org = create_org(tenant)
    a = scored(tenant, org["id"], "oca", "baseline", _varied)
    (event,) = [e for e in audit_events(tenant) if e["action"] == "assessment.submit"]
    overall = event["changes"]["overall"]
    shown = get(tenant, f"/v1/assessments/{a['id']}/scores")["overall"]["score"]
    assert overall == shown and round(overall, 2) == overall
    assert len(repr(overall)) <= 4  # e.g. 2.97, never 2.9688775510204084


def test_deprecated_fields_say_until_when_and_no_capacity_number_is_called_cbld9() -> None:
    doc = json.loads(openapi_text())
    schemas = doc["components"]["schemas"]
    for name, field in [
        ("DeltaRead", "improved"),
        ("DeltaRead", "improved_by_threshold"),
        ("OrgComparisonRead", "improvement_threshold"),
        ("OrgComparisonRead", "threshold"),
        ("KeyStatsRead", "change"),
        ("KeyStatsRead", "change_by_threshold"),
    ]:
        prop = schemas[name]["properties"][field]
        assert prop.get("deprecated") is True, (name, field)
        assert "2027-06-30" in prop["description"], (name, field)
    for name in ("ChangeRead", "OutcomesRead", "DirectionsRead", "KeyStatsRead", "DeltaRead"):
        assert "CBLD" not in json.dumps(schemas[name])
    cohort = doc["paths"]["/v1/cohorts/{cohort_id}/comparison"]["get"]
    assert "CBLD" not in cohort["summary"]
