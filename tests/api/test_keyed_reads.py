"""The hot reads (scores, series, both comparisons, benchmarks) check their key in the read's own
hop (``app.api.reads.KeyedRead``), not in a dependency of their router: the same rules, the
same answers, one thread hand-off fewer. Every route's 401s, revoked keys and roles are walked
in test_auth.py; this file holds what is particular to the keyed reads."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest
from fastapi import Response
from fastapi.testclient import TestClient

from app.api.reads import KeyedReadDep
from app.api.routing import KeyedReadRoute, keyed_router
from app.api.threads import Pools
from app.config import Settings
from app.main import create_app
from tests.api.factories import add_member, assert_problem, create_cohort, create_org, scored
from tests.conftest import ContractClient, Tenant

WRONG = {"Authorization": "Bearer oca_000000000000_not-a-real-secret"}


def _hot_reads(tenant: Tenant) -> list[str]:
    """A URL of every keyed read, on data that answers 200."""
    org = create_org(tenant)["id"]
    cohort = create_cohort(tenant)["id"]
    add_member(tenant, cohort, org)
    first = scored(tenant, org, "oca", "baseline", 2)["id"]
    scored(tenant, org, "oca", "endline", 3, assessed_on="2025-06-01")
    return [
        f"/v1/assessments/{first}/scores",
        f"/v1/assessments/{first}/benchmark",
        f"/v1/organizations/{org}/series?instrument_id=oca",
        f"/v1/organizations/{org}/comparison?instrument_id=oca",
        f"/v1/cohorts/{cohort}/comparison?instrument_id=oca",
    ]


def test_the_keyed_routes_are_the_hot_reads(tenant: Tenant) -> None:
    keyed = set()
    for included in tenant.client.app.routes:  # type: ignore[attr-defined]
        router = getattr(included, "original_router", None)
        keyed |= {r.path for r in getattr(router, "routes", ()) if isinstance(r, KeyedReadRoute)}
    assert keyed == {
        "/v1/assessments/{assessment_id}/scores",
        "/v1/assessments/{assessment_id}/benchmark",
        "/v1/organizations/{org_id}/series",
        "/v1/organizations/{org_id}/comparison",
        "/v1/cohorts/{cohort_id}/comparison",
    }


def test_a_keyed_route_that_takes_no_key_cannot_be_registered() -> None:
    router = keyed_router("test")

    with pytest.raises(TypeError, match="must take a KeyedReadDep"):

        @router.get("/unchecked")
        async def unchecked() -> Response:  # would answer without any key
            return Response()

    @router.get("/checked")
    async def checked(keyed: KeyedReadDep) -> Response:
        return await keyed.json(lambda session, principal, catalog: "{}")

    assert [r.path for r in router.routes] == ["/v1/checked"]


def test_an_answer_made_without_checking_the_key_is_not_sent(settings: Settings) -> None:
    router = keyed_router("test")

    @router.get("/forgot")
    async def forgot(keyed: KeyedReadDep) -> Response:  # takes the key, never checks it
        return Response(b"secret", media_type="text/plain")

    app = create_app(settings)
    app.include_router(router)
    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/v1/forgot", headers=WRONG)
    assert answer.status_code == 500 and b"secret" not in answer.content


def test_hot_reads_answer_viewers_and_refuse_other_workspaces(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    for url in _hot_reads(tenant):
        ok = tenant.client.get(url, headers=tenant.headers("viewer"))
        assert ok.status_code == 200, (url, ok.text)
        assert ok.headers["etag"] and ok.headers["cache-control"] == "private, no-cache"
        again = tenant.client.get(
            url, headers={**tenant.headers("viewer"), "If-None-Match": ok.headers["etag"]}
        )
        assert again.status_code == 304 and again.content == b""
        assert_problem(other_tenant.client.get(url, headers=other_tenant.headers()), 404)


def test_a_wrong_key_is_401_before_any_invalid_parameter(tenant: Tenant) -> None:
    """Found while moving the key check into the read: the parameters are validated before the
    endpoint runs, so without ``KeyedReadRoute``'s check a wrong key met 422 here, not 401."""
    for url in (
        "/v1/assessments/not-a-uuid/scores",
        "/v1/organizations/not-a-uuid/series?instrument_id=oca",
        f"/v1/organizations/{uuid.uuid4()}/series",  # instrument_id missing
        f"/v1/cohorts/{uuid.uuid4()}/comparison?instrument_id=oca&threshold=-1",
    ):
        refused = tenant.client.get(url, headers=WRONG)
        assert_problem(refused, 401, "unauthorized")
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
        assert_problem(tenant.client.get(url, headers=tenant.headers("viewer")), 422)


def test_wrong_keys_on_hot_reads_count_against_their_address(
    settings: Settings, tenant: Tenant
) -> None:
    urls = _hot_reads(tenant)
    app = create_app(settings.model_copy(update={"auth_failures_per_address": 3}))
    address = (f"10.9.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}", 5)
    with ContractClient(app, client=address) as client:
        statuses = [client.get(url, headers=WRONG).status_code for url in urls[:3]]
        assert statuses == [401, 401, 429]  # the third failure, as on every route
        # a valid key from the same address still reads
        assert client.get(urls[4], headers=tenant.headers("viewer")).status_code == 200


class _Counting(ThreadPoolExecutor):
    """A thread pool that counts what it is given."""

    def __init__(self) -> None:
        super().__init__(2)
        self.given = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.given += 1
        return super().submit(fn, *args, **kwargs)


@pytest.fixture()
def counted(settings: Settings) -> Iterator[tuple[ContractClient, Pools]]:
    app = create_app(settings)
    with ContractClient(app) as client:
        started: Pools = app.state.pools
        pools = Pools(_Counting(), _Counting())
        app.state.pools = pools
        try:
            yield client, pools
        finally:
            app.state.pools = started
            pools.stop()


def test_a_hot_read_hands_its_work_to_a_thread_once(
    tenant: Tenant, counted: tuple[ContractClient, Pools]
) -> None:
    client, pools = counted
    urls = _hot_reads(tenant)
    for url in urls:
        assert client.get(url, headers=tenant.headers("viewer")).status_code == 200
    assert isinstance(pools.reads, _Counting) and isinstance(pools.keys, _Counting)
    assert (pools.reads.given, pools.keys.given) == (len(urls), 0)
    # any other route checks its key on the key threads: the count above can tell them apart
    assert client.get("/v1/cohorts", headers=tenant.headers("viewer")).status_code == 200
    assert pools.keys.given == 1


def test_a_wrong_keys_failure_is_counted_on_the_key_threads(
    tenant: Tenant, counted: tuple[ContractClient, Pools]
) -> None:
    """Found in review: counting a wrong key's failure is a write, which on the read threads let
    a few wrong keys waiting on the database's writer hold every hot read up."""
    client, pools = counted
    url = _hot_reads(tenant)[0]
    assert_problem(client.get(url, headers=WRONG), 401, "unauthorized")
    assert isinstance(pools.reads, _Counting) and isinstance(pools.keys, _Counting)
    assert (pools.reads.given, pools.keys.given) == (1, 1)
