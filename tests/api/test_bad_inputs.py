"""A hostile-input campaign against the real app: every answer is a 4xx problem (never a 500)
and a refused request writes nothing. Routes are walked from ``app.routes``."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.api.factories import (
    PROBLEM_JSON,
    assert_problem,
    assessment_body,
    call,
    create_assessment,
    create_cohort,
    create_org,
    db_fingerprint,
    get,
    item_keys,
)
from tests.api.routes import COLLECTED, RouteInfo

HOSTILE_IDS = {
    "zero": "0",
    "negative": "-1",
    "huge-int": "9" * 40,
    "int64-overflow": str(2**63),
    "float": "1e309",
    "word": "abc",
    "null-word": "null",
    "nul-byte": "%00",
    "nul-in-uuid": "00000000-0000-0000-0000-00000000000%00",
    "nil-uuid": "00000000-0000-0000-0000-000000000000",
    "uuid-no-dashes": uuid.uuid4().hex,
    "uuid-braces": "{" + str(uuid.uuid4()) + "}",
    "unicode": "ñandú-😀",
    "rtl": "\u202eevil",
    "bad-utf8": "%FF%FE",
    "lone-surrogate-utf8": "%ED%A0%80",
    "sql": "1'%20OR%20'1'='1",
    "long": "x" * 5000,
    "traversal": "..%2F..%2Fetc%2Fpasswd",
    "percent": "%25",
}
ID_ROUTES = [r for r in COLLECTED if r.path_params]


def _expect_4xx_problem(resp: Any) -> dict[str, Any]:
    assert 400 <= resp.status_code < 500, (
        resp.request.method,
        str(resp.request.url)[:200],
        resp.status_code,
        resp.text[:300],
    )
    return assert_problem(resp, resp.status_code)


# NUL in the upsert's external id is pinned once, in test_nul_bytes_are_refused_on_every_database.
@pytest.mark.parametrize("route", ID_ROUTES, ids=lambda r: r.id)
def test_hostile_path_ids(tenant: Any, engine: Engine, route: RouteInfo) -> None:
    create_org(tenant)
    before = db_fingerprint(engine)
    kw: dict[str, Any] = {
        "params": {q: "oca" for q in route.required_query},
        "headers": {"If-Match": "*"},
    }
    upsert = "external_id" in route.path_params
    if route.has_body:
        kw["json"] = {"name": "Hostile"} if upsert else {}
    for label, value in HOSTILE_IDS.items():
        if upsert and "%00" in value:
            continue
        url = route.path
        for p in route.path_params:
            url = url.replace("{" + p + "}", value)
        resp = call(tenant, route.method, url, "admin", **kw)
        if upsert and resp.status_code in (200, 201):
            # an upsert may create an organization with that external id
            assert resp.json()["external_id"], label
            continue
        problem = _expect_4xx_problem(resp)
        assert "Traceback" not in resp.text
        assert problem["status"] in (404, 405, 422), (label, problem)
    if not upsert:
        assert db_fingerprint(engine) == before


HOSTILE_QUERY = {
    "empty": "",
    "negative": "-1",
    "zero": "0",
    "huge": str(10**9),
    "int64": str(2**63),
    "googol": str(10**100),
    "float-overflow": "1e309",
    "nan": "nan",
    "inf": "inf",
    "bool": "true",
    "zero-date": "0000-00-00",
    "bad-date": "2024-13-45",
    "far-date": "99999-01-01",
    "json": '{"$ne": null}',
    "sql": "' OR '1'='1",
    "emoji": "😀" * 30,
    "long": "x" * 5000,
    "like-wildcards": "%_%",
    "backslash": "\\",
}
LIST_ROUTES = [r for r in COLLECTED if r.method == "GET" and r.query]


@pytest.mark.parametrize("route", LIST_ROUTES, ids=lambda r: r.id)
def test_hostile_query_values(tenant: Any, engine: Engine, route: RouteInfo) -> None:
    org = create_org(tenant)
    cohort = create_cohort(tenant)
    before = db_fingerprint(engine)
    base = {q: "oca" for q in route.required_query}
    values = {
        "org_id": org["id"],
        "cohort_id": cohort["id"],
        "instrument_id": "oca",
        "version": "2015.1",
        "assessment_id": str(uuid.uuid4()),
        "key_id": str(uuid.uuid4()),
        "webhook_id": str(uuid.uuid4()),
        "job_id": str(uuid.uuid4()),
        "external_id": "x",
    }
    url = route.url(values)
    for name in route.query:
        for label, value in HOSTILE_QUERY.items():
            resp = call(tenant, "GET", url, "admin", params={**base, name: value})
            assert resp.status_code < 500, (route.id, name, label, resp.text[:300])
            if resp.status_code >= 400:
                assert resp.headers["content-type"].startswith(PROBLEM_JSON), (
                    route.id,
                    name,
                    label,
                )
            elif resp.headers["content-type"].startswith("application/json"):
                resp.json()  # a JSON answer parses (files are checked by their own tests)
    # repeated and unknown parameters
    resp = call(tenant, "GET", url + "?limit=1&limit=2&zzz=1", "admin", params=None)
    assert resp.status_code < 500
    assert db_fingerprint(engine) == before


NUL_CASES = [
    ("POST", "/v1/organizations", {"json": {"name": "a\x00b"}}),
    ("POST", "/v1/organizations", {"json": {"name": "ok", "region": "\x00"}}),
    ("POST", "/v1/organizations", {"json": {"name": "ok", "tags": ["t\x00"]}}),
    ("POST", "/v1/organizations", {"json": {"name": "ok", "external_id": "e\x00"}}),
    ("PUT", "/v1/organizations/by-external-id/a%00b", {"json": {"name": "ok"}}),
    ("POST", "/v1/cohorts", {"json": {"name": "c\x00"}}),
    ("POST", "/v1/cohorts", {"json": {"name": "ok", "description": "\x00"}}),
    ("GET", "/v1/organizations", {"params": {"q": "a\x00"}}),
    ("GET", "/v1/organizations", {"params": {"external_id": "a\x00"}}),
    ("GET", "/v1/assessments", {"params": {"round": "a\x00"}}),
    ("GET", "/v1/assessments", {"params": {"instrument_id": "a\x00"}}),
    ("GET", "/v1/audit", {"params": {"action": "a\x00"}}),
    ("GET", "/v1/audit", {"params": {"object_id": "a\x00"}}),
    (
        "POST",
        "/v1/organizations",
        {"json": {"name": "ok"}, "headers": {"Idempotency-Key": "k\x00"}},
    ),
]


NUL_IDS = [
    "org-name",
    "org-region",
    "org-tag",
    "org-external-id",
    "upsert-path",
    "cohort-name",
    "cohort-description",
    "orgs-q",
    "orgs-external-id",
    "assessments-round",
    "assessments-instrument",
    "audit-action",
    "audit-object-id",
    "idempotency-key",
]


@pytest.mark.parametrize(("method", "url", "kw"), NUL_CASES, ids=NUL_IDS)
def test_nul_bytes_are_refused_on_every_database(
    tenant: Any, engine: Engine, method: str, url: str, kw: dict[str, Any]
) -> None:
    """Bug: text with U+0000 was stored on SQLite (201) and crashed PostgreSQL (500: "PostgreSQL
    text fields cannot contain NUL (0x00) bytes"), in bodies, path and query alike. One rule for
    both databases: refuse it as invalid input."""
    before = db_fingerprint(engine)
    resp = call(tenant, method, url, "admin", **kw)
    assert_problem(resp, 422)
    assert db_fingerprint(engine) == before


@pytest.mark.parametrize("field", ["round", "assessor", "note"], ids=["round", "assessor", "note"])
def test_nul_bytes_in_assessments_are_refused(tenant: Any, engine: Engine, field: str) -> None:
    org = create_org(tenant)
    body = assessment_body(org["id"], "opi", "baseline", 2)
    if field == "note":
        body["answers"][0]["note"] = "evidence\x00"
    else:
        body[field] = "x\x00"
    before = db_fingerprint(engine)
    assert_problem(call(tenant, "POST", "/v1/assessments", json=body), 422)
    assert db_fingerprint(engine) == before


@pytest.mark.parametrize(
    "raw",
    ["1" + "0" * 400, "-" + "9" * 400, '"1' + "0" * 400 + '"'],
    ids=["huge-int", "huge-negative", "huge-int-string"],
)
def test_huge_numbers_as_answers(tenant: Any, engine: Engine, raw: str) -> None:
    """Bug: a 401-digit integer answer reached float() in app.domain.answers.interpret and raised
    OverflowError, a 500 instead of the item's not_on_scale error."""
    org = create_org(tenant)
    body = assessment_body(org["id"], "oca", answers=[])
    text = json.dumps(body).replace(
        '"answers": []',
        '"answers": [{"item": "' + item_keys("oca")[0] + '", "value": ' + raw + "}]",
    )
    before = db_fingerprint(engine)
    resp = call(
        tenant,
        "POST",
        "/v1/assessments",
        content=text.encode(),
        headers={"Content-Type": "application/json"},
    )
    problem = assert_problem(resp, 422)
    assert problem["errors"][0]["pointer"].startswith("/answers/0")
    assert db_fingerprint(engine) == before


def _nested(depth: int) -> bytes:
    return b'{"name": ' + b"[" * depth + b"]" * depth + b"}"


BODIES: dict[str, bytes] = {
    "nested-50": _nested(50),
    "nested-5000": _nested(5000),
    "nested-objects": b'{"name": "x", "tags": ' + b'{"a":' * 3000 + b"1" + b"}" * 3000 + b"}",
    "huge-string": json.dumps({"name": "x" * 1_000_000}).encode(),
    "many-tags": json.dumps({"name": "x", "tags": ["t"] * 100_000}).encode(),
    "lone-surrogate": b'{"name": "\\ud800"}',
    "invalid-utf8": b'{"name": "\xff\xfe"}',
    "nan-literal": b'{"name": NaN}',
    "infinity": b'{"name": "x", "country": Infinity}',
    "float-overflow": b'{"name": "x", "country": 1e999}',
    "duplicate-keys-bad": b'{"name": "ok", "name": ""}',
    "trailing-garbage": b'{"name": "x"} {"name": "y"}',
    "top-level-number": b"42",
    "deep-array": b"[" * 100_000,
}


@pytest.mark.parametrize("content", list(BODIES.values()), ids=list(BODIES))
@pytest.mark.parametrize(
    "url",
    ["/v1/organizations", "/v1/cohorts", "/v1/assessments"],
    ids=["orgs", "cohorts", "assessments"],
)
def test_hostile_bodies(tenant: Any, engine: Engine, url: str, content: bytes) -> None:
    before = db_fingerprint(engine)
    resp = call(tenant, "POST", url, content=content, headers={"Content-Type": "application/json"})
    _expect_4xx_problem(resp)
    assert db_fingerprint(engine) == before


@pytest.mark.parametrize(
    "value",
    [
        "Fundación Niñez 😀",
        "漢字の組織",
        "منظمة المجتمع",
        "Z\u0351\u0351\u0351algo",
        "a\u200bb",
        "x" * 200,
    ],
    ids=["emoji", "cjk", "arabic", "zalgo", "zero-width", "max-length"],
)
def test_unicode_round_trips_exactly(tenant: Any, value: str) -> None:
    org = create_org(tenant, name=value, tags=[value[:120]], region=value[:120])
    again = get(tenant, f"/v1/organizations/{org['id']}")
    assert (again["name"], again["tags"], again["region"]) == (value, [value[:120]], value[:120])
    found = get(tenant, "/v1/organizations", params={"q": value[:50]})
    assert [o["id"] for o in found["items"]] == [org["id"]]


@pytest.mark.parametrize(
    "headers",
    [
        {"If-Match": "x" * 201},
        {"If-Match": ""},
        {"If-Match": "W/"},
        {"If-Match": ","},
        {"If-Match": '"' + "\u00e9" + '"'},
    ],
    ids=["long", "empty", "weak-only", "comma", "latin1"],
)
def test_hostile_if_match(tenant: Any, engine: Engine, headers: dict[str, str]) -> None:
    org = create_org(tenant)
    a = create_assessment(tenant, org["id"], "opi", "baseline", 2)
    before = db_fingerprint(engine)
    hdrs = {k: v.encode("latin-1") for k, v in headers.items()}
    resp = call(tenant, "PATCH", f"/v1/assessments/{a['id']}", json={"assessor": "x"}, headers=hdrs)
    assert resp.status_code in (412, 422, 428), resp.text
    assert_problem(resp, resp.status_code)
    assert db_fingerprint(engine) == before


@pytest.mark.parametrize(
    "authorization",
    [
        b"Bearer \xff\xfe",
        b"Bearer " + b"oca_" + b"a" * 32 + b"_" + b"b" * 10_000,
        b"Bearer oca__",
        b"Bearer oca_%00_x",
        b"Bearer \x00",
    ],
    ids=["latin1", "long-secret", "empty-parts", "percent", "nul"],
)
def test_hostile_authorization(client: Any, authorization: bytes) -> None:
    resp = client.get("/v1/organizations", headers={"Authorization": authorization})
    assert_problem(resp, 401, "unauthorized")


def test_oversized_page_is_capped(tenant: Any) -> None:
    for _ in range(3):
        create_org(tenant)
    page = get(tenant, "/v1/organizations", params={"limit": 200})
    assert len(page["items"]) == 3
    assert_problem(call(tenant, "GET", "/v1/organizations", params={"limit": 10**9}), 422)
    assert_problem(call(tenant, "GET", "/v1/organizations", params={"limit": -5}), 422)


def test_dates_in_queries_are_iso_days_only(tenant: Any) -> None:
    """Found by schemathesis: '0' was read as a Unix time (1970-01-01) and answered 200."""
    for bad in ("0", "1700000000", "2024-1-1", "01/02/2024"):
        body = assert_problem(
            call(tenant, "GET", f"/v1/assessments?assessed_to={bad}"), 422, "validation-error"
        )
        assert body["errors"][0]["pointer"].endswith("assessed_to")
    assert call(tenant, "GET", "/v1/assessments?assessed_from=2024-01-01").status_code == 200
