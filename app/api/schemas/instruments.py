from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.api.schemas.records import AnswerIn
from app.domain.instrument import Instrument, Method, Text
from app.services.common import Timestamp


class VersionSummary(BaseModel):
    version: str
    content_hash: str
    title: Text
    method: Method
    items: int
    owner: Literal["library", "workspace"] = Field(
        description="The shipped library's, or the calling workspace's own"
    )


class InstrumentSummary(BaseModel):
    id: str
    title: Text
    latest_version: str
    versions: list[VersionSummary]


class InstrumentVersionRead(BaseModel):
    """The instrument file's content as validated (the contract of DESIGN §4) and its hash."""

    content_hash: str
    definition: Instrument
    owner: Literal["library", "workspace"]
    status: Literal["draft", "published"]


class AuthoringCheckRead(BaseModel):
    """An authoring workbook that reads into a valid instrument version (nothing was stored)."""

    id: str
    version: str
    title: Text
    method: Method
    dimensions: int
    areas: int
    items: int
    scales: int
    known_version: bool  # the catalog already publishes this id and version


class OwnVersionRead(BaseModel):
    """One of the workspace's own instrument versions (invisible to every other workspace)."""

    id: str
    version: str
    status: Literal["draft", "published"]
    content_hash: str
    title: str
    derived_from: str | None = Field(description="'<id> <version>' it was derived from")
    supersedes: str | None = Field(description="The version its crosswalk maps items from")
    dropped_items: list[str] = Field(description="Items of that version it no longer has")
    new_items: list[str] = Field(description="Its items no item of that version maps to")
    created_by: str | None
    created_at: Timestamp
    published_by: str | None
    published_at: Timestamp | None


class DeriveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str = Field(
        max_length=32,
        description="The new version's label; it must carry the word 'local' as one of its parts",
        examples=["2015.2-local"],
    )


class ScoreTrialRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answers: list[AnswerIn] = Field(max_length=5000)


class ScoreTrialRead(BaseModel):
    """The explained score the sample answers would get; nothing was stored."""

    instrument_id: str
    version: str
    content_hash: str
    score: dict[str, Any]
