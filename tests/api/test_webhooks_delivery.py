"""Delivery to a real receiver on the loopback: signed, retried on failure and timeout with
backoff, every attempt visible, a failing subscription paused, a dead worker's claim taken over,
and the request that caused an event never waiting for its delivery."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db.models import WebhookAttempt, WebhookDelivery, WebhookEvent, WebhookSubscription
from app.main import create_app
from app.services.common import now
from app.services.webhooks_delivery import claim, http_client, lease, prune, record, run_once
from tests.api.factories import create_assessment, create_org, finalize, ok, submit
from tests.api.test_webhooks import ALL, subscribe
from tests.api.webhooks_receiver import (  # noqa: F401 - fixtures
    Receiver,
    documented_verify,
    receiver_fixture,
    sessions_fixture,
    verify,
    webhook_settings,
    wh_client_fixture,
    wh_settings_fixture,
)
from tests.conftest import ContractClient, Tenant


@pytest.fixture(autouse=True)
def _others_park(session: Session) -> None:
    """Deliveries left due by earlier tests (other workspaces' subscriptions, e.g. the route
    walks of test_tenancy) wait until long after these tests: ``run_once`` delivers every due
    delivery of every workspace, as a worker does, and these tests count what it sent."""
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.delivered_at.is_(None))
        .values(next_attempt_at=datetime(9000, 1, 1, tzinfo=UTC))
    )
    session.commit()


def deliveries(tenant: Tenant, hook: dict[str, Any]) -> list[dict[str, Any]]:
    r = tenant.client.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=tenant.headers("admin"))
    return ok(r)["items"]  # type: ignore[no-any-return]


def drain(
    sessions: sessionmaker[Session], settings: Settings, client: httpx2.Client, at: Any
) -> int:
    total = 0
    while n := run_once(sessions, settings, client, at):
        total += n
    return total


def test_events_arrive_signed_once_each(
    session: Session,
    wh_client: TestClient,
    wh_settings: Settings,
    sessions: sessionmaker[Session],
    receiver: Receiver,
) -> None:
    tenant = Tenant(session, wh_client)
    hook = subscribe(tenant, receiver.url, ALL)
    org = create_org(tenant)
    a = create_assessment(tenant, org["id"])
    submit(tenant, a["id"])
    finalize(tenant, a["id"])
    assert receiver.received == []  # nothing is sent by the requests themselves
    with http_client(wh_settings) as client:
        assert drain(sessions, wh_settings, client, now()) == 2
        assert drain(sessions, wh_settings, client, now() + timedelta(days=2)) == 0
    assert receiver.events() == ["assessment.submitted", "assessment.finalized"]
    listed = deliveries(tenant, hook)
    by_id = {d["id"]: d for d in listed}
    as_documented = documented_verify()
    for got in receiver.received:
        assert verify(hook["secret"], got.headers, got.body)
        assert as_documented(hook["secret"], got.headers["oca-signature"], got.body)
        assert not as_documented(hook["secret"], got.headers["oca-signature"], got.body + b" ")
        assert not verify("whsec_another-secret-entirely", got.headers, got.body)
        assert got.headers["content-type"] == "application/json"
        body = got.json
        assert body["type"] == got.headers["oca-event"]
        assert body["workspace_id"] == str(tenant.principal.workspace_id)
        assert body["data"]["assessment_id"] == a["id"]
        d = by_id[got.headers["oca-delivery"]]
        assert d["status"] == "delivered" and d["event_id"] == body["id"]
        assert [(x["number"], x["status_code"], x["error"]) for x in d["attempts"]] == [
            (1, 204, None)
        ]
        assert d["next_attempt_at"] is None and d["delivered_at"] is not None
    # a body changed in transit no longer matches its signature
    got = receiver.received[0]
    assert not verify(hook["secret"], got.headers, got.body.replace(b"submitted", b"finalized"))


def test_failure_then_timeout_then_back(
    session: Session,
    wh_client: TestClient,
    wh_settings: Settings,
    sessions: sessionmaker[Session],
    receiver: Receiver,
) -> None:
    tenant = Tenant(session, wh_client)
    hook = subscribe(tenant, receiver.url, ["assessment.submitted"])
    submit(tenant, create_assessment(tenant, create_org(tenant)["id"])["id"])
    start = now()
    with http_client(wh_settings) as client:
        receiver.mode = "fail"
        assert drain(sessions, wh_settings, client, start) == 1
        [d] = deliveries(tenant, hook)
        assert d["status"] == "pending" and d["attempts"][0]["status_code"] == 500
        assert d["attempts"][0]["error"] == "the receiver answered 500"
        # not due again before its backoff (30 s after the first attempt)
        assert drain(sessions, wh_settings, client, start + timedelta(seconds=29)) == 0

        receiver.mode = "hang"  # longer than the sender's 1 s timeout
        second = start + timedelta(seconds=31)
        assert drain(sessions, wh_settings, client, second) == 1
        [d] = deliveries(tenant, hook)
        assert d["attempts"][1]["status_code"] is None
        assert d["attempts"][1]["error"] == "no answer within 1 s"
        assert 900 <= d["attempts"][1]["duration_ms"] < 3000

        receiver.mode = "ok"
        assert drain(sessions, wh_settings, client, second + timedelta(seconds=119)) == 0
        assert drain(sessions, wh_settings, client, second + timedelta(seconds=121)) == 1
    [d] = deliveries(tenant, hook)
    assert d["status"] == "delivered"
    assert [x["status_code"] for x in d["attempts"]] == [500, None, 204]
    assert len({r.headers["oca-delivery"] for r in receiver.received}) == 1  # same delivery id
    assert (
        ok(tenant.client.get(f"/v1/webhooks/{hook['id']}", headers=tenant.headers("admin")))[
            "failures_in_row"
        ]
        == 0
    )


def test_a_failing_subscription_is_paused_and_resumes_with_what_waited(
    session: Session,
    wh_client: TestClient,
    wh_settings: Settings,
    sessions: sessionmaker[Session],
    receiver: Receiver,
) -> None:
    tenant = Tenant(session, wh_client)
    hook = subscribe(tenant, receiver.url, ["assessment.submitted"])
    org = create_org(tenant)
    submit(tenant, create_assessment(tenant, org["id"])["id"])
    receiver.mode = "fail"
    at = now()
    with http_client(wh_settings) as client:
        for wait in (0, 31, 121):  # pause after 3 failures in a row (the tests' setting)
            at += timedelta(seconds=wait)
            assert drain(sessions, wh_settings, client, at) == 1
        url = f"/v1/webhooks/{hook['id']}"
        state = ok(tenant.client.get(url, headers=tenant.headers("admin")))
        assert state["active"] is False and state["failures_in_row"] == 3
        assert state["paused_reason"] == (
            "paused after 3 failed attempts in a row; last: the receiver answered 500"
        )
        # paused: events still queue but nothing is sent, however late it gets
        submit(tenant, create_assessment(tenant, org["id"], round="endline")["id"])
        assert drain(sessions, wh_settings, client, at + timedelta(days=1)) == 0
        assert len(receiver.received) == 3

        receiver.mode = "ok"
        ok(tenant.client.patch(url, json={"active": True}, headers=tenant.headers("admin")))
        assert drain(sessions, wh_settings, client, at + timedelta(days=1)) == 2
    assert [d["status"] for d in deliveries(tenant, hook)] == ["delivered", "delivered"]


def test_a_worker_killed_mid_delivery_loses_nothing(
    session: Session,
    wh_client: TestClient,
    wh_settings: Settings,
    sessions: sessionmaker[Session],
    receiver: Receiver,
) -> None:
    tenant = Tenant(session, wh_client)
    hook = subscribe(tenant, receiver.url, ["assessment.submitted"])
    submit(tenant, create_assessment(tenant, create_org(tenant)["id"])["id"])
    at = now()
    # a worker claims the delivery, then dies before sending or recording anything
    [(delivery_id, dead_token)] = claim(sessions, wh_settings, at)
    with http_client(wh_settings) as client:
        assert drain(sessions, wh_settings, client, at) == 0  # still claimed: nobody else sends
        late = at + lease(wh_settings) + timedelta(seconds=1)
        assert drain(sessions, wh_settings, client, late) == 1  # the claim lapsed: taken over
    assert receiver.events() == ["assessment.submitted"]
    # the dead worker's late report is logged but changes nothing it no longer owns
    record(sessions, wh_settings, delivery_id, dead_token, late, None, "worker died", 5)
    [d] = deliveries(tenant, hook)
    assert d["status"] == "delivered"
    assert sorted(x["error"] or "" for x in d["attempts"]) == ["", "worker died"]


def test_concurrent_claims_never_share_a_delivery(
    session: Session,
    wh_client: TestClient,
    wh_settings: Settings,
    sessions: sessionmaker[Session],
    receiver: Receiver,
) -> None:
    tenant = Tenant(session, wh_client)
    subscribe(tenant, receiver.url, ["assessment.submitted"])
    org = create_org(tenant)
    for n in range(8):
        submit(tenant, create_assessment(tenant, org["id"], round=f"r{n}")["id"])
    at = now()
    got: list[list[Any]] = [[] for _ in range(4)]
    barrier = threading.Barrier(4)

    def worker(i: int) -> None:
        barrier.wait()
        got[i] = [d for d, _ in claim(sessions, wh_settings, at, batch=3)]

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claimed = [d for ids in got for d in ids]
    assert len(claimed) == len(set(claimed)) == 8  # every one claimed, none twice
    with sessions() as s:
        mine = s.scalars(
            select(WebhookDelivery.id)
            .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
            .where(WebhookSubscription.workspace_id == tenant.principal.workspace_id)
        ).all()
    assert set(claimed) == set(mine)


def test_the_worker_thread_delivers_without_slowing_the_request(
    session: Session,
    settings: Settings,
    sessions: sessionmaker[Session],  # removes what this test made, afterwards
    receiver: Receiver,
) -> None:
    """The app's own thread sends; the request that caused the event returns at once even
    though the receiver takes 2 s to answer."""
    live = webhook_settings(
        settings, webhook_delivery=True, webhook_poll_seconds=0.05, webhook_timeout_seconds=5.0
    )
    receiver.mode = "hang"
    receiver.hang_seconds = 2.0
    with ContractClient(create_app(live), raise_server_exceptions=False) as client:
        tenant = Tenant(session, client)
        hook = subscribe(tenant, receiver.url, ["assessment.submitted"])
        a = create_assessment(tenant, create_org(tenant)["id"])
        started = time.perf_counter()
        submit(tenant, a["id"])
        took = time.perf_counter() - started
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if [d["status"] for d in deliveries(tenant, hook)] == ["delivered"]:
                break
            time.sleep(0.05)
        assert [d["status"] for d in deliveries(tenant, hook)] == ["delivered"]
    assert took < 1.5, took
    assert receiver.events() == ["assessment.submitted"]
    assert verify(hook["secret"], receiver.received[0].headers, receiver.received[0].body)


def test_finished_deliveries_are_forgotten_after_30_days_pending_ones_never(
    session: Session,
    wh_client: TestClient,
    wh_settings: Settings,
    sessions: sessionmaker[Session],
    receiver: Receiver,
) -> None:
    tenant = Tenant(session, wh_client)
    hook = subscribe(tenant, receiver.url, ["assessment.submitted", "assessment.finalized"])
    a = create_assessment(tenant, create_org(tenant)["id"])
    submit(tenant, a["id"])
    at = now()
    with http_client(wh_settings) as client:
        assert drain(sessions, wh_settings, client, at) == 1  # delivered
        finalize(tenant, a["id"])
        receiver.mode = "fail"
        assert drain(sessions, wh_settings, client, now()) == 1  # pending, will be retried
    before = {d["status"]: d for d in deliveries(tenant, hook)}
    assert prune(sessions, at + timedelta(days=29)) == 0
    assert prune(sessions, at + timedelta(days=31)) == 1
    [left] = deliveries(tenant, hook)
    assert left["status"] == "pending" and left["event"] == "assessment.finalized"
    gone = before["delivered"]
    with sessions() as s:
        assert s.get(WebhookEvent, uuid.UUID(gone["event_id"])) is None
        assert s.get(WebhookEvent, uuid.UUID(left["event_id"])) is not None
        attempts = select(func.count()).select_from(WebhookAttempt)
        assert s.scalar(attempts.where(WebhookAttempt.delivery_id == uuid.UUID(gone["id"]))) == 0
        assert s.scalar(attempts.where(WebhookAttempt.delivery_id == uuid.UUID(left["id"]))) == 1
