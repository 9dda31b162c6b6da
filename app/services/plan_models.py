"""The shapes of an action plan: what the API, the pages and the workbook show (pydantic, so
OpenAPI documents them), and what the service takes in (plain data)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Literal

from pydantic import BaseModel

from app.services.common import Timestamp

ActionStatus = Literal["planned", "in_progress", "done", "dropped"]


# --- what the API, the pages and the workbook show ------------------------------------------------


class ActionRead(BaseModel):
    id: uuid.UUID
    what: str
    who: str | None
    due_on: date | None
    resources: str | None
    status: ActionStatus
    progress: str | None
    overdue: bool
    updated_at: Timestamp


class PriorityRead(BaseModel):
    id: uuid.UUID
    area: str
    dimension: str | None
    title: dict[str, str] | None
    score: float | None
    note: str | None
    actions: list[ActionRead]


class ProposedArea(BaseModel):
    """A weak area the score flags; ``chosen`` says whether the plan already has it."""

    area: str
    dimension: str | None
    title: dict[str, str] | None
    score: float | None
    lowest_level: bool
    chosen: bool


class PerformanceRead(BaseModel):
    metric: str
    value: float
    higher_is_better: bool


class PlanRead(BaseModel):
    id: uuid.UUID
    assessment_id: uuid.UUID
    organization_id: uuid.UUID
    instrument_id: str
    round: str
    performance: PerformanceRead | None
    proposed: list[ProposedArea]
    priorities: list[PriorityRead]
    created_at: Timestamp
    updated_at: Timestamp


@dataclass(frozen=True)
class ActionData:
    what: str
    who: str | None = None
    due_on: date | None = None
    resources: str | None = None
    status: str = "planned"
    progress: str | None = None


@dataclass(frozen=True)
class PriorityData:
    area: str
    note: str | None = None
    actions: tuple[ActionData, ...] = ()
