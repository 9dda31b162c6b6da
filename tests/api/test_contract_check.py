"""The contract check that wraps the test client catches what it is there to catch."""

from __future__ import annotations

import json

import pytest

from tests.contract import check, operation_of


def test_operations_are_matched_by_template_literal_segments_first() -> None:
    assert operation_of("PUT", "/v1/organizations/by-external-id/abc") == (
        "/v1/organizations/by-external-id/{external_id}"
    )
    assert operation_of("GET", "/v1/organizations/abc") == "/v1/organizations/{org_id}"
    assert operation_of("GET", "/v1/nothing") is None


def test_an_undeclared_status_fails() -> None:
    with pytest.raises(AssertionError, match="does not declare"):
        check("GET", "/v1/organizations/x", 418, "application/json", b"{}")


def test_a_body_off_its_schema_fails() -> None:
    body = json.dumps({"items": [{"id": 1}], "next_cursor": None}).encode()
    with pytest.raises(AssertionError, match="does not match the contract"):
        check("GET", "/v1/organizations", 200, "application/json", body)
    problem = json.dumps({"type": "x", "title": "Not found"}).encode()  # no status
    with pytest.raises(AssertionError, match="status"):
        check("GET", "/v1/organizations/x", 404, "application/problem+json", problem)


def test_a_body_on_its_schema_passes() -> None:
    problem = {"type": "x", "title": "Not found", "status": 404, "request_id": "r1"}
    check(
        "GET", "/v1/organizations/x", 404, "application/problem+json", json.dumps(problem).encode()
    )
