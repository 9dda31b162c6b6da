"""RFC 9457 problem details for every kind of error, and no internals in a 500."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from tests.api.factories import (
    assert_problem,
    call,
    create_assessment,
    create_org,
    finalize,
    scored,
)


def test_unknown_route_is_404_problem(tenant: Any) -> None:
    for path in ("/v1/nothing", "/nothing", "/v2/organizations", "/v1/organizations/x/y/z"):
        body = assert_problem(call(tenant, "GET", path), 404, "not-found")
        assert body["instance"] == path


def test_unknown_id_is_404_problem(tenant: Any) -> None:
    missing = uuid.uuid4()
    for path in (
        f"/v1/organizations/{missing}",
        f"/v1/cohorts/{missing}",
        f"/v1/assessments/{missing}",
        f"/v1/assessments/{missing}/scores",
        "/v1/instruments/nope/versions/1",
        "/v1/instruments/oca/versions/1999.1",
    ):
        body = assert_problem(call(tenant, "GET", path), 404, "not-found")
        assert body["detail"]
        assert body["instance"] == path


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/v1/instruments", {"GET"}),
        ("PUT", "/v1/organizations", {"GET", "POST"}),
        ("DELETE", "/v1/assessments/{id}", {"GET", "PATCH"}),
        ("POST", "/v1/cohorts/{id}", {"GET", "PATCH"}),
        ("GET", "/v1/assessments/{id}/submit", {"POST"}),
    ],
)
def test_wrong_method_is_405_with_allow(
    tenant: Any, method: str, path: str, allowed: set[str]
) -> None:
    """Bug (minor): Allow listed only the methods of the first route object on the path, e.g.
    PUT /v1/organizations -> Allow: POST (GET is missing); RFC 9110 §15.5.6 wants them all."""
    resp = call(tenant, method, path.replace("{id}", str(uuid.uuid4())))
    assert_problem(resp, 405, "method-not-allowed")
    assert {m.strip() for m in resp.headers["Allow"].split(",")} == allowed


def test_conflict_412_and_428_are_problems(tenant: Any) -> None:
    org = create_org(tenant)
    a = create_assessment(tenant, org["id"], "opi", "baseline", 2)
    dup = call(
        tenant,
        "POST",
        "/v1/assessments",
        json={
            "organization_id": org["id"],
            "instrument_id": "opi",
            "round": "baseline",
            "assessed_on": "2024-01-01",
        },
    )
    assert_problem(dup, 409, "conflict")
    url = f"/v1/assessments/{a['id']}"
    assert_problem(call(tenant, "PATCH", url, json={}), 428, "precondition-required")
    assert_problem(
        call(tenant, "PATCH", url, json={}, headers={"If-Match": '"x"'}), 412, "precondition-failed"
    )
    done = finalize(tenant, scored(tenant, create_org(tenant)["id"], "opi", "b", 2)["id"])
    assert_problem(call(tenant, "POST", f"/v1/assessments/{done['id']}/submit"), 409, "conflict")


@pytest.mark.parametrize(
    ("content", "content_type", "pointer"),
    [
        (b'{"name": ', "application/json", "/0"),
        (b"{'name': 'x'}", "application/json", "/1"),
        (b'{"name": "x",}', "application/json", "/13"),
        (b"", "application/json", ""),
        (b"null", "application/json", ""),
        (b"[]", "application/json", ""),
        (b'"name"', "application/json", ""),
        (b"\xff\xfe\x00", "application/json", ""),
        (b"name=x", "application/x-www-form-urlencoded", ""),
        (b'{"name": "x"}', "text/plain", ""),
    ],
    ids=[
        "truncated",
        "single-quotes",
        "trailing-comma",
        "empty",
        "null",
        "array",
        "string",
        "binary",
        "form",
        "text-plain",
    ],
)
def test_malformed_bodies_are_problems(
    tenant: Any, content: bytes, content_type: str, pointer: str
) -> None:
    resp = call(
        tenant, "POST", "/v1/organizations", content=content, headers={"Content-Type": content_type}
    )
    assert resp.status_code in (400, 415, 422), resp.text
    body = assert_problem(resp, resp.status_code)
    if resp.status_code == 422:
        assert body["errors"], body


@pytest.mark.parametrize(
    ("body", "pointer", "code"),
    [
        ({"name": "x", "country": 52}, "/country", "string_type"),
        ({"name": "x", "tags": "a,b"}, "/tags", "list_type"),
        ({"name": "x", "tags": [1]}, "/tags/0", "string_type"),
        ({"name": "x", "colour": "red"}, "/colour", "extra_forbidden"),
        ({"name": "x", "Name": "y"}, "/Name", "extra_forbidden"),
    ],
    ids=["country-int", "tags-string", "tag-int", "extra", "extra-case"],
)
def test_wrong_types_and_extra_fields(
    tenant: Any, body: dict[str, Any], pointer: str, code: str
) -> None:
    problem = assert_problem(
        call(tenant, "POST", "/v1/organizations", json=body), 422, "validation-error"
    )
    assert {"pointer": pointer, "code": code} in [
        {"pointer": e["pointer"], "code": e["code"]} for e in problem["errors"]
    ], problem
    assert "nothing was written" in problem["detail"]


def test_every_error_lists_all_offending_fields_at_once(tenant: Any) -> None:
    problem = assert_problem(
        call(tenant, "POST", "/v1/assessments", json={"instrument_id": 5, "answers": "x", "z": 1}),
        422,
    )
    assert {e["pointer"] for e in problem["errors"]} >= {
        "/organization_id",
        "/instrument_id",
        "/round",
        "/assessed_on",
        "/answers",
        "/z",
    }


def test_unexpected_exception_is_a_bare_500_problem(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(settings)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("db password=hunter2 at /srv/secret/config.py line 42")

    @app.get("/boom-key")
    def boom_key() -> None:
        raise KeyError("internal_column_name")

    with TestClient(app, raise_server_exceptions=False) as client, caplog.at_level(logging.ERROR):
        for path in ("/boom", "/boom-key"):
            resp = client.get(path)
            body = assert_problem(resp, 500, "internal-error")
            assert set(body) <= {"type", "title", "status", "detail", "instance", "request_id"}
            for leak in (
                "hunter2",
                "secret",
                "Traceback",
                "RuntimeError",
                "KeyError",
                "internal_column_name",
                "line 42",
                ".py",
            ):
                assert leak not in resp.text
    # but it was logged for the operators
    assert "hunter2" in caplog.text


def test_openapi_documents_problem_responses(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path, ops in spec["paths"].items():
        if not path.startswith("/v1"):
            continue
        for method, op in ops.items():
            codes = set(op["responses"])
            assert {"401", "422"} <= codes, (method, path, codes)
            if "{" in path and "/by-external-id/" not in path:  # an upsert cannot 404
                assert "404" in codes, (method, path)
