"""The explained score object (DESIGN §7), series and comparisons (§6), checked against numbers
worked out by hand here (every OCA/OPI item, area and dimension weighs 1)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.api.factories import (
    add_member,
    assert_problem,
    call,
    create_assessment,
    create_cohort,
    create_org,
    dimension_items,
    get,
    item_keys,
    scored,
)

OCA_DIMS = dimension_items("oca")  # gls 5, fmi 8, adm 6, hr 8, pm 5, ppm 5, oms 8 (one item/area)
OPI_DIMS = dimension_items("opi")  # 4 dimensions x 2 areas x 1 item
LEVELS = {"gls": 1, "fmi": 2, "adm": 3, "hr": 4, "pm": 1, "ppm": 2, "oms": 3}


def _by_dimension(instrument_id: str, values: dict[str, Any]) -> dict[str, Any]:
    return {k: values[d] for d, keys in dimension_items(instrument_id).items() for k in keys}


def _all_rounded(value: Any, path: str = "") -> list[str]:
    """Paths of floats with more than 2 decimals."""
    if isinstance(value, float):
        return [] if round(value, 2) == value else [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _all_rounded(v, f"{path}/{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _all_rounded(v, f"{path}/{i}")]
    return []


def _scores(tenant: Any, assessment_id: str) -> dict[str, Any]:
    return get(tenant, f"/v1/assessments/{assessment_id}/scores")


def test_oca_score_object(tenant: Any) -> None:
    org = create_org(tenant)
    # pinned: the lens sums below are 2015.1's mapping (2015.2 follows Table 4 more closely)
    a = scored(
        tenant, org["id"], "oca", value=_by_dimension("oca", LEVELS), instrument_version="2015.1"
    )
    s = _scores(tenant, a["id"])
    assert s["assessment_id"] == a["id"]
    assert s["instrument"] == {"id": "oca", "version": "2015.1"}
    assert s["method"] == "mean"
    assert s["min_coverage"] == 0.75
    assert s["overall"] == {
        "score": 2.29,  # 16/7
        "normalized": 42.86,  # 300/7 on 0-100
        "coverage": 1.0,
        "answered": 45,
        "na": 0,
        "missing": 0,
        "band": {"en": "Emerging capacity", "es": "Capacidad emergente"},
        "reason": None,
        "cap": None,
        "areas_assessed": 45,
        "areas_total": 45,
        "includes_partial": [],
        "notes": [],
    }
    dims = {d["key"]: d for d in s["dimensions"]}
    assert list(dims) == list(OCA_DIMS)
    for key, level in LEVELS.items():
        d = dims[key]
        assert (d["score"], d["coverage"], d["answered"], d["missing"]) == (
            level,
            1.0,
            len(OCA_DIMS[key]),
            0,
        )
        assert d["normalized"] == round((level - 1) / 3 * 100, 2)
        assert d["reason"] is None and d["risk"] is None
        assert len(d["areas"]) == len(OCA_DIMS[key])
        assert {x["score"] for x in d["areas"]} == {level}
        assert d["title"]["en"] and d["title"]["es"]
    assert dims["gls"]["lens"] == "management"
    assert set(s["lens"]) == {"management", "financing", "processes", "culture"}
    # Areas may feed another lens than their dimension (gls.vision -> culture, hr.personnel-
    # policies and hr.time-payroll -> processes, pm.stakeholders and pm.culture-gender ->
    # culture, oms.fundraising -> financing, four more oms areas -> culture). On 0-100 the
    # levels 1/2/3/4 are 0/33.33/66.67/100.
    lens = {k: (v["score"], len(v["areas"])) for k, v in s["lens"].items()}
    assert lens == {
        "management": (61.54, 13),  # gls 4 x 0, hr 6 x 100, oms 3 x 66.67 -> 800/13
        "financing": (37.04, 9),  # fmi 8 x 33.33, oms.fundraising 66.67 -> 333.33/9
        "processes": (47.92, 16),  # adm 6 x 66.67, pm 3 x 0, ppm 5 x 33.33, hr 2 x 100 -> 766.67/16
        "culture": (38.1, 7),  # gls.vision 0, pm 2 x 0, oms 4 x 66.67 -> 266.67/7
    }
    assert all(v["reason"] is None and v["coverage"] == 1.0 for v in s["lens"].values())
    assert sum(v["answered"] for v in s["lens"].values()) == 45
    assert s["risk"] is None
    assert _all_rounded(s) == []


def test_missing_and_na_give_null_scores_with_reasons(tenant: Any) -> None:
    org = create_org(tenant)
    values = _by_dimension("oca", LEVELS)
    for k in OCA_DIMS["gls"]:
        del values[k]  # a whole dimension unanswered
    na_items = OCA_DIMS["fmi"][:2]
    for k in na_items:
        values[k] = "na"
    answers = [{"item": k, "value": v} for k, v in values.items()]
    a = scored(tenant, org["id"], "oca", answers=answers, instrument_version="2015.1")
    s = _scores(tenant, a["id"])
    o = s["overall"]
    assert (o["answered"], o["na"], o["missing"]) == (38, 2, 5)
    assert o["coverage"] == 0.88  # 38 / 43
    assert o["score"] == 2.5  # (2+3+4+1+2+3) / 6
    assert o["band"]["en"] == "Emerging capacity"
    dims = {d["key"]: d for d in s["dimensions"]}
    gls = dims["gls"]
    assert gls["score"] is None and gls["normalized"] is None
    assert gls["reason"]["code"] == "no_answers"
    assert gls["reason"]["en"] and gls["reason"]["es"]
    assert (gls["coverage"], gls["answered"], gls["missing"]) == (0.0, 0, 5)
    assert all(x["score"] is None and x["reason"]["code"] == "no_answers" for x in gls["areas"])
    fmi = dims["fmi"]
    assert (fmi["score"], fmi["na"], fmi["answered"], fmi["coverage"]) == (2.0, 2, 6, 1.0)
    na_areas = [x for x in fmi["areas"] if x["na"]]
    assert len(na_areas) == 2
    assert all(x["score"] is None and x["reason"]["code"] == "all_not_applicable" for x in na_areas)
    m = s["lens"]["management"]
    # gls's 4 management areas are missing: 9 of 13 answered = 69% < 75% -> null, with a reason
    assert (m["score"], m["coverage"], m["answered"], m["missing"]) == (None, 0.69, 9, 4)
    assert m["reason"]["code"] == "below_min_coverage"
    assert "9 of 13" in m["reason"]["en"]
    f = s["lens"]["financing"]
    assert (f["score"], f["na"], f["answered"]) == (38.1, 2, 7)  # (6 x 33.33 + 66.67) / 7 areas


def test_nupas_risk(tenant: Any) -> None:
    org = create_org(tenant)
    values = {k: "yes" for k in item_keys("nupas")}
    values["legal.status.1"] = "no"  # a key question: 3 of 16 points, lifted to high
    for k in dimension_items("nupas")["procurement"]:
        values[k] = "no"  # 14 of 14 points: extreme
    a = scored(tenant, org["id"], "nupas", value=values)
    s = _scores(tenant, a["id"])
    assert s["method"] == "risk"
    # nupas 2020.1: 103 risk points (bank reconciliation became a 3-point key question)
    assert s["overall"]["score"] == 16.5  # 17 / 103 risk points
    assert s["overall"]["normalized"] == 83.5
    assert s["overall"]["band"] is None
    r = s["risk"]
    assert (r["overall"], r["percent"], r["rule"], r["reason"]) == (
        "extreme",
        16.5,
        "worst_section",
        None,
    )
    assert r["driven_by"] == ["procurement"] and r["complete"] is True
    sections = {x["key"]: x for x in r["sections"]}
    assert list(sections) == list(dimension_items("nupas"))
    legal = sections["legal"]
    assert {k: legal[k] for k in ("percent", "band", "basis", "points", "max_points")} == {
        "percent": 18.75,
        "band": "high",
        "basis": "key_question",
        "points": 3.0,
        "max_points": 16.0,
    }
    assert legal["key_questions_failed"] == ["legal.status.1"]
    assert legal["failing_areas"] == ["legal.status"]
    assert (sections["procurement"]["percent"], sections["procurement"]["band"]) == (
        100.0,
        "extreme",
    )
    assert sections["procurement"]["key_questions_failed"] == [
        "procurement.purchasing.2",
        "procurement.purchasing.4",
    ]
    for key in ("financial", "hr", "performance", "sustainability"):
        assert (sections[key]["percent"], sections[key]["band"]) == (0.0, "low")
    assert [
        (c["key"], [(x["key"], x["band"]) for x in c["sections"]]) for c in r["conditions"]
    ] == [
        ("reimbursement", [("procurement", "extreme")]),
        ("additional-monitoring", [("procurement", "extreme")]),
        ("technical-assistance", [("legal", "high"), ("procurement", "extreme")]),
        ("prior-approvals", [("legal", "high"), ("procurement", "extreme")]),
    ]
    assert all(c["title"]["en"] and c["reason"]["es"] for c in r["conditions"])
    assert "procurement" in r["conditions"][0]["reason"]["en"]
    assert _all_rounded(s) == []


def test_nupas_all_yes_is_low_risk_without_conditions(tenant: Any) -> None:
    org = create_org(tenant)
    s = _scores(tenant, scored(tenant, org["id"], "nupas", value="yes")["id"])
    assert (s["risk"]["overall"], s["risk"]["percent"], s["risk"]["conditions"]) == ("low", 0.0, [])
    assert {x["band"] for x in s["risk"]["sections"]} == {"low"}
    assert s["lens"]["management"]["score"] == 100.0


def test_rounding_is_half_even_at_the_edge(tenant: Any) -> None:
    """OPI 1,1,1,1,1,1,1,2 -> overall 9/8 = 1.125 -> 1.12 (half-even), not 1.13."""
    org = create_org(tenant)
    keys = item_keys("opi")
    a = scored(tenant, org["id"], "opi", value=lambda k, i: 2 if k == keys[-1] else 1)
    s = _scores(tenant, a["id"])
    assert s["overall"]["score"] == 1.12
    assert s["overall"]["normalized"] == 4.17  # 12.5/3 = 4.1666…


def test_series_in_date_order(tenant: Any) -> None:
    org = create_org(tenant)
    end = scored(tenant, org["id"], "opi", "endline", 4, assessed_on="2025-01-15")
    base = scored(
        tenant, org["id"], "opi", "baseline", 1, assessed_on="2023-01-15", retrospective=True
    )
    mid = scored(tenant, org["id"], "opi", "midline", 2, assessed_on="2024-01-15")
    create_assessment(tenant, org["id"], "opi", "draft-round", 3, assessed_on="2022-01-01")
    scored(tenant, org["id"], "oca", "baseline", 3)  # another instrument
    series = get(tenant, f"/v1/organizations/{org['id']}/series", params={"instrument_id": "opi"})
    assert series["organization_id"] == org["id"]
    assert series["instrument_id"] == "opi"
    points = series["points"]
    assert [(p["assessment_id"], p["round"], p["assessed_on"]) for p in points] == [
        (base["id"], "baseline", "2023-01-15"),
        (mid["id"], "midline", "2024-01-15"),
        (end["id"], "endline", "2025-01-15"),
    ]
    assert [p["overall"]["score"] for p in points] == [1.0, 2.0, 4.0]
    assert [p["retrospective"] for p in points] == [True, False, False]
    assert points[1]["lens"] == {
        "management": None,
        "financing": 33.33,
        "processes": 33.33,
        "culture": 33.33,
    }
    assert [d["key"] for d in points[0]["dimensions"]] == list(OPI_DIMS)
    assert points[2]["dimensions"][0]["areas"][0]["score"] == 4.0
    assert all(p["status"] == "submitted" and p["risk"] is None for p in points)
    empty = get(tenant, f"/v1/organizations/{org['id']}/series", params={"instrument_id": "cla"})
    assert empty["points"] == []
    assert_problem(call(tenant, "GET", f"/v1/organizations/{org['id']}/series"), 422)


OPI_END = {
    "effectiveness": (4, 4),
    "efficiency": (2, 3),
    "relevance": (1, 1),
    "sustainability": (2, 2),
}


def _opi_pairs(pairs: dict[str, tuple[float, float]]) -> dict[str, float]:
    return {k: pairs[d][i] for d, keys in OPI_DIMS.items() for i, k in enumerate(keys)}


@pytest.fixture()
def opi_pair(tenant: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    org = create_org(tenant)
    # pinned: the lens numbers below are 2015.1's mapping
    on = {"instrument_version": "2015.1"}
    base = scored(tenant, org["id"], "opi", "baseline", 2, assessed_on="2023-05-01", **on)
    end = scored(
        tenant, org["id"], "opi", "endline", _opi_pairs(OPI_END), assessed_on="2024-05-01", **on
    )
    return org, base, end


def test_organization_comparison_by_round(tenant: Any, opi_pair: Any) -> None:
    org, base, end = opi_pair
    c = get(tenant, f"/v1/organizations/{org['id']}/comparison", params={"instrument_id": "opi"})
    assert c["baseline"] == {
        "assessment_id": base["id"],
        "round": "baseline",
        "assessed_on": "2023-05-01",
        "instrument_version": "2015.1",
    }
    assert c["endline"]["assessment_id"] == end["id"]
    assert (c["cross_version"], c["comparable_items"], c["excluded_items"]) == (False, 8, [])
    assert (c["improvement_threshold"], c["threshold"]) == (0.5, 0.5)
    assert c["improvement_rule"]["threshold"] == 0.5
    assert c["improvement_rule"]["from_request"] is False
    assert c["overall"] == {
        "key": "overall",
        "title": {"en": "Overall", "es": "General"},
        "baseline": 2.0,
        "endline": 2.38,
        "delta": 0.38,
        "direction": "up",
        "outcome": "unchanged",
        "improved": False,
        "improved_by_threshold": False,
    }
    dims = {d["key"]: d for d in c["dimensions"]}
    assert {
        k: (d["baseline"], d["endline"], d["delta"], d["direction"], d["improved"])
        for k, d in dims.items()
    } == {
        "effectiveness": (2.0, 4.0, 2.0, "up", True),
        "efficiency": (2.0, 2.5, 0.5, "up", True),  # exactly the threshold counts
        "relevance": (2.0, 1.0, -1.0, "down", False),
        "sustainability": (2.0, 2.0, 0.0, "same", False),
    }
    assert [(a["key"], a["delta"]) for a in dims["efficiency"]["areas"]] == [
        (OPI_DIMS["efficiency"][0].rsplit(".", 1)[0], 0.0),
        (OPI_DIMS["efficiency"][1].rsplit(".", 1)[0], 1.0),
    ]
    lens = {x["key"]: x for x in c["lens"]}
    assert [x["key"] for x in c["lens"]] == ["management", "financing", "processes", "culture"]
    # processes: both efficiency/effectiveness areas and relevance.learning:
    # end (100 + 100 + 33.33 + 66.67 + 0) / 5 = 60; the threshold 0.5 level = 16.67 on 0-100
    assert (
        lens["processes"]["baseline"],
        lens["processes"]["endline"],
        lens["processes"]["delta"],
    ) == (
        33.33,
        60.0,
        26.67,
    )
    assert lens["processes"]["improved"] is True
    assert (lens["culture"]["direction"], lens["financing"]["direction"]) == ("down", "same")
    assert (lens["management"]["direction"], lens["management"]["improved"]) == ("n/a", None)
    items = {i["key"]: i for i in c["items"]}
    assert len(items) == 8
    k = OPI_DIMS["relevance"][0]
    assert (
        items[k]["baseline"],
        items[k]["endline"],
        items[k]["delta"],
        items[k]["direction"],
    ) == (
        2.0,
        1.0,
        -1.0,
        "down",
    )


def test_organization_comparison_threshold(tenant: Any, opi_pair: Any) -> None:
    org, _, _ = opi_pair
    c = get(
        tenant,
        f"/v1/organizations/{org['id']}/comparison",
        params={"instrument_id": "opi", "threshold": 0.25},
    )
    assert c["threshold"] == 0.25
    assert (c["overall"]["improved"], c["overall"]["improved_by_threshold"]) == (False, True)
    dims = {d["key"]: d["improved_by_threshold"] for d in c["dimensions"]}
    assert dims == {
        "effectiveness": True,
        "efficiency": True,
        "relevance": False,
        "sustainability": False,
    }


def test_organization_comparison_by_ids(tenant: Any, opi_pair: Any) -> None:
    org, base, end = opi_pair
    c = get(
        tenant,
        f"/v1/organizations/{org['id']}/comparison",
        params={"instrument_id": "opi", "baseline": end["id"], "endline": base["id"]},
    )
    assert (c["baseline"]["assessment_id"], c["endline"]["assessment_id"]) == (
        end["id"],
        base["id"],
    )
    assert (c["overall"]["delta"], c["overall"]["direction"]) == (-0.38, "down")


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"instrument_id": "opi", "endline": "midline"}, 404),
        ({"instrument_id": "opi", "baseline": str(uuid.uuid4())}, 404),
        ({"instrument_id": "oca"}, 404),
        ({"instrument_id": "opi", "threshold": 0}, 422),
        ({"instrument_id": "opi", "threshold": -1}, 422),
        ({"instrument_id": "opi", "threshold": 101}, 422),
        ({"instrument_id": "opi", "threshold": "nan"}, 422),
        ({"instrument_id": "opi", "threshold": "inf"}, 422),
        ({"instrument_id": "opi", "baseline": ""}, 422),
        ({"instrument_id": "opi", "baseline": "b" * 65}, 422),
        ({}, 422),
    ],
    ids=[
        "no-round",
        "unknown-id",
        "no-data",
        "thr-0",
        "thr-neg",
        "thr-101",
        "thr-nan",
        "thr-inf",
        "empty-ref",
        "long-ref",
        "no-instrument",
    ],
)
def test_organization_comparison_problems(
    tenant: Any, opi_pair: Any, params: dict[str, Any], status: int
) -> None:
    org, _, _ = opi_pair
    assert_problem(
        call(tenant, "GET", f"/v1/organizations/{org['id']}/comparison", params=params), status
    )


def test_comparison_refuses_another_organizations_assessment(tenant: Any, opi_pair: Any) -> None:
    org, _, _ = opi_pair
    other = create_org(tenant)
    theirs = scored(tenant, other["id"], "opi", "baseline", 3)
    resp = call(
        tenant,
        "GET",
        f"/v1/organizations/{org['id']}/comparison",
        params={"instrument_id": "opi", "baseline": theirs["id"]},
    )
    assert_problem(resp, 404)


@pytest.fixture()
def cohort_world(tenant: Any, other_tenant: Any) -> dict[str, Any]:
    """OPI overall (= every dimension) per org: A 1->3, B 2->2.5, C 3->2, D 2->(none),
    F 2->2, G 4->(draft only); E is not a member; another workspace has its own data."""
    cohort = create_cohort(tenant, name="Portfolio")
    orgs = {n: create_org(tenant, name=f"{n} org") for n in "ABCDEFG"}
    for n in "ABCDFG":
        add_member(tenant, cohort["id"], orgs[n]["id"])
    plan: dict[str, tuple[Any, Any]] = {
        "A": (1, 3),
        "B": (2, _opi_pairs({d: (2, 3) for d in OPI_DIMS})),
        "C": (3, 2),
        "D": (2, None),
        "E": (1, 4),
        "F": (2, 2),
        "G": (4, "draft"),
    }
    for n, (b, e) in plan.items():
        scored(tenant, orgs[n]["id"], "opi", "baseline", b, assessed_on="2023-02-01")
        if e == "draft":
            create_assessment(tenant, orgs[n]["id"], "opi", "endline", 4, assessed_on="2024-02-01")
        elif e is not None:
            scored(tenant, orgs[n]["id"], "opi", "endline", e, assessed_on="2024-02-01")
    foreign = create_org(other_tenant, name="0 foreign")
    scored(other_tenant, foreign["id"], "opi", "baseline", 1)
    scored(other_tenant, foreign["id"], "opi", "endline", 4)
    return {"cohort": cohort, "ids": {n: o["id"] for n, o in orgs.items()}}


def test_cohort_comparison(tenant: Any, cohort_world: dict[str, Any]) -> None:
    ids = cohort_world["ids"]
    cid = cohort_world["cohort"]["id"]
    c = get(
        tenant, f"/v1/cohorts/{cid}/comparison", params={"instrument_id": "opi", "threshold": 1}
    )
    assert (c["cohort_id"], c["cohort_name"], c["instrument_id"]) == (cid, "Portfolio", "opi")
    assert (c["baseline_round"], c["endline_round"], c["versions_mixed"]) == (
        "baseline",
        "endline",
        False,
    )
    assert [(o["id"], o["name"]) for o in c["organizations"]] == [
        (ids[n], f"{n} org") for n in "ABCDFG"
    ]
    assert c["organizations_with_both"] == [ids[n] for n in "ABCF"]
    assert c["only_baseline"] == [ids["D"], ids["G"]]
    assert c["only_endline"] == []
    assert c["improvement_threshold"] == 0.5
    assert [k["key"] for k in c["keys"]] == ["overall", *OPI_DIMS]
    overall = c["keys"][0]
    b = overall["baseline"]
    # baseline values 1, 2, 3, 2, 2, 4 (A B C D F G)
    assert (b["n"], b["mean"], b["median"], b["min"], b["max"]) == (6, 2.33, 2.0, 1.0, 4.0)
    assert b["organizations"] == [ids[n] for n in "ABCDFG"]
    assert [(x["bin"], x["count"], x["organizations"]) for x in b["distribution"]] == [
        ("1–<2", 1, [ids["A"]]),
        ("2–<3", 3, [ids["B"], ids["D"], ids["F"]]),
        ("3–4", 2, [ids["C"], ids["G"]]),
    ]
    e = overall["endline"]
    # endline values 3, 2.5, 2, 2 (A B C F)
    assert (e["n"], e["mean"], e["median"], e["min"], e["max"]) == (4, 2.38, 2.25, 2.0, 3.0)
    assert [x["count"] for x in e["distribution"]] == [0, 3, 1]
    assert overall["paired"] == [ids[n] for n in "ABCF"]
    assert overall["change"] == {
        "share_improved": 0.5,  # A (+2) and B (+0.5) of 4: CBLD-9
        "mean_delta": 0.38,  # (2 + 0.5 - 1 + 0) / 4
        "improved": [ids["A"], ids["B"]],
        "declined": [ids["C"]],
        "unchanged": [ids["F"]],
    }
    assert overall["change_by_threshold"] == {
        "share_improved": 0.25,
        "mean_delta": 0.38,
        "improved": [ids["A"]],
        "declined": [ids["C"]],
        "unchanged": [ids["B"], ids["F"]],
    }
    eff = c["keys"][1]
    assert (eff["baseline"]["mean"], eff["endline"]["mean"]) == (2.33, 2.38)
    assert eff["change"]["share_improved"] == 0.5


def test_cohort_comparison_other_rounds_and_problems(
    tenant: Any, cohort_world: dict[str, Any]
) -> None:
    cid = cohort_world["cohort"]["id"]
    c = get(
        tenant,
        f"/v1/cohorts/{cid}/comparison",
        params={"instrument_id": "opi", "baseline": "endline", "endline": "baseline"},
    )
    assert c["keys"][0]["change"]["improved"] == [cohort_world["ids"]["C"]]
    none = get(
        tenant,
        f"/v1/cohorts/{cid}/comparison",
        params={"instrument_id": "opi", "baseline": "x", "endline": "y"},
    )
    assert none["organizations_with_both"] == []
    assert none["keys"][0]["change"]["share_improved"] is None
    assert none["keys"][0]["baseline"]["mean"] is None
    assert_problem(
        call(tenant, "GET", f"/v1/cohorts/{cid}/comparison", params={"instrument_id": "nope"}), 422
    )
    assert_problem(
        call(
            tenant, "GET", f"/v1/cohorts/{uuid.uuid4()}/comparison", params={"instrument_id": "opi"}
        ),
        404,
    )


def test_comparison_by_id_refuses_a_draft_like_by_round(tenant: Any, opi_pair: Any) -> None:
    """Bug (minor): by round label only submitted/final assessments are compared (404 otherwise),
    but an id picked a draft and compared its unvalidated, partial answers (200)."""
    org, _, _ = opi_pair
    draft = create_assessment(
        tenant,
        org["id"],
        "opi",
        "midline",
        answers=[{"item": OPI_DIMS["efficiency"][0], "value": 4}],
    )
    by_round = call(
        tenant,
        "GET",
        f"/v1/organizations/{org['id']}/comparison",
        params={"instrument_id": "opi", "endline": "midline"},
    )
    assert_problem(by_round, 404)
    by_id = call(
        tenant,
        "GET",
        f"/v1/organizations/{org['id']}/comparison",
        params={"instrument_id": "opi", "endline": draft["id"]},
    )
    assert by_id.status_code in (404, 409), by_id.text[:200]
    assert_problem(by_id, by_id.status_code)


def test_the_improvement_rule_reads_in_the_singular_for_one_point() -> None:
    from app.catalog import load_catalog
    from app.services.analysis import improvement_rule
    from tests.conftest import INSTRUMENTS

    f = load_catalog(INSTRUMENTS).latest("oca")
    assert f is not None
    one = improvement_rule(f.instrument, 1.0)
    assert "at least 1 point of the scale higher" in one["en"]
    assert "al menos 1 punto mayor" in one["es"]
    half = improvement_rule(f.instrument, 0.5)
    assert "at least 0.5 points of the scale" in half["en"]
