"""Webhook subscriptions and the outbox.

``emit`` is called by the use cases inside their own write transaction: the event and one
delivery per interested subscription are committed with the change or not at all, so a crash
can neither lose an event whose change was saved nor announce a change that was rolled back.
Sending happens later, in ``webhooks_delivery``, never in the request."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.db.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)
from app.db.session import write_transaction
from app.domain.errors import Invalid
from app.services.common import audit, get_scoped, now
from app.services.keys import Principal
from app.services.webhooks_targets import TargetRefused, check_target

EVENTS: tuple[str, ...] = (
    "assessment.submitted",
    "assessment.finalized",
    "assessment.revised",
    "import.completed",
    "instrument.published",
)
MAX_SUBSCRIPTIONS = 20  # per workspace: each event costs one delivery per subscription


def emit(session: Session, workspace_id: uuid.UUID, event_type: str, data: dict[str, Any]) -> None:
    """Inside the caller's write transaction: record the event for every subscription of the
    workspace that wants it (nothing at all when none does). Paused subscriptions get theirs
    too: they wait, and are sent once it is resumed."""
    if event_type not in EVENTS:
        raise ValueError(f"webhook event {event_type!r} is not in EVENTS")
    wanted = [
        s_id for s_id, events in _subscriptions(session, workspace_id) if event_type in events
    ]
    if not wanted:
        return
    ts = now()
    event_id = uuid.uuid4()
    # inserted at once, no unit-of-work objects: nothing else in the transaction refers to them
    conn = session.connection()
    conn.execute(
        _INSERT_EVENT,
        {
            "id": event_id,
            "workspace_id": workspace_id,
            "type": event_type,
            "occurred_at": ts,
            "data": _jsonable(data),
        },
    )
    conn.execute(
        _INSERT_DELIVERY,
        [
            {
                "id": uuid.uuid4(),
                "event_id": event_id,
                "subscription_id": s_id,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": ts,
                "created_at": ts,
            }
            for s_id in wanted
        ],
    )


_INSERT_EVENT = insert(cast(Table, WebhookEvent.__table__))
_INSERT_DELIVERY = insert(cast(Table, WebhookDelivery.__table__))


_SUBSCRIPTIONS = "oca.webhook_subscriptions"


def _subscriptions(session: Session, workspace_id: uuid.UUID) -> list[tuple[uuid.UUID, Any]]:
    """The workspace's subscriptions (id, events), read once per transaction: an import writes
    two events per workbook. Bound to the transaction object, so a later transaction (and the
    ones that change subscriptions: ``write_transaction`` always begins its own) reads again."""
    transaction = (session.get_transaction(), session.get_nested_transaction())
    cached: tuple[object, dict[uuid.UUID, list[tuple[uuid.UUID, Any]]]] | None
    cached = session.info.get(_SUBSCRIPTIONS)
    if cached is None or cached[0] != transaction:
        cached = (transaction, {})
        session.info[_SUBSCRIPTIONS] = cached
    found = cached[1].get(workspace_id)
    if found is None:
        found = [
            (s_id, events)
            for s_id, events in session.connection().execute(
                _SUBSCRIBED, {"workspace_id": workspace_id}
            )
        ]
        cached[1][workspace_id] = found
    return found


class AssessmentFacts(Protocol):
    """What an assessment event says of it: an assessment row or its record."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def organization_id(self) -> uuid.UUID: ...
    @property
    def instrument_id(self) -> str: ...
    @property
    def instrument_version(self) -> str: ...
    @property
    def round(self) -> str: ...
    @property
    def revision(self) -> int: ...
    @property
    def status(self) -> str: ...


_SUBSCRIBED = select(WebhookSubscription.id, WebhookSubscription.events).where(
    WebhookSubscription.workspace_id == bindparam("workspace_id")
)


def emit_assessment(
    session: Session,
    workspace_id: uuid.UUID,
    a: AssessmentFacts,
    event_type: str,
    **extra: object,
) -> None:
    """An assessment event: what a partner needs to fetch the assessment and its scores."""
    emit(
        session,
        workspace_id,
        event_type,
        {
            "assessment_id": a.id,
            "organization_id": a.organization_id,
            "instrument_id": a.instrument_id,
            "instrument_version": a.instrument_version,
            "round": a.round,
            "revision": a.revision,
            "status": a.status,
            **extra,
        },
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)  # uuid, date, datetime


# --- subscriptions --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubscriptionChange:
    url: str | None = None
    events: Sequence[str] | None = None
    secret: str | None = None
    description: str | None = None
    active: bool | None = None


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def _check(change: SubscriptionChange, settings: Settings) -> None:
    errors: list[dict[str, str]] = []
    if change.url is not None:
        try:
            check_target(change.url, settings)
        except TargetRefused as exc:
            errors.append({"field": "url", "detail": str(exc)})
    if change.events is not None:
        unknown = [e for e in change.events if e not in EVENTS]
        if unknown or not change.events:
            errors.append(
                {
                    "field": "events",
                    "detail": "choose one or more of "
                    + ", ".join(EVENTS)
                    + (f" (unknown: {', '.join(unknown)})" if unknown else ""),
                }
            )
    if change.secret is not None and not 16 <= len(change.secret) <= 200:
        errors.append({"field": "secret", "detail": "a secret has 16 to 200 characters"})
    if errors:
        raise Invalid("; ".join(e["detail"] for e in errors), errors=errors)


@dataclass(frozen=True, slots=True)
class WebhookView:
    """A subscription as the API and the pages show it: never its secret."""

    id: uuid.UUID
    url: str
    events: tuple[str, ...]
    description: str | None
    active: bool
    paused_reason: str | None
    failures_in_row: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, s: WebhookSubscription) -> WebhookView:
        return cls(
            id=s.id,
            url=s.url,
            events=tuple(s.events),
            description=s.description,
            active=s.active,
            paused_reason=s.paused_reason,
            failures_in_row=s.failures_in_row,
            created_at=s.created_at,
            updated_at=s.updated_at,
        )


@dataclass(frozen=True, slots=True)
class NewWebhook(WebhookView):
    """A subscription just made, with the secret shown this once."""

    secret: str


def create_subscription(
    session: Session, principal: Principal, settings: Settings, change: SubscriptionChange
) -> NewWebhook:
    assert change.url is not None and change.events is not None
    _check(change, settings)
    with write_transaction(session):
        count = len(
            session.scalars(
                select(WebhookSubscription.id).where(
                    WebhookSubscription.workspace_id == principal.workspace_id
                )
            ).all()
        )
        if count >= MAX_SUBSCRIPTIONS:
            raise Invalid(f"a workspace has at most {MAX_SUBSCRIPTIONS} webhook subscriptions")
        ts = now()
        s = WebhookSubscription(
            id=uuid.uuid4(),
            workspace_id=principal.workspace_id,
            url=change.url,
            secret=change.secret or new_secret(),
            events=sorted(set(change.events)),
            description=change.description,
            active=True if change.active is None else change.active,
            paused_reason=None if change.active is not False else "paused by an admin",
            failures_in_row=0,
            created_at=ts,
            updated_at=ts,
        )
        session.add(s)
        session.flush()
        audit(session, principal, "webhook.create", "webhook", s.id, {"url": s.url})
    return NewWebhook(**asdict(WebhookView.of(s)), secret=s.secret)


def list_subscriptions(session: Session, principal: Principal) -> list[WebhookView]:
    rows = session.scalars(
        select(WebhookSubscription)
        .where(WebhookSubscription.workspace_id == principal.workspace_id)
        .order_by(WebhookSubscription.created_at, WebhookSubscription.id)
    )
    return [WebhookView.of(s) for s in rows]


def _subscription(
    session: Session, principal: Principal, subscription_id: uuid.UUID
) -> WebhookSubscription:
    return get_scoped(session, principal, WebhookSubscription, subscription_id, "webhook")


def get_subscription(
    session: Session, principal: Principal, subscription_id: uuid.UUID
) -> WebhookView:
    return WebhookView.of(_subscription(session, principal, subscription_id))


def update_subscription(
    session: Session,
    principal: Principal,
    settings: Settings,
    subscription_id: uuid.UUID,
    change: SubscriptionChange,
) -> WebhookView:
    """Change URL, events, secret or state. Resuming clears the pause and the failure count;
    deliveries that waited while it was paused are sent again."""
    _check(change, settings)
    with write_transaction(session):
        s = _subscription(session, principal, subscription_id)
        changed: dict[str, Any] = {}
        if change.url is not None:
            s.url = changed["url"] = change.url
        if change.events is not None:
            s.events = changed["events"] = sorted(set(change.events))
        if change.secret is not None:
            s.secret = change.secret
            changed["secret_rotated"] = True
        if change.description is not None:
            s.description = changed["description"] = change.description
        if change.active is not None and change.active != s.active:
            s.active = changed["active"] = change.active
            s.paused_reason = None if change.active else "paused by an admin"
            s.failures_in_row = 0
        s.updated_at = now()
        session.flush()
        audit(session, principal, "webhook.update", "webhook", s.id, changed)
    return WebhookView.of(s)


def delete_subscription(session: Session, principal: Principal, subscription_id: uuid.UUID) -> None:
    """Remove it with its pending deliveries and their history."""
    with write_transaction(session):
        s = _subscription(session, principal, subscription_id)
        session.delete(s)
        session.flush()
        audit(session, principal, "webhook.delete", "webhook", subscription_id, {"url": s.url})


# --- delivery history -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryInfo:
    delivery: WebhookDelivery
    event: WebhookEvent
    attempts: list[WebhookAttempt]


def list_deliveries(
    session: Session,
    principal: Principal,
    subscription_id: uuid.UUID,
    limit: int,
    before: datetime | None = None,
) -> list[DeliveryInfo]:
    """The subscription's newest deliveries, each with every attempt made."""
    _subscription(session, principal, subscription_id)  # 404 for another workspace
    query = (
        select(WebhookDelivery, WebhookEvent)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.subscription_id == subscription_id)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(WebhookDelivery.created_at < before)
    rows = session.execute(query).all()
    ids = [d.id for d, _ in rows]
    attempts: dict[uuid.UUID, list[WebhookAttempt]] = {i: [] for i in ids}
    if ids:
        for a in session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(ids))
            .order_by(WebhookAttempt.number)
        ):
            attempts[a.delivery_id].append(a)
    return [DeliveryInfo(d, e, attempts[d.id]) for d, e in rows]
