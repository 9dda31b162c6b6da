from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, Field

from app.api.schemas.imports import ImportRead
from app.api.schemas.records import Timestamp


class JobProgress(BaseModel):
    done: int = Field(description="Steps done (for an import: workbooks imported or rejected)")
    total: int | None = Field(description="Steps in all, when known")


class JobLinks(BaseModel):
    self: str
    download: str | None = Field(description="The file the job made, once it succeeded")


class JobRead(BaseModel):
    id: uuid.UUID
    kind: Literal["import", "export.raw"]
    status: Literal["queued", "running", "succeeded", "failed"] = Field(
        description="queued (waiting for a runner, also after a runner stopped mid-job), "
        "running, succeeded or failed (`error` says why)"
    )
    progress: JobProgress
    attempts: int = Field(
        description="Runs started so far (a run ended by a shutdown does not count)"
    )
    max_attempts: int
    error: str | None = Field(description="Why the job failed")
    error_es: str | None = Field(description="The same, in Spanish")
    created_by: str
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None
    result: ImportRead | None = Field(
        description="Once succeeded: for an import, the same body the synchronous import answers"
    )
    links: JobLinks
