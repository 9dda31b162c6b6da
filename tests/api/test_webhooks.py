"""Webhook subscriptions through the API, the target rules, and which events the outbox holds:
one per change that was saved, none for a change that was refused or rolled back."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.catalog import Catalog
from app.config import Settings
from app.db.models import WebhookDelivery, WebhookEvent
from app.services.webhooks_targets import TargetRefused, check_target
from tests.api.factories import assert_problem, create_assessment, create_org, finalize, ok, submit
from tests.api.test_imports import _filled
from tests.api.webhooks_receiver import (  # noqa: F401 - fixtures
    Receiver,
    receiver_fixture,
    sessions_fixture,
    webhook_settings,
    wh_client_fixture,
    wh_settings_fixture,
)
from tests.conftest import Tenant

ALL = ["assessment.submitted", "assessment.finalized", "assessment.revised", "import.completed"]


def subscribe(tenant: Tenant, url: str, events: list[str] = ALL, **kw: Any) -> dict[str, Any]:
    r = tenant.client.post(
        "/v1/webhooks", json={"url": url, "events": events, **kw}, headers=tenant.headers("admin")
    )
    return ok(r, 201)  # type: ignore[no-any-return]


def queued(sessions: sessionmaker[Session], webhook_id: str) -> list[tuple[str, dict[str, Any]]]:
    with sessions() as s:
        rows = s.execute(
            select(WebhookEvent.type, WebhookEvent.data)
            .join(WebhookDelivery, WebhookDelivery.event_id == WebhookEvent.id)
            .where(WebhookDelivery.subscription_id == uuid.UUID(webhook_id))
            .order_by(WebhookEvent.occurred_at)
        ).all()
    return [(t, d) for t, d in rows]


def test_subscribe_read_pause_resume_delete(session: Session, wh_client: TestClient) -> None:
    tenant, other = Tenant(session, wh_client), Tenant(session, wh_client)
    admin = tenant.headers("admin")
    made = subscribe(tenant, "https://partner.example.org/hook", ["assessment.submitted"])
    assert made["secret"].startswith("whsec_") and len(made["secret"]) > 30
    assert made["active"] is True and made["paused_reason"] is None
    given = subscribe(tenant, "https://partner.example.org/b", ALL, secret="s" * 20)
    assert given["secret"] == "s" * 20
    listed = ok(tenant.client.get("/v1/webhooks", headers=admin))["items"]
    assert [w["id"] for w in listed] == [made["id"], given["id"]]
    assert all("secret" not in w for w in listed)  # shown once, at creation

    url = f"/v1/webhooks/{made['id']}"
    paused = ok(tenant.client.patch(url, json={"active": False}, headers=admin))
    assert paused["active"] is False and paused["paused_reason"] == "paused by an admin"
    resumed = ok(tenant.client.patch(url, json={"active": True, "events": ALL}, headers=admin))
    assert resumed["active"] is True and resumed["paused_reason"] is None
    assert resumed["events"] == sorted(ALL)

    # admins only, and another workspace's subscription does not exist for this one
    assert_problem(tenant.client.get("/v1/webhooks", headers=tenant.headers("editor")), 403)
    assert_problem(other.client.get(url, headers=other.headers("admin")), 404)
    assert_problem(other.client.delete(url, headers=other.headers("admin")), 404)
    assert tenant.client.delete(url, headers=admin).status_code == 204
    assert_problem(tenant.client.get(url, headers=admin), 404)
    assert [w["id"] for w in ok(tenant.client.get("/v1/webhooks", headers=admin))["items"]] == [
        given["id"]
    ]


def test_bad_subscriptions_are_refused(session: Session, wh_client: TestClient) -> None:
    tenant = Tenant(session, wh_client)
    admin = tenant.headers("admin")
    for body in (
        {"url": "https://partner.example.org/h", "events": ["assessment.deleted"]},
        {"url": "https://partner.example.org/h", "events": []},
        {"url": "https://partner.example.org/h", "events": ALL, "secret": "short"},
        {"url": "ftp://partner.example.org/h", "events": ALL},
        {"url": "https://user:pw@partner.example.org/h", "events": ALL},
    ):
        assert_problem(tenant.client.post("/v1/webhooks", json=body, headers=admin), 422)
    assert ok(tenant.client.get("/v1/webhooks", headers=admin))["items"] == []


@pytest.mark.parametrize(
    "url",
    [
        "http://partner.example.org/hook",  # plain http
        "https://127.0.0.1/hook",  # loopback
        "https://localhost:8443/hook",
        "https://10.1.2.3/hook",  # private
        "https://192.168.0.10/hook",
        "https://169.254.169.254/latest/meta-data",  # link-local: cloud metadata
        "https://[::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",  # loopback written as IPv6
        "https://0.0.0.0/hook",
        "https://240.0.0.1/hook",  # reserved
    ],
)
def test_internal_targets_are_refused_by_default(tenant: Tenant, url: str) -> None:
    """The shared test app runs with the default rules: https only, public addresses only."""
    r = tenant.client.post(
        "/v1/webhooks", json={"url": url, "events": ALL}, headers=tenant.headers("admin")
    )
    body = assert_problem(r, 422)
    assert body["errors"][0]["field"] == "url"


def test_public_targets_pass_and_rules_are_settings(settings: Settings) -> None:
    check_target("https://93.184.215.14/hook", settings)  # a public address: allowed
    check_target("https://[2606:4700::1111]/hook", settings)
    with pytest.raises(TargetRefused, match="http"):
        check_target("http://93.184.215.14/hook", settings)
    with pytest.raises(TargetRefused, match="loopback"):
        check_target("https://127.0.0.1/hook", settings)
    loose = webhook_settings(settings)
    check_target("http://127.0.0.1:9/hook", loose)  # what the tests' receivers need


def test_each_saved_change_queues_one_event(
    session: Session,
    wh_client: TestClient,
    sessions: sessionmaker[Session],
    catalog: Catalog,
    receiver: Receiver,
) -> None:
    tenant = Tenant(session, wh_client)
    hook = subscribe(tenant, receiver.url)
    only_final = subscribe(tenant, receiver.url, ["assessment.finalized"])
    org = create_org(tenant)

    draft = create_assessment(tenant, org["id"])
    assert queued(sessions, hook["id"]) == []  # a draft is not news
    submit(tenant, draft["id"])
    finalize(tenant, draft["id"])
    r = tenant.client.post(
        f"/v1/assessments/{draft['id']}/revisions", json={}, headers=tenant.headers()
    )
    revision = ok(r, 201)
    events = queued(sessions, hook["id"])
    assert [t for t, _ in events] == [
        "assessment.submitted",
        "assessment.finalized",
        "assessment.revised",
    ]
    submitted = events[0][1]
    assert submitted["assessment_id"] == draft["id"]
    assert submitted["organization_id"] == org["id"]
    assert submitted["instrument_id"] == "oca" and submitted["round"] == "baseline"
    assert submitted["status"] == "submitted" and submitted["overall"] is not None
    assert events[2][1]["assessment_id"] == revision["id"]
    assert events[2][1]["replaces"] == draft["id"] and events[2][1]["revision"] == 2
    assert [t for t, _ in queued(sessions, only_final["id"])] == ["assessment.finalized"]

    # refused or rolled back: no event. An incomplete draft cannot be submitted; a finalized
    # assessment cannot be finalized again; a dry-run import writes nothing, events included.
    empty = create_assessment(tenant, org["id"], round="midline", answers=[])
    assert_problem(
        tenant.client.post(f"/v1/assessments/{empty['id']}/submit", headers=tenant.headers()), 422
    )
    assert_problem(
        tenant.client.post(f"/v1/assessments/{draft['id']}/finalize", headers=tenant.headers()),
        409,
    )
    workbook = _filled(catalog, "cla", "Imported Org", 2.0)
    files = [("files", ("cla.xlsx", workbook, "application/octet-stream"))]
    h = tenant.headers()
    dry = tenant.client.post(
        "/v1/imports?create_organizations=true&dry_run=true", files=files, headers=h
    )
    assert dry.status_code == 200, dry.text
    assert len(queued(sessions, hook["id"])) == 3

    # a real import: the assessment it submitted, then the import itself, in that order
    done = tenant.client.post("/v1/imports?create_organizations=true", files=files, headers=h)
    assert done.status_code == 200, done.text
    result = done.json()["results"][0]
    events = queued(sessions, hook["id"])
    assert [t for t, _ in events[3:]] == ["assessment.submitted", "import.completed"]
    imported = events[4][1]
    assert imported["file"] == "cla.xlsx" and imported["status"] == "created"
    assert imported["assessment_id"] == result["assessment_id"]
    assert imported["organization_created"] is True and imported["scored"] is True
    # the same workbook again changes nothing, and says nothing
    again = tenant.client.post("/v1/imports?create_organizations=true", files=files, headers=h)
    assert again.status_code == 200, again.text
    assert len(queued(sessions, hook["id"])) == 5


def test_no_subscription_no_rows_and_no_leak_across_workspaces(
    session: Session, wh_client: TestClient, sessions: sessionmaker[Session], receiver: Receiver
) -> None:
    tenant, other = Tenant(session, wh_client), Tenant(session, wh_client)
    hook = subscribe(tenant, receiver.url)
    org = create_org(other)
    submit(other, create_assessment(other, org["id"])["id"])
    assert queued(sessions, hook["id"]) == []
    with sessions() as s:
        assert (
            s.scalar(
                select(WebhookEvent.id).where(
                    WebhookEvent.workspace_id == other.principal.workspace_id
                )
            )
            is None
        )
