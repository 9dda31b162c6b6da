"""HTTP contracts for scores, series and comparisons (DESIGN §6-7)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from app.domain.score_object import (
    ScoreObject,
)
from app.services.rating_models import VerificationScores


class ScoreRead(ScoreObject):
    """The explained score object. Numbers are rounded half-even to 2 places."""

    verification: VerificationScores | None = Field(
        None,
        description="Present only when some item is verified (OPI): the self-score beside the "
        "verified score per dimension, area and overall, and the gap (self - verified)",
    )


# --- series --------------------------------------------------------------------------------------


# --- comparison ----------------------------------------------------------------------------------


DEPRECATED = (
    "Deprecated: kept until 2027-06-30 for clients written against the first API, then removed. "
)
Outcome = Literal["improved", "declined", "unchanged"]


class Titled(BaseModel):
    en: str
    es: str


class ImprovementRule(BaseModel):
    """The rule every `outcome` follows: the same threshold in both directions."""

    threshold: float = Field(
        description="The change (as shown, in the instrument's units) that counts as improved, "
        "and the same change the other way as declined; the instrument's own unless the request "
        "gave `threshold`"
    )
    instrument_threshold: float = Field(description="The instrument file's improvement threshold")
    from_request: bool = Field(
        description="true when `threshold` differs from the instrument's own, i.e. the request's "
        "`?threshold=` changed the rule (a request that repeats the instrument's own is false)"
    )
    lens_threshold: float | None = Field(
        default=None, description="`threshold` on the lens's 0-100 scale"
    )
    en: str
    es: str


class DeltaRead(BaseModel):
    key: str
    title: Titled | None
    baseline: float | None
    endline: float | None
    delta: float | None = Field(
        description="endline - baseline as shown: the difference of the two rounded numbers"
    )
    direction: Literal["up", "down", "same", "n/a"] = Field(
        description="The plain sign of the change: up = better (for risk instruments: less risk)"
    )
    outcome: Outcome | None = Field(
        description="The improvement rule (`improvement_rule`) applied to `delta`; null when "
        "either round has no score"
    )
    improved: bool | None = Field(
        deprecated=True,
        description=DEPRECATED + "Use `outcome`. Rose by at least the instrument's threshold.",
    )
    improved_by_threshold: bool | None = Field(
        deprecated=True,
        description=DEPRECATED + "Use `outcome`. Rose by at least `improvement_rule.threshold`.",
    )


class DimensionDeltaRead(DeltaRead):
    areas: list[DeltaRead]


class LeftOutRead(BaseModel):
    key: str
    title: Titled | None
    code: Literal["missing_at_endline", "missing_at_baseline", "na_at_endline", "na_at_baseline"]
    en: str
    es: str


class ItemDeltaRead(BaseModel):
    key: str
    title: Titled | None
    baseline: float | Literal["na"] | None
    endline: float | Literal["na"] | None
    delta: float | None
    direction: str
    left_out: LeftOutRead | None = Field(
        description="Set when the item was answered in one round only: it is left out of both"
    )


class RoundRef(BaseModel):
    assessment_id: str
    round: str
    assessed_on: str
    instrument_version: str


class OrgComparisonRead(BaseModel):
    """Two assessments of one organization. Every score here is computed on the items answered
    in both rounds (see `left_out`), so it can differ from an assessment's own score; numbers
    are rounded half-even to 2 places and every `delta` is the difference of the shown numbers.
    The fields `improved`, `improved_by_threshold`, `improvement_threshold` and `threshold` are
    deprecated and will be removed after 2027-06-30: use `outcome` and `improvement_rule`."""

    organization_id: str
    organization_name: str
    instrument_id: str
    baseline: RoundRef
    endline: RoundRef
    compared_on_version: str
    cross_version: bool = Field(
        description="true when the two assessments use different instrument versions; they are "
        "compared on the items the newer version's supersedes map makes comparable"
    )
    comparable_items: int = Field(description="Items the two versions share")
    excluded_items: list[str] = Field(description="Items of one version only: out of both sides")
    compared_items: int = Field(description="Shared items not left out (see `left_out`)")
    left_out: list[LeftOutRead] = Field(
        description="Items answered in one round only (missing or N/A in the other): left out "
        "of both rounds, so skipping items never shows as a drop"
    )
    improvement_rule: ImprovementRule
    improvement_threshold: float = Field(
        deprecated=True, description=DEPRECATED + "Use `improvement_rule.instrument_threshold`."
    )
    threshold: float = Field(
        deprecated=True, description=DEPRECATED + "Use `improvement_rule.threshold`."
    )
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


class OutcomesRead(BaseModel):
    """The improvement rule over the paired organizations: the same threshold both ways."""

    threshold: float
    share_improved: float | None
    share_declined: float | None
    share_unchanged: float | None
    improved: list[str]
    declined: list[str]
    unchanged: list[str]


class DirectionsRead(BaseModel):
    """The plain sign of each paired organization's change (up = better)."""

    share_up: float | None
    share_down: float | None
    share_same: float | None
    up: list[str]
    down: list[str]
    same: list[str]


class ChangeRead(BaseModel):
    """Deprecated shape (until 2027-06-30): see `outcomes`."""

    share_improved: float | None = Field(description="Share of paired organizations improved")
    mean_delta: float | None
    improved: list[str]
    declined: list[str]
    unchanged: list[str]


class KeyStatsRead(BaseModel):
    key: str = Field(description="'overall' or a dimension key")
    title: Titled | None
    baseline: RoundStatsRead
    endline: RoundStatsRead
    paired: list[str] = Field(description="Organizations scored in both rounds")
    paired_baseline: RoundStatsRead = Field(description="Baseline over the paired organizations")
    paired_endline: RoundStatsRead = Field(description="Endline over the paired organizations")
    mean_delta: float | None = Field(
        description="The shown paired endline mean minus the shown paired baseline mean"
    )
    outcomes: OutcomesRead
    directions: DirectionsRead
    change: ChangeRead = Field(
        deprecated=True,
        description=DEPRECATED + "Use `outcomes` (this one applies the instrument's threshold).",
    )
    change_by_threshold: ChangeRead = Field(
        deprecated=True, description=DEPRECATED + "Use `outcomes`."
    )


class RoundScores(BaseModel):
    assessment_id: str
    instrument_version: str
    scores: dict[str, float | None] = Field(
        description="'overall' and each dimension key, on `compared_on_version`"
    )


class OrgRef(BaseModel):
    id: str
    name: str
    external_id: str | None = None
    baseline: RoundScores | None = None
    endline: RoundScores | None = None
    left_out: list[LeftOutRead] = Field(
        default=[],
        description="Items answered in one round only: left out of both of this organization's "
        "rounds (its scores here are computed without them)",
    )


class CohortComparisonRead(BaseModel):
    """Baseline versus endline across a cohort's organizations (a capacity-score comparison;
    for the CBLD-9 indicator see `/v1/cohorts/{id}/cbld-9`). The fields `change`,
    `change_by_threshold` and `improvement_threshold` are deprecated and will be removed after
    2027-06-30: use `outcomes`, `directions` and `improvement_rule`."""

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
    improvement_rule: ImprovementRule
    improvement_threshold: float = Field(
        deprecated=True, description=DEPRECATED + "Use `improvement_rule.instrument_threshold`."
    )
    keys: list[KeyStatsRead]


# --- CBLD-9 --------------------------------------------------------------------------------------


class MeasuredRead(BaseModel):
    assessment_id: str
    measured_on: str
    value: float


class MetricChangeRead(BaseModel):
    metric: str
    higher_is_better: bool
    earlier: MeasuredRead = Field(description="The measurement before `later`")
    later: MeasuredRead = Field(description="The last measurement within the fiscal year")
    change: float = Field(description="later - earlier")
    improved: bool = Field(description="The change is in the metric's better direction")


class Cbld9OrganizationRead(BaseModel):
    id: str
    name: str
    improved: bool = Field(description="Every metric measured again in the year improved")
    metrics: list[MetricChangeRead]


class NotMeasuredAgainRead(BaseModel):
    id: str
    name: str
    metric: str
    last_measured_on: str


class Cbld9Read(BaseModel):
    """The CBLD-9 indicator for a cohort and a US fiscal year, from the performance metric
    recorded on assessments (`performance`), with the organizations behind each number."""

    cohort_id: str
    cohort_name: str
    indicator: Literal["CBLD-9"]
    title: Titled
    definition: Titled
    fiscal_year: int
    starts_on: str
    ends_on: str
    denominator: int = Field(description="Organizations that planned and pursued improvement")
    numerator: int = Field(description="Of those, the organizations that improved")
    share_improved: float | None = Field(description="numerator / denominator; null when 0/0")
    improved: list[str]
    not_improved: list[str]
    organizations: list[Cbld9OrganizationRead] = Field(description="The denominator")
    not_measured_again: list[NotMeasuredAgainRead] = Field(
        description="Named a metric but did not measure it again in the year: in neither count"
    )
