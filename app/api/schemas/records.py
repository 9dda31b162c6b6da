"""HTTP contracts for organizations, cohorts, assessments and audit events."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StringConstraints,
    field_validator,
)
from pydantic.json_schema import SkipJsonSchema

from app.domain.rounding import rounded_numbers
from app.services.common import Timestamp
from app.services.evidence import ItemEvidence


def _no_nul(value: str) -> str:
    """PostgreSQL text cannot hold U+0000 and no person types it: refuse it everywhere alike."""
    if "\x00" in value:
        raise ValueError("text must not contain NUL (U+0000) characters")
    return value


NoNul = AfterValidator(_no_nul)
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), NoNul]
Short = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120), NoNul
]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), NoNul]
ItemKey = Annotated[str, StringConstraints(min_length=1, max_length=64), NoNul]
Description = Annotated[str, StringConstraints(max_length=2000), NoNul]
LongText = Annotated[str, StringConstraints(max_length=4000), NoNul]
AnswerText = Annotated[str, StringConstraints(max_length=80), NoNul]
Country = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2}$", to_upper=True)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


# A PATCH field that may be left out but never set to null: None stands for "left out" in Python,
# and the contract (OpenAPI) says only the field's own type.
NotNull = SkipJsonSchema[None]


class _Patch(_In):
    """A partial update: a field may be left out, but a required field is never set to null."""

    @field_validator("*", mode="before")
    @classmethod
    def _refuse_null(cls, value: Any, info: Any) -> Any:
        if value is None and info.field_name in cls._not_null_fields():
            raise ValueError("may be left out, but not set to null")
        return value

    @classmethod
    def _not_null_fields(cls) -> tuple[str, ...]:
        return ()


# --- organizations -------------------------------------------------------------------------------


class OrganizationCreate(_In):
    name: Name = Field(examples=["Fundación Juventud Tijuana"])
    country: Country | None = Field(default=None, examples=["MX"], description="ISO 3166 alpha-2")
    region: Short | None = Field(default=None, examples=["Baja California"])
    thematic_areas: list[Short] = Field(default_factory=list, max_length=30)
    tags: list[Short] = Field(default_factory=list, max_length=30)
    external_id: Short | None = Field(
        default=None, description="Your system's id; unique within the workspace"
    )


class OrganizationUpsert(_In):
    name: Name
    country: Country | None = None
    region: Short | None = None
    thematic_areas: list[Short] = Field(default_factory=list, max_length=30)
    tags: list[Short] = Field(default_factory=list, max_length=30)


class OrganizationUpdate(_Patch):
    @classmethod
    def _not_null_fields(cls) -> tuple[str, ...]:
        return ("name", "thematic_areas", "tags")

    name: Name | NotNull = None
    country: Country | None = None
    region: Short | None = None
    thematic_areas: list[Short] | NotNull = Field(default=None, max_length=30)
    tags: list[Short] | NotNull = Field(default=None, max_length=30)
    external_id: Short | None = None


class OrganizationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    country: str | None
    region: str | None
    thematic_areas: list[str]
    tags: list[str]
    external_id: str | None
    created_at: Timestamp
    updated_at: Timestamp


# --- cohorts -------------------------------------------------------------------------------------


class CohortCreate(_In):
    name: Name = Field(examples=["Learning community group 2"])
    description: Description | None = None


class CohortUpdate(_Patch):
    @classmethod
    def _not_null_fields(cls) -> tuple[str, ...]:
        return ("name",)

    name: Name | NotNull = None
    description: Description | None = None


class CohortRead(BaseModel):
    id: uuid.UUID
    name: str
    description: str | None
    members: int
    created_at: Timestamp
    updated_at: Timestamp


class CohortDetail(CohortRead):
    organization_ids: list[uuid.UUID]


class Membership(BaseModel):
    cohort_id: uuid.UUID
    organization_id: uuid.UUID
    added: bool


# --- assessments ---------------------------------------------------------------------------------

AnswerValueIn = StrictInt | StrictFloat | AnswerText | None


class AnswerIn(_In):
    item: ItemKey = Field(examples=["gls.vision.1"])
    value: AnswerValueIn = Field(
        default=None,
        description='A scale value (number), a scale code or label (en/es), "na" for not '
        "applicable, or null for no answer",
        examples=[3],
    )
    note: LongText | None = Field(default=None, description="Evidence or justification")


class Performance(_In):
    """The performance metric the organization plans to improve, measured at this assessment
    (for the CBLD-9 indicator: ``GET /v1/cohorts/{id}/cbld-9``)."""

    metric: Name = Field(examples=["Share of budget from local sources (%)"])
    value: float = Field(allow_inf_nan=False, examples=[42.0])
    higher_is_better: bool = True


class AssessmentCreate(_In):
    organization_id: uuid.UUID
    instrument_id: Annotated[str, StringConstraints(max_length=40)] = Field(examples=["oca"])
    instrument_version: Annotated[str, StringConstraints(max_length=32)] | None = Field(
        default=None, description="Pinned version; default: the latest", examples=["2015.1"]
    )
    round: Label = Field(examples=["baseline"])
    assessed_on: date
    assessor: Short | None = None
    retrospective: bool = Field(default=False, description="A reconstructed baseline")
    performance: Performance | None = None
    answers: list[AnswerIn] = Field(default_factory=list, max_length=2000)


class AssessmentUpdate(_Patch):
    @classmethod
    def _not_null_fields(cls) -> tuple[str, ...]:
        return ("round", "assessed_on", "retrospective", "answers")

    round: Label | NotNull = None
    assessed_on: date | NotNull = None
    assessor: Short | None = None
    retrospective: bool | NotNull = None
    performance: Performance | None = Field(
        default=None, description="null removes the performance measurement"
    )
    answers: list[AnswerIn] | NotNull = Field(
        default=None,
        max_length=2000,
        description="Answers to change; other answers stay. A null value without a note removes "
        "an answer.",
    )


class RevisionCreate(_In):
    assessed_on: date | None = None
    assessor: Short | None = None
    answers: list[AnswerIn] = Field(default_factory=list, max_length=2000)


class AnswerRead(BaseModel):
    item: str
    value: float | Literal["na"] | None
    note: str | None


class AssessmentRead(BaseModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    instrument_id: str
    instrument_version: str
    round: str
    assessed_on: date
    assessor: str | None
    retrospective: bool
    status: Literal["draft", "submitted", "final"]
    revision: int
    replaces_id: uuid.UUID | None
    replaced_by_id: uuid.UUID | None = None
    source: str
    performance: Performance | None = None
    answers: list[AnswerRead]
    evidence: list[ItemEvidence] | None = Field(
        default=None,
        description="Read: per item with evidence, how much and how far verified "
        "(GET /v1/assessments/{id}/evidence lists it); null in the answers to writes",
    )
    etag: str
    created_at: Timestamp
    updated_at: Timestamp
    submitted_at: Timestamp | None
    finalized_at: Timestamp | None


class AssessmentSummary(BaseModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    instrument_id: str
    instrument_version: str
    round: str
    assessed_on: date
    status: str
    revision: int
    is_current: bool
    answered: int
    created_at: Timestamp


# --- audit ---------------------------------------------------------------------------------------


class AuditRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    occurred_at: Timestamp
    actor: str
    api_key_id: uuid.UUID | None
    action: str
    object_type: str
    object_id: str | None
    changes: dict[str, Any] | None

    @field_validator("changes")
    @classmethod
    def _rounded(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        # events written before numbers were rounded on the way in are rounded on the way out
        return None if value is None else rounded_numbers(value)
