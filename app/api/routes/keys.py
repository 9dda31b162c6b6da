from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import Request, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.api.deps import AdminDep, SessionDep
from app.api.routing import NOT_FOUND, v1_router
from app.api.schemas.common import Page
from app.services import keys as svc
from app.services.common import Timestamp

router = v1_router("keys", admin=True)


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["admin", "editor", "viewer"] = "editor"
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)] | (
        None
    ) = None


class KeyRead(BaseModel):
    id: uuid.UUID
    name: str
    prefix: str
    role: str
    created_at: Timestamp
    last_used_at: Timestamp | None
    revoked_at: Timestamp | None


class KeyCreated(KeyRead):
    secret: str = Field(description="The key itself. Shown once: only its hash is stored.")


def _read(k: svc.KeyInfo) -> KeyRead:
    return KeyRead(
        id=k.id,
        name=k.name,
        prefix=k.prefix,
        role=k.role,
        created_at=k.created_at,
        last_used_at=k.last_used_at,
        revoked_at=k.revoked_at,
    )


@router.get("/keys", summary="The workspace's API keys, without secrets (admin)")
def list_keys(session: SessionDep, principal: AdminDep) -> Page[KeyRead]:
    return Page[KeyRead](items=[_read(k) for k in svc.workspace_keys(session, principal)])


@router.post(
    "/keys", status_code=status.HTTP_201_CREATED, summary="Create an API key in this workspace"
)
def create_key(body: KeyCreate, session: SessionDep, principal: AdminDep) -> KeyCreated:
    created, info = svc.create_workspace_key(session, principal, body.role, body.name)
    return KeyCreated(**_read(info).model_dump(), secret=created.secret)


@router.delete(
    "/keys/{key_id}",
    summary="Revoke an API key of this workspace",
    responses=NOT_FOUND,
)
def revoke_key(
    key_id: uuid.UUID, session: SessionDep, principal: AdminDep, request: Request
) -> KeyRead:
    info = svc.revoke_workspace_key(session, principal, key_id)
    return _read(info)
