from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from app.domain.score_object import ReasonRead


class CellError(BaseModel):
    sheet: str | None
    cell: str | None
    item: str | None
    code: str
    detail: str
    detail_es: str


class WorkbookResultRead(BaseModel):
    file: str
    status: Literal["created", "updated", "revised", "unchanged", "rejected"] = Field(
        description="What happened (or, with dry_run, what would happen) to this workbook"
    )
    dry_run: bool
    sha256: str | None
    assessment_id: str | None
    organization_id: str | None
    organization_created: bool
    instrument_id: str | None
    instrument_version: str | None
    round: str | None
    scored: bool = Field(description="The assessment was complete enough and was submitted")
    overall: float | None
    reason: ReasonRead | None = Field(description="Why it was not scored (left as a draft)")
    errors: list[CellError]


class ImportRead(BaseModel):
    dry_run: bool
    accepted: int
    rejected: int
    results: list[WorkbookResultRead]
