"""Reading a workspace's audit log, newest first (admins only; the route checks the role)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import AuditEvent
from app.services.keys import Principal


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One recorded write: who, when, what, and what changed."""

    id: int
    occurred_at: datetime
    actor: str
    api_key_id: uuid.UUID | None
    action: str
    object_type: str
    object_id: str | None
    changes: dict[str, Any] | None


def list_audit(
    session: Session,
    principal: Principal,
    *,
    limit: int,
    before: int | None = None,
    action: str | None = None,
    object_id: str | None = None,
) -> tuple[list[AuditEntry], int | None]:
    """A page of the log (events older than ``before``), and the cursor of the next page."""
    q = select(AuditEvent).where(AuditEvent.workspace_id == principal.workspace_id)
    if before is not None:
        q = q.where(AuditEvent.id < before)
    if action:
        q = q.where(AuditEvent.action == action)
    if object_id:
        q = q.where(AuditEvent.object_id == object_id)
    rows = list(session.scalars(q.order_by(AuditEvent.id.desc()).limit(limit + 1)))
    entries = [
        AuditEntry(
            id=r.id,
            occurred_at=r.occurred_at,
            actor=r.actor,
            api_key_id=r.api_key_id,
            action=r.action,
            object_type=r.object_type,
            object_id=r.object_id,
            changes=r.changes,
        )
        for r in rows[:limit]
    ]
    return entries, rows[limit - 1].id if len(rows) > limit else None
