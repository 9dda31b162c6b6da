"""Organizations: CRUD, external ids and upsert, ETags, deletion rules, pagination and filters."""

from __future__ import annotations

import base64
import json
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


def test_create_read_and_shape(tenant: Any) -> None:
    resp = call(
        tenant,
        "POST",
        "/v1/organizations",
        json={
            "name": "  Fundación Juventud Tijuana  ",
            "country": "mx",
            "region": "Baja California",
            "thematic_areas": ["youth", "education"],
            "tags": ["cohort-1"],
            "external_id": "crm-001",
        },
    )
    org = ok(resp, 201)
    assert resp.headers["Location"] == f"/v1/organizations/{org['id']}"
    assert resp.headers["ETag"] == f'"{org["id"]}.1"'
    assert org["name"] == "Fundación Juventud Tijuana"
    assert org["country"] == "MX"
    assert org["region"] == "Baja California"
    assert org["thematic_areas"] == ["youth", "education"]
    assert org["tags"] == ["cohort-1"]
    assert org["external_id"] == "crm-001"
    assert org["created_at"] == org["updated_at"]
    assert org["created_at"].endswith("Z")
    uuid.UUID(org["id"])
    read = call(tenant, "GET", f"/v1/organizations/{org['id']}", "viewer")
    assert ok(read) == org
    assert read.headers["ETag"] == resp.headers["ETag"]


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({}, "/name"),
        ({"name": ""}, "/name"),
        ({"name": "   "}, "/name"),
        ({"name": "x" * 201}, "/name"),
        ({"name": "ok", "country": "MEX"}, "/country"),
        ({"name": "ok", "country": "1a"}, "/country"),
        ({"name": "ok", "tags": ["t"] * 31}, "/tags"),
        ({"name": "ok", "tags": [""]}, "/tags/0"),
        ({"name": "ok", "external_id": "e" * 121}, "/external_id"),
        ({"name": "ok", "workspace_id": str(uuid.uuid4())}, "/workspace_id"),
        ({"name": "ok", "id": str(uuid.uuid4())}, "/id"),
        ({"name": "ok", "created_at": "2020-01-01T00:00:00Z"}, "/created_at"),
        ({"name": 5}, "/name"),
        ({"name": ["a"]}, "/name"),
    ],
    ids=[
        "missing-name",
        "empty-name",
        "blank-name",
        "long-name",
        "country-3",
        "country-digit",
        "too-many-tags",
        "empty-tag",
        "long-external-id",
        "mass-assign-workspace",
        "mass-assign-id",
        "mass-assign-created",
        "name-int",
        "name-list",
    ],
)
def test_create_rejects_bad_input(
    tenant: Any, engine: Engine, body: dict[str, Any], pointer: str
) -> None:
    before = db_fingerprint(engine)
    problem = assert_problem(call(tenant, "POST", "/v1/organizations", json=body), 422)
    assert pointer in [e["pointer"] for e in problem["errors"]], problem
    assert db_fingerprint(engine) == before


def test_external_id_is_unique_per_workspace(tenant: Any, other_tenant: Any) -> None:
    a = create_org(tenant, external_id="crm-7")
    dup = call(tenant, "POST", "/v1/organizations", json={"name": "B", "external_id": "crm-7"})
    problem = assert_problem(dup, 409, "conflict")
    assert "crm-7" in problem["detail"]
    b = create_org(tenant, external_id="crm-8")
    clash = call(tenant, "PATCH", f"/v1/organizations/{b['id']}", json={"external_id": "crm-7"})
    assert_problem(clash, 409, "conflict")
    assert get(tenant, f"/v1/organizations/{b['id']}")["external_id"] == "crm-8"
    # another workspace may use the same id
    c = create_org(other_tenant, external_id="crm-7")
    assert c["id"] != a["id"]
    # and the owner can PATCH its own org keeping its own external id
    same = call(tenant, "PATCH", f"/v1/organizations/{a['id']}", json={"external_id": "crm-7"})
    assert ok(same)["external_id"] == "crm-7"


def test_upsert_by_external_id(tenant: Any) -> None:
    url = "/v1/organizations/by-external-id/grants-42"
    first = call(
        tenant, "PUT", url, json={"name": "Red Ciudadana", "country": "gt", "tags": ["a", "b"]}
    )
    org = ok(first, 201)
    assert first.headers["Location"] == f"/v1/organizations/{org['id']}"
    assert (org["external_id"], org["country"], org["tags"]) == ("grants-42", "GT", ["a", "b"])
    again = call(tenant, "PUT", url, json={"name": "Red Ciudadana AC", "region": "Petén"})
    replaced = ok(again, 200)
    assert replaced["id"] == org["id"]
    assert replaced["name"] == "Red Ciudadana AC"
    assert replaced["region"] == "Petén"
    # PUT replaces: what was not sent is reset
    assert replaced["country"] is None
    assert replaced["tags"] == []
    assert again.headers["ETag"] == f'"{org["id"]}.2"'
    # same body again: nothing changes, the ETag stays
    same = call(tenant, "PUT", url, json={"name": "Red Ciudadana AC", "region": "Petén"})
    assert ok(same)["updated_at"] == replaced["updated_at"]
    assert same.headers["ETag"] == again.headers["ETag"]
    assert [o["id"] for o in list_all(tenant, "/v1/organizations")] == [org["id"]]
    # external_id in the body is not allowed: the path says it
    bad = call(tenant, "PUT", url, json={"name": "x", "external_id": "other"})
    assert_problem(bad, 422)


def test_patch_with_etags(tenant: Any, engine: Engine) -> None:
    org = create_org(tenant, name="Before", tags=["t"])
    url = f"/v1/organizations/{org['id']}"
    etag = call(tenant, "GET", url).headers["ETag"]
    resp = call(tenant, "PATCH", url, json={"name": "After"}, headers={"If-Match": etag})
    after = ok(resp)
    assert after["name"] == "After"
    assert after["tags"] == ["t"]  # untouched
    assert resp.headers["ETag"] != etag
    assert resp.headers["ETag"] == f'"{org["id"]}.2"'
    before = db_fingerprint(engine)
    stale = call(tenant, "PATCH", url, json={"name": "Lost"}, headers={"If-Match": etag})
    problem = assert_problem(stale, 412, "precondition-failed")
    assert resp.headers["ETag"] in problem["detail"]
    assert db_fingerprint(engine) == before
    assert get(tenant, url)["name"] == "After"
    # a weak form of the current tag and a list including it both match
    weak = call(
        tenant,
        "PATCH",
        url,
        json={"region": "Norte"},
        headers={"If-Match": "W/" + resp.headers["ETag"]},
    )
    assert ok(weak)["region"] == "Norte"
    listed = call(
        tenant,
        "PATCH",
        url,
        json={"region": "Sur"},
        headers={"If-Match": f'"nope", {weak.headers["ETag"]}'},
    )
    assert ok(listed)["region"] == "Sur"


def test_patch_clears_optional_fields(tenant: Any) -> None:
    org = create_org(tenant, country="MX", region="X", external_id="e-1")
    url = f"/v1/organizations/{org['id']}"
    out = ok(
        call(tenant, "PATCH", url, json={"country": None, "region": None, "external_id": None})
    )
    assert (out["country"], out["region"], out["external_id"]) == (None, None, None)


@pytest.mark.parametrize("field", ["name", "tags", "thematic_areas"])
def test_patch_null_on_a_required_field_is_422_and_changes_nothing(
    tenant: Any, engine: Engine, field: str
) -> None:
    """Bug: PATCH {"name": null} answered 409 'external_id None'; {"tags": null} stored NULL and
    every later read of the organization (and every list containing it) answered 500."""
    org = create_org(tenant, tags=["keep"], thematic_areas=["keep"])
    url = f"/v1/organizations/{org['id']}"
    before = db_fingerprint(engine)
    resp = call(tenant, "PATCH", url, json={field: None})
    problem = assert_problem(resp, 422)
    assert f"/{field}" in [e["pointer"] for e in problem["errors"]]
    assert db_fingerprint(engine) == before
    assert get(tenant, url) == org
    assert [o["id"] for o in list_all(tenant, "/v1/organizations")] == [org["id"]]


def test_delete(tenant: Any) -> None:
    org = create_org(tenant)
    cohort = create_cohort(tenant)
    add_member(tenant, cohort["id"], org["id"])
    url = f"/v1/organizations/{org['id']}"
    resp = call(tenant, "DELETE", url)
    assert resp.status_code == 204
    assert resp.content == b""
    assert_problem(call(tenant, "GET", url), 404, "not-found")
    assert_problem(call(tenant, "DELETE", url), 404, "not-found")
    # the membership went with it
    assert get(tenant, f"/v1/cohorts/{cohort['id']}")["organization_ids"] == []


def test_delete_with_assessments_is_409(tenant: Any, engine: Engine) -> None:
    org = create_org(tenant)
    create_assessment(tenant, org["id"], "opi", "baseline", 2)
    before = db_fingerprint(engine)
    problem = assert_problem(call(tenant, "DELETE", f"/v1/organizations/{org['id']}"), 409)
    assert "assessments" in problem["detail"]
    assert db_fingerprint(engine) == before
    assert get(tenant, f"/v1/organizations/{org['id']}")["id"] == org["id"]


def test_pagination_is_stable_while_rows_are_added(tenant: Any) -> None:
    first = [create_org(tenant, name=f"Org {i:02d}")["id"] for i in range(7)]
    seen: list[str] = []
    added: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = get(tenant, "/v1/organizations", params=params)
        assert len(page["items"]) <= 3
        seen += [o["id"] for o in page["items"]]
        cursor = page["next_cursor"]
        pages += 1
        if pages <= 2:  # rows arrive between pages
            added.append(create_org(tenant, name=f"Late {pages}")["id"])
        if cursor is None:
            break
        assert pages < 10
    assert len(seen) == len(set(seen)), "a row was served twice"
    assert seen == first + added  # creation order, no gaps, late rows at the end
    assert pages == 3


def test_exact_page_boundary_has_no_empty_trailing_page(tenant: Any) -> None:
    ids = [create_org(tenant)["id"] for _ in range(4)]
    p1 = get(tenant, "/v1/organizations", params={"limit": 2})
    p2 = get(tenant, "/v1/organizations", params={"limit": 2, "cursor": p1["next_cursor"]})
    assert [o["id"] for o in p1["items"] + p2["items"]] == ids
    assert p2["next_cursor"] is None
    full = get(tenant, "/v1/organizations", params={"limit": 4})
    assert full["next_cursor"] is None


def _cursor(payload: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        "AAAA",
        "!!!!",
        _cursor(["yesterday", str(uuid.uuid4())]),
        _cursor(["2024-01-01T00:00:00", "not-a-uuid"]),
        _cursor(["2024-01-01T00:00:00", 5]),
        _cursor([None, None]),
        _cursor({"a": 1}),
        _cursor("ab"),
        _cursor([1, 2, 3]),
        "x" * 201,
    ],
    ids=[
        "text",
        "zero-bytes",
        "punctuation",
        "bad-date",
        "bad-id",
        "int-id",
        "nulls",
        "object",
        "string",
        "three",
        "too-long",
    ],
)
@pytest.mark.parametrize("url", ["/v1/organizations", "/v1/cohorts", "/v1/assessments"])
def test_bad_cursor_is_422(tenant: Any, url: str, cursor: str) -> None:
    create_org(tenant)
    problem = assert_problem(call(tenant, "GET", url, params={"cursor": cursor}), 422)
    assert "cursor" in (problem.get("detail", "") + json.dumps(problem.get("errors")))


@pytest.mark.parametrize("limit", ["0", "-1", "201", str(10**9), "1.5", "abc", ""])
def test_bad_limit_is_422(tenant: Any, limit: str) -> None:
    problem = assert_problem(call(tenant, "GET", "/v1/organizations", params={"limit": limit}), 422)
    assert problem["errors"][0]["pointer"] == "/query/limit"


def test_filters(tenant: Any) -> None:
    a = create_org(tenant, name="Alpha 100% Rural", country="MX", external_id="x-1")
    b = create_org(tenant, name="alphabet_soup", country="GT")
    c = create_org(tenant, name="Beta", country="mx")
    cohort = create_cohort(tenant)
    add_member(tenant, cohort["id"], b["id"])
    add_member(tenant, cohort["id"], c["id"])

    def ids(**params: Any) -> list[str]:
        return [o["id"] for o in list_all(tenant, "/v1/organizations", **params)]

    assert ids(country="MX") == [a["id"], c["id"]]
    assert ids(country="mx") == [a["id"], c["id"]]
    assert ids(q="ALPHA") == [a["id"], b["id"]]
    assert ids(q="100%") == [a["id"]]  # LIKE wildcards are literal
    assert ids(q="%") == [a["id"]]
    assert ids(q="_") == [b["id"]]
    assert ids(external_id="x-1") == [a["id"]]
    assert ids(external_id="x-2") == []
    assert ids(cohort_id=cohort["id"]) == [b["id"], c["id"]]
    assert ids(cohort_id=cohort["id"], country="GT") == [b["id"]]
    assert ids(cohort_id=str(uuid.uuid4())) == []
    assert_problem(call(tenant, "GET", "/v1/organizations", params={"cohort_id": "nope"}), 422)
