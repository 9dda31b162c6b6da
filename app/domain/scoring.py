"""The scoring engine: (instrument version, answers) -> an explained score. Pure and deterministic.

Semantics (DESIGN §5):

- an answer is a scale value, ``NA`` (not applicable: out of numerator and denominator) or absent
  (missing: counts against coverage);
- coverage of a node = answered / (answered + missing); below ``min_coverage`` the node's score is
  null with a reason. Parents aggregate their children's values whether or not a child is reported,
  so a child's gate never changes a parent's number (only the parent's own coverage gates it);
- area = weighted mean of its answered items; dimension = weighted mean of its areas; overall =
  weighted mean of dimensions (``mean``/``weighted_mean``) or the sums (``sum``);
- ``risk``: a node's risk % = risky points / points of its answered questions; bands by threshold;
  a key question answered the risky way lifts its section to at least the floor band; the overall
  band is the worst section (or the mean section %); risky sections recommend conditions;
- the lens profile: per lens dimension, the weighted mean of the areas mapped to it, each area on
  0-100 by its scale's min and max (for risk: 100 - risk %), so instruments compare.

The hot path allocates little: one compiled, flattened instrument is reused for every assessment,
and results are tuples.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, NamedTuple

from app.domain.instrument import (
    RISK_ORDER,
    Instrument,
    Lens,
    Method,
    RiskBand,
)


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
_MISSING: Final = object()


# --- reasons -------------------------------------------------------------------------------------


class Reason(NamedTuple):
    """Why a score is null: a stable code for machines and a sentence per language for people."""

    code: str
    en: str
    es: str


def _reason(answered: int, missing: int, coverage: float | None, min_coverage: float) -> Reason:
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
    percent: float | None
    band: RiskBand | None
    points: float
    max_points: float
    key_questions_failed: tuple[str, ...]


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


class OverallScore(NamedTuple):
    score: float | None
    normalized: float | None
    coverage: float | None
    answered: int
    na: int
    missing: int
    reason: Reason | None
    band: int | None  # index into the instrument's bands (levels) - see Score.band_label


class LensScore(NamedTuple):
    lens: Lens
    score: float | None  # 0-100
    coverage: float | None
    answered: int
    na: int
    missing: int
    areas: tuple[str, ...]
    reason: Reason | None


class ConditionAdvice(NamedTuple):
    key: str
    sections: tuple[tuple[str, RiskBand], ...]


class RiskResult(NamedTuple):
    overall: RiskBand | None
    percent: float | None
    rule: str
    reason: Reason | None
    conditions: tuple[ConditionAdvice, ...]


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


# --- compiled instrument -------------------------------------------------------------------------


class _CItem(NamedTuple):
    key: str
    weight: float
    low: float
    span: float
    risk_points: float
    risky_value: float
    key_question: bool


class _CArea(NamedTuple):
    key: str
    weight: float
    lens: Lens
    lens_index: int
    levels: tuple[tuple[str, float, float, float], ...]  # (key, weight, low, span) per item
    items: tuple[_CItem, ...]


class _CDim(NamedTuple):
    key: str
    weight: float
    lens: Lens
    areas: tuple[_CArea, ...]
    high: tuple[str, ...]
    extreme: tuple[str, ...]


class CompiledInstrument(NamedTuple):
    """A flattened instrument, built once per version and reused for every scoring."""

    instrument_id: str
    version: str
    method: Method
    min_coverage: float
    band_maxes: tuple[float, ...]
    dimensions: tuple[_CDim, ...]
    risk_thresholds: tuple[tuple[float, RiskBand], ...]
    key_question_floor: RiskBand
    risk_overall: str
    condition_order: tuple[str, ...]
    lens_keys: tuple[tuple[str, ...], ...]  # area keys feeding each lens, in LENSES order
    scale_low: float
    scale_high: float


def compile_instrument(instrument: Instrument) -> CompiledInstrument:
    """Flatten an instrument for fast scoring."""
    dims: list[_CDim] = []
    for d in instrument.dimensions:
        areas: list[_CArea] = []
        for a in d.areas:
            items: list[_CItem] = []
            for i in a.items:
                scale = instrument.scales[i.scale]
                risky = (
                    scale.by_code(i.risk.when).value  # type: ignore[union-attr]
                    if i.risk is not None
                    else 0.0
                )
                items.append(
                    _CItem(
                        i.key,
                        i.weight,
                        scale.min,
                        (scale.max - scale.min) or 1.0,
                        i.risk.points if i.risk else 0.0,
                        risky,
                        i.key_question,
                    )
                )
            lens = instrument.lens_of(d, a)
            levels = tuple((i.key, i.weight, i.low, i.span) for i in items)
            areas.append(_CArea(a.key, a.weight, lens, LENSES.index(lens), levels, tuple(items)))
        cond = d.conditions
        dims.append(
            _CDim(
                d.key,
                d.weight,
                d.lens,
                tuple(areas),
                cond.high if cond else (),
                cond.extreme if cond else (),
            )
        )
    risk = instrument.scoring.risk
    scales = list(instrument.scales.values())
    return CompiledInstrument(
        instrument.id,
        instrument.version,
        instrument.scoring.method,
        instrument.scoring.min_coverage,
        tuple(b.max for b in instrument.scoring.bands),
        tuple(dims),
        tuple((t.below, t.band) for t in risk.thresholds) if risk else (),
        risk.key_question_floor if risk else RiskBand.high,
        risk.overall if risk else "worst_section",
        tuple(c.key for c in risk.conditions) if risk else (),
        tuple(tuple(a.key for d in dims for a in d.areas if a.lens is lens) for lens in LENSES),
        min(s.min for s in scales),
        max(s.max for s in scales),
    )


# --- scoring -------------------------------------------------------------------------------------


def score(compiled: CompiledInstrument, answers: Answers) -> Score:
    """Score one assessment. ``answers`` maps item keys to a scale value or NA; absent = missing."""
    if compiled.method is Method.risk:
        return _score_risk(compiled, answers)
    return _score_levels(compiled, answers)


def _coverage(answered: int, missing: int) -> float | None:
    applicable = answered + missing
    return answered / applicable if applicable else None


def _score_levels(c: CompiledInstrument, answers: Answers) -> Score:
    get = answers.get
    mc = c.min_coverage
    summing = c.method is Method.sum
    # lens accumulators: weighted normalized sum, weight, answered, na, missing, area keys
    l_s = [0.0, 0.0, 0.0, 0.0]
    l_w = [0.0, 0.0, 0.0, 0.0]
    l_ans = [0, 0, 0, 0]
    l_na = [0, 0, 0, 0]
    l_miss = [0, 0, 0, 0]
    o_s = o_w = o_n = 0.0
    o_ans = o_na = o_miss = 0
    dims_out: list[DimensionScore] = []
    # Results are built with tuple.__new__ (what a NamedTuple's own __new__ calls) to skip a
    # Python-level frame per node: this loop runs tens of thousands of times a second.
    new = tuple.__new__
    for d in c.dimensions:
        d_s = d_w = d_n = 0.0
        d_ans = d_na = d_miss = 0
        areas_out: list[AreaScore] = []
        for a_key, aw, a_lens, li, levels, _ in d.areas:
            s = w = n = 0.0
            ans = na = miss = 0
            for key, iw, low, span in levels:
                v = get(key, _MISSING)
                if v is _MISSING:
                    miss += 1
                elif v is NA:
                    na += 1
                else:
                    ans += 1
                    s += iw * v  # type: ignore[operator]
                    w += iw
                    n += iw * (v - low) / span  # type: ignore[operator]
            l_ans[li] += ans
            l_na[li] += na
            l_miss[li] += miss
            d_ans += ans
            d_na += na
            d_miss += miss
            if ans:
                a_cov: float | None = ans / (ans + miss)
                raw = s if summing else s / w
                norm = 100.0 * n / w
                d_s += aw * raw
                d_w += aw
                d_n += aw * norm
                l_s[li] += aw * norm
                l_w[li] += aw
                if a_cov >= mc:  # type: ignore[operator]
                    areas_out.append(
                        new(
                            AreaScore,
                            (a_key, a_lens, aw, raw, norm, a_cov, ans, na, miss, None, None),
                        )
                    )
                    continue
            else:
                a_cov = 0.0 if miss else None
            areas_out.append(
                new(
                    AreaScore,
                    (
                        a_key,
                        a_lens,
                        aw,
                        None,
                        None,
                        a_cov,
                        ans,
                        na,
                        miss,
                        _reason(ans, miss, a_cov, mc),
                        None,
                    ),
                )
            )
        o_ans += d_ans
        o_na += d_na
        o_miss += d_miss
        cov = _coverage(d_ans, d_miss)
        if d_w:
            raw = d_s if summing else d_s / d_w
            norm = d_n / d_w
            dw = d.weight
            o_s += dw * raw
            o_w += dw
            o_n += dw * norm
            if cov is not None and cov >= mc:
                dims_out.append(
                    DimensionScore(
                        d.key,
                        d.lens,
                        dw,
                        raw,
                        norm,
                        cov,
                        d_ans,
                        d_na,
                        d_miss,
                        None,
                        None,
                        tuple(areas_out),
                    )
                )
                continue
        dims_out.append(_null_dimension(d, cov, d_ans, d_na, d_miss, mc, areas_out))
    cov = _coverage(o_ans, o_miss)
    if o_w and cov is not None and cov >= mc:
        raw = o_s if summing else o_s / o_w
        overall = OverallScore(
            raw, o_n / o_w, cov, o_ans, o_na, o_miss, None, _band(c.band_maxes, raw)
        )
    else:
        overall = OverallScore(
            None, None, cov, o_ans, o_na, o_miss, _reason(o_ans, o_miss, cov, mc), None
        )
    return Score(
        c.instrument_id,
        c.version,
        c.method,
        mc,
        overall,
        tuple(dims_out),
        _lens(l_s, l_w, l_ans, l_na, l_miss, c.lens_keys, mc),
        None,
    )


def _null_dimension(
    d: _CDim,
    cov: float | None,
    answered: int,
    na: int,
    missing: int,
    mc: float,
    areas: list[AreaScore],
) -> DimensionScore:
    """A dimension that cannot be scored, with the reason why."""
    return DimensionScore(
        d.key,
        d.lens,
        d.weight,
        None,
        None,
        cov,
        answered,
        na,
        missing,
        _reason(answered, missing, cov, mc),
        None,
        tuple(areas),
    )


def _band(maxes: tuple[float, ...], value: float) -> int | None:
    for index, top in enumerate(maxes):
        if value <= top:
            return index
    return None


def _lens(
    l_s: list[float],
    l_w: list[float],
    l_ans: list[int],
    l_na: list[int],
    l_miss: list[int],
    l_keys: tuple[tuple[str, ...], ...],
    mc: float,
) -> tuple[LensScore, ...]:
    out: list[LensScore] = []
    for i, lens in enumerate(LENSES):
        keys = l_keys[i]
        cov = _coverage(l_ans[i], l_miss[i])
        if not keys:
            out.append(
                LensScore(
                    lens,
                    None,
                    None,
                    0,
                    0,
                    0,
                    keys,
                    Reason(
                        "no_areas",
                        "no area of this instrument feeds this lens dimension",
                        "ningún área de este instrumento alimenta esta dimensión",
                    ),
                )
            )
        elif l_w[i] and cov is not None and cov >= mc:
            out.append(
                LensScore(lens, l_s[i] / l_w[i], cov, l_ans[i], l_na[i], l_miss[i], keys, None)
            )
        else:
            out.append(
                LensScore(
                    lens,
                    None,
                    cov,
                    l_ans[i],
                    l_na[i],
                    l_miss[i],
                    keys,
                    _reason(l_ans[i], l_miss[i], cov, mc),
                )
            )
    return tuple(out)


def _risk_band(c: CompiledInstrument, percent: float) -> RiskBand:
    for below, band in c.risk_thresholds:
        if percent < below:
            return band
    return c.risk_thresholds[-1][1]


def _worse(a: RiskBand, b: RiskBand) -> RiskBand:
    return a if RISK_ORDER[a] >= RISK_ORDER[b] else b


def _score_risk(c: CompiledInstrument, answers: Answers) -> Score:
    get = answers.get
    mc = c.min_coverage
    l_s = [0.0, 0.0, 0.0, 0.0]
    l_w = [0.0, 0.0, 0.0, 0.0]
    l_ans = [0, 0, 0, 0]
    l_na = [0, 0, 0, 0]
    l_miss = [0, 0, 0, 0]
    o_pts = o_max = 0.0
    o_ans = o_na = o_miss = 0
    dims_out: list[DimensionScore] = []
    advice: dict[str, list[tuple[str, RiskBand]]] = {}
    section_bands: list[RiskBand] = []
    section_pcts: list[float] = []
    for d in c.dimensions:
        d_pts = d_max = 0.0
        d_ans = d_na = d_miss = 0
        d_failed: list[str] = []
        areas_out: list[AreaScore] = []
        for a in d.areas:
            pts = mx = 0.0
            ans = na = miss = 0
            failed: list[str] = []
            for it in a.items:
                v = get(it.key, _MISSING)
                if v is _MISSING:
                    miss += 1
                elif v is NA:
                    na += 1
                else:
                    ans += 1
                    mx += it.risk_points
                    if v == it.risky_value:
                        pts += it.risk_points
                        if it.key_question:
                            failed.append(it.key)
            d_pts += pts
            d_max += mx
            d_ans += ans
            d_na += na
            d_miss += miss
            d_failed += failed
            li = a.lens_index
            l_ans[li] += ans
            l_na[li] += na
            l_miss[li] += miss
            cov = _coverage(ans, miss)
            if ans:
                pct = 100.0 * pts / mx
                l_s[li] += a.weight * (100.0 - pct)
                l_w[li] += a.weight
                band = _risk_band(c, pct)
                if failed:
                    band = _worse(band, c.key_question_floor)
                area_risk = SectionRisk(pct, band, pts, mx, tuple(failed))
                if cov >= mc:  # type: ignore[operator]
                    areas_out.append(
                        AreaScore(
                            a.key,
                            a.lens,
                            a.weight,
                            pct,
                            100.0 - pct,
                            cov,
                            ans,
                            na,
                            miss,
                            None,
                            area_risk,
                        )
                    )
                    continue
            areas_out.append(
                AreaScore(
                    a.key,
                    a.lens,
                    a.weight,
                    None,
                    None,
                    cov,
                    ans,
                    na,
                    miss,
                    _reason(ans, miss, cov, mc),
                    None,
                )
            )
        o_pts += d_pts
        o_max += d_max
        o_ans += d_ans
        o_na += d_na
        o_miss += d_miss
        cov = _coverage(d_ans, d_miss)
        if d_ans and cov is not None and cov >= mc:
            pct = 100.0 * d_pts / d_max
            band = _risk_band(c, pct)
            if d_failed:
                band = _worse(band, c.key_question_floor)
            section_bands.append(band)
            section_pcts.append(pct)
            keys = (
                d.high
                if band is RiskBand.high
                else d.high + d.extreme
                if (band is RiskBand.extreme)
                else ()
            )
            for k in keys:
                advice.setdefault(k, []).append((d.key, band))
            dims_out.append(
                DimensionScore(
                    d.key,
                    d.lens,
                    d.weight,
                    pct,
                    100.0 - pct,
                    cov,
                    d_ans,
                    d_na,
                    d_miss,
                    None,
                    SectionRisk(pct, band, d_pts, d_max, tuple(d_failed)),
                    tuple(areas_out),
                )
            )
        else:
            dims_out.append(_null_dimension(d, cov, d_ans, d_na, d_miss, mc, areas_out))
    cov = _coverage(o_ans, o_miss)
    if o_ans and cov is not None and cov >= mc and section_bands:
        pct = 100.0 * o_pts / o_max
        if c.risk_overall == "mean_section":
            overall_band = _risk_band(c, sum(section_pcts) / len(section_pcts))
        else:
            overall_band = max(section_bands, key=RISK_ORDER.__getitem__)
        overall = OverallScore(pct, 100.0 - pct, cov, o_ans, o_na, o_miss, None, None)
        conditions = tuple(
            ConditionAdvice(k, tuple(advice[k])) for k in c.condition_order if k in advice
        )
        risk = RiskResult(overall_band, pct, c.risk_overall, None, conditions)
    else:
        why = _reason(o_ans, o_miss, cov, mc)
        overall = OverallScore(None, None, cov, o_ans, o_na, o_miss, why, None)
        risk = RiskResult(None, None, c.risk_overall, why, ())
    return Score(
        c.instrument_id,
        c.version,
        c.method,
        mc,
        overall,
        tuple(dims_out),
        _lens(l_s, l_w, l_ans, l_na, l_miss, c.lens_keys, mc),
        risk,
    )
