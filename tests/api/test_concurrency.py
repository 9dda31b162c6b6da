"""Concurrent writes through the real app (threads sharing one TestClient): the loser of a race
gets the same 409/412 it would get sequentially, never a 500, and exactly one row is written.

On SQLite writers are serialised by BEGIN IMMEDIATE; on PostgreSQL (READ COMMITTED) the check
and the insert race, so only the database's unique constraints and the row version decide.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.api.factories import (
    assessment_body,
    call,
    create_assessment,
    create_cohort,
    create_org,
    get,
    list_all,
)

THREADS = 8
ROUNDS = 3  # a race is a matter of luck: try a few times


def _race(fn: Callable[[int], Any]) -> tuple[Counter[int], list[Any]]:
    """Call fn(0..THREADS-1) at once; fn is used up before the caller's loop moves on."""
    with ThreadPoolExecutor(THREADS) as pool:
        responses = list(pool.map(fn, range(THREADS)))
    for r in responses:
        if r.status_code >= 500:
            pytest.fail(
                f"{r.request.method} {r.request.url.path} -> {r.status_code} {r.text[:200]}"
            )
    return Counter(r.status_code for r in responses), responses


def test_same_round_created_concurrently(tenant: Any) -> None:
    for n in range(ROUNDS):
        org = create_org(tenant)
        body = assessment_body(org["id"], "opi", f"race-{n}", 2)
        counts, _ = _race(lambda i: call(tenant, "POST", "/v1/assessments", json=body))  # noqa: B023
        assert counts == {201: 1, 409: THREADS - 1}
        assert len(list_all(tenant, "/v1/assessments", organization_id=org["id"])) == 1


def test_same_external_id_created_concurrently(tenant: Any) -> None:
    for n in range(ROUNDS):
        counts, _ = _race(
            lambda i: call(
                tenant,
                "POST",
                "/v1/organizations",
                json={"name": f"o{i}", "external_id": f"race-{n}"},  # noqa: B023
            )
        )
        assert counts == {201: 1, 409: THREADS - 1}
        assert len(list_all(tenant, "/v1/organizations", external_id=f"race-{n}")) == 1


def test_same_cohort_name_created_concurrently(tenant: Any) -> None:
    for n in range(ROUNDS):
        counts, _ = _race(lambda i: call(tenant, "POST", "/v1/cohorts", json={"name": f"race-{n}"}))  # noqa: B023
        assert counts == {201: 1, 409: THREADS - 1}
    assert len(list_all(tenant, "/v1/cohorts")) == ROUNDS


def test_same_member_added_concurrently(tenant: Any) -> None:
    for _ in range(ROUNDS):
        cohort, org = create_cohort(tenant), create_org(tenant)
        url = f"/v1/cohorts/{cohort['id']}/members/{org['id']}"
        counts, responses = _race(lambda i: call(tenant, "PUT", url))  # noqa: B023
        assert counts == {200: THREADS}
        assert sum(r.json()["added"] for r in responses) == 1
        assert get(tenant, f"/v1/cohorts/{cohort['id']}")["organization_ids"] == [org["id"]]


def test_same_upsert_concurrently(tenant: Any) -> None:
    for n in range(ROUNDS):
        url = f"/v1/organizations/by-external-id/race-{n}"
        counts, responses = _race(lambda i: call(tenant, "PUT", url, json={"name": "Same"}))  # noqa: B023
        assert counts == {201: 1, 200: THREADS - 1}
        assert len({r.json()["id"] for r in responses}) == 1


def test_same_idempotency_key_concurrently(tenant: Any) -> None:
    for n in range(ROUNDS):
        key = {"Idempotency-Key": f"race-{n}"}
        body = {"name": f"idem {n}"}
        counts, responses = _race(
            lambda i: call(tenant, "POST", "/v1/organizations", json=body, headers=key)  # noqa: B023
        )
        # the first creates; every retry, even one sent while the first runs, replays its answer
        assert counts == {201: THREADS}
        assert len({r.json()["id"] for r in responses}) == 1
        assert len(list_all(tenant, "/v1/organizations", q=f"idem {n}")) == 1


@pytest.mark.parametrize("kind", ["assessment", "organization"])
def test_same_etag_patched_concurrently(tenant: Any, kind: str) -> None:
    """Exactly one writer wins with a given ETag; the others get 412, as they would in turn."""
    for n in range(ROUNDS):
        if kind == "assessment":
            a = create_assessment(tenant, create_org(tenant)["id"], "opi", f"r{n}", 2)
            url, etag, body = f"/v1/assessments/{a['id']}", a["etag"], "assessor"
        else:
            resp = call(tenant, "POST", "/v1/organizations", json={"name": f"p{n}"})
            url, etag, body = f"/v1/organizations/{resp.json()['id']}", resp.headers["ETag"], "name"
        counts, _ = _race(
            lambda i: call(tenant, "PATCH", url, json={body: f"w{i}"}, headers={"If-Match": etag})  # noqa: B023
        )
        assert counts == {200: 1, 412: THREADS - 1}


def test_same_new_workbook_uploaded_concurrently(tenant: Any, catalog: Any) -> None:
    """One organization and one assessment, whatever the database; the others are unchanged."""
    from datetime import date

    from app.excel import Prefill, build_template

    f = catalog.latest("opi")
    for n in range(ROUNDS):
        answers = {k: 3.0 for k in f.instrument.item_keys}
        base, end = (
            build_template(
                f.instrument,
                f.content_hash,
                "en",
                Prefill(f"New org {n}", None, r, date(2024, 2, 2), None, answers, {}),  # type: ignore[arg-type]
            )
            for r in ("baseline", "endline")
        )
        workbooks = (base, base, end, end)  # the same bytes twice: one file sent by two people

        def upload(i: int, workbooks: tuple[bytes, ...] = workbooks) -> Any:
            return tenant.client.post(
                "/v1/imports?create_organizations=true",
                files=[("files", ("w.xlsx", workbooks[i % 4], "application/octet-stream"))],
                headers=tenant.headers(),
            )

        counts, responses = _race(upload)
        assert counts == {200: THREADS}, [r.text[:300] for r in responses if r.status_code != 200]
        statuses = Counter(r.json()["results"][0]["status"] for r in responses)
        assert statuses == {"created": 2, "unchanged": THREADS - 2}, statuses
        orgs = list_all(tenant, "/v1/organizations", q=f"New org {n}")
        assert len(orgs) == 1
        assessments = list_all(tenant, "/v1/assessments", organization_id=orgs[0]["id"])
        assert sorted(a["round"] for a in assessments) == ["baseline", "endline"]
