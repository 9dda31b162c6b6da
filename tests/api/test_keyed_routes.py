"""The hot reads (scores, series, both comparisons, benchmarks) and the assessments' writes check
their key in the route's own hop (``app.api.keyed.Keyed``), not in a dependency of their
router: the same rules, the same answers, one thread hand-off fewer. Every route's 401s,
revoked keys and roles are walked in test_auth.py; this file holds what is particular to the
keyed routes."""

from __future__ import annotations

import threading
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest
from fastapi import Response
from fastapi.testclient import TestClient
from sqlalchemy import event

from app.api import deps, keyed, routing
from app.api.keyed import KeyedDep
from app.api.routing import KeyedRoute, keyed_router
from app.api.threads import Pools
from app.config import Settings
from app.main import create_app
from app.services.keys import create_key
from tests.api.factories import (
    add_member,
    assert_problem,
    assessment_body,
    create_cohort,
    create_org,
    db_counts,
    scored,
)
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


def test_the_keyed_routes_are_the_hot_reads_and_the_assessments_writes(tenant: Tenant) -> None:
    keyed = set()
    for included in tenant.client.app.routes:  # type: ignore[attr-defined]
        router = getattr(included, "original_router", None)
        keyed |= {
            (method, r.path)
            for r in getattr(router, "routes", ())
            if isinstance(r, KeyedRoute)
            for method in r.methods
        }
    assert keyed == {
        ("GET", "/v1/assessments/{assessment_id}/scores"),
        ("GET", "/v1/assessments/{assessment_id}/benchmark"),
        ("GET", "/v1/organizations/{org_id}/series"),
        ("GET", "/v1/organizations/{org_id}/comparison"),
        ("GET", "/v1/cohorts/{cohort_id}/comparison"),
        ("POST", "/v1/assessments"),
        ("PATCH", "/v1/assessments/{assessment_id}"),
        ("POST", "/v1/assessments/{assessment_id}/submit"),
        ("POST", "/v1/assessments/{assessment_id}/finalize"),
        ("POST", "/v1/assessments/{assessment_id}/reopen"),
        ("POST", "/v1/assessments/{assessment_id}/revisions"),
    }


def test_a_keyed_route_that_takes_no_key_cannot_be_registered() -> None:
    router = keyed_router("test")

    with pytest.raises(TypeError, match="must take a KeyedDep"):

        @router.get("/unchecked")
        async def unchecked() -> Response:  # would answer without any key
            return Response()

    @router.get("/checked")
    async def checked(keyed: KeyedDep) -> Response:
        return await keyed.json(lambda session, principal, catalog: "{}")

    assert [r.path for r in router.routes] == ["/v1/checked"]


def test_an_answer_made_without_checking_the_key_is_not_sent(settings: Settings) -> None:
    router = keyed_router("test")

    @router.get("/forgot")
    async def forgot(keyed: KeyedDep) -> Response:  # takes the key, never checks it
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
    endpoint runs, so without ``KeyedRoute``'s check a wrong key met 422 here, not 401."""
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


def test_a_wrong_or_read_only_key_is_refused_before_an_invalid_write(
    tenant: Tenant, engine: Any
) -> None:
    """A write's body is validated before its work runs: a wrong key still meets 401 and a
    viewer's key 403 before the 422, and nothing is written."""
    org = create_org(tenant)["id"]
    invalid = {"organization_id": org, "instrument_id": "oca"}  # round, date, answers missing
    before = db_counts(engine)
    for method, url, body in (
        ("POST", "/v1/assessments", invalid),
        ("POST", "/v1/assessments", {**assessment_body(org), "answers": "none"}),
        ("PATCH", f"/v1/assessments/{uuid.uuid4()}", {"retrospective": "perhaps"}),
        ("POST", "/v1/assessments/not-a-uuid/submit", None),
        ("POST", f"/v1/assessments/{uuid.uuid4()}/revisions", {"answers": 3}),
    ):
        refused = tenant.client.request(method, url, json=body, headers=WRONG)
        assert_problem(refused, 401, "unauthorized")
        viewer = tenant.client.request(method, url, json=body, headers=tenant.headers("viewer"))
        assert_problem(viewer, 403)
        assert_problem(tenant.client.request(method, url, json=body, headers=tenant.headers()), 422)
    # a read-only key's valid write is refused too, with nothing written
    valid = assessment_body(org)
    assert_problem(
        tenant.client.post("/v1/assessments", json=valid, headers=tenant.headers("viewer")), 403
    )
    after = db_counts(engine)
    assert {k: after[k] - before[k] for k in after if after[k] != before[k]} == {}


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
        pools = Pools(_Counting(), _Counting(), _Counting())
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
    assert isinstance(pools.writes, _Counting) and pools.writes.given == 0
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


def test_an_assessment_write_hands_its_work_to_a_thread_once(
    tenant: Tenant, counted: tuple[ContractClient, Pools]
) -> None:
    client, pools = counted
    org = create_org(tenant)["id"]
    created = client.post("/v1/assessments", json=assessment_body(org), headers=tenant.headers())
    assert created.status_code == 201, created.text
    url = f"/v1/assessments/{created.json()['id']}"
    etag = created.headers["etag"]
    changed = client.patch(
        url, json={"assessor": "A. Facilitator"}, headers=tenant.headers(**{"If-Match": etag})
    )
    assert changed.status_code == 200, changed.text
    for step in ("submit", "reopen", "submit", "finalize"):
        assert client.post(f"{url}/{step}", headers=tenant.headers()).status_code == 200, step
    revised = client.post(f"{url}/revisions", json={"answers": []}, headers=tenant.headers())
    assert revised.status_code == 201, revised.text
    assert isinstance(pools.writes, _Counting) and isinstance(pools.keys, _Counting)
    assert (pools.writes.given, pools.keys.given) == (7, 0)


def test_a_wrong_keys_failure_on_a_write_is_counted_on_the_key_threads(
    tenant: Tenant, counted: tuple[ContractClient, Pools]
) -> None:
    client, pools = counted
    org = create_org(tenant)["id"]
    refused = client.post("/v1/assessments", json=assessment_body(org), headers=WRONG)
    assert_problem(refused, 401, "unauthorized")
    assert isinstance(pools.writes, _Counting) and isinstance(pools.keys, _Counting)
    assert (pools.writes.given, pools.keys.given) == (1, 1)


def test_a_keyed_request_never_holds_two_pooled_connections(
    settings: Settings, session: Any, tenant: Tenant
) -> None:
    """Found in review: a keyed route looked its key up on its own session's connection and
    kept it while the key's last use, its rate count and the workspace's catalog each took
    another. With as many threads as connections, each held one and waited for a second until
    the pool's timeout (500s). Here a workspace with a version of its own (its catalog is
    read) and keys never used before (their last use is written) make a write and a read."""
    label = f"2015.2-local.{uuid.uuid4().hex[:8]}"
    derived = tenant.client.post(
        "/v1/instruments/oca/versions/2015.2/derive",
        json={"version": label},
        headers=tenant.headers(),
    )
    assert derived.status_code == 201, derived.text
    published = tenant.client.post(
        f"/v1/instruments/oca/versions/{label}/publish", headers=tenant.headers("admin")
    )
    assert published.status_code == 200, published.text
    org = create_org(tenant)["id"]
    app = create_app(settings)
    with ContractClient(app) as client:
        most = _most_held(app)
        editor = create_key(session, workspace=tenant.name, role="editor").secret
        viewer = create_key(session, workspace=tenant.name, role="viewer").secret
        body = {**assessment_body(org), "instrument_version": label}
        created = client.post(
            "/v1/assessments", json=body, headers={"Authorization": f"Bearer {editor}"}
        )
        assert created.status_code == 201, created.text
        url = f"/v1/assessments/{created.json()['id']}"
        submitted = client.post(f"{url}/submit", headers={"Authorization": f"Bearer {editor}"})
        assert submitted.status_code == 200, submitted.text
        scores = client.get(f"{url}/scores", headers={"Authorization": f"Bearer {viewer}"})
        assert scores.status_code == 200, scores.text
    assert most() == 1


def test_a_hot_read_takes_one_pooled_connection_for_its_key_and_its_work(
    settings: Settings, tenant: Tenant
) -> None:
    """The key is looked up on the connection the read's session then uses, when its last use
    is not due to be written and its workspace has no instruments of its own (whose catalog is
    read): one checkout, where there were two."""
    urls = _hot_reads(tenant)
    app = create_app(settings)
    checkouts: list[int] = []
    with ContractClient(app) as client:
        headers = tenant.headers("viewer")
        assert client.get(urls[0], headers=headers).status_code == 200  # its last use written
        pool = app.state.engine.pool
        event.listen(pool, "checkout", lambda *_: checkouts.append(threading.get_ident()))
        for url in urls:
            before = len(checkouts)
            answer = client.get(url, headers=headers)
            assert answer.status_code == 200, answer.text
            assert len(checkouts) - before == 1, url
        wrong = client.get(urls[0], headers=WRONG)
    assert wrong.status_code == 401


def _most_held(app: Any) -> Callable[[], int]:
    """From now on, the most pooled connections one thread of ``app`` held at once."""
    held: dict[int, int] = defaultdict(int)
    most = [0]

    def taken(*_: Any) -> None:
        held[threading.get_ident()] += 1
        most[0] = max(most[0], held[threading.get_ident()])

    def given_back(*_: Any) -> None:
        held[threading.get_ident()] -= 1

    event.listen(app.state.engine.pool, "checkout", taken)
    event.listen(app.state.engine.pool, "checkin", given_back)
    return lambda: most[0]


def test_rate_counts_are_added_to_the_database_while_no_connection_is_held(
    settings: Settings, tenant: Tenant
) -> None:
    """Found in review: the rate limiter adds a worker's counts to the database (a write, on a
    connection of its own) every twentieth of the limit; counted while the key's connection was
    held, that made two. Limits of 20 a minute add on every request here."""
    urls = _hot_reads(tenant)
    org = create_org(tenant)["id"]
    app = create_app(
        settings.model_copy(update={"rate_limit_per_key": 20, "rate_limit_per_address": 20})
    )
    with ContractClient(app) as client:
        editor, viewer = tenant.headers(), tenant.headers("viewer")
        assert client.get(urls[0], headers=viewer).status_code == 200  # its last use written
        assert client.get("/v1/organizations", headers=editor).status_code == 200
        most = _most_held(app)
        for url in urls:
            assert client.get(url, headers=viewer).status_code == 200, url
        created = client.post("/v1/assessments", json=assessment_body(org), headers=editor)
        assert created.status_code == 201, created.text
        assert client.get("/v1/organizations", headers=editor).status_code == 200
        assert most() == 1


def test_a_hot_read_decides_once_whether_the_key_is_due_to_be_touched(
    settings: Settings, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found in review: the read chose its one connection when the key's last use was not due
    to be written, then asked again, and wrote it (on a second connection) when the clock had
    moved past the due time in between. Here the second question would say it is due."""
    url = _hot_reads(tenant)[0]
    app = create_app(settings)
    with ContractClient(app) as client:
        assert client.get(url, headers=tenant.headers("viewer")).status_code == 200
        asked: list[object] = []
        monkeypatch.setattr(keyed, "needs_touch", lambda last: asked.append(last) is not None)
        monkeypatch.setattr(deps, "needs_touch", lambda last: True)
        most = _most_held(app)
        assert client.get(url, headers=tenant.headers("viewer")).status_code == 200
    assert most() == 1 and len(asked) == 1


def _handlers_made(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, direct: Callable[[Any], Any]
) -> tuple[TestClient, list[str]]:
    """An app whose keyed routes' handlers are made by ``direct`` in place of ``_direct``, and
    the list of the routes it made a handler for (with whether it did), filled as they are made:
    FastAPI makes an included route's handler for each app, on the app's first request."""
    made: list[str] = []

    def spy(dependant: Any) -> Any:
        handler = direct(dependant)
        made.append(f"{dependant.path} {handler is not None}")
        return handler

    monkeypatch.setattr(routing, "_direct", spy)
    client = TestClient(create_app(settings), raise_server_exceptions=False)
    for path in ("assessments/x/scores", "assessments/x/benchmark", "organizations/x/series"):
        client.get(f"/v1/{path}")
    client.get("/v1/cohorts/x/comparison")
    return client, made


def test_keyed_routes_without_a_body_skip_fastapis_solver(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, made = _handlers_made(settings, monkeypatch, routing._direct)
    assert sorted(set(made)) == [
        "/v1/assessments False",
        "/v1/assessments/{assessment_id} False",
        "/v1/assessments/{assessment_id}/benchmark True",
        "/v1/assessments/{assessment_id}/finalize True",
        "/v1/assessments/{assessment_id}/reopen True",
        "/v1/assessments/{assessment_id}/revisions False",
        "/v1/assessments/{assessment_id}/scores True",
        "/v1/assessments/{assessment_id}/submit True",
        "/v1/cohorts/{cohort_id}/comparison True",
        "/v1/organizations/{org_id}/comparison True",
        "/v1/organizations/{org_id}/series True",
    ]


def test_the_direct_handler_answers_as_fastapis_solver(
    tenant: Tenant, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same status, body and headers as FastAPI's own handler, for good requests and for
    every kind of bad one a keyed route without a body can get."""
    reads = _hot_reads(tenant)
    draft = tenant.client.post(
        "/v1/assessments",
        json=assessment_body(create_org(tenant)["id"]),
        headers=tenant.headers(),
    ).json()["id"]
    scores, benchmark, series, org_comparison, cohort_comparison = reads
    ok, viewer = tenant.headers(), tenant.headers("viewer")
    cases: list[tuple[str, str, dict[str, str]]] = [
        *(("GET", url, ok) for url in reads),
        ("GET", "/v1/assessments/not-a-uuid/scores", ok),
        ("GET", f"/v1/assessments/{uuid.uuid4()}/scores", ok),
        ("GET", scores, {}),
        ("GET", scores, {"Authorization": "Basic dXNlcjpwdw=="}),
        ("GET", scores, {"Authorization": "Bearer"}),
        ("GET", scores, WRONG),
        ("GET", "/v1/assessments/not-a-uuid/scores", WRONG),
        ("GET", f"{benchmark}?peers=-3", ok),
        ("GET", f"{benchmark}?peers=many", ok),
        ("GET", series.replace("instrument_id=oca", "instrument_id="), ok),
        ("GET", series.split("?")[0], ok),
        ("GET", f"{org_comparison}&threshold=high&baseline=", ok),
        ("GET", f"{cohort_comparison}&threshold=-1", ok),
        ("GET", cohort_comparison.replace("/cohorts/", "/cohorts/x"), ok),
        ("POST", f"/v1/assessments/{draft}/submit", {**ok, "If-Match": "\x7f"}),
        ("POST", "/v1/assessments/not-a-uuid/finalize", ok),
        ("POST", f"/v1/assessments/{draft}/reopen", viewer),
        ("POST", f"/v1/assessments/{uuid.uuid4()}/submit", ok),
        ("POST", f"/v1/assessments/{draft}/finalize", {**ok, "If-Match": '"stale"'}),
    ]
    fastapi, made = _handlers_made(settings, monkeypatch, lambda dependant: None)
    assert len(made) == 11  # the keyed routes, all on FastAPI's handler

    def seen(client: TestClient, method: str, url: str, headers: dict[str, str]) -> Any:
        answer = client.request(method, url, headers=headers)
        kept = {k: v for k, v in answer.headers.items() if k not in {"x-request-id", "date"}}
        body = answer.json() if answer.content else None
        if isinstance(body, dict):
            body.pop("request_id", None)  # a problem's, told apart per request
        return answer.status_code, body, kept

    with fastapi:
        for method, url, headers in cases:
            direct = seen(tenant.client, method, url, headers)
            assert direct == seen(fastapi, method, url, headers), (method, url, headers)
    statuses = {seen(tenant.client, m, u, h)[0] for m, u, h in cases}
    assert {200, 401, 403, 404, 422} <= statuses
