"""Action plans (issue 12): made from a scored assessment, guarded by one ETag, editors write and
viewers read, another workspace's plan is absent, closed against the next round, seen by cohort."""

from __future__ import annotations

from typing import Any

from tests.api.factories import (
    add_member,
    assert_problem,
    audit_events,
    call,
    create_assessment,
    create_cohort,
    create_org,
    get,
    instrument,
    ok,
    scored,
)

WEAK = "fmi.audit"  # the area answered lowest in the baseline below


def area_of(key: str) -> str:
    ins = instrument("oca")
    return next(a.key for d in ins.dimensions for a in d.areas if key in {i.key for i in a.items})


def baseline(tenant: Any, org_id: str, weak: int = 1, rest: int = 3, **kw: Any) -> dict[str, Any]:
    return scored(
        tenant,
        org_id,
        "oca",
        kw.pop("round", "baseline"),
        lambda key, _: weak if area_of(key) == WEAK else rest,
        **kw,
    )


def plan_body(due: str = "2024-03-01") -> dict[str, Any]:
    action = {
        "what": "Hire an external auditor",
        "who": "Treasurer",
        "due_on": due,
        "resources": "TA: audit terms of reference",
    }
    return {"priorities": [{"area": WEAK, "note": "Donors ask", "actions": [action]}]}


def make_plan(tenant: Any, a_id: str, body: dict[str, Any] | None = None) -> Any:
    return call(tenant, "POST", f"/v1/assessments/{a_id}/plan", json=body or plan_body())


def test_plan_proposes_weak_areas_people_choose(tenant: Any) -> None:
    org = create_org(tenant)
    a = baseline(tenant, org["id"])
    resp = make_plan(tenant, a["id"])
    plan = ok(resp, 201)
    assert resp.headers["Location"] == f"/v1/assessments/{a['id']}/plan"
    assert resp.headers["ETag"]
    assert plan["proposed"][0]["area"] == WEAK and plan["proposed"][0]["chosen"] is True
    assert plan["proposed"][0]["score"] == 1
    [p] = plan["priorities"]
    assert (p["area"], p["dimension"], p["score"], p["note"]) == (WEAK, "fmi", 1, "Donors ask")
    assert p["title"]["es"] and p["title"]["en"]
    [x] = p["actions"]
    assert (x["status"], x["overdue"], x["who"]) == ("planned", True, "Treasurer")
    read = call(tenant, "GET", f"/v1/assessments/{a['id']}/plan", "viewer")
    assert ok(read) == plan and read.headers["ETag"] == resp.headers["ETag"]
    # the performance metric is the assessment's own, not a second copy
    assert plan["performance"] is None


def test_plan_needs_a_scored_assessment_and_known_areas(tenant: Any) -> None:
    org = create_org(tenant)
    draft = create_assessment(tenant, org["id"])
    assert_problem(make_plan(tenant, draft["id"]), 409)
    a = baseline(tenant, org["id"], round="second")
    body = {"priorities": [{"area": "fmi.nope"}]}
    problem = assert_problem(make_plan(tenant, a["id"], body), 422)
    assert problem["errors"][0]["pointer"] == "/priorities/0/area"
    bad = {"priorities": [{"area": WEAK, "actions": [{"what": "x", "status": "maybe"}]}]}
    assert_problem(make_plan(tenant, a["id"], bad), 422)
    assert_problem(call(tenant, "GET", f"/v1/assessments/{a['id']}/plan"), 404)
    ok(make_plan(tenant, a["id"]), 201)
    assert_problem(make_plan(tenant, a["id"]), 409)


def test_changes_need_the_current_etag_and_are_audited(tenant: Any) -> None:
    org = create_org(tenant)
    a = baseline(tenant, org["id"])
    resp = make_plan(tenant, a["id"])
    first_tag, plan = resp.headers["ETag"], ok(resp, 201)
    url = f"/v1/assessments/{a['id']}/plan"
    action_id = plan["priorities"][0]["actions"][0]["id"]
    change = {"status": "in_progress", "progress": "Terms drafted"}
    assert_problem(call(tenant, "PATCH", f"{url}/actions/{action_id}", json=change), 428)
    resp = call(
        tenant, "PATCH", f"{url}/actions/{action_id}", json=change, headers={"If-Match": first_tag}
    )
    x = ok(resp)["priorities"][0]["actions"][0]
    assert (x["status"], x["progress"]) == ("in_progress", "Terms drafted")
    tag = resp.headers["ETag"]
    assert tag != first_tag
    stale = call(
        tenant,
        "PATCH",
        f"{url}/actions/{action_id}",
        json={"status": "done"},
        headers={"If-Match": first_tag},
    )
    assert_problem(stale, 412)
    resp = call(
        tenant,
        "POST",
        f"{url}/priorities",
        json={"area": "adm.it", "note": "old PCs"},
        headers={"If-Match": tag},
    )
    plan = ok(resp, 201)
    assert [p["area"] for p in plan["priorities"]] == [WEAK, "adm.it"]
    pid = plan["priorities"][1]["id"]
    resp = call(
        tenant,
        "POST",
        f"{url}/priorities/{pid}/actions",
        json={"what": "Buy laptops"},
        headers={"If-Match": resp.headers["ETag"]},
    )
    assert ok(resp, 201)["priorities"][1]["actions"][0]["what"] == "Buy laptops"
    resp = call(
        tenant,
        "PATCH",
        f"{url}/priorities/{pid}",
        json={"note": "new PCs"},
        headers={"If-Match": resp.headers["ETag"]},
    )
    assert ok(resp)["priorities"][1]["note"] == "new PCs"
    dup = call(
        tenant,
        "POST",
        f"{url}/priorities",
        json={"area": "adm.it"},
        headers={"If-Match": resp.headers["ETag"]},
    )
    assert_problem(dup, 409)
    actions = {e["action"] for e in audit_events(tenant) if e["action"].startswith("plan.")}
    assert actions == {
        "plan.create",
        "plan.action.update",
        "plan.priority.add",
        "plan.action.add",
        "plan.priority.update",
    }
    assert {e["action"] for e in audit_events(tenant, action="plan.create")} == {"plan.create"}


def test_viewers_read_and_editors_write(tenant: Any) -> None:
    org = create_org(tenant)
    a = baseline(tenant, org["id"])
    assert_problem(
        call(tenant, "POST", f"/v1/assessments/{a['id']}/plan", "viewer", json=plan_body()), 403
    )
    ok(make_plan(tenant, a["id"]), 201)
    get(tenant, f"/v1/assessments/{a['id']}/plan", "viewer")
    get(tenant, f"/v1/assessments/{a['id']}/plan/outcome", "viewer")


def test_another_workspace_sees_nothing(tenant: Any, other_tenant: Any) -> None:
    org = create_org(tenant)
    a = baseline(tenant, org["id"])
    plan = ok(make_plan(tenant, a["id"]), 201)
    url = f"/v1/assessments/{a['id']}/plan"
    action_id = plan["priorities"][0]["actions"][0]["id"]
    for method, path in (
        ("GET", ""),
        ("GET", "/outcome"),
        ("GET", ".xlsx"),
        ("PATCH", f"/actions/{action_id}"),
    ):
        body = {"status": "done"} if method == "PATCH" else None
        resp = call(other_tenant, method, url + path, json=body, headers={"If-Match": "*"})
        assert_problem(resp, 404)
    assert_problem(make_plan(other_tenant, a["id"]), 404)
    cohort = create_cohort(tenant)
    assert_problem(call(other_tenant, "GET", f"/v1/cohorts/{cohort['id']}/actions"), 404)


def test_next_round_closes_the_plan(tenant: Any) -> None:
    org = create_org(tenant)
    perf = {"metric": "Share of budget from own income", "value": 10, "higher_is_better": True}
    a = baseline(tenant, org["id"], performance=perf)
    plan = ok(
        make_plan(
            tenant,
            a["id"],
            {
                "priorities": [
                    {
                        "area": WEAK,
                        "actions": [{"what": "Audit", "status": "done"}, {"what": "Publish"}],
                    },
                    {"area": "adm.it", "actions": [{"what": "Laptops", "status": "done"}]},
                ]
            },
        ),
        201,
    )
    assert plan["performance"]["metric"] == perf["metric"]
    out = get(tenant, f"/v1/assessments/{a['id']}/plan/outcome")
    assert out["next"] is None and {x["outcome"] for x in out["areas"]} == {"no_next_round"}
    assert out["metric_delta"] is None
    # the next round: the weak area up by 2 points (>= the threshold of 1), the rest the same
    later = scored(
        tenant,
        org["id"],
        "oca",
        "endline",
        lambda key, _: 3,
        assessed_on="2025-01-10",
        performance={**perf, "value": 14},
    )
    out = get(tenant, f"/v1/assessments/{a['id']}/plan/outcome")
    assert out["next"]["assessment_id"] == later["id"]
    assert out["next"]["performance"]["value"] == 14
    assert (out["metric_delta"], out["metric_improved"]) == (4, True)
    assert out["improvement_rule"]["threshold"] == 1
    weak, it = out["areas"]
    assert (weak["area"], weak["baseline"], weak["endline"], weak["delta"]) == (WEAK, 1, 3, 2)
    assert weak["outcome"] == "improved"
    assert (weak["actions_total"], weak["actions_done"], weak["actions_all_done"]) == (2, 1, False)
    assert (it["outcome"], it["delta"], it["actions_all_done"]) == ("unchanged", 0, True)


def test_exactly_the_threshold_improves_and_a_drop_declines(tenant: Any) -> None:
    org = create_org(tenant)
    a = baseline(tenant, org["id"], weak=2, rest=3)
    ok(make_plan(tenant, a["id"], {"priorities": [{"area": WEAK}, {"area": "adm.it"}]}), 201)
    scored(
        tenant,
        org["id"],
        "oca",
        "endline",
        lambda key, _: 3 if area_of(key) == WEAK else (1 if area_of(key) == "adm.it" else 3),
        assessed_on="2025-01-10",
    )
    out = get(tenant, f"/v1/assessments/{a['id']}/plan/outcome")
    assert [(x["area"], x["outcome"]) for x in out["areas"]] == [
        (WEAK, "improved"),
        ("adm.it", "declined"),
    ]


def test_cohort_lists_overdue_actions_and_where_help_is_needed(tenant: Any) -> None:
    cohort = create_cohort(tenant)
    orgs = [create_org(tenant, name=f"Org {n}") for n in "ABC"]
    for org in orgs:
        add_member(tenant, cohort["id"], org["id"])
    outsider = create_org(tenant)
    for org in [*orgs[:2], outsider]:
        a = baseline(tenant, org["id"])
        ok(make_plan(tenant, a["id"]), 201)  # due 2024-03-01: overdue
    a = baseline(tenant, orgs[2]["id"])
    ok(
        make_plan(
            tenant,
            a["id"],
            {
                "priorities": [
                    {
                        "area": "adm.it",
                        "actions": [
                            {"what": "Later", "due_on": "2999-01-01"},
                            {"what": "Done", "due_on": "2020-01-01", "status": "done"},
                        ],
                    }
                ]
            },
        ),
        201,
    )
    url = f"/v1/cohorts/{cohort['id']}/actions"
    everything = get(tenant, url)
    assert len(everything["actions"]) == 4
    late = get(tenant, url, params={"overdue": "true"})
    assert sorted(x["organization"] for x in late["actions"]) == ["Org A", "Org B"]
    assert all(x["action"]["overdue"] for x in late["actions"])
    top, second = late["areas"]
    assert (top["area"], top["organizations"], top["overdue_actions"]) == (WEAK, 2, 2)
    assert top["needing_resources"] == 2
    assert (second["area"], second["organizations"], second["open_actions"]) == ("adm.it", 1, 1)


def test_plan_in_excel(tenant: Any) -> None:
    import io

    import openpyxl

    org = create_org(tenant)
    a = baseline(tenant, org["id"])
    ok(make_plan(tenant, a["id"]), 201)
    resp = call(
        tenant, "GET", f"/v1/assessments/{a['id']}/plan.xlsx", "viewer", params={"lang": "es"}
    )
    assert resp.status_code == 200, resp.text
    ws = openpyxl.load_workbook(io.BytesIO(resp.content)).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][:3] == ("Área", "Nota de la prioridad", "Acción")
    assert rows[1][2:4] == ("Hire an external auditor", "Treasurer")
    assert rows[1][6:9] == ("planificada", None, "sí")


def test_a_revised_assessment_keeps_its_plan_in_the_cohort(tenant: Any) -> None:
    cohort = create_cohort(tenant)
    org = create_org(tenant)
    add_member(tenant, cohort["id"], org["id"])
    a = baseline(tenant, org["id"])
    ok(call(tenant, "POST", f"/v1/assessments/{a['id']}/finalize"))
    ok(make_plan(tenant, a["id"]), 201)
    ok(call(tenant, "POST", f"/v1/assessments/{a['id']}/revisions", json={}), 201)
    late = get(tenant, f"/v1/cohorts/{cohort['id']}/actions", params={"overdue": "true"})
    assert [x["assessment_id"] for x in late["actions"]] == [a["id"]]


def test_plan_scores_and_changes_are_the_shown_scores(tenant: Any) -> None:
    """A plan shows an area's score as /scores does (half-even, 2 places), and its change is the
    difference of the shown scores judged by the comparison rule: raw means once made the plan
    say 66.66666666666667 where /scores said 66.67 (NUPAS areas of several items)."""
    org = create_org(tenant)
    nupas = instrument("nupas")
    areas = [a.key for d in nupas.dimensions for a in d.areas if len(a.items) > 1]
    first = scored(tenant, org["id"], "nupas", "baseline", lambda k, n: "no" if n % 3 else "yes")
    later = scored(
        tenant,
        org["id"],
        "nupas",
        "endline",
        lambda k, n: "no" if n % 3 == 1 else "yes",
        assessed_on="2025-06-01",
    )

    def shown(a: dict[str, Any]) -> dict[str, float | None]:
        scores = get(tenant, f"/v1/assessments/{a['id']}/scores")
        return {x["key"]: x["score"] for d in scores["dimensions"] for x in d["areas"]}

    before, after = shown(first), shown(later)
    assert any(v is not None and round(v * 100) % 25 for v in before.values())  # 66.67 ...
    plan = ok(make_plan(tenant, first["id"], {"priorities": [{"area": k} for k in areas]}), 201)
    assert {p["area"]: p["score"] for p in plan["priorities"]} == {k: before[k] for k in areas}
    outcome = get(tenant, f"/v1/assessments/{first['id']}/plan/outcome")
    threshold = nupas.scoring.improvement_threshold
    for x in outcome["areas"]:
        b, e = before[x["area"]], after[x["area"]]
        assert (x["baseline"], x["endline"]) == (b, e)
        if b is None or e is None:
            continue
        assert x["delta"] == round(e - b, 2)
        gain = -x["delta"]  # less risk is better
        expected = (
            "improved"
            if gain >= threshold - 1e-9
            else "declined"
            if gain <= -threshold + 1e-9
            else "unchanged"
        )
        assert x["outcome"] == expected, x
