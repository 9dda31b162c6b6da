"""The scoring engine: (instrument version, answers) -> an explained score. Pure and deterministic.

Semantics (DESIGN §5, and docs/scoring.md for people):

- an answer is a scale value, ``NA`` (not applicable: out of numerator and denominator) or absent
  (missing: counts against coverage);
- coverage of a node = answered / (answered + missing); below ``min_coverage`` the node's score is
  null with a reason. A parent aggregates every child that has answers, reported or not, so a
  child's gate never changes a parent's number; the value such a child feeds its parent is shown
  as ``partial`` beside its null score, and the parent lists it in ``includes_partial``, so every
  number can be recomputed from what the score object shows;
- with ``allow_partial`` an area with no answer at all (not even N/A) is *not assessed*: it is left
  out of its parents' counts, coverage and scores, and the parents say how many areas were assessed;
- area = weighted mean of its answered items; dimension = weighted mean of its areas; overall =
  weighted mean of dimensions (``mean``/``weighted_mean``) or the sums (``sum``); the overall band
  may be capped by the band of the weakest scored dimension (``cap_by_weakest``);
- ``risk``: a node's risk % = risky points / points of its answered questions; bands by threshold;
  a key question answered the risky way puts its area and section at least at the floor band
  whatever the coverage; a section without a band is *not assessed*; the overall band is the worst
  section band (or the band of the mean section %, never below the floor when a key question
  failed), it names the sections that drive it, and it is never the lowest band while a section
  is not assessed; sections recommend conditions by band, and from ``medium`` where an area fails;
- every score names its weakest areas and the areas at the scale's lowest level;
- the lens profile: per lens dimension, the weighted mean of the areas mapped to it, each area on
  0-100 by its scale's min and max (for risk: 100 - risk %), so instruments compare.

One compiled, flattened instrument is reused for every assessment, and results are tuples.
"""

from __future__ import annotations

from app.domain.instrument import Method
from app.domain.risk import BAND_NAMES, score_risk
from app.domain.score_model import (
    LENSES,
    MISSING,
    NA,
    NO_CUT,
    NOT_ASSESSED,
    WEAKEST_COUNT,
    Answers,
    AnswerValue,
    AreaScore,
    Cap,
    CompiledInstrument,
    ConditionAdvice,
    ConditionCause,
    DimensionScore,
    LensScore,
    LensTotals,
    OverallScore,
    Ranked,
    Reason,
    RiskResult,
    Score,
    SectionRisk,
    WeakArea,
    band_index,
    compile_instrument,
    coverage_of,
    held_back_dimension,
    keep_weak,
    not_assessed_area,
    not_assessed_dimension,
    reason_for,
    weakest_areas,
)

__all__ = [
    "BAND_NAMES",
    "LENSES",
    "NA",
    "NOT_ASSESSED",
    "WEAKEST_COUNT",
    "AnswerValue",
    "Answers",
    "AreaScore",
    "Cap",
    "CompiledInstrument",
    "ConditionAdvice",
    "ConditionCause",
    "DimensionScore",
    "LensScore",
    "OverallScore",
    "Reason",
    "RiskResult",
    "Score",
    "SectionRisk",
    "WeakArea",
    "compile_instrument",
    "score",
]


def score(compiled: CompiledInstrument, answers: Answers) -> Score:
    """Score one assessment. ``answers`` maps item keys to a scale value or NA; absent = missing."""
    if compiled.method is Method.risk:
        return score_risk(compiled, answers)
    return _score_levels(compiled, answers)


def _score_levels(c: CompiledInstrument, answers: Answers) -> Score:
    get = answers.get
    mc = c.min_coverage
    summing = c.method is Method.sum
    partial_ok = c.allow_partial
    lens = LensTotals()
    l_s, l_w, l_ans, l_na, l_miss = lens.s, lens.w, lens.ans, lens.na, lens.miss
    o_s = o_w = o_n = 0.0
    o_ans = o_na = o_miss = 0
    o_assessed = o_total = 0
    o_partial: list[str] = []
    dims_out: list[DimensionScore] = []
    weak: list[Ranked] = []  # the weakest reported areas so far, and the value to beat
    cut = NO_CUT
    lowest: list[str] = []  # reported areas at the scale's lowest level
    new = tuple.__new__  # skips a Python frame per area: this loop runs thousands of times a second
    for d in c.dimensions:
        d_key = d.key
        d_s = d_w = d_n = 0.0
        d_ans = d_na = d_miss = 0
        d_assessed = 0
        d_partial: list[str] = []
        areas_out: list[AreaScore] = []
        for ca in d.areas:
            a_key, aw, a_lens, li, levels, _ = ca
            s = w = n = 0.0
            ans = na = miss = 0
            for key, iw, low, span in levels:
                v = get(key, MISSING)
                if v is MISSING:
                    miss += 1
                elif v is NA:
                    na += 1
                else:
                    ans += 1
                    s += iw * v  # type: ignore[operator]
                    w += iw
                    n += iw * (v - low) / span  # type: ignore[operator]
            o_total += 1
            if partial_ok and not ans and not na:
                areas_out.append(not_assessed_area(ca, miss))
                continue
            d_assessed += 1
            l_ans[li] += ans
            l_na[li] += na
            l_miss[li] += miss
            d_ans += ans
            d_na += na
            d_miss += miss
            if not ans:
                a_cov = 0.0 if miss else None
                why = reason_for(ans, miss, a_cov, mc)
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
                            0,
                            na,
                            miss,
                            why,
                            None,
                            None,
                            None,
                            True,
                        ),
                    )
                )
                continue
            a_cov = ans / (ans + miss)
            raw = s if summing else s / w
            norm = 100.0 * n / w
            d_s += aw * raw
            d_w += aw
            d_n += aw * norm
            l_s[li] += aw * norm
            l_w[li] += aw
            if a_cov >= mc:
                if norm < cut:
                    cut = keep_weak(weak, (norm, o_total, a_key, d_key, raw))
                if norm == 0.0:
                    lowest.append(a_key)
                areas_out.append(
                    new(
                        AreaScore,
                        (
                            a_key,
                            a_lens,
                            aw,
                            raw,
                            norm,
                            a_cov,
                            ans,
                            na,
                            miss,
                            None,
                            None,
                            None,
                            None,
                            True,
                        ),
                    )
                )
            else:
                d_partial.append(a_key)
                why = reason_for(ans, miss, a_cov, mc)
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
                            why,
                            None,
                            raw,
                            norm,
                            True,
                        ),
                    )
                )
        o_assessed += d_assessed
        if not d_assessed:
            dims_out.append(not_assessed_dimension(d, areas_out))
            continue
        o_ans += d_ans
        o_na += d_na
        o_miss += d_miss
        cov = coverage_of(d_ans, d_miss)
        if not d_w:
            dims_out.append(
                held_back_dimension(
                    d,
                    d.weight,
                    cov,
                    (d_ans, d_na, d_miss),
                    mc,
                    areas_out,
                    areas_assessed=d_assessed,
                )
            )
            continue
        raw = d_s if summing else d_s / d_w
        norm = d_n / d_w
        dw = d.weight
        o_s += dw * raw
        o_w += dw
        o_n += dw * norm
        if cov is not None and cov >= mc:
            dims_out.append(
                new(
                    DimensionScore,
                    (
                        d_key,
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
                        None,
                        None,
                        True,
                        d_assessed,
                        tuple(d_partial),
                    ),
                )
            )
        else:
            o_partial.append(d.key)
            dims_out.append(
                held_back_dimension(
                    d,
                    dw,
                    cov,
                    (d_ans, d_na, d_miss),
                    mc,
                    areas_out,
                    partial=(raw, norm),
                    areas_assessed=d_assessed,
                    includes_partial=d_partial,
                )
            )
    cov = coverage_of(o_ans, o_miss)
    if o_w and cov is not None and cov >= mc:
        raw = o_s if summing else o_s / o_w
        band = band_index(c.band_maxes, raw)
        cap = _cap(c, dims_out, band)
        overall = new(
            OverallScore,
            (
                raw,
                o_n / o_w,
                cov,
                o_ans,
                o_na,
                o_miss,
                None,
                band if cap is None else capped_band(band, cap),
                cap,
                o_assessed,
                o_total,
                tuple(o_partial),
            ),
        )
    else:
        why = NOT_ASSESSED if partial_ok and not o_assessed else reason_for(o_ans, o_miss, cov, mc)
        overall = OverallScore(
            None,
            None,
            cov,
            o_ans,
            o_na,
            o_miss,
            why,
            None,
            None,
            o_assessed,
            o_total,
            tuple(o_partial),
        )
    dims = tuple(dims_out)
    return new(
        Score,
        (
            c.instrument_id,
            c.version,
            c.method,
            mc,
            overall,
            dims,
            lens.result(c),
            None,
            weakest_areas(weak),
            tuple(lowest),
        ),
    )


def capped_band(band: int | None, cap: Cap) -> int | None:
    """The overall band after the cap (a band beyond the last one counts as above any cap)."""
    if not cap.applied:
        return band
    assert cap.weakest_band is not None
    return cap.weakest_band + cap.bands_above


def _cap(c: CompiledInstrument, dims: list[DimensionScore], band: int | None) -> Cap | None:
    above = c.cap_by_weakest
    if above is None:
        return None
    # Every dimension that feeds the overall counts, shown or not: a dimension below coverage
    # still feeds it through its partial value, and leaving items blank must not lift the cap.
    feeding = {
        d.key: v for d in dims if (v := d.score if d.score is not None else d.partial) is not None
    }
    if not feeding:
        return Cap(above, False, (), None, band)
    low = min(feeding.values())
    weakest = tuple(k for k, v in feeding.items() if v == low)
    weakest_band = band_index(c.band_maxes, low)
    if weakest_band is None:
        return Cap(above, False, weakest, None, band)
    allowed = weakest_band + above
    applied = band is None or band > allowed
    return Cap(above, applied, weakest, weakest_band, band)
