"""Small pieces every use case shares: time, audit events, cursors, idempotency, ETags."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Protocol, TypeVar, cast

from pydantic import AfterValidator
from sqlalchemy import Select, Table, delete, insert, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.db.models import AuditEvent, IdempotencyRecord
from app.db.session import serialize_on
from app.domain.errors import Conflict, Invalid, NotFound, PreconditionFailed
from app.domain.rounding import rounded_numbers
from app.services.keys import Principal


class Scoped(Protocol):
    workspace_id: Any


S = TypeVar("S", bound=Scoped)


def get_scoped(
    session: Session, principal: Principal, model: type[S], row_id: object, what: str
) -> S:
    """A row of the caller's workspace; any other workspace's row is exactly as absent (404)."""
    row = session.get(model, row_id)
    if row is None or row.workspace_id != principal.workspace_id:
        raise NotFound(f"{what} {row_id} does not exist")
    return row


def now() -> datetime:
    return datetime.now(UTC)


def aware(moment: datetime) -> datetime:
    """A stored moment with its time zone (SQLite gives naive UTC back, PostgreSQL aware)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# A stored moment in a read model: with its time zone on the wire, from either database.
Timestamp = Annotated[datetime, AfterValidator(aware)]


def latest_assessment_date() -> date:
    """The latest day an assessment can have taken place: today where the day starts first
    (UTC+14), so no user anywhere is refused a date that is today for them."""
    return (now() + timedelta(hours=14)).date()


def future_date_messages(day: date) -> tuple[str, str]:
    latest = latest_assessment_date().isoformat()
    return (
        f"assessed_on {day.isoformat()} is in the future; give the day the assessment took place "
        f"(at the latest {latest})",
        f"assessed_on {day.isoformat()} es una fecha futura; indique el día en que se hizo la "
        f"evaluación (a más tardar {latest})",
    )


def check_assessed_on(day: date | None) -> None:
    """Refuse an assessment date that has not happened anywhere yet (422, nothing written)."""
    if day is None or day <= latest_assessment_date():
        return
    en, es = future_date_messages(day)
    raise Invalid(
        en,
        errors=[{"pointer": "/assessed_on", "code": "future_date", "detail": en, "detail_es": es}],
        latest=latest_assessment_date().isoformat(),
    )


# Every action the audit log records; `GET /v1/audit?action=` accepts exactly these.
AUDIT_ACTIONS: tuple[str, ...] = (
    "assessment.create",
    "assessment.update",
    "assessment.submit",
    "assessment.reopen",
    "assessment.finalize",
    "assessment.revise",
    "assessment.import.create",
    "assessment.import.update",
    "assessment.import.revise",
    "organization.create",
    "organization.update",
    "organization.delete",
    "instrument.create",
    "instrument.update",
    "instrument.publish",
    "instrument.delete",
    "cohort.create",
    "cohort.update",
    "cohort.member.add",
    "cohort.member.remove",
    "evidence.add",
    "evidence.update",
    "evidence.delete",
    "key.create",
    "key.revoke",
    "person.invite",
    "person.remove",
    "person.role",
    "person.reset_link",
    "person.password",
    "person.sign_in",
    "person.sign_in_failed",
    "person.sign_out",
    "plan.create",
    "plan.priority.add",
    "plan.priority.update",
    "plan.action.add",
    "plan.action.update",
    "rating.put",
    "rating.delete",
    "rating.consensus",
    "rating.link",
    "rating.link_revoke",
    "assessment.verify",
    "webhook.create",
    "webhook.update",
    "webhook.delete",
    "workspace.sharing",
)


def audit(
    session: Session,
    principal: Principal,
    action: str,
    object_type: str,
    object_id: object,
    changes: dict[str, Any] | None = None,
) -> None:
    """Record a write in the same transaction as the write itself (inserted at once, in the
    order of the calls: no unit-of-work object, it references no row a flush must write first)."""
    if action not in AUDIT_ACTIONS:  # a new action must be listed, so the log can be filtered by it
        raise ValueError(f"audit action {action!r} is not in AUDIT_ACTIONS")
    session.connection().execute(
        _INSERT_AUDIT,
        {
            "workspace_id": principal.workspace_id,
            "api_key_id": principal.key_id,
            "actor": principal.actor,
            "action": action,
            "object_type": object_type,
            "object_id": str(object_id) if object_id is not None else None,
            "occurred_at": now(),
            "changes": _jsonable(changes) if changes else None,
        },
    )


_INSERT_AUDIT = insert(cast(Table, AuditEvent.__table__))


def _jsonable(value: Any) -> Any:
    """Plain JSON, with every number rounded by the edge rule: the log is read by people."""
    return rounded_numbers(json.loads(json.dumps(value, default=str)))


# --- cursors -------------------------------------------------------------------------------------


def encode_cursor(created_at: datetime, row_id: uuid.UUID | int) -> str:
    raw = json.dumps([created_at.isoformat(), str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created, row_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return datetime.fromisoformat(created), str(row_id)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise Invalid("cursor is not valid; pass back a next_cursor from a previous page") from None


def page_after(
    query: Select[Any],
    created_col: InstrumentedAttribute[datetime],
    id_col: InstrumentedAttribute[Any],
    cursor: str | None,
    limit: int,
    id_type: type = uuid.UUID,
) -> Select[Any]:
    """Keyset pagination in (created_at, id) order: stable while rows are added."""
    if cursor:
        created, raw_id = decode_cursor(cursor)
        try:
            row_id = id_type(raw_id)
        except ValueError:
            raise Invalid("cursor is not valid") from None
        if created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        # a row comparison, not "a > x OR (a = x AND b > y)": the database seeks to it in the
        # (workspace, created_at, id) index; the OR form was a filter over every earlier row
        # (a page deep into 50,000 assessments: 24 ms instead of 0.1 ms on PostgreSQL)
        query = query.where(tuple_(created_col, id_col) > tuple_(created, row_id))
    return query.order_by(created_col, id_col).limit(limit + 1)


# --- ETags ---------------------------------------------------------------------------------------


def etag(row_id: object, row_version: int) -> str:
    return f'"{row_id}.{row_version}"'


def check_if_match(if_match: str | None, current: str, *, required: bool) -> None:
    if if_match is None:
        if required:
            from app.domain.errors import PreconditionRequired

            raise PreconditionRequired(
                "send If-Match with the ETag you read, so concurrent edits are not lost"
            )
        return
    tags = [t.strip() for t in if_match.split(",")]
    if "*" in tags or current in tags or current in [t.removeprefix("W/") for t in tags]:
        return
    raise PreconditionFailed(
        f"the resource changed since you read it (current ETag {current}); read it again",
        etag=current,
    )


# --- idempotency ---------------------------------------------------------------------------------

# A key answers retries for a day, then it is forgotten and may be used again.
IDEMPOTENCY_TTL = timedelta(hours=24)
_PURGE_EVERY = timedelta(minutes=10)
_last_purge: dict[uuid.UUID, datetime] = {}


def _purge_expired(session: Session, principal: Principal) -> None:
    """Delete the workspace's expired keys, at most every few minutes per process."""
    moment = now()
    last = _last_purge.get(principal.workspace_id)
    if last is not None and moment - last < _PURGE_EVERY:
        return
    _last_purge[principal.workspace_id] = moment
    session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.workspace_id == principal.workspace_id,
            IdempotencyRecord.created_at < moment - IDEMPOTENCY_TTL,
        )
    )


@dataclass(frozen=True)
class IdempotencyRequest:
    key: str
    fingerprint: str

    @staticmethod
    def of(key: str | None, payload: Any) -> IdempotencyRequest | None:
        if key is None:
            return None
        key = key.strip().strip('"')
        if not key or len(key) > 200:
            raise Invalid("Idempotency-Key must be 1 to 200 characters")
        body = json.dumps(payload, sort_keys=True, default=str).encode()
        return IdempotencyRequest(key, hashlib.sha256(body).hexdigest())


def idempotent_replay(
    session: Session, principal: Principal, request: IdempotencyRequest | None
) -> str | None:
    """The id created by an earlier request with this key, or None if the key is new.

    A retry that arrives while the first request with its key is still running waits for it and
    then replays its answer, on every database: SQLite serializes writers anyway; on PostgreSQL a
    transaction lock on the (workspace, key) pair makes the second wait instead of racing."""
    if request is None:
        return None
    serialize_on(session, "idempotency", principal.workspace_id, request.key)
    record = session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.workspace_id == principal.workspace_id,
            IdempotencyRecord.key == request.key,
        )
    )
    if record is None:
        return None
    created = record.created_at
    if created.tzinfo is None:  # SQLite keeps no zone; every time here is UTC
        created = created.replace(tzinfo=UTC)
    if now() - created > IDEMPOTENCY_TTL:
        session.delete(record)  # expired: the key is free again (this transaction writes)
        session.flush()
        return None
    if record.fingerprint != request.fingerprint:
        raise Invalid(
            "this Idempotency-Key was already used with a different request body",
            code_detail="idempotency-key-reused",
        )
    return str(record.body["id"])


def remember(
    session: Session,
    principal: Principal,
    request: IdempotencyRequest | None,
    resource: str,
    resource_id: object,
) -> None:
    """Store the key with the created id, in the creating transaction."""
    if request is None:
        return
    _purge_expired(session, principal)
    session.add(
        IdempotencyRecord(
            workspace_id=principal.workspace_id,
            key=request.key,
            fingerprint=request.fingerprint,
            status_code=201,
            body={"resource": resource, "id": str(resource_id)},
            created_at=now(),
        )
    )
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(
            "a request with this Idempotency-Key is being processed; retry shortly"
        ) from None
