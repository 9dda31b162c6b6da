"""Cohorts: CRUD, names, membership, pagination."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.api.factories import (
    add_member,
    assert_problem,
    call,
    create_assessment,
    create_cohort,
    create_org,
    db_fingerprint,
    get,
    list_all,
    ok,
)


def test_create_read_update(tenant: Any) -> None:
    resp = call(tenant, "POST", "/v1/cohorts", json={"name": " Grupo 2 ", "description": "LC"})
    cohort = ok(resp, 201)
    assert resp.headers["Location"] == f"/v1/cohorts/{cohort['id']}"
    assert (cohort["name"], cohort["description"], cohort["members"]) == ("Grupo 2", "LC", 0)
    assert cohort["organization_ids"] == []
    url = f"/v1/cohorts/{cohort['id']}"
    assert get(tenant, url) == cohort
    renamed = ok(call(tenant, "PATCH", url, json={"name": "Grupo 3"}))
    assert (renamed["name"], renamed["description"]) == ("Grupo 3", "LC")
    assert renamed["updated_at"] > cohort["updated_at"]
    cleared = ok(call(tenant, "PATCH", url, json={"description": None}))
    assert cleared["description"] is None
    assert get(tenant, url)["name"] == "Grupo 3"


def test_duplicate_names_are_409(tenant: Any, other_tenant: Any, engine: Engine) -> None:
    a = create_cohort(tenant, name="Cohort A")
    b = create_cohort(tenant, name="Cohort B")
    before = db_fingerprint(engine)
    assert_problem(call(tenant, "POST", "/v1/cohorts", json={"name": "Cohort A"}), 409, "conflict")
    clash = call(tenant, "PATCH", f"/v1/cohorts/{b['id']}", json={"name": "Cohort A"})
    assert_problem(clash, 409, "conflict")
    assert db_fingerprint(engine) == before
    # renaming to its own name is not a clash; another workspace may use the name
    assert ok(call(tenant, "PATCH", f"/v1/cohorts/{a['id']}", json={"name": "Cohort A"}))
    create_cohort(other_tenant, name="Cohort A")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "x" * 201},
        {"name": "ok", "description": "d" * 2001},
        {"name": "ok", "members": 3},
    ],
    ids=["missing", "empty", "long-name", "long-description", "extra-field"],
)
def test_create_rejects_bad_input(tenant: Any, engine: Engine, body: dict[str, Any]) -> None:
    before = db_fingerprint(engine)
    assert_problem(call(tenant, "POST", "/v1/cohorts", json=body), 422)
    assert db_fingerprint(engine) == before


def test_patch_null_name_is_422(tenant: Any, engine: Engine) -> None:
    """Bug: PATCH /v1/cohorts/{id} {"name": null} hit the NOT NULL constraint and answered 500."""
    cohort = create_cohort(tenant, name="Keep me")
    before = db_fingerprint(engine)
    problem = assert_problem(
        call(tenant, "PATCH", f"/v1/cohorts/{cohort['id']}", json={"name": None}), 422
    )
    assert "/name" in [e["pointer"] for e in problem["errors"]]
    assert db_fingerprint(engine) == before
    assert get(tenant, f"/v1/cohorts/{cohort['id']}")["name"] == "Keep me"


def test_membership(tenant: Any, engine: Engine) -> None:
    cohort = create_cohort(tenant)
    org1, org2 = create_org(tenant), create_org(tenant)
    url = f"/v1/cohorts/{cohort['id']}/members/{org1['id']}"
    assert ok(call(tenant, "PUT", url)) == {
        "cohort_id": cohort["id"],
        "organization_id": org1["id"],
        "added": True,
    }
    before = db_fingerprint(engine)
    again = ok(call(tenant, "PUT", url))
    assert again["added"] is False  # idempotent
    assert db_fingerprint(engine) == before
    add_member(tenant, cohort["id"], org2["id"])
    detail = get(tenant, f"/v1/cohorts/{cohort['id']}")
    assert detail["members"] == 2
    assert detail["organization_ids"] == [org1["id"], org2["id"]]
    listed = [c for c in list_all(tenant, "/v1/cohorts") if c["id"] == cohort["id"]]
    assert listed[0]["members"] == 2
    resp = call(tenant, "DELETE", url)
    assert resp.status_code == 204 and resp.content == b""
    assert_problem(call(tenant, "DELETE", url), 404, "not-found")
    assert get(tenant, f"/v1/cohorts/{cohort['id']}")["organization_ids"] == [org2["id"]]
    # the organization itself is untouched
    assert get(tenant, f"/v1/organizations/{org1['id']}")["id"] == org1["id"]


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_membership_with_unknown_ids_is_404(tenant: Any, engine: Engine, method: str) -> None:
    cohort, org = create_cohort(tenant), create_org(tenant)
    before = db_fingerprint(engine)
    for c, o in [(cohort["id"], str(uuid.uuid4())), (str(uuid.uuid4()), org["id"])]:
        assert_problem(call(tenant, method, f"/v1/cohorts/{c}/members/{o}"), 404, "not-found")
    assert_problem(call(tenant, method, f"/v1/cohorts/{cohort['id']}/members/x"), 422)
    assert db_fingerprint(engine) == before


def test_cohort_filter_on_assessments(tenant: Any) -> None:
    cohort = create_cohort(tenant)
    inside, outside = create_org(tenant), create_org(tenant)
    add_member(tenant, cohort["id"], inside["id"])
    a = create_assessment(tenant, inside["id"], "opi", "baseline", 2)
    create_assessment(tenant, outside["id"], "opi", "baseline", 2)
    got = list_all(tenant, "/v1/assessments", cohort_id=cohort["id"])
    assert [x["id"] for x in got] == [a["id"]]


def test_pagination(tenant: Any) -> None:
    ids = [create_cohort(tenant, name=f"C{i}")["id"] for i in range(5)]
    p1 = get(tenant, "/v1/cohorts", params={"limit": 2})
    late = create_cohort(tenant, name="Late")["id"]
    p2 = get(tenant, "/v1/cohorts", params={"limit": 2, "cursor": p1["next_cursor"]})
    p3 = get(tenant, "/v1/cohorts", params={"limit": 2, "cursor": p2["next_cursor"]})
    assert p3["next_cursor"] is None
    got = [c["id"] for c in p1["items"] + p2["items"] + p3["items"]]
    assert got == [*ids, late]
