"""Authentication and roles on every /v1 route (OWASP API2, API5), walked from ``app.routes``."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.services.keys import create_key, revoke_key
from tests.api.factories import assert_problem, db_fingerprint
from tests.api.routes import COLLECTED, RouteInfo, v1_routes

FILL = {
    "org_id": str(uuid.uuid4()),
    "cohort_id": str(uuid.uuid4()),
    "assessment_id": str(uuid.uuid4()),
    "instrument_id": "oca",
    "version": "2015.1",
    "external_id": "ext-1",
    "key_id": str(uuid.uuid4()),
    "webhook_id": str(uuid.uuid4()),
    "job_id": str(uuid.uuid4()),
    "fiscal_year": "2025",
    "priority_id": str(uuid.uuid4()),
    "action_id": str(uuid.uuid4()),
    "code": "R01",
    "evidence_id": str(uuid.uuid4()),
    "item_key": "gls.vision.1",
}
WRITES = [r for r in COLLECTED if r.is_write]
# a rater's own link opens these, never an API key (tests/api/test_rater_links.py)
RATER_LINK = frozenset(r.path for r in COLLECTED if r.path.startswith("/v1/rater/"))


def _request(client: TestClient, route: RouteInfo, headers: dict[str, str]):
    params = {q: FILL.get(q, "x") for q in route.required_query}
    kw = {"json": {}} if route.has_body else {}
    return client.request(route.method, route.url(FILL), params=params, headers=headers, **kw)


def test_the_walk_sees_the_live_apps_routes(client: TestClient) -> None:
    live = v1_routes(client.app)  # type: ignore[arg-type]
    assert {r.id for r in live} == {r.id for r in COLLECTED}
    assert len(COLLECTED) >= 27
    assert all(r.url(FILL).count("{") == 0 for r in COLLECTED), "a path param has no value"


@pytest.mark.parametrize("route", COLLECTED, ids=lambda r: r.id)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer not-a-key"},
        {"Authorization": "Bearer oca_000000000000_" + "A" * 43},
        {"Authorization": "Bearer oca_" + "f" * 40 + "_x"},
        {"X-API-Key": "oca_0_0"},
    ],
    ids=[
        "none",
        "bearer-empty",
        "bearer-space",
        "basic",
        "garbage",
        "well-formed-unknown",
        "prefix-too-long",
        "other-header",
    ],
)
def test_no_valid_key_is_401_with_challenge(
    client: TestClient, route: RouteInfo, headers: dict[str, str]
) -> None:
    resp = _request(client, route, headers)
    body = assert_problem(resp, 401, "unauthorized")
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert "oca_" not in resp.text
    assert body["instance"] == route.url(FILL)


def test_unauthenticated_sweep_writes_nothing(client: TestClient, engine: Engine) -> None:
    before = db_fingerprint(engine)
    for route in WRITES:
        for headers in ({}, {"Authorization": "Bearer junk"}):
            assert _request(client, route, headers).status_code == 401
    assert db_fingerprint(engine) == before


@pytest.mark.parametrize("route", COLLECTED, ids=lambda r: r.id)
def test_revoked_key_is_401(client: TestClient, session: Session, route: RouteInfo) -> None:
    key = create_key(session, workspace=f"ws-{uuid.uuid4().hex[:8]}", role="admin")
    ok = client.get("/v1/instruments", headers={"Authorization": f"Bearer {key.secret}"})
    assert ok.status_code == 200
    revoke_key(session, str(key.id))
    resp = _request(client, route, {"Authorization": f"Bearer {key.secret}"})
    assert_problem(resp, 401, "unauthorized")
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_key_with_wrong_secret_is_401(client: TestClient, tenant) -> None:
    secret = tenant.keys["admin"]
    tampered = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    resp = client.get("/v1/organizations", headers={"Authorization": f"Bearer {tampered}"})
    assert_problem(resp, 401, "unauthorized")
    # the scheme is case-insensitive (RFC 9110 §11.1)
    resp = client.get("/v1/organizations", headers={"Authorization": f"bearer {secret}"})
    assert resp.status_code == 200


@pytest.mark.parametrize(
    "route", [r for r in WRITES if r.path not in RATER_LINK], ids=lambda r: r.id
)
def test_viewer_cannot_write(client: TestClient, engine: Engine, tenant, route: RouteInfo) -> None:
    before = db_fingerprint(engine)
    resp = _request(client, route, tenant.headers("viewer"))
    body = assert_problem(resp, 403, "forbidden")
    assert "viewer" in body["detail"]
    assert db_fingerprint(engine) == before


ADMIN_ONLY = frozenset(
    {
        "/v1/audit",
        "/v1/keys",
        "/v1/keys/{key_id}",
        "/v1/webhooks",
        "/v1/webhooks/{webhook_id}",
        "/v1/webhooks/{webhook_id}/deliveries",
    }
)


# Reads for the facilitator's roles (editor, admin): individual ratings (docs/raters.md).
FACILITATOR_ONLY = frozenset(
    r.path for r in COLLECTED if r.path.startswith("/v1/assessments/{assessment_id}/ratings")
)


@pytest.mark.parametrize(
    "route",
    [
        r
        for r in COLLECTED
        if not r.is_write and r.path not in ADMIN_ONLY | FACILITATOR_ONLY | RATER_LINK
    ],
    ids=lambda r: r.id,
)
def test_viewer_can_read(client: TestClient, tenant, route: RouteInfo) -> None:
    resp = _request(client, route, tenant.headers("viewer"))
    # authenticated and allowed: whatever the answer, it is not an auth problem
    assert resp.status_code not in (401, 403), resp.text
    assert resp.status_code in (200, 404), resp.text


@pytest.mark.parametrize(
    "route",
    [r for r in COLLECTED if r.path in FACILITATOR_ONLY and not r.is_write],
    ids=lambda r: r.id,
)
def test_viewer_cannot_read_individual_ratings(
    client: TestClient, engine: Engine, tenant, route: RouteInfo
) -> None:
    assert len(FACILITATOR_ONLY) >= 3
    before = db_fingerprint(engine)
    body = assert_problem(_request(client, route, tenant.headers("viewer")), 403, "forbidden")
    assert "editors and admins" in body["detail"]
    assert _request(client, route, tenant.headers("editor")).status_code == 404
    assert db_fingerprint(engine) == before


@pytest.mark.parametrize("role", ["editor", "viewer"])
@pytest.mark.parametrize(
    "route", [r for r in COLLECTED if r.path in ADMIN_ONLY], ids=lambda r: r.id
)
def test_admin_routes_need_admin(
    client: TestClient,
    engine: Engine,
    tenant,
    role: str,
    route: RouteInfo,
) -> None:
    before = db_fingerprint(engine)
    body = assert_problem(_request(client, route, tenant.headers(role)), 403, "forbidden")
    assert (role == "viewer" and route.is_write) or "admin" in body["detail"]
    assert db_fingerprint(engine) == before
    if not route.is_write:
        expected = 404 if route.path_params else 200  # the ids in FILL do not exist
        assert _request(client, route, tenant.headers("admin")).status_code == expected


def test_admin_only_routes_exist() -> None:
    assert {r.path for r in COLLECTED if r.path in ADMIN_ONLY} == set(ADMIN_ONLY)


def test_healthz_needs_no_key(client: TestClient) -> None:
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok"}
    # a bad key on a public route is ignored, not an error
    assert client.get("/healthz", headers={"Authorization": "Bearer junk"}).status_code == 200


def test_every_v1_operation_declares_bearer_security(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    missing = [
        f"{method.upper()} {path}"
        for path, ops in spec["paths"].items()
        if path.startswith("/v1")
        for method, op in ops.items()
        if not any("HTTPBearer" in s for s in op.get("security", []))
    ]
    assert missing == []
