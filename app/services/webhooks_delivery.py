"""Sending the outbox: a thread per worker claims due deliveries, POSTs them signed, records
every attempt and schedules the next one.

A claim is a lease (app/services/leases.py, shared with the job queue): ``claimed_until`` marks
the delivery as being worked on for a while; a worker that dies mid-delivery simply lets the
lease lapse and another worker sends it again (receivers deduplicate on ``OCA-Delivery``:
delivery is at least once, never zero times)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
import uuid
from datetime import datetime, timedelta
from typing import Any, cast

import httpx2
import orjson
from sqlalchemy import ColumnElement, CursorResult, delete, select
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db.models import WebhookAttempt, WebhookDelivery, WebhookEvent, WebhookSubscription
from app.db.session import write_transaction
from app.services.common import now
from app.services.leases import lapsed, new_token, take
from app.services.webhooks_targets import TargetRefused, check_target

log = logging.getLogger("oca.webhooks")

# Waits after attempt 1, 2, …: 8 attempts over about a day, then the delivery is given up.
BACKOFF_SECONDS: tuple[int, ...] = (30, 120, 600, 3600, 3 * 3600, 6 * 3600, 12 * 3600)
MAX_ATTEMPTS = len(BACKOFF_SECONDS) + 1
BATCH = 5
KEEP = timedelta(days=30)  # delivered and failed deliveries are kept this long for the history
PRUNE_EVERY_S = 3600.0
USER_AGENT = "OCA-Engine-Webhooks/1"


def lease(settings: Settings) -> timedelta:
    """Long enough for a whole batch to time out, short enough that a dead worker's claims are
    taken over within about a minute."""
    return timedelta(seconds=30 + BATCH * (settings.webhook_timeout_seconds + 2))


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``OCA-Signature`` header: HMAC-SHA256 of ``"{timestamp}.{body}"`` with the secret."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def _due(at: datetime) -> list[ColumnElement[bool]]:
    return [
        WebhookDelivery.status == "pending",
        WebhookDelivery.next_attempt_at <= at,
        lapsed(WebhookDelivery.claimed_until, at),
        WebhookSubscription.active.is_(True),
    ]


def claim(
    sessions: sessionmaker[Session], settings: Settings, at: datetime, batch: int = BATCH
) -> list[tuple[uuid.UUID, str]]:
    """Take up to ``batch`` due deliveries for this worker: their ids and the claim token."""
    with sessions() as session:
        # most polls find nothing: a read, so an idle worker never takes SQLite's write lock
        found = session.scalar(
            select(WebhookDelivery.id)
            .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
            .where(*_due(at))
            .limit(1)
        )
        if found is None:
            return []
        token = new_token()
        with write_transaction(session):
            mine = take(
                session,
                WebhookDelivery,
                select(WebhookDelivery.id)
                .join(
                    WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id
                )
                .where(*_due(at))
                .order_by(WebhookDelivery.next_attempt_at)
                .limit(batch),
                [
                    WebhookDelivery.status == "pending",
                    lapsed(WebhookDelivery.claimed_until, at),
                ],
                {"claim": token, "claimed_until": at + lease(settings)},
                token,
            )
    return [(i, token) for i in mine]


def body_of(event: WebhookEvent) -> bytes:
    return orjson.dumps(
        {
            "id": str(event.id),
            "type": event.type,
            "occurred_at": event.occurred_at.isoformat().replace("+00:00", "Z"),
            "workspace_id": str(event.workspace_id),
            "data": event.data,
        }
    )


def attempt(
    sessions: sessionmaker[Session],
    settings: Settings,
    client: httpx2.Client,
    delivery_id: uuid.UUID,
    token: str,
    at: datetime,
) -> None:
    """POST one claimed delivery and record what happened."""
    with sessions() as session:
        row = session.execute(
            select(WebhookDelivery, WebhookEvent, WebhookSubscription)
            .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
            .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
            .where(WebhookDelivery.id == delivery_id)
        ).first()  # closing the session keeps the rows' loaded values
    if row is None:  # the subscription was deleted meanwhile
        return
    delivery, event, sub = row
    body = body_of(event)
    timestamp = int(time.time())
    status_code: int | None = None
    error: str | None = None
    started = time.perf_counter()
    try:
        check_target(sub.url, settings)  # again: what the name resolves to may have changed
        response = client.post(
            sub.url,
            content=body,
            headers={
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                "OCA-Event": event.type,
                "OCA-Delivery": str(delivery.id),
                "OCA-Timestamp": str(timestamp),
                "OCA-Signature": sign(sub.secret, timestamp, body),
            },
        )
        status_code = response.status_code
        if not 200 <= status_code < 300:
            error = f"the receiver answered {status_code}"
    except TargetRefused as exc:
        error = f"refused: {exc}"
    except httpx2.TimeoutException:
        error = f"no answer within {settings.webhook_timeout_seconds:g} s"
    except httpx2.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    duration_ms = round((time.perf_counter() - started) * 1000)
    record(sessions, settings, delivery_id, token, at, status_code, error, duration_ms)


def record(
    sessions: sessionmaker[Session],
    settings: Settings,
    delivery_id: uuid.UUID,
    token: str,
    at: datetime,
    status_code: int | None,
    error: str | None,
    duration_ms: int,
) -> None:
    """Log the attempt; if the claim is still ours, mark the delivery done or schedule the next
    try, and pause the subscription after too many failures in a row."""
    with sessions() as session, write_transaction(session):
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is None:
            return
        number = delivery.attempts + 1
        session.add(
            WebhookAttempt(
                delivery_id=delivery_id,
                number=number,
                at=at,
                status_code=status_code,
                error=error,
                duration_ms=duration_ms,
            )
        )
        if delivery.claim != token:  # the lease lapsed and another worker took it over
            return
        sub = session.get(WebhookSubscription, delivery.subscription_id)
        assert sub is not None  # deliveries go with their subscription
        delivery.attempts = number
        delivery.claim = None
        delivery.claimed_until = None
        if error is None:
            delivery.status = "delivered"
            delivery.delivered_at = at
            sub.failures_in_row = 0
            return
        if number >= MAX_ATTEMPTS:
            delivery.status = "failed"
        else:
            delivery.next_attempt_at = at + timedelta(seconds=BACKOFF_SECONDS[number - 1])
        sub.failures_in_row += 1
        if sub.active and sub.failures_in_row >= settings.webhook_pause_after_failures:
            sub.active = False
            sub.paused_reason = (
                f"paused after {sub.failures_in_row} failed attempts in a row; last: {error}"
            )
            sub.updated_at = at


def run_once(
    sessions: sessionmaker[Session],
    settings: Settings,
    client: httpx2.Client,
    at: datetime | None = None,
) -> int:
    """Claim and attempt one batch of due deliveries; how many were attempted. ``at`` fixes the
    clock (tests step through the retry schedule with it); otherwise each attempt is timed."""
    claimed = claim(sessions, settings, at or now())
    for delivery_id, token in claimed:
        attempt(sessions, settings, client, delivery_id, token, at or now())
    return len(claimed)


def prune(sessions: sessionmaker[Session], at: datetime, keep: timedelta = KEEP) -> int:
    """Forget finished deliveries older than ``keep`` (their attempts go with them) and events
    no delivery refers to any more; how many deliveries were removed. Pending ones stay."""
    with sessions() as session, write_transaction(session):
        result = session.execute(
            delete(WebhookDelivery)
            .where(
                WebhookDelivery.status.in_(("delivered", "failed")),
                WebhookDelivery.created_at < at - keep,
            )
            .execution_options(synchronize_session=False)
        )
        removed = cast(CursorResult[Any], result).rowcount
        session.execute(
            delete(WebhookEvent)
            .where(
                WebhookEvent.occurred_at < at - keep,
                ~select(WebhookDelivery.id)
                .where(WebhookDelivery.event_id == WebhookEvent.id)
                .exists(),
            )
            .execution_options(synchronize_session=False)
        )
    return removed


def http_client(settings: Settings) -> httpx2.Client:
    # no redirects (they could lead to an internal address), no proxy settings from the
    # environment
    return httpx2.Client(
        timeout=settings.webhook_timeout_seconds, follow_redirects=False, trust_env=False
    )


class DeliveryThread:
    """The worker's background sender, started and stopped with the app."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings) -> None:
        self.sessions = sessions
        self.settings = settings
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="oca-webhooks", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=self.settings.webhook_timeout_seconds + 5)

    def _run(self) -> None:
        pruned_at = 0.0
        with http_client(self.settings) as client:
            while not self.stopping.is_set():
                try:
                    if time.monotonic() - pruned_at > PRUNE_EVERY_S:
                        pruned_at = time.monotonic()
                        prune(self.sessions, now())
                    busy = run_once(self.sessions, self.settings, client) == BATCH
                except Exception:
                    log.exception("webhook delivery round failed; trying again shortly")
                    busy = False
                if not busy:
                    self.stopping.wait(self.settings.webhook_poll_seconds)
