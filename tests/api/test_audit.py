"""The audit log: every write, with the object and the key that made it; own workspace only."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from app.services.keys import authenticate
from tests.api.factories import (
    add_member,
    assert_problem,
    audit_events,
    call,
    create_assessment,
    create_cohort,
    create_org,
    finalize,
    get,
    ok,
    submit,
)


def _key_id(session: Session, secret: str) -> str:
    principal = authenticate(session, secret)
    assert principal is not None
    return str(principal.key_id)


def test_every_write_is_audited(tenant: Any, other_tenant: Any, session: Session) -> None:
    editor = _key_id(session, tenant.keys["editor"])
    admin = _key_id(session, tenant.keys["admin"])
    org = create_org(tenant)
    ok(call(tenant, "PATCH", f"/v1/organizations/{org['id']}", json={"name": "Renamed"}))
    up = ok(call(tenant, "PUT", "/v1/organizations/by-external-id/e-1", json={"name": "U"}), 201)
    ok(call(tenant, "PUT", "/v1/organizations/by-external-id/e-1", json={"name": "U2"}))
    cohort = create_cohort(tenant)
    ok(call(tenant, "PATCH", f"/v1/cohorts/{cohort['id']}", json={"description": "d"}))
    add_member(tenant, cohort["id"], org["id"])
    assert (
        call(tenant, "DELETE", f"/v1/cohorts/{cohort['id']}/members/{org['id']}").status_code == 204
    )
    a = create_assessment(tenant, org["id"], "opi", "baseline", 2)
    ok(
        call(
            tenant,
            "PATCH",
            f"/v1/assessments/{a['id']}",
            json={"assessor": "Z"},
            headers={"If-Match": a["etag"]},
        )
    )
    submit(tenant, a["id"])
    ok(call(tenant, "POST", f"/v1/assessments/{a['id']}/reopen"))
    submit(tenant, a["id"])
    finalize(tenant, a["id"])
    rev = ok(call(tenant, "POST", f"/v1/assessments/{a['id']}/revisions", json={}), 201)
    gone = create_org(tenant, role="admin")
    assert call(tenant, "DELETE", f"/v1/organizations/{gone['id']}", "admin").status_code == 204
    # refused writes and reads leave no trace
    call(tenant, "POST", "/v1/cohorts", json={"name": cohort["name"]})
    call(tenant, "PATCH", f"/v1/assessments/{a['id']}", json={"assessor": "no"})
    get(tenant, f"/v1/organizations/{org['id']}")
    create_org(other_tenant)

    events = audit_events(tenant)
    got = [
        (e["action"], e["object_type"], e["object_id"], e["api_key_id"]) for e in reversed(events)
    ]
    assert got == [
        ("organization.create", "organization", org["id"], editor),
        ("organization.update", "organization", org["id"], editor),
        ("organization.create", "organization", up["id"], editor),
        ("organization.update", "organization", up["id"], editor),
        ("cohort.create", "cohort", cohort["id"], editor),
        ("cohort.update", "cohort", cohort["id"], editor),
        ("cohort.member.add", "cohort", cohort["id"], editor),
        ("cohort.member.remove", "cohort", cohort["id"], editor),
        ("assessment.create", "assessment", a["id"], editor),
        ("assessment.update", "assessment", a["id"], editor),
        ("assessment.submit", "assessment", a["id"], editor),
        ("assessment.reopen", "assessment", a["id"], editor),
        ("assessment.submit", "assessment", a["id"], editor),
        ("assessment.finalize", "assessment", a["id"], editor),
        ("assessment.revise", "assessment", rev["id"], editor),
        ("organization.create", "organization", gone["id"], admin),
        ("organization.delete", "organization", gone["id"], admin),
    ]
    changes = {(e["action"], e["object_id"]): e["changes"] for e in events}
    assert changes[("organization.update", org["id"])] == {
        "name": {"from": org["name"], "to": "Renamed"}
    }
    assert changes[("organization.update", up["id"])] == {"name": {"from": "U", "to": "U2"}}
    assert changes[("cohort.member.remove", cohort["id"])] == {"organization": org["id"]}
    assert changes[("assessment.revise", rev["id"])] == {"replaces": a["id"], "revision": 2}
    assert changes[("assessment.update", a["id"])] == {"assessor": {"from": None, "to": "Z"}}
    assert all(e["actor"].startswith("key:") for e in events)
    assert all(e["occurred_at"].endswith("Z") for e in events)
    ids = [e["id"] for e in events]
    assert ids == sorted(ids, reverse=True)  # newest first


def test_audit_pagination_and_filters(tenant: Any) -> None:
    orgs = [create_org(tenant)["id"] for _ in range(5)]
    seen: list[int] = []
    cursor = None
    for _ in range(10):
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = ok(call(tenant, "GET", "/v1/audit", "admin", params=params))
        assert len(page["items"]) <= 2
        seen += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 5
    assert seen == sorted(seen, reverse=True)
    everything = audit_events(tenant)
    assert [e["object_id"] for e in everything] == orgs[::-1]
    one = audit_events(tenant, object_id=orgs[2])
    assert [(e["action"], e["object_id"]) for e in one] == [("organization.create", orgs[2])]
    assert audit_events(tenant, action="cohort.create") == []


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "abc"},
        {"cursor": "-1"},
        {"cursor": "9" * 19},
        {"limit": 0},
        {"limit": 201},
        {"action": "a" * 65},
    ],
    ids=["cursor-text", "cursor-negative", "cursor-huge", "limit-0", "limit-201", "long-action"],
)
def test_audit_bad_params(tenant: Any, params: dict[str, Any]) -> None:
    assert_problem(call(tenant, "GET", "/v1/audit", "admin", params=params), 422)


def test_only_own_workspace_events(tenant: Any, other_tenant: Any) -> None:
    mine = create_org(tenant)
    theirs = create_org(other_tenant)
    create_cohort(other_tenant)
    assert [e["object_id"] for e in audit_events(tenant)] == [mine["id"]]
    assert {e["object_id"] for e in audit_events(other_tenant)} >= {theirs["id"]}
    assert mine["id"] not in {e["object_id"] for e in audit_events(other_tenant)}
    # a cursor past another workspace's events still shows only mine
    big = str(max(e["id"] for e in audit_events(other_tenant)) + 1)
    page = ok(call(tenant, "GET", "/v1/audit", "admin", params={"cursor": big}))
    assert [e["object_id"] for e in page["items"]] == [mine["id"]]


def test_key_admin_is_audited_and_takes_effect(tenant: Any, client: Any) -> None:
    created = ok(
        call(tenant, "POST", "/v1/keys", "admin", json={"role": "viewer", "name": "bi"}), 201
    )
    assert created["secret"].startswith("oca_")
    headers = {"Authorization": f"Bearer {created['secret']}"}
    assert client.get("/v1/organizations", headers=headers).status_code == 200
    listed = get(tenant, "/v1/keys", role="admin")["items"]
    assert created["id"] in {k["id"] for k in listed}
    assert all("secret" not in k for k in listed)
    revoked = ok(call(tenant, "DELETE", f"/v1/keys/{created['id']}", "admin"))
    assert revoked["revoked_at"] is not None
    assert_problem(client.get("/v1/organizations", headers=headers), 401, "unauthorized")
    events = [(e["action"], e["object_type"], e["object_id"]) for e in audit_events(tenant)]
    assert events[:2] == [
        ("key.revoke", "api_key", created["id"]),
        ("key.create", "api_key", created["id"]),
    ]
    assert created["secret"] not in str(audit_events(tenant))


def test_a_key_is_never_created_without_its_audit_event(tenant: Any, monkeypatch: Any) -> None:
    from app.services import common

    before = {k["id"] for k in get(tenant, "/v1/keys", role="admin")["items"]}

    def failing(*_args: Any, **_kw: Any) -> None:
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr(common, "audit", failing)
    r = call(tenant, "POST", "/v1/keys", "admin", json={"role": "viewer"})
    assert_problem(r, 500)
    monkeypatch.undo()
    assert {k["id"] for k in get(tenant, "/v1/keys", role="admin")["items"]} == before
