"""OWASP API1 (BOLA): another workspace's ids answer exactly like ids that do not exist.

Every route with an id in its path is walked from ``app.routes``; a new route is covered at once,
and a route whose path parameter this file does not know fails the walk instead of being skipped.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.api.factories import (
    add_member,
    assert_problem,
    assessment_body,
    audit_events,
    call,
    create_assessment,
    create_cohort,
    create_org,
    db_counts,
    finalize,
    get,
    list_all,
    ok,
    scored,
    submit,
)
from tests.api.routes import CATALOG_ROUTES, COLLECTED, RouteInfo, v1_routes

ID_ROUTES = [r for r in COLLECTED if r.path_params and r.path not in CATALOG_ROUTES]
KNOWN_PARAMS = {
    "org_id",
    "cohort_id",
    "assessment_id",
    "external_id",
    "key_id",
    "priority_id",
    "action_id",
    "webhook_id",
    "job_id",
    "evidence_id",
    "code",
    "item_key",
}
# Path parameters that name nothing outside the object before them (a rater's code within its
# assessment): held at one value while the ids around them vary.
NOT_IDS = {"code": "R01", "item_key": "gls.vision.1"}
LIST_ROUTES = [r for r in COLLECTED if r.method == "GET" and not r.path_params]

# Bodies that would succeed on the owner's object, so only tenancy can stop them.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("PATCH", "/v1/organizations/{org_id}"): {"name": "pwned", "tags": ["x"]},
    ("PATCH", "/v1/cohorts/{cohort_id}"): {"name": "pwned", "description": "x"},
    ("PATCH", "/v1/assessments/{assessment_id}"): {"assessor": "pwned"},
    ("POST", "/v1/assessments/{assessment_id}/revisions"): {"assessor": "pwned"},
    ("PUT", "/v1/organizations/by-external-id/{external_id}"): {"name": "pwned"},
    ("POST", "/v1/assessments/{assessment_id}/plan/priorities"): {"area": "adm.it"},
    ("PATCH", "/v1/assessments/{assessment_id}/plan/priorities/{priority_id}"): {"note": "pwned"},
    ("POST", "/v1/assessments/{assessment_id}/plan/priorities/{priority_id}/actions"): {
        "what": "pwned"
    },
    ("PATCH", "/v1/assessments/{assessment_id}/plan/actions/{action_id}"): {"status": "dropped"},
    ("PUT", "/v1/assessments/{assessment_id}/ratings/{code}"): {
        "answers": [{"item": "gls.vision.1", "value": 1}]
    },
    ("POST", "/v1/assessments/{assessment_id}/ratings/consensus"): {"apply": True},
    ("POST", "/v1/assessments/{assessment_id}/items/{item_key}/evidence"): {
        "url": "https://example.org/pwned"
    },
    ("PATCH", "/v1/assessments/{assessment_id}/evidence/{evidence_id}"): {"status": "verified"},
    ("PATCH", "/v1/webhooks/{webhook_id}"): {"url": "https://93.184.215.14/pwned"},
    ("POST", "/v1/cohorts/{cohort_id}/export-jobs"): {"instrument_id": "oca"},
}


def _plan(tenant: Any, assessment_id: str) -> dict[str, str]:
    """An action plan on the assessment (issue 12): its priority's and action's ids."""
    body = {"priorities": [{"area": "fmi.audit", "actions": [{"what": "Audit"}]}]}
    plan = call(tenant, "POST", f"/v1/assessments/{assessment_id}/plan", json=body).json()
    priority = plan["priorities"][0]
    return {"priority_id": priority["id"], "action_id": priority["actions"][0]["id"]}


def _evidence(tenant: Any, assessment_id: str) -> str:
    """A link as evidence of one item of the assessment (issue 12): its id."""
    url = f"/v1/assessments/{assessment_id}/items/gls.vision.1/evidence"
    return str(ok(call(tenant, "POST", url, json={"url": "https://example.org/e"}), 201)["id"])


@dataclass
class World:
    owner: Any
    attacker: Any
    org: dict[str, Any]  # with assessments, member of the cohort, has an external_id
    org2: dict[str, Any]  # no assessments (deletable by its owner)
    cohort: dict[str, Any]
    draft: dict[str, Any]
    submitted: dict[str, Any]
    final: dict[str, Any]
    own_org: dict[str, Any]  # the attacker's
    own_cohort: dict[str, Any]
    key_ids: list[str]  # the owner's API keys (the viewer's first)
    plan: dict[str, str]  # the owner's plan on ``submitted``: priority_id, action_id
    own_plan: dict[str, str]  # the attacker's: assessment_id, priority_id, action_id, evidence_id
    webhook: dict[str, Any]  # the owner's webhook subscription
    job: dict[str, Any]  # the owner's job (a raw export, queued: the shared client runs none)
    evidence_id: str  # the owner's evidence on ``submitted``

    @property
    def assessments(self) -> list[dict[str, Any]]:
        return [self.draft, self.submitted, self.final]

    def snapshot(self) -> dict[str, Any]:
        o = self.owner
        return {
            "orgs": [get(o, f"/v1/organizations/{x['id']}") for x in (self.org, self.org2)],
            "cohort": get(o, f"/v1/cohorts/{self.cohort['id']}"),
            "assessments": [get(o, f"/v1/assessments/{a['id']}") for a in self.assessments],
            "scores": [
                get(o, f"/v1/assessments/{a['id']}/scores") for a in (self.submitted, self.final)
            ],
            "org_list": list_all(o, "/v1/organizations"),
            "assessment_list": list_all(o, "/v1/assessments"),
            "audit": audit_events(o),
            "keys": get(o, "/v1/keys", role="admin")["items"],
            "plan": get(o, f"/v1/assessments/{self.submitted['id']}/plan"),
            "webhooks": get(o, "/v1/webhooks", role="admin")["items"],
            "job": get(o, f"/v1/jobs/{self.job['id']}"),
            "evidence": get(o, f"/v1/assessments/{self.submitted['id']}/evidence"),
        }


def build_world(owner: Any, attacker: Any) -> World:
    org = create_org(owner, name="Victim Org", external_id="ext-victim", country="MX")
    org2 = create_org(owner, name="Victim Org Two")
    cohort = create_cohort(owner, name="Victim cohort")
    add_member(owner, cohort["id"], org["id"])
    draft = create_assessment(owner, org["id"], "oca", "midline")
    rater = {"answers": [{"item": "gls.vision.1", "value": 2}]}
    ok(call(owner, "PUT", f"/v1/assessments/{draft['id']}/ratings/R01", json=rater))
    submitted = scored(owner, org["id"], "oca", "baseline")
    final = finalize(owner, scored(owner, org["id"], "oca", "endline", 4)["id"])
    own_org = create_org(attacker, name="Attacker Org")
    own_cohort = create_cohort(attacker, name="Attacker cohort")
    add_member(attacker, own_cohort["id"], own_org["id"])
    own_assessment = scored(attacker, own_org["id"], "oca", "baseline")
    plan = _plan(owner, submitted["id"])
    own_plan = {
        "assessment_id": own_assessment["id"],
        **_plan(attacker, own_assessment["id"]),
        "evidence_id": _evidence(attacker, own_assessment["id"]),
    }
    keys = get(owner, "/v1/keys", role="admin")["items"]
    key_ids = [k["id"] for k in sorted(keys, key=lambda k: k["role"] != "viewer")]
    hook = {"url": "https://93.184.215.14/hook", "events": ["assessment.submitted"]}
    webhook = ok(call(owner, "POST", "/v1/webhooks", "admin", json=hook), 201)
    export = {"instrument_id": "oca"}
    job = ok(call(owner, "POST", f"/v1/cohorts/{cohort['id']}/export-jobs", json=export), 202)
    return World(
        owner,
        attacker,
        org,
        org2,
        cohort,
        draft,
        submitted,
        final,
        own_org,
        own_cohort,
        key_ids,
        plan,
        own_plan,
        webhook,
        job,
        _evidence(owner, submitted["id"]),
    )


def _variants(route: RouteInfo, w: World) -> list[dict[str, str]]:
    """Path values mixing the owner's ids (and, for two ids, the attacker's own)."""
    unknown = set(route.path_params) - KNOWN_PARAMS
    assert not unknown, f"{route.id}: teach test_tenancy the path parameter(s) {unknown}"
    victim: dict[str, list[str]] = {
        "org_id": [w.org["id"], w.org2["id"]],
        "cohort_id": [w.cohort["id"]],
        "assessment_id": [a["id"] for a in w.assessments],
        "key_id": w.key_ids[:1],
        "priority_id": [w.plan["priority_id"]],
        "action_id": [w.plan["action_id"]],
        "webhook_id": [w.webhook["id"]],
        "job_id": [w.job["id"]],
        "evidence_id": [w.evidence_id],
    }
    own = {"org_id": w.own_org["id"], "cohort_id": w.own_cohort["id"], **w.own_plan}
    fixed = {p: NOT_IDS[p] for p in route.path_params if p in NOT_IDS}
    params = tuple(p for p in route.path_params if p not in NOT_IDS)
    out: list[dict[str, str]] = []
    if len(params) == 1:
        out = [{params[0]: v} for v in victim[params[0]]]
    else:
        # every mix with at least one victim id: victim+victim, victim+own, own+victim
        for i, p in enumerate(params):
            for v in victim[p]:
                others = {q: own[q] for j, q in enumerate(params) if j != i}
                out.append({p: v, **others})
        first = {p: victim[p][0] for p in params}
        out.append(first)
    return [{**x, **fixed} for x in out]


def _random(route: RouteInfo, w: World, values: dict[str, str]) -> dict[str, str]:
    """The same request with every victim id replaced by one that does not exist."""
    own = {w.own_org["id"], w.own_cohort["id"], *w.own_plan.values(), *NOT_IDS.values()}
    return {k: (v if v in own else str(uuid.uuid4())) for k, v in values.items()}


def _send(w: World, route: RouteInfo, values: dict[str, str], **extra_params: str) -> Any:
    params = {q: "oca" for q in route.required_query if q == "instrument_id"}
    params.update({q: "2025" for q in route.required_query if q == "fiscal_year"})
    params.update(extra_params)
    missing = set(route.required_query) - set(params)
    assert not missing, f"{route.id}: teach test_tenancy the query parameter(s) {missing}"
    kw: dict[str, Any] = {"params": params, "headers": {"If-Match": "*"}}
    if route.has_body:
        kw["json"] = BODIES.get((route.method, route.path), {})
    return call(w.attacker, route.method, route.url(values), "admin", **kw)


@pytest.fixture()
def world(tenant: Any, other_tenant: Any) -> World:
    return build_world(tenant, other_tenant)


def test_every_id_route_is_walked(client: TestClient) -> None:
    live = [
        r
        for r in v1_routes(client.app)
        if r.path_params and r.path not in CATALOG_ROUTES  # type: ignore[arg-type]
    ]
    assert {r.id for r in live} == {r.id for r in ID_ROUTES}
    for r in ID_ROUTES:
        assert set(r.path_params) <= KNOWN_PARAMS, r.id
    # the catalog routes really are the only exemption
    assert {r.path for r in COLLECTED if r.path_params} - {r.path for r in ID_ROUTES} == set(
        CATALOG_ROUTES
    )


@pytest.mark.parametrize(
    "route", [r for r in ID_ROUTES if "external_id" not in r.path_params], ids=lambda r: r.id
)
def test_other_workspace_ids_answer_404_like_unknown_ids(
    world: World, engine: Engine, route: RouteInfo
) -> None:
    before = world.snapshot()
    counts = db_counts(engine)
    for values in _variants(route, world):
        resp = _send(world, route, values)
        ref = _send(world, route, _random(route, world, values))
        assert ref.status_code == 404, (route.id, ref.text)
        body = assert_problem(resp, 404)
        assert body["type"] == ref.json()["type"], (route.id, values)
        assert body["title"] == ref.json()["title"]
        for secret in ("Victim", "ext-victim", world.cohort["name"]):
            assert secret not in resp.text
    assert world.snapshot() == before
    assert db_counts(engine) == counts


ORG_COMPARISONS = [
    r for r in ID_ROUTES if r.path_params == ("org_id",) and {"baseline", "endline"} <= set(r.query)
]


def test_comparison_routes_found() -> None:
    assert [r.path for r in ORG_COMPARISONS] == ["/v1/organizations/{org_id}/comparison"]


@pytest.mark.parametrize("route", ORG_COMPARISONS, ids=lambda r: r.id)
def test_assessment_ids_in_query_do_not_leak(world: World, route: RouteInfo) -> None:
    """The comparison's baseline/endline take assessment ids: the owner's look unknown too."""
    own = {"org_id": world.own_org["id"]}
    for ref in (world.submitted["id"], world.final["id"]):
        for side in ("baseline", "endline"):
            resp = _send(world, route, own, **{side: ref})
            other = _send(world, route, own, **{side: str(uuid.uuid4())})
            body = assert_problem(resp, 404)
            assert body["type"] == assert_problem(other, 404)["type"]
            assert "Victim" not in resp.text


def test_upsert_by_external_id_stays_in_its_workspace(world: World) -> None:
    before = world.snapshot()
    resp = _send(
        world,
        next(r for r in ID_ROUTES if "external_id" in r.path_params),
        {"external_id": "ext-victim"},
    )
    assert resp.status_code == 201, resp.text
    assert resp.json()["id"] != world.org["id"]
    assert resp.json()["name"] == "pwned"
    assert world.snapshot() == before
    mine = list_all(world.attacker, "/v1/organizations", external_id="ext-victim")
    assert [o["id"] for o in mine] == [resp.json()["id"]]


@pytest.mark.parametrize("route", LIST_ROUTES, ids=lambda r: r.id)
def test_id_filters_on_lists_do_not_leak(world: World, route: RouteInfo) -> None:
    ids = {
        "organization_id": world.org["id"],
        "cohort_id": world.cohort["id"],
        "object_id": world.org["id"],
        "external_id": "ext-victim",
    }
    id_params = [q for q in route.query if q.endswith("_id") and q != "instrument_id"]
    unknown = set(id_params) - set(ids)
    assert not unknown, f"{route.id}: teach test_tenancy the query parameter(s) {unknown}"
    for q in id_params:
        page = get(world.attacker, route.path, role="admin", params={q: ids[q]})
        assert page["items"] == [], (route.id, q)
        assert page["next_cursor"] is None
    # and the same filters do find the owner's objects for the owner
    for q in id_params:
        if route.path == "/v1/audit" or (q, route.path) == ("external_id", "/v1/assessments"):
            continue
        page = get(world.owner, route.path, role="admin", params={q: ids[q]})
        assert page["items"], (route.id, q)


def test_owner_audit_filters_find_their_objects(world: World) -> None:
    events = audit_events(world.owner, object_id=world.org["id"])
    assert [e["action"] for e in events] == ["organization.create"]
    assert audit_events(world.attacker, object_id=world.org["id"]) == []


def test_assessment_for_another_workspaces_org_is_refused_like_unknown(
    world: World, engine: Engine
) -> None:
    counts = db_counts(engine)
    body = assessment_body(world.org["id"], "oca", "baseline-2")
    resp = call(world.attacker, "POST", "/v1/assessments", "admin", json=body)
    ref = call(
        world.attacker,
        "POST",
        "/v1/assessments",
        "admin",
        json={**body, "organization_id": str(uuid.uuid4())},
    )
    got = assert_problem(resp, ref.status_code)
    assert ref.status_code in (404, 422)
    assert got["type"] == ref.json()["type"]
    assert [e.get("pointer") for e in got.get("errors", [])] == [
        e.get("pointer") for e in ref.json().get("errors", [])
    ]
    assert "Victim" not in resp.text
    assert db_counts(engine) == counts


def test_cross_workspace_cohort_comparison_ignores_foreign_members(world: World) -> None:
    """Adding a foreign org is refused, so a cohort's numbers never include another workspace."""
    resp = _send(
        world,
        next(r for r in ID_ROUTES if r.method == "PUT" and "members" in r.path),
        {"cohort_id": world.own_cohort["id"], "org_id": world.org["id"]},
    )
    assert_problem(resp, 404)
    cmp = get(
        world.attacker,
        f"/v1/cohorts/{world.own_cohort['id']}/comparison",
        params={"instrument_id": "oca"},
    )
    assert [o["id"] for o in cmp["organizations"]] == [world.own_org["id"]]
    assert cmp["only_baseline"] == [world.own_org["id"]]


def test_submit_of_owners_draft_by_attacker_leaves_it_draft(world: World) -> None:
    resp = call(world.attacker, "POST", f"/v1/assessments/{world.draft['id']}/submit", "admin")
    assert_problem(resp, 404)
    assert get(world.owner, f"/v1/assessments/{world.draft['id']}")["status"] == "draft"
    # while the owner can
    assert submit(world.owner, world.draft["id"])["status"] == "submitted"
