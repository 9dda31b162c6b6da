"""The explained score object (DESIGN §7) as typed data: the one description of the format that
submit stores, the API sends, and the Excel exports, pages and reports read.

``app.services.scores`` writes the object as plain data for speed (a rescoring makes tens of
thousands); ``tests/domain/test_score_object.py`` holds that writer to these models, field for
field, for every instrument. Readers validate the stored JSON into ``ScorePayload`` and read
attributes, never keys. The class names are the API's schema names (``openapi.json``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.domain.instrument import Text


class _Read(BaseModel):
    model_config = ConfigDict(frozen=True)


class _Words(_Read):
    """A sentence in both languages, with the code that says what it is about."""

    if TYPE_CHECKING:  # the fields, declared by each subclass in its own order
        en: str
        es: str

    def get(self, lang: str) -> str:
        return self.es if lang == "es" else self.en


class ReasonRead(_Words):
    code: str = Field(examples=["below_min_coverage"])
    en: str
    es: str


Band = Literal["low", "medium", "high", "extreme"]


class RiskRead(_Read):
    percent: float | None = Field(description="null below coverage (see the node's reason)")
    band: Band | None
    basis: Literal["percent", "key_question"] | None = Field(
        None,
        description="what set the band: the thresholds, or a key question answered the risky "
        "way (which counts whatever the coverage); null when there is no band",
    )
    points: float | None = None
    max_points: float | None = None
    key_questions_failed: list[str] = []
    failing_areas: list[str] = []


class PartialRead(_Read):
    score: float
    normalized: float | None


class NodeRead(_Read):
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
    assessed: bool = Field(
        True,
        description="false: not assessed (no answer at all, in an instrument that allows partial "
        "assessments); left out of its parents",
    )
    partial: PartialRead | None = Field(
        None,
        description="when score is null for low coverage: the value its answered items feed "
        "into the parent's score, so every parent can be recomputed from what is shown",
    )


class DimensionRead(NodeRead):
    areas_assessed: int = 0
    includes_partial: list[str] = Field(
        [], description="areas shown without a score whose answers are part of this score"
    )
    areas: list[NodeRead]


class NoteRead(_Words):
    code: str = Field(examples=["includes_partial"])
    en: str
    es: str


class CapRead(_Read):
    bands_above: int = Field(description="the file's scoring.cap_by_weakest")
    applied: bool
    weakest_dimensions: list[str]
    weakest_band: Text | None
    uncapped_band: Text | None = Field(description="the band the mean alone would give")
    reason: NoteRead | None


class OverallRead(_Read):
    score: float | None
    normalized: float | None
    coverage: float | None
    answered: int
    na: int
    missing: int
    band: Text | None
    reason: ReasonRead | None
    cap: CapRead | None = None
    areas_assessed: int = 0
    areas_total: int = 0
    includes_partial: list[str] = Field(
        [], description="dimensions shown without a score whose answers are part of the overall"
    )
    notes: list[NoteRead] = []


class LensRead(_Read):
    score: float | None = Field(description="0-100")
    coverage: float | None
    answered: int
    na: int
    missing: int
    areas: list[str]
    reason: ReasonRead | None


class InstrumentRef(_Read):
    id: str
    version: str


class WeakAreaRead(_Read):
    key: str
    dimension: str
    title: Text
    score: float
    normalized: float = Field(description="0-100 (for risk: 100 - risk %)")
    lowest_level: bool = Field(description="every answered item at the scale's lowest level")


class SectionRead(_Read):
    key: str
    title: Text | None = None
    percent: float | None
    band: Band | None
    basis: Literal["percent", "key_question"] | None = None
    points: float | None = None
    max_points: float | None = None
    key_questions_failed: list[str] = []
    failing_areas: list[str] = []
    assessed: bool = True
    reason: ReasonRead | None = None


class ConditionSection(_Read):
    key: str
    band: str
    key_questions_failed: list[str] = []
    failing_areas: list[str] = []


class ConditionRead(_Read):
    key: str
    title: Text = Field(description="the nature of the condition")
    sections: list[ConditionSection]
    reason: Text = Field(description="why: the sections, key questions and failing areas")
    action: Text | None = Field(None, description="the action needed to remove the condition")
    time_allowed: Text | None = Field(None, description="the time allowed to complete it")
    reconsideration: Text | None = Field(None, description="how to ask for reconsideration")
    notice_complete: bool = Field(
        False, description="true when the file gives every part of the 2 CFR 200.208(c) notice"
    )


class RiskResultRead(_Read):
    overall: Band | None = Field(
        description="null when no section, or only low-risk sections, could be assessed while "
        "others could not (see reason)"
    )
    percent: float | None
    rule: str
    reason: ReasonRead | None
    driven_by: list[str] = Field([], description="the section(s) that set the overall band")
    complete: bool = Field(True, description="false when a section could not be assessed")
    not_assessed: list[str] = []
    explanation: Text | None = None
    sections: list[SectionRead]
    conditions: list[ConditionRead]


class ScorePayload(_Read):
    """The explained score of one assessment: what submit stores (unrounded) and, rounded
    half-even to 2 places with its assessment and time, what ``GET …/scores`` sends."""

    instrument: InstrumentRef
    method: str
    min_coverage: float
    engine_version: int
    overall: OverallRead
    dimensions: list[DimensionRead]
    lens: dict[str, LensRead]
    weakest: list[WeakAreaRead] = Field(
        [], description="the three lowest-scoring areas, weakest first"
    )
    lowest_level: list[str] = Field([], description="areas at the scale's lowest level")
    any_at_lowest_level: bool = False
    risk: RiskResultRead | None


class ScoreObject(ScorePayload):
    """The score object as stored rendered and sent by the API: the payload with its assessment
    and the moment it was computed, rounded half-even to 2 places."""

    assessment_id: str
    computed_at: str


# --- series: an organization's score objects over time, each point a few of its numbers ---


class AreaPoint(_Read):
    key: str
    score: float | None


class DimensionPoint(_Read):
    key: str
    score: float | None
    coverage: float | None
    areas: list[AreaPoint]


class SeriesPoint(_Read):
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


class SeriesRead(_Read):
    organization_id: str
    instrument_id: str
    points: list[SeriesPoint]
