from __future__ import annotations

from typing import Annotated

from fastapi import Query
from sqlalchemy import select

from app.api.deps import AdminDep, SessionDep
from app.api.params import Limit, check_choice
from app.api.routing import v1_router
from app.api.schemas.common import Page
from app.api.schemas.records import AuditRead
from app.db.models import AuditEvent
from app.services.common import AUDIT_ACTIONS

router = v1_router("audit", admin=True)


@router.get("/audit", summary="The workspace's audit log, newest first (admin keys only)")
def list_audit(
    session: SessionDep,
    principal: AdminDep,
    limit: Limit = 50,
    cursor: Annotated[str | None, Query(pattern=r"^\d{1,18}$", description="next_cursor")] = None,
    action: Annotated[
        str | None,
        Query(max_length=64, description="One action, e.g. assessment.submit (422 lists them all)"),
    ] = None,
    object_id: Annotated[str | None, Query(max_length=64)] = None,
) -> Page[AuditRead]:
    if action is not None:
        check_choice("action", action, AUDIT_ACTIONS)
    q = select(AuditEvent).where(AuditEvent.workspace_id == principal.workspace_id)
    if cursor:
        q = q.where(AuditEvent.id < int(cursor))
    if action:
        q = q.where(AuditEvent.action == action)
    if object_id:
        q = q.where(AuditEvent.object_id == object_id)
    rows = list(session.scalars(q.order_by(AuditEvent.id.desc()).limit(limit + 1)))
    nxt = str(rows[limit - 1].id) if len(rows) > limit else None
    return Page[AuditRead](
        items=[AuditRead.model_validate(r) for r in rows[:limit]], next_cursor=nxt
    )
