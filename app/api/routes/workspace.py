"""The caller's workspace, and its one setting: sharing anonymized scores with peers."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import AdminDep, PrincipalDep, SessionDep
from app.api.routing import v1_router
from app.services import benchmarks
from app.services.keys import WorkspaceView, read_workspace

router = v1_router("workspace")

SHARES = (
    "Whether the workspace shares its organizations' scores, anonymized, with the other "
    "workspaces that share theirs: then `GET /v1/assessments/{id}/benchmark?peers=shared` "
    "compares with their organizations too. Never names, ids or counts below five peers."
)


class WorkspaceRead(BaseModel):
    id: uuid.UUID
    name: str
    shares_scores: bool = Field(description=SHARES)


class WorkspaceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shares_scores: bool = Field(description=SHARES)


def _read(ws: WorkspaceView) -> WorkspaceRead:
    return WorkspaceRead(id=ws.id, name=ws.name, shares_scores=ws.shares_scores)


@router.get("/workspace", summary="The workspace of the key")
def get_workspace(session: SessionDep, principal: PrincipalDep) -> WorkspaceRead:
    return _read(read_workspace(session, principal))


@router.patch("/workspace", summary="Opt in to (or out of) sharing anonymized scores (admin)")
def update_workspace(
    body: WorkspaceUpdate, session: SessionDep, principal: AdminDep
) -> WorkspaceRead:
    return _read(benchmarks.set_sharing(session, principal, body.shares_scores))
