"""The risk part of the stored score object: sections, what drives the overall band, and each
recommended condition with what 2 CFR 200.208(c) says the recipient must be told."""

from __future__ import annotations

from typing import Any

from app.domain.instrument import Condition, Instrument, RiskBand, Text
from app.domain.scoring import BAND_NAMES, ConditionCause, DimensionScore, Score


def _text(text: Text | None) -> dict[str, str] | None:
    return text.as_dict() if text is not None else None


def _band(band: RiskBand, lang: int) -> str:
    return BAND_NAMES[band][lang]


def _section(d: DimensionScore, title: Text) -> dict[str, Any]:
    risk = d.risk
    return {
        "key": d.key,
        "title": title.as_dict(),
        "percent": risk.percent if risk else None,
        "band": risk.band.value if risk and risk.band else None,
        "basis": risk.basis if risk else None,
        "points": risk.points if risk else 0.0,
        "max_points": risk.max_points if risk else 0.0,
        "key_questions_failed": list(risk.key_questions_failed) if risk else [],
        "failing_areas": list(risk.failing_areas) if risk else [],
        "assessed": bool(risk and risk.band),
        "reason": (
            None
            if d.reason is None
            else {"code": d.reason.code, "en": d.reason.en, "es": d.reason.es}
        ),
    }


def _why(cause: ConditionCause, titles: dict[str, Text]) -> tuple[str, str]:
    """One section's part of a condition's reason, in English and Spanish."""
    title = titles[cause.section]
    en_parts: list[str] = []
    es_parts: list[str] = []
    if cause.key_questions_failed:
        keys = ", ".join(cause.key_questions_failed)
        en_parts.append(f"key question(s) answered the risky way: {keys}")
        es_parts.append(f"pregunta(s) clave con la respuesta de riesgo: {keys}")
    if cause.failing_areas:
        en_parts.append(
            "failing area(s): " + ", ".join(f"'{titles[k].en}'" for k in cause.failing_areas)
        )
        es_parts.append(
            "área(s) con falla: " + ", ".join(f"«{titles[k].es}»" for k in cause.failing_areas)
        )
    en = f"section '{title.en}' is at {_band(cause.band, 0)} risk"
    es = f"la sección «{title.es}» tiene riesgo {_band(cause.band, 1)}"
    if en_parts:
        en += " (" + "; ".join(en_parts) + ")"
        es += " (" + "; ".join(es_parts) + ")"
    return en, es


def _condition(
    key: str, causes: tuple[ConditionCause, ...], c: Condition, titles: dict[str, Text]
) -> dict[str, Any]:
    parts = [_why(cause, titles) for cause in causes]
    return {
        "key": key,
        "title": c.title.as_dict(),
        "sections": [
            {
                "key": cause.section,
                "band": cause.band.value,
                "key_questions_failed": list(cause.key_questions_failed),
                "failing_areas": list(cause.failing_areas),
            }
            for cause in causes
        ],
        "reason": {
            "en": "recommended because " + "; ".join(en for en, _ in parts),
            "es": "se recomienda porque " + "; ".join(es for _, es in parts),
        },
        "action": _text(c.action),
        "time_allowed": _text(c.time_allowed),
        "reconsideration": _text(c.reconsideration),
        "notice_complete": None not in (c.action, c.time_allowed, c.reconsideration),
    }


def _explanation(score: Score, titles: dict[str, Text]) -> dict[str, str] | None:
    """Why the overall band is what it is, in a sentence per language."""
    risk = score.risk
    if risk is None or risk.overall is None:
        return None
    band_en, band_es = BAND_NAMES[risk.overall]
    names_en = ", ".join(f"'{titles[k].en}'" for k in risk.driven_by)
    names_es = ", ".join(f"«{titles[k].es}»" for k in risk.driven_by)
    if risk.rule == "mean_section":
        en = f"overall risk is {band_en}: the mean risk of the sections {names_en}"
        es = f"el riesgo general es {band_es}: el promedio de riesgo de las secciones {names_es}"
    else:
        en = f"overall risk is {band_en} because {names_en} is at {band_en} risk (worst section)"
        es = (
            f"el riesgo general es {band_es} porque {names_es} tiene riesgo {band_es} "
            "(la peor sección)"
        )
    en += "; the percentage beside it is the share of risk points over all answered questions"
    es += (
        "; el porcentaje junto a él es la proporción de puntos de riesgo sobre todas las "
        "preguntas con respuesta"
    )
    if not risk.complete:
        keys = ", ".join(risk.not_assessed)
        en += f"; incomplete: {keys} not fully assessed, so the risk may be higher"
        es += f"; incompleto: {keys} sin evaluar por completo, así que el riesgo puede ser mayor"
    return {"en": en, "es": es}


def risk_payload(score: Score, instrument: Instrument) -> dict[str, Any] | None:
    """The ``risk`` member of the score object, or None for instruments not scored by risk."""
    risk = score.risk
    rules = instrument.scoring.risk
    if risk is None or rules is None:
        return None
    titles = {d.key: d.title for d in instrument.dimensions}
    titles.update({a.key: a.title for d in instrument.dimensions for a in d.areas})
    by_key = {c.key: c for c in rules.conditions}
    return {
        "overall": risk.overall.value if risk.overall else None,
        "percent": risk.percent,
        "rule": risk.rule,
        "reason": (
            None
            if risk.reason is None
            else {"code": risk.reason.code, "en": risk.reason.en, "es": risk.reason.es}
        ),
        "driven_by": list(risk.driven_by),
        "complete": risk.complete,
        "not_assessed": list(risk.not_assessed),
        "explanation": _explanation(score, titles),
        "sections": [_section(d, titles[d.key]) for d in score.dimensions],
        "conditions": [
            _condition(c.key, c.sections, by_key[c.key], titles) for c in risk.conditions
        ],
    }
