"""Small factories and assertions for the API tests.

Everything goes through the HTTP API of the real app (``tenant.client``), as a partner
application would; only ``db_counts`` looks at the database directly, to prove that a refused
request wrote nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

from sqlalchemy import Engine, text

from app.catalog import load_catalog
from app.config import REPO_ROOT

Response = Any  # the test client's response (httpx2)

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://oca-engine.org/problems/"

# Every table a request could write to; a refused request must leave all of them unchanged.
TABLES = (
    "workspace",
    "api_key",
    "organization",
    "cohort",
    "cohort_member",
    "assessment",
    "answer",
    "assessment_score",
    "audit_event",
    "idempotency_record",
    "action_plan",
    "plan_priority",
    "plan_action",
    "webhook_subscription",
    "job",
    "webhook_event",
    "webhook_delivery",
    "rater",
    "rating",
    "evidence",
)


# --- instruments ---------------------------------------------------------------------------------


@cache
def _catalog() -> Any:
    return load_catalog(REPO_ROOT / "instruments")


def instrument(instrument_id: str) -> Any:
    f = _catalog().latest(instrument_id)
    assert f is not None, instrument_id
    return f.instrument


def item_keys(instrument_id: str) -> list[str]:
    ins = instrument(instrument_id)
    return [i.key for d in ins.dimensions for a in d.areas for i in a.items]


def dimension_items(instrument_id: str) -> dict[str, list[str]]:
    ins = instrument(instrument_id)
    return {d.key: [i.key for a in d.areas for i in a.items] for d in ins.dimensions}


# --- requests ------------------------------------------------------------------------------------


def call(tenant: Any, method: str, url: str, role: str = "editor", **kw: Any) -> Response:
    headers = {**tenant.headers(role), **kw.pop("headers", {})}
    return tenant.client.request(method, url, headers=headers, **kw)


def ok(resp: Response, status: int = 200) -> Any:
    assert resp.status_code == status, (resp.request.method, resp.request.url, resp.text)
    return resp.json() if resp.content else None


def assert_problem(resp: Response, status: int, code: str | None = None) -> dict[str, Any]:
    """An RFC 9457 body with the right media type, status and (optionally) problem type."""
    assert resp.status_code == status, (resp.request.method, resp.request.url, resp.text)
    assert resp.headers["content-type"].startswith(PROBLEM_JSON), resp.headers["content-type"]
    body = resp.json()
    assert isinstance(body, dict)
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    assert body["type"].startswith(TYPE_BASE), body["type"]
    if code is not None:
        assert body["type"] == TYPE_BASE + code, body
    return body


def error_codes(body: dict[str, Any]) -> list[tuple[str | None, str | None]]:
    return [(e.get("item"), e.get("code")) for e in body.get("errors") or []]


# --- factories -----------------------------------------------------------------------------------


def create_org(tenant: Any, *, role: str = "editor", **kw: Any) -> dict[str, Any]:
    body = {"name": kw.pop("name", f"Org {uuid.uuid4().hex[:8]}"), **kw}
    return ok(call(tenant, "POST", "/v1/organizations", role, json=body), 201)


def create_cohort(tenant: Any, **kw: Any) -> dict[str, Any]:
    body = {"name": kw.pop("name", f"Cohort {uuid.uuid4().hex[:8]}"), **kw}
    return ok(call(tenant, "POST", "/v1/cohorts", json=body), 201)


def add_member(tenant: Any, cohort_id: str, org_id: str) -> dict[str, Any]:
    return ok(call(tenant, "PUT", f"/v1/cohorts/{cohort_id}/members/{org_id}"))


Value = Any | Callable[[str, int], Any]


def answers_for(
    instrument_id: str, value: Value = 3, *, only: Iterable[str] | None = None
) -> list[dict[str, Any]]:
    """One answer per item: ``value`` may be a constant, a dict by item key, or f(key, index)."""
    keys = list(only) if only is not None else item_keys(instrument_id)
    out = []
    for index, key in enumerate(keys):
        if callable(value):
            v = value(key, index)
        elif isinstance(value, dict):
            v = value[key]
        else:
            v = value
        out.append({"item": key, "value": v})
    return out


def assessment_body(
    org_id: str,
    instrument: str = "oca",
    round: str = "baseline",
    value: Value = 3,
    *,
    answers: list[dict[str, Any]] | None = None,
    assessed_on: str = "2024-01-10",
    **kw: Any,
) -> dict[str, Any]:
    return {
        "organization_id": org_id,
        "instrument_id": instrument,
        "round": round,
        "assessed_on": assessed_on,
        "answers": answers if answers is not None else answers_for(instrument, value),
        **kw,
    }


def create_assessment(
    tenant: Any,
    org_id: str,
    instrument: str = "oca",
    round: str = "baseline",
    value: Value = 3,
    **kw: Any,
) -> dict[str, Any]:
    body = assessment_body(org_id, instrument, round, value, **kw)
    return ok(call(tenant, "POST", "/v1/assessments", json=body), 201)


def submit(tenant: Any, assessment_id: str) -> dict[str, Any]:
    return ok(call(tenant, "POST", f"/v1/assessments/{assessment_id}/submit"))


def finalize(tenant: Any, assessment_id: str) -> dict[str, Any]:
    return ok(call(tenant, "POST", f"/v1/assessments/{assessment_id}/finalize"))


def scored(
    tenant: Any,
    org_id: str,
    instrument: str = "oca",
    round: str = "baseline",
    value: Value = 3,
    **kw: Any,
) -> dict[str, Any]:
    """A submitted assessment (created and submitted)."""
    a = create_assessment(tenant, org_id, instrument, round, value, **kw)
    return submit(tenant, a["id"])


def get(tenant: Any, url: str, role: str = "viewer", **kw: Any) -> Any:
    return ok(call(tenant, "GET", url, role, **kw))


def list_all(tenant: Any, url: str, limit: int = 200, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(1000):
        page = get(tenant, url, params={**params, "limit": limit, "cursor": cursor})
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("pagination did not end")


def audit_events(tenant: Any, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        q = {**params, "limit": 200, **({"cursor": cursor} if cursor else {})}
        page = ok(call(tenant, "GET", "/v1/audit", "admin", params=q))
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


# --- the database ---------------------------------------------------------------------------------


def db_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}


def db_fingerprint(engine: Engine) -> dict[str, Any]:
    """Counts plus the latest change times: catches inserts and updates (not key last-use)."""
    out: dict[str, Any] = dict(db_counts(engine))
    with engine.connect() as conn:
        for table in ("organization", "cohort", "assessment"):
            out[f"{table}.updated_at"] = conn.execute(
                text(f"SELECT max(updated_at) FROM {table}")
            ).scalar_one()
        for table in ("organization", "assessment"):
            out[f"{table}.row_version"] = conn.execute(
                text(f"SELECT sum(row_version) FROM {table}")
            ).scalar_one()
    return out
