from __future__ import annotations

from typing import Annotated

from fastapi import Query

from app.api.deps import AdminDep, SessionDep
from app.api.params import Limit, check_choice
from app.api.routing import v1_router
from app.api.schemas.common import Page
from app.api.schemas.records import AuditRead
from app.services.audit_log import list_audit as audit_page
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
    rows, nxt = audit_page(
        session,
        principal,
        limit=limit,
        before=int(cursor) if cursor else None,
        action=action,
        object_id=object_id,
    )
    return Page[AuditRead](
        items=[AuditRead.model_validate(r) for r in rows],
        next_cursor=None if nxt is None else str(nxt),
    )
