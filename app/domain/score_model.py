"""The score model: answers, reasons, result tuples and the compiled instrument (pure data).

``app.domain.scoring`` computes these; see its docstring for the rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, NamedTuple

from app.domain.instrument import Instrument, Lens, Method, RiskBand


class _NAType:
    """The 'not applicable' answer. A singleton compared by identity."""

    _instance: _NAType | None = None

    def __new__(cls) -> _NAType:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NA"

    def __reduce__(self) -> str:
        return "NA"


NA: Final = _NAType()
AnswerValue = float | _NAType
Answers = Mapping[str, AnswerValue]

LENSES: Final = tuple(Lens)
WEAKEST_COUNT: Final = 3  # how many weakest areas a score names
MISSING: Final = object()  # the default of answers.get: no answer


# --- reasons -------------------------------------------------------------------------------------


class Reason(NamedTuple):
    """Why a score is null: a stable code for machines and a sentence per language for people."""

    code: str
    en: str
    es: str


NOT_ASSESSED: Final = Reason(
    "not_assessed",
    "not assessed: no item of it was answered, and this instrument allows partial assessments",
    "no evaluada: ningún ítem tiene respuesta, y este instrumento admite evaluaciones parciales",
)


def reason_for(answered: int, missing: int, coverage: float | None, min_coverage: float) -> Reason:
    if coverage is None:
        return Reason(
            "all_not_applicable",
            "every item is marked not applicable",
            "todos los ítems están marcados como no aplica",
        )
    if answered == 0:
        return Reason("no_answers", "no item is answered", "ningún ítem tiene respuesta")
    return Reason(
        "below_min_coverage",
        f"{answered} of {answered + missing} applicable items answered "
        f"(coverage {coverage:.0%}, minimum {min_coverage:.0%})",
        f"{answered} de {answered + missing} ítems aplicables con respuesta "
        f"(cobertura {coverage:.0%}, mínimo {min_coverage:.0%})",
    )


# --- results -------------------------------------------------------------------------------------


class SectionRisk(NamedTuple):
    """Risk of an area or section. ``basis``: ``percent`` (the thresholds), ``key_question`` (the
    floor raised it, or set it alone below coverage) or None (no band: not assessed)."""

    percent: float | None
    band: RiskBand | None
    points: float
    max_points: float
    key_questions_failed: tuple[str, ...]
    basis: str | None = None
    failing_areas: tuple[str, ...] = ()


class AreaScore(NamedTuple):
    key: str
    lens: Lens
    weight: float
    score: float | None
    normalized: float | None
    coverage: float | None
    answered: int
    na: int
    missing: int
    reason: Reason | None
    risk: SectionRisk | None
    partial: float | None = None  # below coverage: the value its answers feed the parent
    partial_normalized: float | None = None
    assessed: bool = True


class DimensionScore(NamedTuple):
    key: str
    lens: Lens
    weight: float
    score: float | None
    normalized: float | None
    coverage: float | None
    answered: int
    na: int
    missing: int
    reason: Reason | None
    risk: SectionRisk | None
    areas: tuple[AreaScore, ...]
    partial: float | None = None
    partial_normalized: float | None = None
    assessed: bool = True
    areas_assessed: int = 0
    includes_partial: tuple[str, ...] = ()  # areas shown null whose answers feed this score


class Cap(NamedTuple):
    """The ``cap_by_weakest`` rule as applied to one score."""

    bands_above: int
    applied: bool
    weakest: tuple[str, ...]  # dimension keys with the lowest score
    weakest_band: int | None
    uncapped_band: int | None


class OverallScore(NamedTuple):
    score: float | None
    normalized: float | None
    coverage: float | None
    answered: int
    na: int
    missing: int
    reason: Reason | None
    band: int | None  # index into the instrument's bands (levels) - see Score.band_label
    cap: Cap | None = None
    areas_assessed: int = 0
    areas_total: int = 0
    includes_partial: tuple[str, ...] = ()  # dimensions shown null whose answers feed it


class LensScore(NamedTuple):
    lens: Lens
    score: float | None  # 0-100
    coverage: float | None
    answered: int
    na: int
    missing: int
    areas: tuple[str, ...]
    reason: Reason | None


class WeakArea(NamedTuple):
    key: str
    dimension: str
    score: float
    normalized: float
    lowest_level: bool  # every answered item at the scale's lowest level (risk: every one risky)


class ConditionCause(NamedTuple):
    section: str
    band: RiskBand
    key_questions_failed: tuple[str, ...]
    failing_areas: tuple[str, ...]


class ConditionAdvice(NamedTuple):
    key: str
    sections: tuple[ConditionCause, ...]


class RiskResult(NamedTuple):
    overall: RiskBand | None
    percent: float | None
    rule: str
    reason: Reason | None
    conditions: tuple[ConditionAdvice, ...]
    driven_by: tuple[str, ...] = ()
    complete: bool = True
    not_assessed: tuple[str, ...] = ()


class Score(NamedTuple):
    """The explained score of one assessment."""

    instrument_id: str
    version: str
    method: Method
    min_coverage: float
    overall: OverallScore
    dimensions: tuple[DimensionScore, ...]
    lens: tuple[LensScore, ...]
    risk: RiskResult | None
    weakest: tuple[WeakArea, ...] = ()
    lowest_level: tuple[str, ...] = ()  # area keys at the scale's lowest level


# --- compiled instrument -------------------------------------------------------------------------


class CItem(NamedTuple):
    key: str
    weight: float
    low: float
    span: float
    risk_points: float
    risky_value: float
    key_question: bool


class CArea(NamedTuple):
    key: str
    weight: float
    lens: Lens
    lens_index: int
    levels: tuple[tuple[str, float, float, float], ...]  # (key, weight, low, span) per item
    items: tuple[CItem, ...]


class CDim(NamedTuple):
    key: str
    weight: float
    lens: Lens
    areas: tuple[CArea, ...]
    medium: tuple[str, ...]
    high: tuple[str, ...]
    extreme: tuple[str, ...]


class CompiledInstrument(NamedTuple):
    """A flattened instrument, built once per version and reused for every scoring."""

    instrument_id: str
    version: str
    method: Method
    min_coverage: float
    band_maxes: tuple[float, ...]
    dimensions: tuple[CDim, ...]
    risk_thresholds: tuple[tuple[float, RiskBand], ...]
    key_question_floor: RiskBand
    risk_overall: str
    condition_order: tuple[str, ...]
    lens_keys: tuple[tuple[str, ...], ...]  # area keys feeding each lens, in LENSES order
    scale_low: float
    scale_high: float
    cap_by_weakest: int | None
    allow_partial: bool
    failing_area_band: RiskBand | None


def compile_instrument(instrument: Instrument) -> CompiledInstrument:
    """Flatten an instrument for fast scoring."""
    dims: list[CDim] = []
    for d in instrument.dimensions:
        areas: list[CArea] = []
        for a in d.areas:
            items: list[CItem] = []
            for i in a.items:
                scale = instrument.scales[i.scale]
                risky = scale.by_code(i.risk.when) if i.risk is not None else None
                items.append(
                    CItem(
                        i.key,
                        i.weight,
                        scale.min,
                        (scale.max - scale.min) or 1.0,
                        i.risk.points if i.risk else 0.0,
                        risky.value if risky is not None else 0.0,
                        i.key_question,
                    )
                )
            lens = instrument.lens_of(d, a)
            levels = tuple((i.key, i.weight, i.low, i.span) for i in items)
            areas.append(CArea(a.key, a.weight, lens, LENSES.index(lens), levels, tuple(items)))
        cond = d.conditions
        dims.append(
            CDim(
                d.key,
                d.weight,
                d.lens,
                tuple(areas),
                cond.medium if cond else (),
                cond.high if cond else (),
                cond.extreme if cond else (),
            )
        )
    scoring = instrument.scoring
    risk = scoring.risk
    scales = list(instrument.scales.values())
    return CompiledInstrument(
        instrument.id,
        instrument.version,
        scoring.method,
        scoring.min_coverage,
        tuple(b.max for b in scoring.bands),
        tuple(dims),
        tuple((t.below, t.band) for t in risk.thresholds) if risk else (),
        risk.key_question_floor if risk else RiskBand.high,
        risk.overall if risk else "worst_section",
        tuple(c.key for c in risk.conditions) if risk else (),
        tuple(tuple(a.key for d in dims for a in d.areas if a.lens is lens) for lens in LENSES),
        min(s.min for s in scales),
        max(s.max for s in scales),
        scoring.cap_by_weakest,
        scoring.allow_partial,
        risk.failing_area_band if risk else None,
    )


def coverage_of(answered: int, missing: int) -> float | None:
    applicable = answered + missing
    return answered / applicable if applicable else None


class LensTotals:
    """Accumulates the lens profile from the areas that have answers."""

    __slots__ = ("ans", "miss", "na", "s", "w")

    def __init__(self) -> None:
        self.s = [0.0, 0.0, 0.0, 0.0]
        self.w = [0.0, 0.0, 0.0, 0.0]
        self.ans = [0, 0, 0, 0]
        self.na = [0, 0, 0, 0]
        self.miss = [0, 0, 0, 0]

    def result(self, c: CompiledInstrument) -> tuple[LensScore, ...]:
        out: list[LensScore] = []
        mc = c.min_coverage
        for i, lens in enumerate(LENSES):
            keys = c.lens_keys[i]
            ans, na, miss = self.ans[i], self.na[i], self.miss[i]
            cov = coverage_of(ans, miss)
            if not keys:
                why: Reason | None = Reason(
                    "no_areas",
                    "no area of this instrument feeds this lens dimension",
                    "ningún área de este instrumento alimenta esta dimensión",
                )
                out.append(LensScore(lens, None, None, 0, 0, 0, keys, why))
            elif self.w[i] and cov is not None and cov >= mc:
                out.append(LensScore(lens, self.s[i] / self.w[i], cov, ans, na, miss, keys, None))
            else:
                why = (
                    NOT_ASSESSED
                    if c.allow_partial and not ans and not na and not miss
                    else reason_for(ans, miss, cov, mc)
                )
                out.append(LensScore(lens, None, cov, ans, na, miss, keys, why))
        return tuple(out)


def not_assessed_area(a: CArea, missing: int) -> AreaScore:
    return AreaScore(
        a.key, a.lens, a.weight, None, None, 0.0, 0, 0, missing, NOT_ASSESSED, None, assessed=False
    )


def held_back_dimension(
    d: CDim,
    weight: float,
    cov: float | None,
    counts: tuple[int, int, int],
    mc: float,
    areas: list[AreaScore],
    *,
    risk: SectionRisk | None = None,
    partial: tuple[float | None, float | None] = (None, None),
    areas_assessed: int = 0,
    includes_partial: list[str] | None = None,
) -> DimensionScore:
    """A dimension shown empty (below coverage, or nothing to score), with the reason, and with
    the value its answers still feed the overall (``partial``) when there is one."""
    answered, na, missing = counts
    return DimensionScore(
        d.key,
        d.lens,
        weight,
        None,
        None,
        cov,
        answered,
        na,
        missing,
        reason_for(answered, missing, cov, mc),
        risk,
        tuple(areas),
        partial[0],
        partial[1],
        True,
        areas_assessed,
        tuple(includes_partial or ()),
    )


def not_assessed_dimension(d: CDim, areas: list[AreaScore]) -> DimensionScore:
    """A dimension of a partial assessment in which no area was rated: shown, left out."""
    return DimensionScore(
        d.key,
        d.lens,
        d.weight,
        None,
        None,
        None,
        0,
        0,
        0,
        NOT_ASSESSED,
        None,
        tuple(areas),
        assessed=False,
    )


def band_index(maxes: tuple[float, ...], value: float) -> int | None:
    for index, top in enumerate(maxes):
        if value <= top:
            return index
    return None


# A reported area as the weakest-area rule sees it: (0-100 value, order, key, dimension, score).
Ranked = tuple[float, int, str, str, float]
NO_CUT: Final = float("inf")


def keep_weak(weak: list[Ranked], area: Ranked) -> float:
    """Add ``area`` to the (at most three) weakest so far, sorted by value then instrument order;
    return the value an area must now be below to enter. Called only for areas below that value,
    so scoring pays one comparison per area (a tie with the third keeps the earlier area)."""
    weak.append(area)
    weak.sort()
    if len(weak) > WEAKEST_COUNT:
        weak.pop()
    return weak[-1][0] if len(weak) == WEAKEST_COUNT else NO_CUT


def weakest_areas(weak: list[Ranked]) -> tuple[WeakArea, ...]:
    """The weakest areas kept by ``keep_weak``, weakest first."""
    return tuple(WeakArea(key, dim, value, norm, norm == 0.0) for norm, _, key, dim, value in weak)
