"""Webhook subscriptions of a workspace (admin) and their delivery history."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import Query, Response, status
from pydantic import AnyUrl, BaseModel, ConfigDict, Field, StringConstraints

from app.api.deps import AdminDep, SessionDep, SettingsDep
from app.api.routing import NOT_FOUND, v1_router
from app.api.schemas.common import Page
from app.services import webhooks as svc
from app.services.common import Timestamp

router = v1_router("webhooks", admin=True)

EventName = Literal[
    "assessment.submitted",
    "assessment.finalized",
    "assessment.revised",
    "import.completed",
    "instrument.published",
]
Secret = Annotated[str, StringConstraints(min_length=16, max_length=200)]
Url = Annotated[AnyUrl, Field(description="https:// (http:// only where the server allows it)")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url
    events: list[EventName] = Field(min_length=1)
    secret: Secret | None = Field(
        default=None, description="Signing secret; omitted: one is generated and shown once"
    )
    description: Text | None = None
    active: bool = True


class WebhookUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url | None = None
    events: list[EventName] | None = Field(default=None, min_length=1)
    secret: Secret | None = Field(default=None, description="A new signing secret (rotation)")
    description: Text | None = None
    active: bool | None = Field(
        default=None, description="false: pause; true: resume (clears the failure count)"
    )


class WebhookRead(BaseModel):
    id: uuid.UUID
    url: str
    events: list[str]
    description: str | None
    active: bool
    paused_reason: str | None = Field(description="Why it is paused (null while active)")
    failures_in_row: int = Field(description="Failed attempts since the last success")
    created_at: Timestamp
    updated_at: Timestamp


class WebhookCreated(WebhookRead):
    secret: str = Field(description="The signing secret. Shown once, in this answer only.")


class AttemptRead(BaseModel):
    number: int
    at: Timestamp
    status_code: int | None = Field(description="The receiver's HTTP status (null: no answer)")
    error: str | None = Field(description="Why the attempt failed (null: delivered)")
    duration_ms: int


class DeliveryRead(BaseModel):
    id: uuid.UUID = Field(description="Sent as the OCA-Delivery header; stable across retries")
    event_id: uuid.UUID
    event: str
    status: Literal["pending", "delivered", "failed"]
    attempts: list[AttemptRead]
    next_attempt_at: Timestamp | None = Field(description="When it is tried again, if pending")
    created_at: Timestamp
    delivered_at: Timestamp | None
    payload: dict[str, Any] = Field(description="The event's `data`, as delivered")


def _read(s: svc.WebhookView) -> dict[str, Any]:
    return {
        "id": s.id,
        "url": s.url,
        "events": list(s.events),
        "description": s.description,
        "active": s.active,
        "paused_reason": s.paused_reason,
        "failures_in_row": s.failures_in_row,
        "created_at": s.created_at,
        "updated_at": s.updated_at,
    }


@router.get("/webhooks", summary="The workspace's webhook subscriptions, without secrets (admin)")
def list_webhooks(session: SessionDep, principal: AdminDep) -> Page[WebhookRead]:
    items = [WebhookRead(**_read(s)) for s in svc.list_subscriptions(session, principal)]
    return Page[WebhookRead](items=items)


@router.post(
    "/webhooks",
    status_code=status.HTTP_201_CREATED,
    summary="Subscribe a URL to events of this workspace (admin)",
    description="The URL must be https and resolve to a public address (unless the server "
    "allows otherwise); it is checked again before every delivery. See docs/webhooks.md for "
    "the signature and the retry schedule.",
)
def create_webhook(
    body: WebhookCreate, session: SessionDep, principal: AdminDep, settings: SettingsDep
) -> WebhookCreated:
    change = svc.SubscriptionChange(
        url=str(body.url),
        events=body.events,
        secret=body.secret,
        description=body.description,
        active=body.active,
    )
    s = svc.create_subscription(session, principal, settings, change)
    return WebhookCreated(**_read(s), secret=s.secret)


@router.get("/webhooks/{webhook_id}", summary="One subscription (admin)", responses=NOT_FOUND)
def get_webhook(webhook_id: uuid.UUID, session: SessionDep, principal: AdminDep) -> WebhookRead:
    return WebhookRead(**_read(svc.get_subscription(session, principal, webhook_id)))


@router.patch(
    "/webhooks/{webhook_id}",
    summary="Change, pause or resume a subscription, or rotate its secret (admin)",
    responses=NOT_FOUND,
)
def update_webhook(
    webhook_id: uuid.UUID,
    body: WebhookUpdate,
    session: SessionDep,
    principal: AdminDep,
    settings: SettingsDep,
) -> WebhookRead:
    change = svc.SubscriptionChange(
        url=str(body.url) if body.url is not None else None,
        events=body.events,
        secret=body.secret,
        description=body.description,
        active=body.active,
    )
    s = svc.update_subscription(session, principal, settings, webhook_id, change)
    return WebhookRead(**_read(s))


@router.delete(
    "/webhooks/{webhook_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a subscription with its pending deliveries and history (admin)",
    responses=NOT_FOUND,
)
def delete_webhook(webhook_id: uuid.UUID, session: SessionDep, principal: AdminDep) -> Response:
    svc.delete_subscription(session, principal, webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    summary="The subscription's newest deliveries, each with every attempt (admin)",
    responses=NOT_FOUND,
)
def list_webhook_deliveries(
    webhook_id: uuid.UUID,
    session: SessionDep,
    principal: AdminDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[DeliveryRead]:
    infos = svc.list_deliveries(session, principal, webhook_id, limit)
    items = [
        DeliveryRead(
            id=i.delivery.id,
            event_id=i.event.id,
            event=i.event.type,
            status=i.delivery.status,
            attempts=[
                AttemptRead(
                    number=a.number,
                    at=a.at,
                    status_code=a.status_code,
                    error=a.error,
                    duration_ms=a.duration_ms,
                )
                for a in i.attempts
            ],
            next_attempt_at=i.delivery.next_attempt_at if i.delivery.status == "pending" else None,
            created_at=i.delivery.created_at,
            delivered_at=i.delivery.delivered_at,
            payload=i.event.data,
        )
        for i in infos
    ]
    return Page[DeliveryRead](items=items)
