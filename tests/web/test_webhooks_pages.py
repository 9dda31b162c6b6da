"""The webhooks page for admins: add a subscription (its secret shown once), see its recent
deliveries, pause, resume and remove it; the same service and rules as /v1/webhooks."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import AuditEvent, WebhookSubscription
from app.services import webhooks
from tests.api.factories import create_assessment, create_org, submit
from tests.web.conftest import People, form_token

# a public address given as a number: checked without a DNS lookup (the tests send nothing)
URL = "https://1.1.1.1/oca-events"


def _subscriptions(session: Session, people: People) -> list[WebhookSubscription]:
    session.rollback()  # see what the app wrote (the rows: the secret is never in a view)
    return list(
        session.scalars(
            select(WebhookSubscription)
            .where(WebhookSubscription.workspace_id == people.tenant.principal.workspace_id)
            .order_by(WebhookSubscription.created_at, WebhookSubscription.id)
        )
    )


def test_an_admin_adds_sees_pauses_resumes_and_removes_a_webhook(
    signed_in: People, session: Session
) -> None:
    admin = signed_in("admin")
    token = form_token(admin, "/admin/webhooks")
    made = admin.post(
        "/admin/webhooks?lang=en",
        data={
            "csrf_token": token,
            "url": URL,
            "description": "Partner platform",
            "events": ["assessment.submitted", "import.completed"],
        },
    )
    assert made.status_code == 200, made.text[:500]
    secret = re.search(r'id="created-secret"[^>]*>(whsec_[A-Za-z0-9_\-]+)</textarea>', made.text)
    assert secret, "the signing secret is shown once"
    (sub,) = _subscriptions(session, signed_in)
    sub_id = sub.id
    assert sub.url == URL and sub.secret == secret.group(1)
    assert sub.events == ["assessment.submitted", "import.completed"]
    listing = admin.get("/admin/webhooks?lang=es").text
    assert URL in listing and secret.group(1) not in listing  # never shown again
    assert "Aún no hubo envíos" in listing

    # an event of the workspace becomes a delivery listed under the subscription
    tenant = signed_in.tenant
    submit(tenant, create_assessment(tenant, create_org(tenant)["id"])["id"])
    listing = admin.get("/admin/webhooks?lang=es").text
    assert "assessment.submitted" in listing and "pendiente" in listing

    for action, active in (("pause", False), ("resume", True)):
        done = admin.post(
            f"/admin/webhooks/{sub.id}/{action}",
            data={"csrf_token": form_token(admin, "/admin/webhooks")},
        )
        assert done.status_code == 303
        (now,) = _subscriptions(session, signed_in)
        assert now.active is active
    gone = admin.post(
        f"/admin/webhooks/{sub.id}/remove",
        data={"csrf_token": form_token(admin, "/admin/webhooks")},
    )
    assert gone.status_code == 303 and _subscriptions(session, signed_in) == []
    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.object_id == str(sub_id))
    ).all()
    assert {"webhook.create", "webhook.update", "webhook.delete"} <= set(actions)


def test_refused_addresses_and_events_are_said_and_nothing_is_made(
    signed_in: People, session: Session
) -> None:
    admin = signed_in("admin")
    for url, events in (
        ("http://1.1.1.1/h", ["assessment.submitted"]),  # not https
        ("https://127.0.0.1/hook", ["assessment.submitted"]),  # loopback
        (URL, []),  # no event
        (URL, ["assessment.deleted"]),  # unknown event
    ):
        answer = admin.post(
            "/admin/webhooks?lang=es",
            data={"csrf_token": form_token(admin, "/admin/webhooks"), "url": url, "events": events},
        )
        assert answer.status_code == 422, (url, events)
        assert 'role="alert"' in answer.text and "No se pudo completar" in answer.text
    assert _subscriptions(session, signed_in) == []


def test_only_admins_and_only_their_workspace(signed_in: People, session: Session) -> None:
    made = webhooks.create_subscription(
        session,
        signed_in.tenant.principal,
        signed_in.client.app.state.settings,  # type: ignore[attr-defined]
        webhooks.SubscriptionChange(url=URL, events=["assessment.submitted"]),
    )
    editor = signed_in("editor")
    assert editor.get("/admin/webhooks").status_code == 403
    refused = editor.post(
        f"/admin/webhooks/{made.id}/remove",
        data={"csrf_token": form_token(editor, "/")},
    )
    assert refused.status_code == 403
    stranger = signed_in("admin", workspace=f"other-{made.id.hex[:6]}")
    answer = stranger.post(
        f"/admin/webhooks/{made.id}/pause",
        data={"csrf_token": form_token(stranger, "/admin/webhooks")},
    )
    assert answer.status_code == 404
    assert [s.id for s in _subscriptions(session, signed_in)] == [made.id]
    assert _subscriptions(session, signed_in)[0].active is True
