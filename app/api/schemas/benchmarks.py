"""The peer benchmark read (GET /v1/assessments/{id}/benchmark)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from app.api.schemas.analysis import Titled


class Reason(BaseModel):
    code: str | None = None
    en: str
    es: str


class StandingRead(BaseModel):
    """One number: the organization's value and, with at least `min_peers` peers having it, its
    percentile among them and the peers' median and quartiles. Never a peer's id, name, minimum
    or maximum."""

    key: str = Field(examples=["D1"])
    title: Titled | None = Field(None, description="Dimensions only")
    value: float | None = Field(description="The organization's number (as shown: 2 places)")
    shown: bool = Field(description="false when fewer than `min_peers` peers have this number")
    n: int | None = Field(description="Peers with this number; null below `min_peers`")
    percentile: float | None = Field(
        description="100 × (peers strictly below + ½ × peers equal) / n"
    )
    median: float | None
    q1: float | None = Field(description="First quartile (inclusive method)")
    q3: float | None = Field(description="Third quartile (inclusive method)")
    reason: Reason | None = Field(description="Why the number is not shown")


class InstrumentRef(BaseModel):
    id: str
    version: str


class BenchmarkRead(BaseModel):
    """Where the assessment's organization stands among the other organizations assessed with
    the same instrument (or a version it supersedes, or that supersedes it) in the same round:
    those of its workspace, or (`peers=shared`) those of every workspace that shares its
    anonymized scores, its own included."""

    assessment_id: str
    organization_id: str
    instrument: InstrumentRef
    round: str
    peers: Literal["workspace", "shared"] = Field(
        description="Whose organizations are the peers: the workspace's, or every sharing "
        "workspace's"
    )
    state: Literal["shown", "too_few_peers", "not_scored", "not_comparable", "not_sharing"]
    reason: Reason | None = Field(description="Why nothing is shown (state other than `shown`)")
    min_peers: int = Field(description="Peers needed before any number is shown")
    rule: str
    higher_is_better: bool = Field(description="false for risk scores (lower is better)")
    rescored_across_versions: bool = Field(
        description="Some peers are on another version: everyone was scored again on this "
        "version, on the items all can carry (the instrument's `supersedes` crosswalk)"
    )
    overall: StandingRead | None
    dimensions: list[StandingRead]
    lens: list[StandingRead] = Field(description="The 0–100 sustainability lenses")
