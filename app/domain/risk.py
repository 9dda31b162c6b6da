"""Risk scoring (method ``risk``, NUPAS style): bands, key questions, conditions, the overall.

The rules are in ``app.domain.scoring``'s docstring and, for people, in docs/scoring.md.
"""

from __future__ import annotations

from typing import Final

from app.domain.instrument import RISK_ORDER, RiskBand
from app.domain.score_model import (
    MISSING,
    NA,
    NO_CUT,
    NOT_ASSESSED,
    Answers,
    AreaScore,
    CDim,
    CompiledInstrument,
    ConditionAdvice,
    ConditionCause,
    DimensionScore,
    LensTotals,
    OverallScore,
    Ranked,
    Reason,
    RiskResult,
    Score,
    SectionRisk,
    coverage_of,
    held_back_dimension,
    keep_weak,
    not_assessed_area,
    not_assessed_dimension,
    reason_for,
    weakest_areas,
)


def _risk_band(c: CompiledInstrument, percent: float) -> RiskBand:
    for below, band in c.risk_thresholds:
        if percent < below:
            return band
    return c.risk_thresholds[-1][1]


BAND_NAMES: Final = {
    RiskBand.low: ("low", "bajo"),
    RiskBand.medium: ("medium", "medio"),
    RiskBand.high: ("high", "alto"),
    RiskBand.extreme: ("extreme", "extremo"),
}


def _band_and_basis(
    c: CompiledInstrument, pct: float | None, failed: list[str]
) -> tuple[RiskBand | None, str | None]:
    """A node's band: by its percentage when reported, raised (or set alone) by a failed key
    question; None when neither applies."""
    by_pct = _risk_band(c, pct) if pct is not None else None
    if not failed:
        return by_pct, ("percent" if by_pct is not None else None)
    floor = c.key_question_floor
    if by_pct is not None and RISK_ORDER[by_pct] >= RISK_ORDER[floor]:
        return by_pct, "percent"
    return floor, "key_question"


def score_risk(c: CompiledInstrument, answers: Answers) -> Score:
    get = answers.get
    mc = c.min_coverage
    partial_ok = c.allow_partial
    failing = c.failing_area_band
    lens = LensTotals()
    l_s, l_w, l_ans, l_na, l_miss = lens.s, lens.w, lens.ans, lens.na, lens.miss
    o_pts = o_max = 0.0
    o_ans = o_na = o_miss = 0
    o_assessed = o_total = 0
    o_partial: list[str] = []
    dims_out: list[DimensionScore] = []
    new = tuple.__new__  # skips a Python frame per area (as in the levels path)
    weak: list[Ranked] = []  # the weakest reported areas so far, and the value to beat
    cut = NO_CUT
    lowest: list[str] = []  # reported areas where every answered question is risky
    advice: dict[str, list[ConditionCause]] = {}
    banded: list[tuple[str, RiskBand, float | None, bool]] = []  # key, band, pct, by key question
    not_assessed: list[str] = []  # sections whose risk % could not be computed
    for d in c.dimensions:
        d_pts = d_max = 0.0
        d_ans = d_na = d_miss = 0
        d_assessed = 0
        d_failed: list[str] = []
        d_failing: list[str] = []
        d_partial: list[str] = []
        areas_out: list[AreaScore] = []
        for a in d.areas:
            pts = mx = 0.0
            ans = na = miss = 0
            failed: list[str] = []
            for it in a.items:
                v = get(it.key, MISSING)
                if v is MISSING:
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
            o_total += 1
            if partial_ok and not ans and not na:
                areas_out.append(not_assessed_area(a, miss))
                continue
            d_assessed += 1
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
            cov = coverage_of(ans, miss)
            pct = 100.0 * pts / mx if ans else None
            shown = pct if cov is not None and cov >= mc else None  # None: below coverage
            if failed or shown is None:
                band, basis = _band_and_basis(c, shown, failed)
            else:  # the common case, inline: a band by the percentage alone
                band, basis = _risk_band(c, shown), "percent"
            if failing is not None and band is not None and RISK_ORDER[band] >= RISK_ORDER[failing]:
                d_failing.append(a.key)
            area_risk = (
                new(SectionRisk, (shown, band, pts, mx, tuple(failed), basis, ())) if ans else None
            )
            if pct is not None:
                l_s[li] += a.weight * (100.0 - pct)
                l_w[li] += a.weight
            if shown is not None:
                if 100.0 - shown < cut:
                    cut = keep_weak(weak, (100.0 - shown, o_total, a.key, d.key, shown))
                if shown == 100.0:
                    lowest.append(a.key)
                areas_out.append(
                    new(
                        AreaScore,
                        (
                            a.key,
                            a.lens,
                            a.weight,
                            shown,
                            100.0 - shown,
                            cov,
                            ans,
                            na,
                            miss,
                            None,
                            area_risk,
                            None,
                            None,
                            True,
                        ),
                    )
                )
                continue
            if pct is not None:
                d_partial.append(a.key)
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
                    reason_for(ans, miss, cov, mc),
                    area_risk,
                    pct,
                    None if pct is None else 100.0 - pct,
                )
            )
        o_assessed += d_assessed
        if not d_assessed:
            not_assessed.append(d.key)
            dims_out.append(not_assessed_dimension(d, areas_out))
            continue
        o_pts += d_pts
        o_max += d_max
        o_ans += d_ans
        o_na += d_na
        o_miss += d_miss
        cov = coverage_of(d_ans, d_miss)
        pct = 100.0 * d_pts / d_max if d_ans else None
        shown = pct if cov is not None and cov >= mc else None
        band, basis = _band_and_basis(c, shown, d_failed)
        failing_areas = tuple(d_failing)
        section_risk = (
            SectionRisk(shown, band, d_pts, d_max, tuple(d_failed), basis, failing_areas)
            if d_ans
            else None
        )
        if shown is None:
            not_assessed.append(d.key)
        if band is not None:
            banded.append((d.key, band, shown, basis == "key_question"))
            cause = ConditionCause(d.key, band, tuple(d_failed), failing_areas)
            for k in _section_conditions(d, band, bool(failing_areas)):
                advice.setdefault(k, []).append(cause)
        if shown is not None:
            dims_out.append(
                DimensionScore(
                    d.key,
                    d.lens,
                    d.weight,
                    shown,
                    100.0 - shown,
                    cov,
                    d_ans,
                    d_na,
                    d_miss,
                    None,
                    section_risk,
                    tuple(areas_out),
                    None,
                    None,
                    True,
                    d_assessed,
                    tuple(d_partial),
                )
            )
        else:
            if pct is not None:
                o_partial.append(d.key)
            dims_out.append(
                held_back_dimension(
                    d,
                    d.weight,
                    cov,
                    (d_ans, d_na, d_miss),
                    mc,
                    areas_out,
                    risk=section_risk,
                    partial=(pct, None if pct is None else 100.0 - pct),
                    areas_assessed=d_assessed,
                    includes_partial=d_partial,
                )
            )
    cov = coverage_of(o_ans, o_miss)
    o_reported = o_ans > 0 and cov is not None and cov >= mc
    o_pct = 100.0 * o_pts / o_max if o_reported else None
    o_why = (
        None
        if o_reported
        else (NOT_ASSESSED if partial_ok and not o_assessed else reason_for(o_ans, o_miss, cov, mc))
    )
    overall = OverallScore(
        o_pct,
        None if o_pct is None else 100.0 - o_pct,
        cov,
        o_ans,
        o_na,
        o_miss,
        o_why,
        None,
        None,
        o_assessed,
        o_total,
        tuple(o_partial),
    )
    conditions = tuple(
        ConditionAdvice(k, tuple(advice[k])) for k in c.condition_order if k in advice
    )
    risk = _overall_risk(c, banded, tuple(not_assessed), o_pct, conditions)
    dims = tuple(dims_out)
    return Score(
        c.instrument_id,
        c.version,
        c.method,
        mc,
        overall,
        dims,
        lens.result(c),
        risk,
        weakest_areas(weak),
        tuple(lowest),
    )


def _section_conditions(d: CDim, band: RiskBand, has_failing_area: bool) -> tuple[str, ...]:
    """Conditions by band, each list adding to those below; ``medium`` needs a failing area."""
    rank = RISK_ORDER[band]
    keys: tuple[str, ...] = ()
    if has_failing_area and rank >= RISK_ORDER[RiskBand.medium]:
        keys += d.medium
    if rank >= RISK_ORDER[RiskBand.high]:
        keys += d.high
    if band is RiskBand.extreme:
        keys += d.extreme
    return tuple(dict.fromkeys(keys))


def _overall_risk(
    c: CompiledInstrument,
    banded: list[tuple[str, RiskBand, float | None, bool]],
    not_assessed: tuple[str, ...],
    percent: float | None,
    conditions: tuple[ConditionAdvice, ...],
) -> RiskResult:
    """The overall band, what drives it, and whether every section could be assessed."""
    rule = c.risk_overall
    if not banded:
        why = Reason(
            "not_assessed",
            "no section could be assessed, so there is no overall risk band",
            "ninguna sección pudo evaluarse, así que no hay nivel de riesgo general",
        )
        return RiskResult(None, percent, rule, why, conditions, (), False, not_assessed)
    by_key_question = [key for key, _, _, kq in banded if kq]
    if rule == "mean_section":
        pcts = [(key, p) for key, _, p, _ in banded if p is not None]
        band = _risk_band(c, sum(p for _, p in pcts) / len(pcts)) if pcts else None
        driven = tuple(key for key, _ in pcts)
        if by_key_question and (
            band is None or RISK_ORDER[band] < RISK_ORDER[c.key_question_floor]
        ):
            band, driven = c.key_question_floor, tuple(by_key_question)
        assert band is not None
    else:
        band = max((b for _, b, _, _ in banded), key=RISK_ORDER.__getitem__)
        driven = tuple(key for key, b, _, _ in banded if b is band)
    if not not_assessed:
        return RiskResult(band, percent, rule, None, conditions, driven, True, ())
    names = ", ".join(f"'{k}'" for k in not_assessed)
    if RISK_ORDER[band] == 0:
        why = Reason(
            "not_assessed",
            f"not assessed: section(s) {names} have too few answers to be assessed, and the "
            "other sections alone cannot show that the risk is low",
            f"no evaluado: la(s) sección(es) {names} tienen muy pocas respuestas para evaluarse, "
            "y las demás secciones por sí solas no permiten afirmar que el riesgo es bajo",
        )
        return RiskResult(None, percent, rule, why, conditions, driven, False, not_assessed)
    why = Reason(
        "incomplete",
        f"at least {BAND_NAMES[band][0]}: section(s) {names} have too few answers to be fully "
        "assessed, so the overall risk may be higher",
        f"al menos {BAND_NAMES[band][1]}: la(s) sección(es) {names} tienen muy pocas respuestas "
        "para evaluarse por completo, así que el riesgo general puede ser mayor",
    )
    return RiskResult(band, percent, rule, why, conditions, driven, False, not_assessed)
