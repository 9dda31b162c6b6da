"""HTTP contracts for scores, series and comparisons (DESIGN §6-7)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from app.domain.instrument import Text


class ReasonRead(BaseModel):
    code: str = Field(examples=["below_min_coverage"])
    en: str
    es: str


class RiskRead(BaseModel):
    percent: float | None
    band: Literal["low", "medium", "high", "extreme"] | None
    points: float | None = None
    max_points: float | None = None
    key_questions_failed: list[str] = []


class NodeRead(BaseModel):
    key: str
    title: Text
    lens: str
    weight: float
    score: float | None = Field(description="null when it cannot be computed; see reason")
    normalized: float | None = Field(description="0-100 on the scale's range (higher is better)")
    coverage: float | None
    answered: int
    na: int
    missing: int
    reason: ReasonRead | None
    risk: RiskRead | None


class DimensionRead(NodeRead):
    areas: list[NodeRead]


class OverallRead(BaseModel):
    score: float | None
    normalized: float | None
    coverage: float | None
    answered: int
    na: int
    missing: int
    band: Text | None
    reason: ReasonRead | None


class LensRead(BaseModel):
    score: float | None = Field(description="0-100")
    coverage: float | None
    answered: int
    na: int
    missing: int
    areas: list[str]
    reason: ReasonRead | None


class InstrumentRef(BaseModel):
    id: str
    version: str


class SectionRead(BaseModel):
    key: str
    percent: float | None
    band: Literal["low", "medium", "high", "extreme"] | None
    points: float | None = None
    max_points: float | None = None
    key_questions_failed: list[str] = []


class ConditionSection(BaseModel):
    key: str
    band: str


class ConditionRead(BaseModel):
    key: str
    title: Text
    sections: list[ConditionSection]
    reason: Text


class RiskResultRead(BaseModel):
    overall: Literal["low", "medium", "high", "extreme"] | None
    percent: float | None
    rule: str
    reason: ReasonRead | None
    sections: list[SectionRead]
    conditions: list[ConditionRead]


class ScoreRead(BaseModel):
    """The explained score object. Numbers are rounded half-even to 2 places."""

    assessment_id: str
    computed_at: str
    instrument: InstrumentRef
    method: str
    min_coverage: float
    engine_version: int
    overall: OverallRead
    dimensions: list[DimensionRead]
    lens: dict[str, LensRead]
    risk: RiskResultRead | None


# --- series --------------------------------------------------------------------------------------


class AreaPoint(BaseModel):
    key: str
    score: float | None


class DimensionPoint(BaseModel):
    key: str
    score: float | None
    coverage: float | None
    areas: list[AreaPoint]


class SeriesPoint(BaseModel):
    assessment_id: str
    round: str
    assessed_on: str
    status: str
    revision: int
    retrospective: bool
    instrument_version: str
    overall: OverallRead
    dimensions: list[DimensionPoint]
    lens: dict[str, float | None]
    risk: str | None


class SeriesRead(BaseModel):
    organization_id: str
    instrument_id: str
    points: list[SeriesPoint]


# --- comparison ----------------------------------------------------------------------------------


class DeltaRead(BaseModel):
    key: str
    baseline: float | None
    endline: float | None
    delta: float | None
    direction: Literal["up", "down", "same", "n/a"] = Field(
        description="up = better (for risk instruments: less risk)"
    )
    improved: bool | None = Field(description="rose by at least the instrument's threshold")
    improved_by_threshold: bool | None = Field(description="rose by at least ?threshold")


class DimensionDeltaRead(DeltaRead):
    areas: list[DeltaRead]


class ItemDeltaRead(BaseModel):
    key: str
    baseline: float | Literal["na"] | None
    endline: float | Literal["na"] | None
    delta: float | None
    direction: str


class RoundRef(BaseModel):
    assessment_id: str
    round: str
    assessed_on: str
    instrument_version: str


class OrgComparisonRead(BaseModel):
    organization_id: str
    instrument_id: str
    baseline: RoundRef
    endline: RoundRef
    compared_on_version: str
    cross_version: bool = Field(
        description="true when the two assessments use different instrument versions; they are "
        "compared on the items the newer version's supersedes map makes comparable"
    )
    comparable_items: int
    excluded_items: list[str]
    improvement_threshold: float
    threshold: float
    overall: DeltaRead
    dimensions: list[DimensionDeltaRead]
    lens: list[DeltaRead]
    items: list[ItemDeltaRead]


class Bin(BaseModel):
    bin: str
    count: int
    organizations: list[str]


class RoundStatsRead(BaseModel):
    n: int
    mean: float | None
    median: float | None
    min: float | None
    max: float | None
    distribution: list[Bin]
    organizations: list[str]


class ChangeRead(BaseModel):
    share_improved: float | None = Field(description="CBLD-9: share of paired orgs that improved")
    mean_delta: float | None
    improved: list[str]
    declined: list[str]
    unchanged: list[str]


class KeyStatsRead(BaseModel):
    key: str = Field(description="'overall' or a dimension key")
    baseline: RoundStatsRead
    endline: RoundStatsRead
    paired: list[str] = Field(description="Organizations scored in both rounds")
    paired_baseline: RoundStatsRead = Field(description="Baseline over the paired organizations")
    paired_endline: RoundStatsRead = Field(description="Endline over the paired organizations")
    change: ChangeRead
    change_by_threshold: ChangeRead


class OrgRef(BaseModel):
    id: str
    name: str


class CohortComparisonRead(BaseModel):
    cohort_id: str
    cohort_name: str
    instrument_id: str
    baseline_round: str
    endline_round: str
    compared_on_version: str = Field(description="The instrument version every number is on")
    versions_mixed: bool = Field(
        description="true when some rounds used another version than `compared_on_version`"
    )
    rescored_on_latest: list[str] = Field(
        description="Organizations with a round on an older version: both of their rounds are "
        "scored again on `compared_on_version`, on the items its supersedes map carries over "
        "(as the organization comparison does)"
    )
    not_comparable: list[str] = Field(
        description="Organizations with a round on a version `compared_on_version` does not "
        "supersede: left out of every number"
    )
    organizations: list[OrgRef]
    organizations_with_both: list[str]
    only_baseline: list[str]
    only_endline: list[str]
    improvement_threshold: float
    keys: list[KeyStatsRead]
