"""Explained scores as stored JSON (the DESIGN §7 score object), and rounding at the edge."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson

from app.domain.instrument import Instrument
from app.domain.rounding import rounded_numbers
from app.domain.scoring import (
    NA,
    AnswerValue,
    AreaScore,
    DimensionScore,
    LensScore,
    Reason,
    Score,
    SectionRisk,
)
from app.services.risk_notice import risk_payload

# 2: key questions count whatever the coverage, "not assessed" sections and overall, what drives
# the overall band, conditions with their 200.208(c) notice and from medium where an area fails,
# weakest areas, the cap by the weakest dimension, partial assessments, and shown partial values.
# 3: the cap by the weakest dimension also counts a dimension shown empty that feeds the overall.
ENGINE_VERSION = 3


def _reason(reason: Reason | None) -> dict[str, str] | None:
    if reason is None:
        return None
    return {"code": reason.code, "en": reason.en, "es": reason.es}


def _risk(risk: SectionRisk | None) -> dict[str, Any] | None:
    if risk is None:
        return None
    return {
        "percent": risk.percent,
        "band": risk.band.value if risk.band else None,
        "basis": risk.basis,
        "points": risk.points,
        "max_points": risk.max_points,
        "key_questions_failed": list(risk.key_questions_failed),
        "failing_areas": list(risk.failing_areas),
    }


def _node(node: AreaScore | DimensionScore) -> dict[str, Any]:
    # ``_value_``, not ``value``: the same str, without the enum property's call (a stored score
    # has ~50 nodes)
    return {
        "key": node.key,
        "lens": node.lens._value_,
        "weight": node.weight,
        "score": node.score,
        "normalized": node.normalized,
        "coverage": node.coverage,
        "answered": node.answered,
        "na": node.na,
        "missing": node.missing,
        "reason": None if node.reason is None else _reason(node.reason),
        "risk": None if node.risk is None else _risk(node.risk),
        "assessed": node.assessed,
        "partial": (
            None
            if node.partial is None
            else {"score": node.partial, "normalized": node.partial_normalized}
        ),
    }


def _lens(lens: LensScore) -> dict[str, Any]:
    return {
        "score": lens.score,
        "coverage": lens.coverage,
        "answered": lens.answered,
        "na": lens.na,
        "missing": lens.missing,
        "areas": list(lens.areas),
        "reason": _reason(lens.reason),
    }


def _label(instrument: Instrument, band: int | None) -> dict[str, str] | None:
    bands = instrument.scoring.bands
    return bands[band].label.as_dict() if band is not None and band < len(bands) else None


def _cap(score: Score, instrument: Instrument) -> dict[str, Any] | None:
    cap = score.overall.cap
    if cap is None:
        return None
    weakest_band = _label(instrument, cap.weakest_band)
    uncapped = _label(instrument, cap.uncapped_band)
    titles = {d.key: d.title for d in instrument.dimensions}
    names_en = ", ".join(f"'{titles[k].en}'" for k in cap.weakest)
    names_es = ", ".join(f"«{titles[k].es}»" for k in cap.weakest)
    reason = None
    if cap.applied and weakest_band is not None:
        reason = {
            "code": "capped_by_weakest",
            "en": f"the overall band is at most {cap.bands_above} band(s) above the band of the "
            f"weakest dimension ({names_en}: {weakest_band['en']}); the mean alone would give "
            f"{uncapped['en'] if uncapped else 'a band beyond the last'}",
            "es": f"el nivel general puede estar como máximo {cap.bands_above} nivel(es) por "
            f"encima del nivel de la dimensión más débil ({names_es}: {weakest_band['es']}); "
            f"el promedio por sí solo daría "
            f"{uncapped['es'] if uncapped else 'un nivel más allá del último'}",
        }
    return {
        "bands_above": cap.bands_above,
        "applied": cap.applied,
        "weakest_dimensions": list(cap.weakest),
        "weakest_band": weakest_band,
        "uncapped_band": uncapped,
        "reason": reason,
    }


def _overall_notes(score: Score, instrument: Instrument) -> list[dict[str, str]]:
    """Plain sentences on how the overall number was made, where it is not obvious."""
    o = score.overall
    notes: list[dict[str, str]] = []
    if o.includes_partial:
        keys = ", ".join(f"'{k}'" for k in o.includes_partial)
        notes.append(
            {
                "code": "includes_partial",
                "en": f"dimension(s) {keys} are shown without a score (coverage below the "
                "minimum), yet their answered items are part of the overall; the value each "
                "one contributes is shown as its 'partial' score",
                "es": f"la(s) dimensión(es) {keys} se muestran sin puntaje (cobertura menor al "
                "mínimo), pero sus ítems con respuesta forman parte del puntaje general; el "
                "valor con que contribuye cada una se muestra como su puntaje 'parcial'",
            }
        )
    if instrument.scoring.allow_partial and o.areas_assessed < o.areas_total:
        notes.append(
            {
                "code": "partial_assessment",
                "en": f"a partial assessment: {o.areas_assessed} of {o.areas_total} areas were "
                "assessed; the scores describe those areas only",
                "es": f"una evaluación parcial: se evaluaron {o.areas_assessed} de "
                f"{o.areas_total} áreas; los puntajes describen solo esas áreas",
            }
        )
    return notes


def _weakest(score: Score, instrument: Instrument) -> list[dict[str, Any]]:
    titles = {a.key: a.title for d in instrument.dimensions for a in d.areas}
    return [
        {
            "key": w.key,
            "dimension": w.dimension,
            "title": titles[w.key].as_dict(),
            "score": w.score,
            "normalized": w.normalized,
            "lowest_level": w.lowest_level,
        }
        for w in score.weakest
    ]


def score_payload(score: Score, instrument: Instrument) -> dict[str, Any]:
    """The full explained score object (unrounded; the API rounds at the edge)."""
    o = score.overall
    titles = {d.key: d.title for d in instrument.dimensions}
    area_titles = {a.key: a.title for d in instrument.dimensions for a in d.areas}
    dimensions = []
    for d in score.dimensions:
        node = _node(d)
        node["title"] = titles[d.key].as_dict()
        node["areas_assessed"] = d.areas_assessed
        node["includes_partial"] = list(d.includes_partial)
        node["areas"] = [{**_node(a), "title": area_titles[a.key].as_dict()} for a in d.areas]
        dimensions.append(node)
    return {
        "instrument": {"id": score.instrument_id, "version": score.version},
        "method": score.method.value,
        "min_coverage": score.min_coverage,
        "engine_version": ENGINE_VERSION,
        "overall": {
            "score": o.score,
            "normalized": o.normalized,
            "coverage": o.coverage,
            "answered": o.answered,
            "na": o.na,
            "missing": o.missing,
            "band": _label(instrument, o.band),
            "reason": _reason(o.reason),
            "cap": _cap(score, instrument),
            "areas_assessed": o.areas_assessed,
            "areas_total": o.areas_total,
            "includes_partial": list(o.includes_partial),
            "notes": _overall_notes(score, instrument),
        },
        "dimensions": dimensions,
        "lens": {lens.lens.value: _lens(lens) for lens in score.lens},
        "weakest": _weakest(score, instrument),
        "lowest_level": list(score.lowest_level),
        "any_at_lowest_level": bool(score.lowest_level),
        "risk": risk_payload(score, instrument),
    }


def score_summary(score: Score, answers: Mapping[str, AnswerValue] | None = None) -> dict[str, Any]:
    """The few numbers that series and cohort comparisons read (kept small for speed), and, given
    the answers scored, the digest of the items answered (``answered_digest``)."""
    summary = {
        "overall": score.overall.score,
        "dimensions": {d.key: d.score for d in score.dimensions},
        "lens": {lens.lens.value: lens.score for lens in score.lens},
        "risk": score.risk.overall.value if score.risk and score.risk.overall else None,
        "engine_version": ENGINE_VERSION,
    }
    if answers is not None:
        summary[ANSWERED] = answered_digest(answers)
    return summary


ANSWERED = "answered"  # the summary's key of the answered items' digest


def answered_digest(answers: Mapping[str, AnswerValue]) -> str:
    """The set of items answered with a value (not N/A, not left empty), as a short digest: two
    assessments on one version answered the same items when their digests are equal (the cohort
    comparison then uses their stored scores instead of scoring them again on common items)."""
    keys = sorted(k for k, v in answers.items() if v is not NA)
    return hashlib.blake2b("\n".join(keys).encode(), digest_size=16).hexdigest()


def render_score(assessment_id: object, computed_at: datetime, payload: dict[str, Any]) -> str:
    """The score object as the API sends it: rounded at this edge, serialized once."""
    body = {"assessment_id": str(assessment_id), "computed_at": computed_at.isoformat(), **payload}
    return as_json(body)


def as_json(value: Any) -> str:
    """Rounded at the edge and serialized: for reads whose shape our own code builds."""
    return orjson.dumps(rounded_numbers(value)).decode()
