"""Explained scores as stored JSON (the DESIGN §7 score object), and rounding at the edge."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache
from typing import Any

import orjson

from app.domain.instrument import Instrument
from app.domain.scoring import (
    AreaScore,
    DimensionScore,
    LensScore,
    Reason,
    Score,
    SectionRisk,
)

ENGINE_VERSION = 1


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
        "points": risk.points,
        "max_points": risk.max_points,
        "key_questions_failed": list(risk.key_questions_failed),
    }


def _node(node: AreaScore | DimensionScore) -> dict[str, Any]:
    return {
        "key": node.key,
        "lens": node.lens.value,
        "weight": node.weight,
        "score": node.score,
        "normalized": node.normalized,
        "coverage": node.coverage,
        "answered": node.answered,
        "na": node.na,
        "missing": node.missing,
        "reason": _reason(node.reason),
        "risk": _risk(node.risk),
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


def score_payload(score: Score, instrument: Instrument) -> dict[str, Any]:
    """The full explained score object (unrounded; the API rounds at the edge)."""
    o = score.overall
    band = instrument.scoring.bands[o.band] if o.band is not None else None
    titles = {d.key: d.title for d in instrument.dimensions}
    area_titles = {a.key: a.title for d in instrument.dimensions for a in d.areas}
    dimensions = []
    for d in score.dimensions:
        node = _node(d)
        node["title"] = titles[d.key].model_dump()
        node["areas"] = [{**_node(a), "title": area_titles[a.key].model_dump()} for a in d.areas]
        dimensions.append(node)
    risk = None
    if score.risk is not None:
        conditions = (
            {c.key: c.title for c in instrument.scoring.risk.conditions}
            if (instrument.scoring.risk)
            else {}
        )
        risk = {
            "overall": score.risk.overall.value if score.risk.overall else None,
            "percent": score.risk.percent,
            "rule": score.risk.rule,
            "reason": _reason(score.risk.reason),
            "sections": [
                {"key": d.key, **(_risk(d.risk) or {"band": None, "percent": None})}
                for d in score.dimensions
            ],
            "conditions": [
                {
                    "key": c.key,
                    "title": conditions[c.key].model_dump(),
                    "sections": [{"key": k, "band": b.value} for k, b in c.sections],
                    "reason": {
                        "en": "recommended because "
                        + ", ".join(f"section '{k}' is {b.value} risk" for k, b in c.sections),
                        "es": "se recomienda porque "
                        + ", ".join(
                            f"la sección '{k}' tiene riesgo {b.value}" for k, b in c.sections
                        ),
                    },
                }
                for c in score.risk.conditions
            ],
        }
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
            "band": band.label.model_dump() if band else None,
            "reason": _reason(o.reason),
        },
        "dimensions": dimensions,
        "lens": {lens.lens.value: _lens(lens) for lens in score.lens},
        "risk": risk,
    }


def score_summary(score: Score) -> dict[str, Any]:
    """The few numbers that series and cohort comparisons read (kept small for speed)."""
    return {
        "overall": score.overall.score,
        "dimensions": {d.key: d.score for d in score.dimensions},
        "lens": {lens.lens.value: lens.score for lens in score.lens},
        "risk": score.risk.overall.value if score.risk and score.risk.overall else None,
    }


_Q = Decimal("0.01")


def round_half_even(value: float) -> float:
    """Half-even to 2 places on the decimal the float prints as (2.675 -> 2.68, 2.665 -> 2.66)."""
    # -0.0 == 0.0 would share a cache slot: one zero, whichever sign came first, is not stable.
    return 0.0 if value == 0 else _round_half_even(value)


@lru_cache(maxsize=1 << 16)  # the same few hundred score values recur in every answer
def _round_half_even(value: float) -> float:
    return float(Decimal(repr(value)).quantize(_Q, rounding=ROUND_HALF_EVEN))


def rounded(value: Any) -> Any:
    """Round every float in a JSON-like structure half-even to 2 places (the edge rule)."""
    kind = type(value)
    if kind is float:
        return round_half_even(value)
    if kind is dict:
        return {k: rounded(v) if type(v) in _WALK else v for k, v in value.items()}
    if kind is list:
        if value and type(value[0]) is str:
            return value  # lists of ids and keys (the bulk of cohort answers) hold no numbers
        return [rounded(v) if type(v) in _WALK else v for v in value]
    return value


_WALK = frozenset({float, dict, list})


def render_score(assessment_id: object, computed_at: datetime, payload: dict[str, Any]) -> str:
    """The score object as the API sends it: rounded at this edge, serialized once."""
    body = {"assessment_id": str(assessment_id), "computed_at": computed_at.isoformat(), **payload}
    return as_json(body)


def as_json(value: Any) -> str:
    """Rounded at the edge and serialized: for reads whose shape our own code builds."""
    return orjson.dumps(rounded(value)).decode()
