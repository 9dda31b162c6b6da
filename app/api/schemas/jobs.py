from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.api.schemas.imports import ImportRead
from app.services.common import Timestamp


class JobProgress(BaseModel):
    done: int = Field(description="Steps done (for an import: workbooks imported or rejected)")
    total: int | None = Field(description="Steps in all, when known")


class JobLinks(BaseModel):
    self: str
    download: str | None = Field(description="The file the job made, once it succeeded")


class RawExportCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    instrument_id: str = Field(max_length=40, examples=["oca"])
    format: Literal["xlsx", "csv"] = "xlsx"
    lang: Literal["en", "es"] = Field(default="en", description="Language of the workbook")


class RawExportRead(BaseModel):
    rows: int = Field(description="Assessments exported (one row each)")
    format: Literal["xlsx", "csv"]
    bytes: int = Field(description="Size of the file at `links.download`")


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
    result: ImportRead | RawExportRead | None = Field(
        description="Once succeeded: for an import, the same body the synchronous import "
        "answers; for a raw export, what the file at `links.download` holds"
    )
    links: JobLinks
