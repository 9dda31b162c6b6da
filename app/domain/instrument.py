"""The instrument model: one immutable, validated definition of an instrument version.

This is the contract of the files in ``instruments/<id>/<version>.yaml`` (DESIGN §4). The model is
pure data plus validation; loading files is the catalog's job, scoring is ``app.domain.scoring``.
"""

from __future__ import annotations

import re
from collections import Counter
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

LANGUAGES: tuple[str, ...] = ("en", "es")

Key = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.\-]*$", max_length=64)]
Version = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z][0-9A-Za-z.\-]*$", max_length=32)]
InstrumentId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9\-]*$", max_length=40)]


class Lens(StrEnum):
    """The four sustainability dimensions of the seed document (Table 4)."""

    management = "management"
    financing = "financing"
    processes = "processes"
    culture = "culture"


class Method(StrEnum):
    mean = "mean"
    weighted_mean = "weighted_mean"
    sum = "sum"
    risk = "risk"


class RiskBand(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"
    extreme = "extreme"


RISK_ORDER: dict[RiskBand, int] = {b: i for i, b in enumerate(RiskBand)}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Text(_Frozen):
    """A text in every supported language."""

    en: Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]
    es: Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]

    def get(self, lang: str) -> str:
        return self.es if lang == "es" else self.en

    def as_dict(self) -> dict[str, str]:
        """``model_dump()``, made directly: a stored score holds ~30 titles and a rescoring
        makes tens of thousands of scores (the serializer's call costs 20 times this)."""
        return {"en": self.en, "es": self.es}


class ScaleValue(_Frozen):
    value: float
    code: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_\-]+$", max_length=32)] | None = None
    label: Text
    description: Text | None = None


class Scale(_Frozen):
    kind: Literal["levels", "stages", "yesno", "points"]
    values: Annotated[tuple[ScaleValue, ...], Field(min_length=2)]
    allow_na: bool = True

    @model_validator(mode="after")
    def _unique_values(self) -> Self:
        dup_values = [v for v, n in Counter(v.value for v in self.values).items() if n > 1]
        if dup_values:
            raise ValueError(f"scale values must be unique; repeated: {dup_values}")
        codes = [v.code for v in self.values if v.code is not None]
        if len(codes) != len(set(codes)):
            raise ValueError("scale value codes must be unique")
        if self.kind == "yesno" and {v.code for v in self.values} != {"yes", "no"}:
            raise ValueError("a yesno scale has exactly the codes 'yes' and 'no'")
        return self

    @cached_property
    def min(self) -> float:
        return min(v.value for v in self.values)

    @cached_property
    def max(self) -> float:
        return max(v.value for v in self.values)

    def by_code(self, code: str) -> ScaleValue | None:
        return next((v for v in self.values if v.code == code), None)

    def by_value(self, value: float) -> ScaleValue | None:
        return next((v for v in self.values if v.value == value), None)


class Band(_Frozen):
    """An interpretation of an overall score: applies when score <= max (first match wins)."""

    max: float
    label: Text


class RiskThreshold(_Frozen):
    """A risk band applies when the risk percentage is below ``below`` (first match wins)."""

    band: RiskBand
    below: float = Field(gt=0)


class Condition(_Frozen):
    """A specific award condition (2 CFR 200.208) that a risky section may recommend.

    200.208(c) requires the recipient be told the nature of the condition (``title``), why it is
    imposed (the engine states the sections and questions), the action needed to remove it, the
    time allowed for that action and how to ask for reconsideration. Files published before these
    fields existed leave them out; the score object then says the notice is incomplete.
    """

    key: Key
    title: Text
    action: Text | None = None
    time_allowed: Text | None = None
    reconsideration: Text | None = None


class RiskRules(_Frozen):
    thresholds: Annotated[tuple[RiskThreshold, ...], Field(min_length=1)]
    key_question_floor: RiskBand = RiskBand.high
    overall: Literal["worst_section", "mean_section"] = "worst_section"
    conditions: tuple[Condition, ...] = ()
    # An area of a section whose own band reaches this one is a failing area: a section at
    # ``medium`` with a failing area recommends its ``medium`` conditions. None: no such rule.
    failing_area_band: RiskBand | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        belows = [t.below for t in self.thresholds]
        if belows != sorted(belows) or len(set(belows)) != len(belows):
            raise ValueError("risk thresholds must be in increasing order of 'below'")
        if belows[-1] <= 100:
            raise ValueError("the last risk threshold must cover 100 % (below > 100)")
        return self


class Scoring(_Frozen):
    method: Method = Method.mean
    min_coverage: float = Field(default=0.75, ge=0, le=1)
    bands: tuple[Band, ...] = ()
    improvement_threshold: float = Field(default=1.0, gt=0)
    risk: RiskRules | None = None
    # The overall band may be at most this many bands above the band of the weakest scored
    # dimension (absent: no cap). Needs bands and a mean method: dimensions share its scale.
    cap_by_weakest: int | None = Field(default=None, ge=0)
    # An area with no answer at all is "not assessed" (left out of its parents) instead of
    # counting every item as missing: for tools rated on a chosen subset of areas (CLA practice).
    allow_partial: bool = False

    @model_validator(mode="after")
    def _risk_rules(self) -> Self:
        if (self.method is Method.risk) != (self.risk is not None):
            raise ValueError("'risk' rules are required for method 'risk' and only allowed there")
        if self.cap_by_weakest is not None:
            if self.method not in (Method.mean, Method.weighted_mean):
                raise ValueError("'cap_by_weakest' needs method 'mean' or 'weighted_mean'")
            if not self.bands:
                raise ValueError("'cap_by_weakest' needs 'bands' to cap")
        return self


class RiskOnItem(_Frozen):
    """Risk points carried by the risky answer (a scale code) of a question."""

    points: float = Field(gt=0)
    when: str = "no"


class Item(_Frozen):
    key: Key
    scale: Key
    text: Text
    levels: dict[int, Text] | None = None
    evidence: Text | None = None
    guidance: Text | None = None
    weight: float = Field(default=1, gt=0)
    risk: RiskOnItem | None = None
    key_question: bool = False
    # A key question may be marked N/A only when the file says why it can be inapplicable.
    na_reason: Text | None = None
    # labels that group items across the tree (e.g. ``nupas``); a variant can drop a tag
    tags: tuple[Key, ...] = ()


class Area(_Frozen):
    key: Key
    title: Text
    description: Text | None = None
    weight: float = Field(default=1, gt=0)
    lens: Lens | None = None
    items: Annotated[tuple[Item, ...], Field(min_length=1)]
    # why this area feeds its lens dimension, when the reason is not obvious
    lens_note: Text | None = None
    # the stage the organization aims for (maturity scales, e.g. CLA); a value of the items' scale
    desired_stage: int | None = None


class SectionConditions(_Frozen):
    medium: tuple[Key, ...] = ()  # only where an area fails (RiskRules.failing_area_band)
    high: tuple[Key, ...] = ()
    extreme: tuple[Key, ...] = ()


class Dimension(_Frozen):
    key: Key
    title: Text
    description: Text | None = None
    lens: Lens
    weight: float = Field(default=1, gt=0)
    conditions: SectionConditions | None = None
    areas: Annotated[tuple[Area, ...], Field(min_length=1)]
    lens_note: Text | None = None


class Supersedes(_Frozen):
    """Comparability with an earlier version: old item key -> new item key (or null if dropped)."""

    version: Version
    items: dict[str, str | None] = Field(default_factory=dict)


class Variant(_Frozen):
    """A version derived from this file by dropping tagged items (e.g. OCA without NUPAS items).

    The catalog builds it as version ``<version>-<key>``, a full instrument of its own (templates,
    imports, scoring and comparisons need nothing else); it supersedes the version it comes from.
    """

    key: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9]*$", max_length=16)]
    title: Text
    description: Text
    drop_tags: Annotated[tuple[Key, ...], Field(min_length=1)]


class DerivedFrom(_Frozen):
    """Set by the catalog on a derived variant (never written in a file)."""

    version: Version
    variant: str
    dropped_tags: tuple[str, ...]
    dropped_items: tuple[str, ...]


class Instrument(_Frozen):
    """One published instrument version."""

    id: InstrumentId
    version: Version
    title: Text
    description: Text | None = None
    languages: tuple[str, ...] = LANGUAGES
    source: str
    scales: dict[Key, Scale]
    scoring: Scoring
    dimensions: Annotated[tuple[Dimension, ...], Field(min_length=1)]
    supersedes: Supersedes | None = None
    # who or what is rated (e.g. a learning community rather than one organization)
    subject: Text | None = None
    variants: tuple[Variant, ...] = ()
    derived_from: DerivedFrom | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems: list[str] = []
        if set(self.languages) != set(LANGUAGES):
            problems.append(f"languages must be exactly {list(LANGUAGES)}")
        keys = Counter(
            k
            for d in self.dimensions
            for k in (d.key, *(a.key for a in d.areas), *(i.key for a in d.areas for i in a.items))
        )
        problems += [f"key '{k}' is used {n} times" for k, n in keys.items() if n > 1]
        condition_keys = (
            {c.key for c in self.scoring.risk.conditions} if self.scoring.risk else set()
        )
        for d in self.dimensions:
            if d.conditions:
                named = d.conditions.medium + d.conditions.high + d.conditions.extreme
                unknown = set(named) - condition_keys
                problems += [f"dimension '{d.key}' names unknown condition '{c}'" for c in unknown]
                if d.conditions.medium and not (
                    self.scoring.risk and self.scoring.risk.failing_area_band
                ):
                    problems.append(
                        f"dimension '{d.key}' has 'medium' conditions but the risk rules set no "
                        "'failing_area_band' to say when they apply"
                    )
            for a in d.areas:
                for i in a.items:
                    problems += self._item_problems(i)
                problems += self._desired_stage_problems(a)
        if self.scoring.method is Method.mean:
            weighted = [n.key for n in self._nodes() if n.weight != 1]
            if weighted:
                problems.append(
                    f"method 'mean' ignores weights; use 'weighted_mean' (weighted: {weighted[:5]})"
                )
        if self.supersedes:
            unknown_new = {
                new for new in self.supersedes.items.values() if new is not None
            } - self.item_keys
            problems += [f"supersedes maps to unknown item '{k}'" for k in sorted(unknown_new)]
        problems += self._variant_problems()
        bands = [b.max for b in self.scoring.bands]
        if bands != sorted(bands):
            problems.append("scoring bands must be in increasing order of 'max'")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _nodes(self) -> list[Dimension | Area | Item]:
        out: list[Dimension | Area | Item] = []
        for d in self.dimensions:
            out.append(d)
            for a in d.areas:
                out.append(a)
                out.extend(a.items)
        return out

    def _desired_stage_problems(self, area: Area) -> list[str]:
        if area.desired_stage is None:
            return []
        for item in area.items:
            scale = self.scales.get(item.scale)
            if scale is not None and scale.by_value(area.desired_stage) is None:
                return [
                    f"area '{area.key}' desired_stage {area.desired_stage} is not a value of "
                    f"scale '{item.scale}'"
                ]
        return []

    def _variant_problems(self) -> list[str]:
        problems: list[str] = []
        keys = [v.key for v in self.variants]
        problems += [f"variant '{k}' is declared twice" for k, n in Counter(keys).items() if n > 1]
        tags = {t for i in self.items.values() for t in i.tags}
        for v in self.variants:
            unknown = sorted(set(v.drop_tags) - tags)
            if unknown:
                problems.append(f"variant '{v.key}' drops tags no item carries: {unknown}")
            elif all(set(v.drop_tags) & set(i.tags) for i in self.items.values()):
                problems.append(f"variant '{v.key}' would drop every item")
        if self.variants and self.derived_from is not None:
            problems.append("a derived variant cannot declare variants of its own")
        return problems

    def _item_problems(self, item: Item) -> list[str]:
        scale = self.scales.get(item.scale)
        if scale is None:
            return [f"item '{item.key}' uses unknown scale '{item.scale}'"]
        problems: list[str] = []
        if item.levels is not None:
            expected = {int(v.value) for v in scale.values}
            if set(item.levels) != expected:
                problems.append(
                    f"item '{item.key}' level statements {sorted(item.levels)} "
                    f"do not match scale '{item.scale}' values {sorted(expected)}"
                )
        if self.scoring.method is Method.risk:
            if item.risk is None:
                problems.append(f"item '{item.key}' needs 'risk' points under method 'risk'")
            elif scale.by_code(item.risk.when) is None:
                problems.append(f"item '{item.key}' risk answer '{item.risk.when}' is not a code")
        elif item.risk is not None or item.key_question:
            problems.append(f"item '{item.key}' has risk settings but the method is not 'risk'")
        if item.na_reason is not None:
            if not item.key_question:
                problems.append(
                    f"item '{item.key}' has 'na_reason' but only key questions need one"
                )
            elif not scale.allow_na:
                problems.append(f"item '{item.key}' has 'na_reason' but its scale forbids N/A")
        return problems

    @cached_property
    def item_keys(self) -> frozenset[str]:
        return frozenset(i.key for d in self.dimensions for a in d.areas for i in a.items)

    @cached_property
    def items(self) -> dict[str, Item]:
        return {i.key: i for d in self.dimensions for a in d.areas for i in a.items}

    def allows_na(self, item: Item) -> bool:
        """Whether ``item`` may be answered N/A: its scale allows it, and a key question only
        when the file gives the reason (``na_reason``)."""
        if not self.scales[item.scale].allow_na:
            return False
        return not item.key_question or item.na_reason is not None

    def lens_of(self, dimension: Dimension, area: Area) -> Lens:
        return area.lens or dimension.lens


_SLUG = re.compile(r"[^a-z0-9]+")


def slug(text: str) -> str:
    return _SLUG.sub("-", text.lower()).strip("-")
