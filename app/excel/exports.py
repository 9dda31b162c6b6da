"""Exports: an assessment, an organization's series, a cohort comparison, and raw data.

What each sheet means lives here: the column specs (``StrEnum``) with their English and Spanish
headers, and what goes in each cell. How cells, tables, charts and CSV fields are written safely
is in ``_export_write``. Every function is pure (bytes or text out) and takes already-loaded
values: the instrument version, and the JSON that ``services.scores`` and ``services.analysis``
produce. Numbers are rounded half-even to two places here, at the edge (DESIGN §5).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, Final

from openpyxl import Workbook

from app.domain.instrument import Instrument, Item, Lens, Method
from app.domain.rounding import shown_change
from app.domain.scoring import NA, AnswerValue
from app.excel._export_write import (
    BOM,
    COUNT_FORMAT,
    MUTED,
    PERCENT_FORMAT,
    POINTS_FORMAT,
    SCORE_FORMAT,
    SECTION_FONT,
    SHARE_FORMAT,
    SMALL_MUTED,
    TITLE_FONT,
    Value,
    ValueAxis,
    chart,
    chart_rows,
    csv_chunk,
    csv_text,
    fit_rows,
    label_values,
    lines_height,
    new_workbook,
    note,
    number_text,
    page_break_before,
    page_setup,
    pages_wide,
    put,
    round2,
    stream_row,
    table,
    text_of,
    widths,
    workbook_bytes,
    wrap,
)
from app.excel.layout import (
    ITEM_HEADERS,
    NA_LABEL,
    ItemColumn,
    Language,
    check_language,
    round_name,
    shorten,
)
from app.excel.score_reading import write_score_reading

Labels = dict[str, str]


def _pair(en: str, es: str) -> Labels:
    return {"en": en, "es": es}


# --- inputs the service layer fills --------------------------------------------------------------


@dataclass(frozen=True)
class AssessmentInfo:
    """What the cover sheet of an assessment export says about the assessment."""

    assessment_id: str
    organization_name: str
    round: str
    assessed_on: date
    status: str  # draft | submitted | final (other values are shown as they are)
    instrument_version: str
    revision: int = 1
    organization_external_id: str | None = None
    assessor: str | None = None


@dataclass(frozen=True)
class CohortRow:
    """One organization's baseline and endline numbers, keyed ``overall`` and dimension keys.

    The fields are those of ``app.domain.comparison.OrgPair`` (``CohortResult.pairs``); an empty
    mapping means the organization has no scored assessment for that round (none, or a draft).
    ``external_id`` is the organization's ID in the program (shown before the internal UUID).
    """

    organization_id: str
    name: str
    baseline: Mapping[str, float | None]
    endline: Mapping[str, float | None]
    external_id: str | None = None
    left_out: int = 0  # items answered in one round only, left out of both


@dataclass(frozen=True)
class RawRow:
    """One assessment as a raw data row. Answers of items the instrument does not have are
    ignored (columns are the instrument version's items); absent items are blank."""

    assessment_id: str
    organization_id: str
    organization_name: str
    round: str
    assessed_on: date
    status: str
    instrument_version: str
    overall: float | None
    answers: Mapping[str, AnswerValue]
    external_id: str | None = None


# --- words ---------------------------------------------------------------------------------------

SHEETS: Final[dict[str, Labels]] = {
    "cover": _pair("Cover", "Portada"),
    "answers": _pair("Answers", "Respuestas"),
    "scores": _pair("Scores", "Puntajes"),
    "risk": _pair("Risk", "Riesgo"),
    "series": _pair("Series", "Serie"),
    "organizations": _pair("Organizations", "Organizaciones"),
    "summary": _pair("Summary", "Resumen"),
    "data": _pair("Data", "Datos"),
    "items": _pair("Items", "Ítems"),
}

_T: Final[dict[str, Labels]] = {
    "assessment_title": _pair("Assessment", "Evaluación"),
    "overall": _pair("Overall", "Global"),
    "dimensions": _pair("Dimensions", "Dimensiones"),
    "areas": _pair("Areas", "Áreas"),
    "lens": _pair("Sustainability profile (0–100)", "Perfil de sostenibilidad (0–100)"),
    "no_answer": _pair("(no answer)", "(sin respuesta)"),
    "key_question": _pair("Key question", "Pregunta clave"),
    "not_scored": _pair(
        "This assessment has no score yet.", "Esta evaluación todavía no tiene puntaje."
    ),
    "not_scored_draft": _pair(
        "This assessment has no score: it is a draft, and drafts are scored when they are "
        "submitted.",
        "Esta evaluación no tiene puntaje: es un borrador, y los borradores se califican cuando "
        "se envían.",
    ),
    "na_suffix": _pair(" (N/A)", " (No aplica)"),
    "no_score_suffix": _pair(" (no score)", " (sin puntaje)"),
    "lens_note": _pair(
        "The sustainability profile groups the instrument's areas into four dimensions "
        "(management, financing, processes, culture); each area's score is rescaled from its "
        "scale's range to 0–100 (for risk instruments, 100 − risk %). It is not a rescaling of "
        "a dimension with the same name. These values come from {instrument}: a profile from "
        "another instrument, or from another version's mapping, is a different measure.",
        "El perfil de sostenibilidad agrupa las áreas del instrumento en cuatro dimensiones "
        "(gestión, financiamiento, procesos, cultura); el puntaje de cada área se lleva del rango "
        "de su escala a 0–100 (en instrumentos de riesgo, 100 − riesgo %). No es un cambio de "
        "escala de una dimensión del mismo nombre. Estos valores provienen de {instrument}: un "
        "perfil de otro instrumento, o de la asignación de otra versión, es una medida distinta.",
    ),
    "score_chart": _pair("Score by dimension", "Puntaje por dimensión"),
    "risk_chart": _pair("Risk by section (%)", "Riesgo por sección (%)"),
    "area_chart": _pair("Score by area", "Puntaje por área"),
    "area_risk_chart": _pair("Risk by area (%)", "Riesgo por área (%)"),
    "lens_chart": _pair("Sustainability profile (0–100)", "Perfil de sostenibilidad (0–100)"),
    "score_axis": _pair("Score", "Puntaje"),
    "risk_axis": _pair("Risk %", "Riesgo %"),
    "risk_title": _pair("Risk assessment", "Evaluación de riesgo"),
    "overall_risk": _pair("Overall risk", "Riesgo global"),
    "pooled_risk_percent": _pair(
        "Risk over all questions, pooled (%)", "Riesgo sobre todas las preguntas en conjunto (%)"
    ),
    "risk_rule": _pair("Overall risk is", "El riesgo global es"),
    "key_question_floor": _pair(
        "; a key question answered the risky way", "; una pregunta clave con respuesta de riesgo"
    ),
    "pooled_note": _pair(
        "The pooled % counts every question's risk points together; it is not the overall "
        "risk, which follows the rule above.",
        "El % en conjunto suma los puntos de riesgo de todas las preguntas; no es el riesgo "
        "global, que sigue la regla anterior.",
    ),
    "sections": _pair("Sections", "Secciones"),
    "conditions": _pair(
        "Recommended special award conditions (2 CFR 200.208)",
        "Condiciones especiales recomendadas (2 CFR 200.208)",
    ),
    "no_conditions": _pair(
        "No special conditions are recommended.", "No se recomiendan condiciones especiales."
    ),
    "because": _pair("Recommended because ", "Se recomienda porque "),
    "section_is": _pair(
        "section «{section}» is {band} risk", "la sección «{section}» tiene {band}"
    ),
    "series_title": _pair("Scores over time", "Puntajes en el tiempo"),
    "series_chart": _pair("Scores by round", "Puntajes por ronda"),
    "series_risk_chart": _pair("Risk by round (%)", "Riesgo por ronda (%)"),
    "radar_title": _pair("First vs latest assessment", "Primera vs. última evaluación"),
    "radar_chart": _pair(
        "First vs latest assessment by dimension", "Primera vs. última evaluación por dimensión"
    ),
    "first": _pair("First", "Primera"),
    "chart_label": _pair("Label in the chart", "Etiqueta en el gráfico"),
    "latest": _pair("Latest", "Última"),
    "no_points": _pair(
        "There are no scored assessments yet.", "Todavía no hay evaluaciones con puntaje."
    ),
    "cohort_title": _pair("Cohort comparison", "Comparación de la cohorte"),
    "cohort": _pair("Cohort", "Cohorte"),
    "instrument": _pair("Instrument", "Instrumento"),
    "baseline_round": _pair("Baseline round", "Ronda de línea de base"),
    "endline_round": _pair("Endline round", "Ronda de línea final"),
    "members": _pair("Organizations in the cohort", "Organizaciones en la cohorte"),
    "with_both": _pair("With both rounds", "Con ambas rondas"),
    "only_baseline": _pair("Only baseline", "Solo línea de base"),
    "only_endline": _pair("Only endline", "Solo línea final"),
    "threshold": _pair("Improvement threshold", "Umbral de mejora"),
    "versions_mixed": _pair(
        "Note: the assessments use more than one instrument version. {rescored} organization(s) "
        "with a round on an older version are scored on version {version}, on the items its "
        "supersedes map carries over; {left} could not be compared and are left out.",
        "Nota: las evaluaciones usan más de una versión del instrumento. {rescored} "
        "organización(es) con una ronda en una versión anterior se puntúan en la versión "
        "{version}, con los ítems que su mapa de equivalencias conserva; {left} no se pudieron "
        "comparar y quedan fuera.",
    ),
    "means_chart": _pair(
        "Mean score by dimension: baseline vs endline",
        "Puntaje medio por dimensión: línea de base vs. línea final",
    ),
    "means_risk_chart": _pair(
        "Mean risk % by section: baseline vs endline",
        "Riesgo medio % por sección: línea de base vs. línea final",
    ),
    "paired_n": _pair(
        "organizations with both rounds, n = {n}", "organizaciones con ambas rondas, n = {n}"
    ),
    "share_chart": _pair(
        "Share of organizations that {improved}, by dimension",
        "Proporción de organizaciones que {improved}, por dimensión",
    ),
    "share_axis": _pair("Share", "Proporción"),
    "yes": _pair("Yes", "Sí"),
    "no": _pair("No", "No"),
    "no_baseline": _pair(
        "no baseline scored (draft?)", "sin línea de base con puntaje (¿borrador?)"
    ),
    "no_endline": _pair("no endline scored (draft?)", "sin línea final con puntaje (¿borrador?)"),
    "no_score": _pair("no score", "sin puntaje"),
    "cohort_note": _pair(
        "Scores are rounded half-even to 2 places; Change = the shown endline − the shown "
        "baseline, and “Change, unrounded” is the same before rounding. Direction shows any rise "
        "or fall{risk}. {improved}: improved when the change reaches the threshold, declined when "
        "it reaches it the other way, unchanged in between. Items left out: answered in one round "
        "only (missing or N/A in the other), so both rounds of that organization are scored "
        "without them.",
        "Los puntajes se redondean al par más cercano con 2 decimales; Cambio = la línea final "
        "mostrada − la línea de base mostrada, y «Cambio, sin redondear» es lo mismo antes de "
        "redondear. Dirección muestra toda subida o bajada{risk}. {improved}: mejoró cuando el "
        "cambio alcanza el umbral, empeoró cuando lo alcanza en sentido contrario, sin cambio "
        "entre ambos. Ítems excluidos: respondidos en una sola ronda (sin respuesta o «No aplica» "
        "en la otra), por lo que ambas rondas de esa organización se puntúan sin ellos.",
    ),
    "risk_down_is_better": _pair(" (for risk, down is better)", " (en riesgo, bajar es mejor)"),
    "summary_note": _pair(
        "The paired columns (and the chart) compare the same organizations in both rounds; the "
        "“all scored” columns describe every organization scored in that round.",
        "Las columnas emparejadas (y el gráfico) comparan las mismas organizaciones en ambas "
        "rondas; las columnas «todas con puntaje» describen a todas las organizaciones con "
        "puntaje en esa ronda.",
    ),
}

OUTCOME: Final[dict[str, Labels]] = {
    "improved": _pair("improved", "mejoró"),
    "declined": _pair("declined", "empeoró"),
    "unchanged": _pair("unchanged", "sin cambio"),
}
UNROUNDED_FORMAT: Final = "0.0000"  # the unrounded change, shown to 4 places

DIRECTION: Final[dict[str, Labels]] = {
    "up": _pair("up", "sube"),
    "same": _pair("same", "igual"),
    "down": _pair("down", "baja"),
}
# the unit of the improvement threshold, by scale kind: (singular, plural)
_UNIT: Final[dict[str, dict[str, tuple[str, str]]]] = {
    "levels": {"en": ("level", "levels"), "es": ("nivel", "niveles")},
    "stages": {"en": ("stage", "stages"), "es": ("etapa", "etapas")},
    "points": {"en": ("point", "points"), "es": ("punto", "puntos")},
    "yesno": {"en": ("point", "points"), "es": ("punto", "puntos")},
}
_IMPROVED: Final[dict[str, Labels]] = {
    "scale": _pair(
        "Outcome, ± {n} {unit} ({low}–{high} scale)",
        "Resultado, ± {n} {unit} (escala {low}–{high})",
    ),
    "plain": _pair("Outcome, ± {n} {unit}", "Resultado, ± {n} {unit}"),
    "risk": _pair(
        "Outcome, risk ± {n} {unit} (0–100 %)", "Resultado, riesgo ± {n} {unit} (0–100 %)"
    ),
}
_IMPROVED_VERB: Final[dict[str, Labels]] = {
    "scale": _pair(
        "improved ≥ {n} {unit} ({low}–{high} scale)", "mejoraron ≥ {n} {unit} (escala {low}–{high})"
    ),
    "plain": _pair("improved ≥ {n} {unit}", "mejoraron ≥ {n} {unit}"),
    "risk": _pair("lowered risk ≥ {n} {unit}", "bajaron el riesgo ≥ {n} {unit}"),
}

STATUS: Final[dict[str, Labels]] = {
    "draft": _pair("Draft", "Borrador"),
    "submitted": _pair("Submitted", "Enviada"),
    "final": _pair("Final", "Final"),
}

LENS: Final[dict[Lens, Labels]] = {
    Lens.management: _pair("Management", "Gestión"),
    Lens.financing: _pair("Financing", "Financiamiento"),
    Lens.processes: _pair("Processes", "Procesos"),
    Lens.culture: _pair("Culture", "Cultura"),
}

RISK_BAND: Final[dict[str, Labels]] = {
    "low": _pair("Low", "Bajo"),
    "medium": _pair("Medium", "Medio"),
    "high": _pair("High", "Alto"),
    "extreme": _pair("Extreme", "Extremo"),
}
_RISK_BAND_PHRASE: Final[dict[str, Labels]] = {
    "low": _pair("low", "riesgo bajo"),
    "medium": _pair("medium", "riesgo medio"),
    "high": _pair("high", "riesgo alto"),
    "extreme": _pair("extreme", "riesgo extremo"),
}
RISK_RULE: Final[dict[str, Labels]] = {
    "worst_section": _pair(
        "the band of the worst section: {sections}", "el nivel de la peor sección: {sections}"
    ),
    "mean_section": _pair(
        "the band of the mean of the sections' risk ({percent} %)",
        "el nivel del promedio del riesgo de las secciones ({percent} %)",
    ),
}


# --- column specs --------------------------------------------------------------------------------


class CoverRow(StrEnum):
    organization = "organization"
    external_id = "external_id"
    round = "round"
    assessed_on = "assessed_on"
    assessor = "assessor"
    status = "status"
    instrument = "instrument"
    instrument_version = "instrument_version"
    revision = "revision"
    assessment_id = "assessment_id"


COVER_HEADERS: Final[dict[CoverRow, Labels]] = {
    CoverRow.organization: _pair("Organization", "Organización"),
    CoverRow.external_id: _pair("Organization ID (program)", "ID de la organización (programa)"),
    CoverRow.round: _pair("Round", "Ronda"),
    CoverRow.assessed_on: _pair("Assessment date", "Fecha de la evaluación"),
    CoverRow.assessor: _pair("Assessor / facilitator", "Evaluador(a) / facilitador(a)"),
    CoverRow.status: _pair("Status", "Estado"),
    CoverRow.instrument: _pair("Instrument", "Instrumento"),
    CoverRow.instrument_version: _pair("Instrument version", "Versión del instrumento"),
    CoverRow.revision: _pair("Revision", "Revisión"),
    CoverRow.assessment_id: _pair("Assessment ID", "ID de la evaluación"),
}


class AnswerColumn(StrEnum):
    dimension = "dimension"
    area = "area"
    key = "key"
    item = "item"
    value = "value"
    answer = "answer"
    note = "note"


ANSWER_HEADERS: Final[dict[AnswerColumn, Labels]] = {
    AnswerColumn.dimension: _pair("Dimension", "Dimensión"),
    AnswerColumn.area: ITEM_HEADERS[ItemColumn.area],
    AnswerColumn.key: ITEM_HEADERS[ItemColumn.key],
    AnswerColumn.item: ITEM_HEADERS[ItemColumn.item],
    AnswerColumn.value: _pair("Value", "Valor"),
    AnswerColumn.answer: ITEM_HEADERS[ItemColumn.answer],
    AnswerColumn.note: ITEM_HEADERS[ItemColumn.notes],
}


class ScoreColumn(StrEnum):
    name = "name"
    score = "score"
    coverage = "coverage"
    answered = "answered"
    na = "na"
    missing = "missing"
    reason = "reason"
    band = "band"
    dimension = "dimension"


SCORE_HEADERS: Final[dict[ScoreColumn, Labels]] = {
    ScoreColumn.name: _pair("Name", "Nombre"),
    ScoreColumn.score: _pair("Score", "Puntaje"),
    ScoreColumn.coverage: _pair("Coverage", "Cobertura"),
    ScoreColumn.answered: _pair("Answered", "Con respuesta"),
    ScoreColumn.na: NA_LABEL,
    ScoreColumn.missing: _pair("Missing", "Sin respuesta"),
    ScoreColumn.reason: _pair("Why there is no score", "Por qué no hay puntaje"),
    ScoreColumn.band: _pair("Band", "Nivel"),
    ScoreColumn.dimension: _pair("Dimension", "Dimensión"),
}
# the score column of a risk instrument (NUPAS) and of the 0-100 lens profile
RISK_SCORE_HEADER: Final = _pair("Risk %", "Riesgo %")
POOLED_RISK_HEADER: Final = _pair("Risk % (pooled)", "Riesgo % (en conjunto)")
LENS_SCORE_HEADER: Final = _pair("Score (0–100)", "Puntaje (0–100)")

# every table of the Scores sheet starts with the same columns, so that they line up
DIMENSION_COLUMNS: Final = (
    ScoreColumn.name,
    ScoreColumn.score,
    ScoreColumn.coverage,
    ScoreColumn.answered,
    ScoreColumn.na,
    ScoreColumn.missing,
    ScoreColumn.reason,
)
OVERALL_COLUMNS: Final = (*DIMENSION_COLUMNS, ScoreColumn.band)
AREA_COLUMNS: Final = (*DIMENSION_COLUMNS, ScoreColumn.dimension)
LENS_COLUMNS: Final = DIMENSION_COLUMNS
_SCORE_FORMATS: Final[dict[ScoreColumn, str]] = {
    ScoreColumn.score: SCORE_FORMAT,
    ScoreColumn.coverage: SHARE_FORMAT,
    ScoreColumn.answered: COUNT_FORMAT,
    ScoreColumn.na: COUNT_FORMAT,
    ScoreColumn.missing: COUNT_FORMAT,
}
_SCORES_WIDTHS: Final = (44, 12, 11, 13, 10, 13, 44, 44)


class RiskColumn(StrEnum):
    section = "section"
    percent = "percent"
    band = "band"
    points = "points"
    max_points = "max_points"
    key_questions = "key_questions"


RISK_HEADERS: Final[dict[RiskColumn, Labels]] = {
    RiskColumn.section: _pair("Section", "Sección"),
    RiskColumn.percent: RISK_SCORE_HEADER,
    RiskColumn.band: _pair("Risk band", "Nivel de riesgo"),
    RiskColumn.points: _pair("Risk points", "Puntos de riesgo"),
    RiskColumn.max_points: _pair("Maximum points", "Puntos máximos"),
    RiskColumn.key_questions: _pair(
        "Key questions answered the risky way", "Preguntas clave con respuesta de riesgo"
    ),
}


class ConditionColumn(StrEnum):
    condition = "condition"
    reason = "reason"
    sections = "sections"


CONDITION_HEADERS: Final[dict[ConditionColumn, Labels]] = {
    ConditionColumn.condition: _pair("Condition", "Condición"),
    ConditionColumn.reason: _pair("Reason", "Motivo"),
    ConditionColumn.sections: _pair("Sections", "Secciones"),
}


class SeriesColumn(StrEnum):
    """The fixed columns of the series table; dimension and lens columns follow ``overall``."""

    assessed_on = "assessed_on"
    round = "round"
    status = "status"
    instrument_version = "instrument_version"
    overall = "overall"
    risk = "risk"  # risk instruments only, after the lens columns


SERIES_HEADERS: Final[dict[SeriesColumn, Labels]] = {
    SeriesColumn.assessed_on: _pair("Date", "Fecha"),
    SeriesColumn.round: _pair("Round", "Ronda"),
    SeriesColumn.status: COVER_HEADERS[CoverRow.status],
    SeriesColumn.instrument_version: COVER_HEADERS[CoverRow.instrument_version],
    SeriesColumn.overall: _T["overall"],
    SeriesColumn.risk: _T["overall_risk"],
}


class CohortColumn(StrEnum):
    """Two fixed columns, five per compared key (overall first, then each dimension), and the
    internal ID last."""

    organization = "organization"
    external_id = "external_id"
    baseline = "baseline"
    endline = "endline"
    change = "change"
    change_unrounded = "change_unrounded"
    direction = "direction"
    improved = "improved"  # the outcome; its header says the threshold: see _improved_label
    left_out = "left_out"
    organization_id = "organization_id"


COHORT_HEADERS: Final[dict[CohortColumn, Labels]] = {
    CohortColumn.organization: COVER_HEADERS[CoverRow.organization],
    CohortColumn.external_id: COVER_HEADERS[CoverRow.external_id],
    CohortColumn.baseline: _pair("Baseline", "Línea de base"),
    CohortColumn.endline: _pair("Endline", "Línea final"),
    CohortColumn.change: _pair("Change", "Cambio"),
    CohortColumn.change_unrounded: _pair("Change, unrounded", "Cambio, sin redondear"),
    CohortColumn.direction: _pair("Direction", "Dirección"),
    CohortColumn.improved: _pair("Outcome", "Resultado"),
    CohortColumn.left_out: _pair(
        "Items left out (answered in one round only)",
        "Ítems excluidos (respondidos en una sola ronda)",
    ),
    CohortColumn.organization_id: _pair("Internal ID", "ID interno"),
}
COHORT_KEY_COLUMNS: Final = (
    CohortColumn.baseline,
    CohortColumn.endline,
    CohortColumn.change,
    CohortColumn.change_unrounded,
    CohortColumn.direction,
    CohortColumn.improved,
)


class SummaryColumn(StrEnum):
    name = "name"
    paired = "paired"
    paired_baseline_mean = "paired_baseline_mean"
    paired_endline_mean = "paired_endline_mean"
    mean_change = "mean_change"
    mean_change_unrounded = "mean_change_unrounded"
    improved_n = "improved_n"
    share_improved = "share_improved"
    declined_n = "declined_n"
    unchanged_n = "unchanged_n"
    baseline_n = "baseline_n"
    baseline_mean = "baseline_mean"
    baseline_median = "baseline_median"
    endline_n = "endline_n"
    endline_mean = "endline_mean"
    endline_median = "endline_median"
    improved_organizations = "improved_organizations"


SUMMARY_HEADERS: Final[dict[SummaryColumn, Labels]] = {
    SummaryColumn.name: SCORE_HEADERS[ScoreColumn.dimension],
    SummaryColumn.paired: _pair(
        "Paired: organizations with both rounds (n)",
        "Emparejadas: organizaciones con ambas rondas (n)",
    ),
    SummaryColumn.paired_baseline_mean: _pair(
        "Baseline mean (paired)", "Media línea de base (emparejadas)"
    ),
    SummaryColumn.paired_endline_mean: _pair(
        "Endline mean (paired)", "Media línea final (emparejadas)"
    ),
    SummaryColumn.mean_change: _pair("Mean change (paired)", "Cambio medio (emparejadas)"),
    SummaryColumn.mean_change_unrounded: _pair(
        "Mean change, unrounded", "Cambio medio, sin redondear"
    ),
    # improved_n and share_improved say the threshold: see _summary_headers
    SummaryColumn.improved_n: _pair("{improved}: n", "{improved}: n"),
    SummaryColumn.share_improved: _pair("{improved}: share", "{improved}: proporción"),
    SummaryColumn.declined_n: _pair("Declined: n", "Empeoraron: n"),
    SummaryColumn.unchanged_n: _pair("Unchanged: n", "Sin cambio: n"),
    SummaryColumn.baseline_n: _pair("Baseline, all scored: n", "Línea de base, todas: n"),
    SummaryColumn.baseline_mean: _pair("Baseline, all scored: mean", "Línea de base, todas: media"),
    SummaryColumn.baseline_median: _pair(
        "Baseline, all scored: median", "Línea de base, todas: mediana"
    ),
    SummaryColumn.endline_n: _pair("Endline, all scored: n", "Línea final, todas: n"),
    SummaryColumn.endline_mean: _pair("Endline, all scored: mean", "Línea final, todas: media"),
    SummaryColumn.endline_median: _pair(
        "Endline, all scored: median", "Línea final, todas: mediana"
    ),
    SummaryColumn.improved_organizations: _pair(
        "Organizations that improved", "Organizaciones que mejoraron"
    ),
}
_SUMMARY_FORMATS: Final[dict[SummaryColumn, str]] = {
    SummaryColumn.paired: COUNT_FORMAT,
    SummaryColumn.paired_baseline_mean: SCORE_FORMAT,
    SummaryColumn.paired_endline_mean: SCORE_FORMAT,
    SummaryColumn.mean_change: SCORE_FORMAT,
    SummaryColumn.mean_change_unrounded: UNROUNDED_FORMAT,
    SummaryColumn.improved_n: COUNT_FORMAT,
    SummaryColumn.share_improved: SHARE_FORMAT,
    SummaryColumn.declined_n: COUNT_FORMAT,
    SummaryColumn.unchanged_n: COUNT_FORMAT,
    SummaryColumn.baseline_n: COUNT_FORMAT,
    SummaryColumn.baseline_mean: SCORE_FORMAT,
    SummaryColumn.baseline_median: SCORE_FORMAT,
    SummaryColumn.endline_n: COUNT_FORMAT,
    SummaryColumn.endline_mean: SCORE_FORMAT,
    SummaryColumn.endline_median: SCORE_FORMAT,
}


class RawColumn(StrEnum):
    """The fixed columns of a raw export; one column per item key follows, in instrument order.
    The values are the CSV header; the xlsx header is in the export's language."""

    assessment_id = "assessment_id"
    organization_id = "organization_id"
    organization_name = "organization_name"
    external_id = "external_id"
    round = "round"
    assessed_on = "assessed_on"
    status = "status"
    instrument_version = "instrument_version"
    overall = "overall"


RAW_HEADERS: Final[dict[RawColumn, Labels]] = {
    RawColumn.assessment_id: COVER_HEADERS[CoverRow.assessment_id],
    RawColumn.organization_id: _pair("Organization ID", "ID de la organización"),
    RawColumn.organization_name: COVER_HEADERS[CoverRow.organization],
    RawColumn.external_id: COVER_HEADERS[CoverRow.external_id],
    RawColumn.round: COVER_HEADERS[CoverRow.round],
    RawColumn.assessed_on: COVER_HEADERS[CoverRow.assessed_on],
    RawColumn.status: COVER_HEADERS[CoverRow.status],
    RawColumn.instrument_version: COVER_HEADERS[CoverRow.instrument_version],
    RawColumn.overall: _pair("Overall score", "Puntaje global"),
}
RAW_NA: Final = "NA"


class ItemsColumn(StrEnum):
    key = "key"
    dimension = "dimension"
    area = "area"
    text = "text"


ITEMS_HEADERS: Final[dict[ItemsColumn, Labels]] = {
    ItemsColumn.key: ITEM_HEADERS[ItemColumn.key],
    ItemsColumn.dimension: ANSWER_HEADERS[AnswerColumn.dimension],
    ItemsColumn.area: ITEM_HEADERS[ItemColumn.area],
    ItemsColumn.text: ITEM_HEADERS[ItemColumn.item],
}


# --- shared pieces -------------------------------------------------------------------------------


def _headers(spec: Mapping[Any, Labels], columns: Iterable[Any], lang: Language) -> list[str]:
    return [spec[c][lang] for c in columns]


def _status(status: str, lang: Language) -> str:
    labels = STATUS.get(status)
    return labels[lang] if labels else status


def _risk_band(band: str | None, lang: Language) -> str | None:
    if band is None:
        return None
    labels = RISK_BAND.get(band)
    return labels[lang] if labels else band


def _dimension_titles(instrument: Instrument, lang: Language) -> dict[str, str]:
    return {d.key: d.title.get(lang) for d in instrument.dimensions}


def _area_titles(instrument: Instrument, lang: Language) -> dict[str, str]:
    return {a.key: a.title.get(lang) for d in instrument.dimensions for a in d.areas}


def _reason(reason: Mapping[str, str] | None, lang: Language) -> str | None:
    return text_of(reason, lang) or None if reason else None


def _number(value: Any) -> float | None:
    """A score read from JSON: a number, a score object ``{"score": ...}``, or null."""
    if isinstance(value, Mapping):
        value = value.get("score")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return round2(float(value))
    return None


def _numeric(value: object) -> float | None:
    """An answer's number; None for NA, absent or anything else."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _date(text: Any) -> date | str | None:
    if isinstance(text, date) or text is None:
        return text
    try:
        return date.fromisoformat(str(text))
    except ValueError:
        return str(text)


def _scale_range(instrument: Instrument) -> tuple[float, float]:
    return (
        min(s.min for s in instrument.scales.values()),
        max(s.max for s in instrument.scales.values()),
    )


def _score_axis(instrument: Instrument) -> ValueAxis:
    """The value axis of a chart of raw scores: 0 to the top of the scale in whole levels
    (risk: 0-100 % by 20), labels with one decimal."""
    method = instrument.scoring.method
    if method is Method.risk:
        return PERCENT_AXIS
    if method is Method.sum:
        return ValueAxis(low=0.0, number_format="0", label_format="0.0")
    low, top = _scale_range(instrument)
    span = top - min(0.0, low)
    return ValueAxis(
        low=min(0.0, low),
        high=top,
        major=1.0 if span <= 10 else None,
        number_format="0",
        label_format="0.0",
    )


PERCENT_AXIS: Final = ValueAxis(
    low=0.0, high=100.0, major=20.0, number_format="0", label_format="0.0"
)
LENS_AXIS: Final = ValueAxis(low=0.0, high=100.0, major=20.0, number_format="0", label_format="0")
SHARE_AXIS: Final = ValueAxis(
    low=0.0, high=1.0, major=0.2, number_format=SHARE_FORMAT, label_format=SHARE_FORMAT
)


def _is_risk(instrument: Instrument) -> bool:
    return instrument.scoring.method is Method.risk


def _item_text(item: Item, lang: Language) -> str:
    text = item.text.get(lang)
    return f"[{_T['key_question'][lang]}] {text}" if item.key_question else text


def _instrument_name(instrument: Instrument, lang: Language) -> str:
    return instrument.title.get(lang)


def _unscored(name: str, node: Mapping[str, Any], lang: Language) -> str:
    """A category name that says why it has no bar: N/A, or no score (too few answers)."""
    if _number(node.get("score")) is not None:
        return name
    reason = node.get("reason") or {}
    code = reason.get("code") if isinstance(reason, Mapping) else None
    if code == "all_not_applicable":
        return name + _T["na_suffix"][lang]
    return name + _T["no_score_suffix"][lang]


def _improved_label(
    instrument: Instrument, lang: Language, *, verb: bool = False, threshold: float | None = None
) -> str:
    """The improvement rule in words, with its threshold and unit: "Outcome, ± 1 level (1–4
    scale)", "Outcome, risk ± 1 point (0–100 %)"; ``verb``: "improved ≥ 1 level ...".
    ``threshold``: the one the comparison used, when not the instrument's own."""
    if threshold is None:
        threshold = instrument.scoring.improvement_threshold
    n = number_text(threshold)
    if _is_risk(instrument):
        kind, unit_kind = "risk", "points"
    else:
        kinds = {s.kind for s in instrument.scales.values()}
        unit_kind = kinds.pop() if len(kinds) == 1 else "points"
        kind = "plain" if instrument.scoring.method is Method.sum else "scale"
    singular, plural = _UNIT[unit_kind][lang]
    unit = singular if threshold <= 1 else plural
    low, high = _scale_range(instrument)
    words = (_IMPROVED_VERB if verb else _IMPROVED)[kind][lang]
    return words.format(n=n, unit=unit, low=number_text(low), high=number_text(high))


def _direction(delta: float | None, lang: Language) -> str | None:
    """Which way the number moved, by its rounded value (as shown in the Change column)."""
    shown = round2(delta)
    if shown is None:
        return None
    return DIRECTION["up" if shown > 0 else "down" if shown < 0 else "same"][lang]


def _short(names: Sequence[str], limit: int = 30) -> list[str]:
    """Chart category labels cut between words (with an ellipsis) so a radar keeps its size;
    longer when the short ones would collide."""
    for size in (limit, limit + 10):
        short = [n if len(n) <= size else shorten(n, size - 1) + "…" for n in names]
        if len(set(short)) == len(short):
            return short
    return list(names)


# --- 1. one assessment ---------------------------------------------------------------------------


def export_assessment(
    instrument: Instrument,
    info: AssessmentInfo,
    answers: Mapping[str, AnswerValue],
    notes: Mapping[str, str],
    score: Mapping[str, Any] | None,
    lang: str = "en",
) -> bytes:
    """One assessment as .xlsx: cover, answers, scores with native charts, and risk (NUPAS).

    ``score`` is the explained score object of ``services.scores.score_payload`` (rounded or not)
    or None when the assessment is not scored. Raises ValueError for an unknown language, an
    ``info.instrument_version`` other than the instrument's, or an answer that does not fit.
    """
    language = check_language(lang)
    if info.instrument_version != instrument.version:
        raise ValueError(
            f"the assessment uses {instrument.id} {info.instrument_version}, "
            f"not {instrument.version}"
        )
    labels = _answer_labels(instrument, answers, language)
    wb = new_workbook(f"{info.organization_name} — {instrument.title.get(language)}")
    _cover(wb, instrument, info, language)
    _answers(wb, instrument, answers, labels, notes, language)
    _scores(wb, instrument, score, language, draft=info.status == "draft")
    if score is not None and score.get("risk") is not None:
        _risk(wb, instrument, score["risk"], language)
    if score is not None:
        write_score_reading(wb, instrument, score, language)
    return workbook_bytes(wb)


def _answer_labels(
    instrument: Instrument, answers: Mapping[str, AnswerValue], lang: Language
) -> dict[str, str]:
    items = instrument.items
    problems: list[str] = []
    labels: dict[str, str] = {}
    for key, value in answers.items():
        item = items.get(key)
        if item is None:
            problems.append(f"'{key}' is not an item of {instrument.id} {instrument.version}")
            continue
        if value is NA:
            labels[key] = NA_LABEL[lang]
            continue
        number = _numeric(value)
        found = None if number is None else instrument.scales[item.scale].by_value(number)
        if found is None:
            problems.append(f"item '{key}': {value!r} is not a value of its scale")
            continue
        labels[key] = found.label.get(lang)
    if problems:
        raise ValueError("answers do not fit the instrument: " + "; ".join(problems))
    return labels


def _cover(wb: Workbook, instrument: Instrument, info: AssessmentInfo, lang: Language) -> None:
    ws = wb.create_sheet(SHEETS["cover"][lang])
    put(ws, 1, 1, instrument.title.get(lang), font=TITLE_FONT)
    put(ws, 2, 1, _T["assessment_title"][lang], font=MUTED)
    values: dict[CoverRow, Value] = {
        CoverRow.organization: info.organization_name,
        CoverRow.external_id: info.organization_external_id,
        CoverRow.round: round_name(info.round, lang),
        CoverRow.assessed_on: info.assessed_on,
        CoverRow.assessor: info.assessor,
        CoverRow.status: _status(info.status, lang),
        CoverRow.instrument: _instrument_name(instrument, lang),
        CoverRow.instrument_version: info.instrument_version,
        CoverRow.revision: info.revision,
        CoverRow.assessment_id: info.assessment_id,
    }
    last = label_values(ws, 4, [(COVER_HEADERS[k][lang], v) for k, v in values.items()])
    widths(ws, (34, 80))
    wrap(ws, (1, 2), 4, last)
    fit_rows(ws, 4, last)
    page_setup(ws, title_rows=(1, 1))


def _answers(
    wb: Workbook,
    instrument: Instrument,
    answers: Mapping[str, AnswerValue],
    labels: Mapping[str, str],
    notes: Mapping[str, str],
    lang: Language,
) -> None:
    ws = wb.create_sheet(SHEETS["answers"][lang])
    rows: list[list[Value]] = []
    for dimension in instrument.dimensions:
        for area in dimension.areas:
            for item in area.items:
                value = answers.get(item.key)
                shown: Value = NA_LABEL[lang] if value is NA else _numeric(value)
                rows.append(
                    [
                        dimension.title.get(lang),
                        area.title.get(lang),
                        item.key,
                        _item_text(item, lang),
                        shown,
                        labels.get(item.key, _T["no_answer"][lang]),
                        notes.get(item.key) or None,
                    ]
                )
    columns = list(AnswerColumn)
    first, last = table(ws, 1, _headers(ANSWER_HEADERS, columns, lang), rows)
    wrapped = (
        AnswerColumn.dimension,
        AnswerColumn.area,
        AnswerColumn.item,
        AnswerColumn.answer,
        AnswerColumn.note,
    )
    wrap(ws, [columns.index(c) + 1 for c in wrapped], first, last)
    key_width = min(max(14, max((len(k) for k in instrument.items), default=0) + 2), 30)
    widths(ws, (20, 22, key_width, 56, 10, 20, 40))  # at most 198: one landscape page, readable
    fit_rows(ws, 1, ws.max_row)
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:G{max(last, 1)}"
    page_setup(ws, title_rows=(1, 1))


def _score_cells(
    node: Mapping[str, Any],
    columns: Sequence[ScoreColumn],
    lang: Language,
    extra: Mapping[ScoreColumn, Value],
) -> list[Value]:
    out: list[Value] = []
    for column in columns:
        if column in extra:
            out.append(extra[column])
        elif column is ScoreColumn.score:
            out.append(_number(node.get("score")))
        elif column is ScoreColumn.coverage:
            coverage = node.get("coverage")
            out.append(round2(coverage) if isinstance(coverage, int | float) else None)
        elif column in (ScoreColumn.answered, ScoreColumn.na, ScoreColumn.missing):
            out.append(node.get(column.value))
        elif column is ScoreColumn.reason:
            out.append(_reason(node.get("reason"), lang))
        else:
            out.append(None)
    return out


def _score_headers(
    columns: Sequence[ScoreColumn], lang: Language, score_header: Labels | None = None
) -> list[str]:
    return [
        (score_header or SCORE_HEADERS[c])[lang]
        if c is ScoreColumn.score
        else SCORE_HEADERS[c][lang]
        for c in columns
    ]


def _formats(columns: Sequence[ScoreColumn], score_format: str = SCORE_FORMAT) -> list[str | None]:
    return [score_format if c is ScoreColumn.score else _SCORE_FORMATS.get(c) for c in columns]


def _scores(
    wb: Workbook,
    instrument: Instrument,
    score: Mapping[str, Any] | None,
    lang: Language,
    *,
    draft: bool = False,
) -> None:
    ws = wb.create_sheet(SHEETS["scores"][lang])
    put(
        ws,
        1,
        1,
        f"{SHEETS['scores'][lang]} — {_instrument_name(instrument, lang)}",
        font=TITLE_FONT,
    )
    page_setup(ws, title_rows=(1, 1))
    if score is None:
        put(ws, 3, 1, _T["not_scored_draft" if draft else "not_scored"][lang], font=MUTED)
        widths(ws, (100,))
        return
    risk = _is_risk(instrument)
    score_header = RISK_SCORE_HEADER if risk else None
    score_format = PERCENT_FORMAT if risk else SCORE_FORMAT
    dim_titles = _dimension_titles(instrument, lang)
    area_titles = _area_titles(instrument, lang)
    widths(ws, _SCORES_WIDTHS)

    overall = score.get("overall") or {}
    if risk:
        band = _risk_band((score.get("risk") or {}).get("overall"), lang)
    else:
        band = text_of(overall["band"], lang) if overall.get("band") else None
    row = 3
    put(ws, row, 1, _T["overall"][lang], font=SECTION_FONT)
    overall_header = row + 1
    _, row = table(
        ws,
        overall_header,
        _score_headers(OVERALL_COLUMNS, lang, POOLED_RISK_HEADER if risk else None),
        [
            _score_cells(
                overall,
                OVERALL_COLUMNS,
                lang,
                {ScoreColumn.name: _T["overall"][lang], ScoreColumn.band: band},
            )
        ],
        _formats(OVERALL_COLUMNS, score_format),
    )

    dimensions: list[Mapping[str, Any]] = list(score.get("dimensions") or [])
    row += 2
    put(ws, row, 1, _T["dimensions"][lang], font=SECTION_FONT)
    dim_header = row + 1
    dim_first, dim_last = table(
        ws,
        dim_header,
        _score_headers(DIMENSION_COLUMNS, lang, score_header),
        [
            _score_cells(
                d,
                DIMENSION_COLUMNS,
                lang,
                {ScoreColumn.name: _unscored(dim_titles.get(d["key"], d["key"]), d, lang)},
            )
            for d in dimensions
        ],
        _formats(DIMENSION_COLUMNS, score_format),
    )

    row = dim_last + 2
    put(ws, row, 1, _T["areas"][lang], font=SECTION_FONT)
    area_header = row + 1
    area_rows = [
        _score_cells(
            a,
            AREA_COLUMNS,
            lang,
            {
                ScoreColumn.name: _unscored(area_titles.get(a["key"], a["key"]), a, lang),
                ScoreColumn.dimension: dim_titles.get(d["key"], d["key"]),
            },
        )
        for d in dimensions
        for a in d.get("areas") or []
    ]
    area_first, area_last = table(
        ws,
        area_header,
        _score_headers(AREA_COLUMNS, lang, score_header),
        area_rows,
        _formats(AREA_COLUMNS, score_format),
    )

    row = area_last + 2
    source = f"{_instrument_name(instrument, lang)} {instrument.version}"
    put(ws, row, 1, f"{_T['lens'][lang]} — {source}", font=SECTION_FONT)
    lens_header = row + 1
    lens_json: Mapping[str, Any] = score.get("lens") or {}
    lens_first, lens_last = table(
        ws,
        lens_header,
        _score_headers(LENS_COLUMNS, lang, LENS_SCORE_HEADER),
        [
            _score_cells(
                lens_json.get(lens.value) or {},
                LENS_COLUMNS,
                lang,
                {
                    ScoreColumn.name: _unscored(
                        LENS[lens][lang], lens_json.get(lens.value) or {}, lang
                    )
                },
            )
            for lens in Lens
        ],
        _formats(LENS_COLUMNS, PERCENT_FORMAT),
    )
    note(ws, lens_last + 1, _T["lens_note"][lang].format(instrument=source), len(LENS_COLUMNS))
    names = (ScoreColumn.name, ScoreColumn.reason)
    for columns, first, last in (
        (OVERALL_COLUMNS, overall_header + 1, overall_header + 1),
        (DIMENSION_COLUMNS, dim_first, dim_last),
        (AREA_COLUMNS, area_first, area_last),
        (LENS_COLUMNS, lens_first, lens_last),
    ):
        wrap(ws, [columns.index(c) + 1 for c in (*names, columns[-1])], first, last)
    fit_rows(ws, 1, lens_last)

    # the charts, under the tables, each block on a page of its own
    score_col = DIMENSION_COLUMNS.index(ScoreColumn.score) + 1
    name_col = DIMENSION_COLUMNS.index(ScoreColumn.name) + 1
    y_title = _T["risk_axis" if risk else "score_axis"][lang]
    row = lens_last + 4
    row = page_break_before(ws, row)
    if dim_last >= dim_first:
        size = (24.0, max(8.0, 2.5 + 0.9 * (dim_last - dim_first + 1)))
        ws.add_chart(
            chart(
                "bar",
                title=_T["risk_chart" if risk else "score_chart"][lang],
                data=ws,
                series_columns=[score_col],
                header_row=dim_header,
                first_row=dim_first,
                last_row=dim_last,
                category_column=name_col,
                y_title=y_title,
                axis=_score_axis(instrument),
                data_labels=True,
                size=size,
            ),
            f"A{row}",
        )
        row += chart_rows(size[1])
    lens_size = (24.0, 8.0)
    ws.add_chart(
        chart(
            "column",
            title=_T["lens_chart"][lang],
            data=ws,
            series_columns=[LENS_COLUMNS.index(ScoreColumn.score) + 1],
            header_row=lens_header,
            first_row=lens_first,
            last_row=lens_last,
            category_column=LENS_COLUMNS.index(ScoreColumn.name) + 1,
            y_title=LENS_SCORE_HEADER[lang],
            axis=LENS_AXIS,
            data_labels=True,
            size=lens_size,
        ),
        f"A{row}",
    )
    row += chart_rows(lens_size[1])
    if area_last >= area_first:
        # a horizontal bar per area, tall enough for every name (45 for OCA) on one page
        count = area_last - area_first + 1
        # (at most 25 cm: taller, the chart is cut across two printed pages)
        size = (24.0, min(25.0, max(8.0, 3.0 + 0.75 * count)))
        row = page_break_before(ws, row)
        ws.add_chart(
            chart(
                "bar",
                title=_T["area_risk_chart" if risk else "area_chart"][lang],
                data=ws,
                series_columns=[AREA_COLUMNS.index(ScoreColumn.score) + 1],
                header_row=area_header,
                first_row=area_first,
                last_row=area_last,
                category_column=AREA_COLUMNS.index(ScoreColumn.name) + 1,
                y_title=y_title,
                axis=_score_axis(instrument),
                data_labels=True,
                size=size,
            ),
            f"A{row}",
        )


def _risk(wb: Workbook, instrument: Instrument, risk: Mapping[str, Any], lang: Language) -> None:
    ws = wb.create_sheet(SHEETS["risk"][lang])
    dim_titles = _dimension_titles(instrument, lang)
    items = instrument.items
    put(
        ws,
        1,
        1,
        f"{_T['risk_title'][lang]} — {_instrument_name(instrument, lang)}",
        font=TITLE_FONT,
    )
    sections: list[Mapping[str, Any]] = list(risk.get("sections") or [])
    row = label_values(
        ws,
        3,
        [
            (_T["overall_risk"][lang], _risk_band(risk.get("overall"), lang)),
            (_T["risk_rule"][lang], _risk_rule(risk, sections, dim_titles, lang)),
            (_T["pooled_risk_percent"][lang], _number(risk.get("percent"))),
            *(
                [(SCORE_HEADERS[ScoreColumn.reason][lang], _reason(risk.get("reason"), lang))]
                if risk.get("reason")
                else []
            ),
        ],
    )
    ws.cell(row=5, column=2).number_format = PERCENT_FORMAT
    put(ws, row + 1, 1, _T["pooled_note"][lang], font=MUTED)
    widths(ws, (40, 40, 28, 14, 14, 60))  # 196: one landscape page at a readable size
    wrap(ws, (1, 2), 3, row)

    row += 3
    put(ws, row, 1, _T["sections"][lang], font=SECTION_FONT)
    section_rows: list[list[Value]] = []
    for section in sections:
        failed = section.get("key_questions_failed") or []
        section_rows.append(
            [
                dim_titles.get(section["key"], section["key"]),
                _number(section.get("percent")),
                _risk_band(section.get("band"), lang),
                _number(section.get("points")),
                _number(section.get("max_points")),
                "\n".join(f"{k}: {items[k].text.get(lang)}" if k in items else k for k in failed)
                or None,
            ]
        )
    header = row + 1
    first, row = table(
        ws,
        header,
        _headers(RISK_HEADERS, RiskColumn, lang),
        section_rows,
        [None, PERCENT_FORMAT, None, POINTS_FORMAT, POINTS_FORMAT, None],
    )
    wrap(ws, (1, len(RiskColumn)), first, row)

    row += 2
    put(ws, row, 1, _T["conditions"][lang], font=SECTION_FONT)
    conditions = list(risk.get("conditions") or [])
    if not conditions:
        put(ws, row + 1, 1, _T["no_conditions"][lang], font=MUTED)
    else:
        condition_rows: list[list[Value]] = []
        for condition in conditions:
            condition_sections = condition.get("sections") or []
            reason = _condition_reason(condition_sections, dim_titles, lang) or _reason(
                condition.get("reason"), lang
            )
            condition_rows.append(
                [
                    text_of(condition.get("title") or {}, lang) or condition.get("key"),
                    reason,
                    ", ".join(dim_titles.get(s["key"], s["key"]) for s in condition_sections)
                    or None,
                ]
            )
        first, last = table(
            ws, row + 1, _headers(CONDITION_HEADERS, ConditionColumn, lang), condition_rows
        )
        wrap(ws, (1, 2, 3), first, last)
    fit_rows(ws, 1, ws.max_row)
    page_setup(ws, title_rows=(1, 1))


_RISK_ORDER: Final = ("low", "medium", "high", "extreme")


def _risk_rule(
    risk: Mapping[str, Any],
    sections: Sequence[Mapping[str, Any]],
    titles: Mapping[str, str],
    lang: Language,
) -> str | None:
    """How the overall band was reached, with the numbers: the worst section(s) named, or the
    mean of the sections' risk."""
    rule = str(risk.get("rule"))
    words = RISK_RULE.get(rule)
    if words is None:
        return rule or None
    scored = [
        s
        for s in sections
        if s.get("band") in _RISK_ORDER and _number(s.get("percent")) is not None
    ]
    if rule == "mean_section":
        if not scored:
            return None
        mean = sum(float(s["percent"]) for s in scored) / len(scored)
        return words[lang].format(percent=number_text(round(mean, 1)))
    worst = risk.get("overall")
    named = []
    for s in sections:  # a key question sets a band even where the percentage is not shown
        if s.get("band") != worst or worst is None:
            continue
        shown = _number(s.get("percent"))
        percent = f"{number_text(round(shown, 1))} %" if shown is not None else "—"
        why = _T["key_question_floor"][lang] if s.get("key_questions_failed") else ""
        named.append(f"«{titles.get(s['key'], s['key'])}» ({percent}{why})")
    if not named:
        return None
    return words[lang].format(sections=", ".join(named))


def _condition_reason(
    sections: Sequence[Mapping[str, Any]], titles: Mapping[str, str], lang: Language
) -> str | None:
    parts: list[str] = []
    for section in sections:
        band = str(section.get("band"))
        phrase = _RISK_BAND_PHRASE.get(band)
        parts.append(
            _T["section_is"][lang].format(
                section=titles.get(section["key"], section["key"]),
                band=phrase[lang] if phrase else band,
            )
        )
    return _T["because"][lang] + ", ".join(parts) if parts else None


# --- 2. an organization's series -----------------------------------------------------------------


def export_series(
    instrument: Instrument,
    organization_name: str,
    series: Mapping[str, Any],
    lang: str = "en",
) -> bytes:
    """An organization's scored assessments of one instrument over time, as .xlsx.

    ``series`` is the JSON of ``services.analysis.series``. One row per assessment (date, round,
    status, version, overall, each dimension, each lens), a line chart of overall and dimensions
    by round, and a radar chart of the first vs the latest assessment by dimension.
    """
    language = check_language(lang)
    risk = _is_risk(instrument)
    dims = instrument.dimensions
    wb = new_workbook(f"{organization_name} — {instrument.title.get(language)}")
    ws = wb.create_sheet(SHEETS["series"][language])
    put(ws, 1, 1, organization_name, font=TITLE_FONT)
    put(
        ws,
        2,
        1,
        f"{_T['series_title'][language]} — {_instrument_name(instrument, language)}",
        font=MUTED,
    )
    points: list[Mapping[str, Any]] = list(series.get("points") or [])
    fixed = [c for c in SeriesColumn if c is not SeriesColumn.risk]
    titles = [
        *_headers(SERIES_HEADERS, fixed, language),
        *(d.title.get(language) for d in dims),
        *(f"{LENS[lens][language]} (0–100)" for lens in Lens),
        *([SERIES_HEADERS[SeriesColumn.risk][language]] if risk else []),
    ]
    rows: list[list[Value]] = []
    dim_values: list[dict[str, float | None]] = []
    for p in points:
        by_dim = {d.get("key"): _number(d) for d in p.get("dimensions") or []}
        dim_values.append({d.key: by_dim.get(d.key) for d in dims})
        lens: Mapping[str, Any] = p.get("lens") or {}
        rows.append(
            [
                _date(p.get("assessed_on")),
                round_name(str(p.get("round")), language) if p.get("round") else None,
                _status(str(p.get("status")), language) if p.get("status") else None,
                p.get("instrument_version"),
                _number(p.get("overall")),
                *(by_dim.get(d.key) for d in dims),
                *(_number(lens.get(x.value)) for x in Lens),
                *([_risk_band(p.get("risk"), language)] if risk else []),
            ]
        )
    header = 4
    score_format = PERCENT_FORMAT if risk else SCORE_FORMAT
    formats: list[str | None] = [None] * len(fixed)
    formats[len(fixed) - 1] = score_format  # overall
    formats += [score_format] * len(dims) + [PERCENT_FORMAT] * len(Lens)
    if risk:
        formats.append(None)
    widths(ws, [30, 16, 12, 12, 12, *([16] * (len(titles) - len(fixed)))])
    first, last = table(ws, header, titles, rows, formats)
    wrap(ws, (2,), first, last)
    ws.freeze_panes = f"A{header + 1}"
    # the organization and instrument on every page (the table is short, the charts follow)
    page_setup(ws, title_rows=(1, 2), title_columns="A:B", pages_wide=pages_wide(ws, len(titles)))
    if not rows:
        put(ws, header + 1, 1, _T["no_points"][language], font=MUTED)
        fit_rows(ws, 1, ws.max_row)
        return workbook_bytes(wb)
    lens_note = _T["lens_note"][language].format(instrument=_instrument_name(instrument, language))
    note(ws, last + 1, lens_note, min(len(titles), 6))

    round_col = fixed.index(SeriesColumn.round) + 1
    overall_col = fixed.index(SeriesColumn.overall) + 1
    # the first vs latest table that the radar chart reads
    radar_header = last + 4
    put(ws, radar_header - 1, 1, _T["radar_title"][language], font=SECTION_FONT)
    ends = [0] if len(points) == 1 else [0, len(points) - 1]
    which = [_T["first"][language], _T["latest"][language]]
    radar_titles = [SCORE_HEADERS[ScoreColumn.dimension][language]]
    for n, index in enumerate(ends):
        p = points[index]
        shown_round = round_name(str(p.get("round")), language)
        radar_titles.append(f"{which[n]}: {shown_round} ({p.get('assessed_on')})")
    radar_titles.append(_T["chart_label"][language])
    names = []
    for d in dims:
        name = d.title.get(language)
        if any(dim_values[i][d.key] is None for i in ends):
            name += _T["no_score_suffix"][language]
        names.append(name)
    labels = _short(names)
    radar_first, radar_last = table(
        ws,
        radar_header,
        radar_titles,
        [[names[n], *(dim_values[i][d.key] for i in ends), labels[n]] for n, d in enumerate(dims)],
        [None, score_format, score_format, None],
    )
    label_column = len(radar_titles)
    for row in range(radar_first, radar_last + 1):
        ws.cell(row=row, column=label_column).font = SMALL_MUTED
    wrap(ws, (1,), radar_first, radar_last)
    fit_rows(ws, 1, ws.max_row)

    axis = _score_axis(instrument)
    row = radar_last + 3
    row = page_break_before(ws, row)
    line_size = (24.0, 11.0)
    ws.add_chart(
        chart(
            "line",
            title=_T["series_risk_chart" if risk else "series_chart"][language],
            data=ws,
            series_columns=list(range(overall_col, overall_col + 1 + len(dims))),
            header_row=header,
            first_row=first,
            last_row=last,
            category_column=round_col,
            y_title=_T["risk_axis" if risk else "score_axis"][language],
            axis=axis,
            emphasize_first=True,  # the overall line
            size=line_size,
        ),
        f"A{row}",
    )
    row = page_break_before(ws, row + chart_rows(line_size[1]))
    ws.add_chart(
        chart(
            "radar",
            title=_T["radar_chart"][language],
            data=ws,
            series_columns=list(range(2, 2 + len(ends))),
            header_row=radar_header,
            first_row=radar_first,
            last_row=radar_last,
            category_column=label_column,  # short names, so the radar keeps its size
            axis=axis,
            size=(20.0, 13.0),
        ),
        f"A{row}",
    )
    return workbook_bytes(wb)


# --- 3. a cohort comparison ----------------------------------------------------------------------


def export_cohort(
    instrument: Instrument,
    comparison: Mapping[str, Any],
    rows: Sequence[CohortRow],
    lang: str = "en",
) -> bytes:
    """A cohort's baseline vs endline comparison as .xlsx.

    ``comparison`` is the JSON of ``services.analysis.cohort_json``; ``rows`` the organizations'
    numbers (``CohortResult.pairs``). An Organizations sheet (baseline, endline, change,
    direction and improved-by-the-threshold per key) and a Summary sheet (paired means of the
    organizations scored in both rounds, counts, means and medians of all scored, share
    improved, with the organizations behind them) with native charts.
    """
    language = check_language(lang)
    keys = ["overall", *(d.key for d in instrument.dimensions)]
    key_titles = {"overall": _T["overall"][language], **_dimension_titles(instrument, language)}
    stats: dict[str, Mapping[str, Any]] = {k["key"]: k for k in comparison.get("keys") or []}
    heading = (
        f"{comparison.get('cohort_name') or ''} — {instrument.title.get(language)}: "
        f"{round_name(str(comparison.get('baseline_round')), language)} → "
        f"{round_name(str(comparison.get('endline_round')), language)}"
    )
    threshold = (comparison.get("improvement_rule") or {}).get("threshold")
    wb = new_workbook(heading)
    _cohort_organizations(
        wb, instrument, heading, stats, rows, keys, key_titles, language, threshold
    )
    _cohort_summary(wb, instrument, comparison, stats, rows, keys, key_titles, language, threshold)
    return workbook_bytes(wb)


def _cohort_organizations(
    wb: Workbook,
    instrument: Instrument,
    heading: str,
    stats: Mapping[str, Mapping[str, Any]],
    rows: Sequence[CohortRow],
    keys: Sequence[str],
    key_titles: Mapping[str, str],
    lang: Language,
    threshold: float | None = None,
) -> None:
    """One row per organization: its program ID when there is one (the internal UUID last),
    then baseline, endline, change (shown and unrounded), direction and outcome for each key,
    and how many items were left out."""
    ws = wb.create_sheet(SHEETS["organizations"][lang])
    put(ws, 1, 1, heading, font=TITLE_FONT)
    improved_label = _improved_label(instrument, lang, threshold=threshold)
    key_headers = {c: COHORT_HEADERS[c][lang] for c in COHORT_KEY_COLUMNS}
    key_headers[CohortColumn.improved] = improved_label
    external = any(r.external_id for r in rows)
    fixed = [CohortColumn.organization, *([CohortColumn.external_id] if external else [])]
    titles = [
        *(COHORT_HEADERS[c][lang] for c in fixed),
        *(f"{key_titles[k]}: {key_headers[c]}" for k in keys for c in COHORT_KEY_COLUMNS),
        COHORT_HEADERS[CohortColumn.left_out][lang],
        COHORT_HEADERS[CohortColumn.organization_id][lang],
    ]
    outcome_of: dict[str, dict[str, str]] = {}
    for key in keys:
        outcomes = (stats.get(key) or {}).get("outcomes") or {}
        outcome_of[key] = {o: name for name in OUTCOME for o in outcomes.get(name) or []}
    table_rows: list[list[Value]] = []
    for r in rows:
        values: list[Value] = [r.name, *([r.external_id] if external else [])]
        for key in keys:
            b, e = r.baseline.get(key), r.endline.get(key)
            both = b is not None and e is not None
            shown = shown_change(b, e) if b is not None and e is not None else None
            outcome = outcome_of[key].get(r.organization_id)
            values += [
                round2(b) if b is not None else _missing(r.baseline, "no_baseline", lang),
                round2(e) if e is not None else _missing(r.endline, "no_endline", lang),
                shown,
                e - b if b is not None and e is not None else None,
                _direction(shown, lang),
                OUTCOME[outcome][lang] if both and outcome else None,
            ]
        values += [r.left_out, r.organization_id]
        table_rows.append(values)
    number = SCORE_FORMAT
    key_formats = [number, number, number, UNROUNDED_FORMAT, None, None]
    formats = [*([None] * len(fixed)), *(key_formats * len(keys)), COUNT_FORMAT, None]
    header = 3
    widths(ws, [30, *([14] * (len(fixed) - 1)), *([13] * len(keys) * len(key_formats)), 14, 30])
    first, last = table(ws, header, titles, table_rows, formats)
    block = len(COHORT_KEY_COLUMNS)
    for row in range(first, last + 1):
        ws.cell(row=row, column=len(titles)).font = SMALL_MUTED  # the UUID, for reference
        for k in range(len(keys)):  # the unrounded change is for checking, not for reading
            ws.cell(row=row, column=len(fixed) + k * block + 4).font = SMALL_MUTED
        for k in range(len(keys)):
            for offset in (1, 2):  # baseline, endline
                cell = ws.cell(row=row, column=len(fixed) + k * block + offset)
                if isinstance(cell.value, str):
                    cell.font = MUTED  # "no endline scored (draft?)"
    wrap(ws, range(1, len(titles)), first, last)
    fit_rows(ws, 1, ws.max_row)
    ws.freeze_panes = ws.cell(row=header + 1, column=len(fixed) + 1).coordinate
    last_column = ws.cell(row=header, column=len(titles)).column_letter
    ws.auto_filter.ref = f"A{header}:{last_column}{max(last, header)}"
    risk_words = _T["risk_down_is_better"][lang] if _is_risk(instrument) else ""
    note(
        ws,
        max(last, header) + 2,
        _T["cohort_note"][lang].format(risk=risk_words, improved=improved_label),
        min(len(titles), 8),
    )
    page_setup(
        ws,
        title_rows=(header, header),
        title_columns=f"A:{ws.cell(row=header, column=len(fixed)).column_letter}",
        pages_wide=pages_wide(ws, len(titles)),
    )


def _missing(scores: Mapping[str, float | None], which: str, lang: Language) -> str:
    """The marker of a blank score: the round was not scored at all, or this key was not."""
    return _T[which if not scores else "no_score"][lang]


def _cohort_summary(
    wb: Workbook,
    instrument: Instrument,
    comparison: Mapping[str, Any],
    stats: Mapping[str, Mapping[str, Any]],
    rows: Sequence[CohortRow],
    keys: Sequence[str],
    key_titles: Mapping[str, str],
    lang: Language,
    threshold: float | None = None,
) -> None:
    risk = _is_risk(instrument)
    names = {o["id"]: o["name"] for o in comparison.get("organizations") or []}
    names.update({r.organization_id: r.name for r in rows})
    ws = wb.create_sheet(SHEETS["summary"][lang])
    put(ws, 1, 1, _T["cohort_title"][lang], font=TITLE_FONT)
    info: list[tuple[str, Value]] = [
        (_T["cohort"][lang], comparison.get("cohort_name")),
        (_T["instrument"][lang], _instrument_name(instrument, lang)),
        (_T["baseline_round"][lang], round_name(str(comparison.get("baseline_round")), lang)),
        (_T["endline_round"][lang], round_name(str(comparison.get("endline_round")), lang)),
        (_T["members"][lang], len(comparison.get("organizations") or rows)),
        (_T["with_both"][lang], len(comparison.get("organizations_with_both") or [])),
        (_T["only_baseline"][lang], len(comparison.get("only_baseline") or [])),
        (_T["only_endline"][lang], len(comparison.get("only_endline") or [])),
        (_T["threshold"][lang], _improved_label(instrument, lang, threshold=threshold)),
    ]
    row = label_values(ws, 3, info)
    if comparison.get("versions_mixed"):
        row += 1
        mixed = _T["versions_mixed"][lang].format(
            rescored=len(comparison.get("rescored_on_latest") or []),
            left=len(comparison.get("not_comparable") or []),
            version=comparison.get("compared_on_version", ""),
        )
        put(ws, row, 1, mixed, font=MUTED)
    header = row + 2
    improved_words = _improved_label(instrument, lang, threshold=threshold)
    summary_rows: list[list[Value]] = []
    paired_counts: set[int] = set()
    for key in keys:
        k = stats.get(key) or {}
        base, end = k.get("baseline") or {}, k.get("endline") or {}
        paired_base, paired_end = k.get("paired_baseline") or {}, k.get("paired_endline") or {}
        change = k.get("outcomes") or {}
        improved_ids = list(change.get("improved") or [])
        means = (paired_base.get("mean"), paired_end.get("mean"))
        paired = len(k.get("paired") or [])
        if key != "overall":
            paired_counts.add(paired)
        cells: dict[SummaryColumn, Value] = {
            SummaryColumn.name: key_titles[key],
            SummaryColumn.paired: paired,
            SummaryColumn.paired_baseline_mean: _number(paired_base.get("mean")),
            SummaryColumn.paired_endline_mean: _number(paired_end.get("mean")),
            SummaryColumn.mean_change: _number(k.get("mean_delta")),
            SummaryColumn.mean_change_unrounded: means[1] - means[0]
            if means[0] is not None and means[1] is not None
            else None,
            SummaryColumn.improved_n: len(improved_ids),
            SummaryColumn.share_improved: _number(change.get("share_improved")),
            SummaryColumn.declined_n: len(change.get("declined") or []),
            SummaryColumn.unchanged_n: len(change.get("unchanged") or []),
            SummaryColumn.baseline_n: base.get("n"),
            SummaryColumn.baseline_mean: _number(base.get("mean")),
            SummaryColumn.baseline_median: _number(base.get("median")),
            SummaryColumn.endline_n: end.get("n"),
            SummaryColumn.endline_mean: _number(end.get("mean")),
            SummaryColumn.endline_median: _number(end.get("median")),
            SummaryColumn.improved_organizations: "; ".join(names.get(i, i) for i in improved_ids)
            or None,
        }
        summary_rows.append([cells[c] for c in SummaryColumn])
    columns = list(SummaryColumn)
    headers = [SUMMARY_HEADERS[c][lang].format(improved=improved_words) for c in columns]
    formats: list[str | None] = [_SUMMARY_FORMATS.get(c) for c in columns]
    widths(ws, (30, 14, 14, 14, 13, 13, 14, 14, 11, 11, 13, 13, 13, 13, 13, 13, 40))
    first, last = table(ws, header, headers, summary_rows, formats)
    wrap(ws, (1, columns.index(SummaryColumn.improved_organizations) + 1), first, last)
    fit_rows(ws, 1, ws.max_row)
    note(ws, last + 1, _T["summary_note"][lang], 8)
    ws.freeze_panes = ws.cell(row=header + 1, column=2).coordinate
    wide = pages_wide(ws, ws.max_column)  # the names in column A on every page when it splits
    page_setup(ws, title_rows=(1, 1), title_columns="A:A" if wide > 1 else None, pages_wide=wide)

    dims_first = first + 1  # the overall row comes first; the charts show dimensions
    if last < dims_first:
        return
    name_col = columns.index(SummaryColumn.name) + 1
    row = last + 4
    row = page_break_before(ws, row)
    if len(paired_counts) == 1:
        n = str(paired_counts.pop())
    else:
        n = f"{min(paired_counts)}–{max(paired_counts)}"
    means_title = _T["means_risk_chart" if risk else "means_chart"][lang]
    means_size = (24.0, 10.0)
    ws.add_chart(
        chart(
            "column",
            title=f"{means_title} ({_T['paired_n'][lang].format(n=n)})",
            data=ws,
            series_columns=[
                columns.index(SummaryColumn.paired_baseline_mean) + 1,
                columns.index(SummaryColumn.paired_endline_mean) + 1,
            ],
            header_row=header,
            first_row=dims_first,
            last_row=last,
            category_column=name_col,
            y_title=_T["risk_axis" if risk else "score_axis"][lang],
            axis=_score_axis(instrument),
            data_labels=True,
            size=means_size,
        ),
        f"A{row}",
    )
    row += chart_rows(means_size[1])
    ws.add_chart(
        chart(
            "column",
            title=_T["share_chart"][lang].format(
                improved=_improved_label(instrument, lang, verb=True, threshold=threshold)
            ),
            data=ws,
            series_columns=[columns.index(SummaryColumn.share_improved) + 1],
            header_row=header,
            first_row=dims_first,
            last_row=last,
            category_column=name_col,
            y_title=_T["share_axis"][lang],
            axis=SHARE_AXIS,
            data_labels=True,
            size=means_size,
        ),
        f"A{row}",
    )


# --- 4. raw data ---------------------------------------------------------------------------------


def _raw_answer(value: AnswerValue | None) -> float | str | None:
    return RAW_NA if value is NA else _numeric(value)


# widths of the raw export's fixed columns (UUIDs are 36 characters), then each item column
_RAW_WIDTHS: Final[dict[RawColumn, float]] = {
    RawColumn.assessment_id: 38,
    RawColumn.organization_id: 38,
    RawColumn.organization_name: 32,
    RawColumn.external_id: 16,
    RawColumn.round: 14,
    RawColumn.assessed_on: 13,
    RawColumn.status: 12,
    RawColumn.instrument_version: 14,
    RawColumn.overall: 12,
}
_ITEMS_WIDTHS: Final = (34, 30, 30, 90)


def export_raw(instrument: Instrument, rows: Iterable[RawRow], lang: str = "en") -> bytes:
    """Raw data as .xlsx, streamed (write-only): one row per assessment, one column per item.

    Fixed columns (``RawColumn``), then the item keys in instrument order holding the numeric
    value, ``NA`` for not applicable, blank for missing. An Items sheet maps key to text.
    """
    language = check_language(lang)
    keys = list(instrument.items)
    wb = Workbook(write_only=True)
    wb.properties.creator = "OCA Engine"
    data = wb.create_sheet(SHEETS["data"][language])
    items_ws = wb.create_sheet(SHEETS["items"][language])
    # column widths, row heights and page setup go before the rows in write-only mode
    headers = [*_headers(RAW_HEADERS, RawColumn, language), *keys]
    raw_widths = [
        *(max(w, len(h) + 3.0) for w, h in zip(_RAW_WIDTHS.values(), headers, strict=False)),
        *(min(max(len(k) + 3.0, 8.0), 36.0) for k in keys),
    ]
    widths(data, raw_widths)
    data.freeze_panes = "D2"  # IDs and name stay in view
    page_setup(
        data, title_rows=(1, 1), title_columns="A:C", pages_wide=pages_wide(data, len(raw_widths))
    )
    widths(items_ws, _ITEMS_WIDTHS)
    items_ws.freeze_panes = "A2"
    page_setup(items_ws, title_rows=(1, 1))
    data.append(stream_row(data, headers, bold=True))
    for r in rows:
        answers = r.answers
        data.append(
            stream_row(
                data,
                [
                    r.assessment_id,
                    r.organization_id,
                    r.organization_name,
                    r.external_id,
                    r.round,
                    r.assessed_on,
                    r.status,
                    r.instrument_version,
                    round2(r.overall),
                    *(_raw_answer(answers.get(k)) for k in keys),
                ],
            )
        )
    items_ws.append(stream_row(items_ws, _headers(ITEMS_HEADERS, ItemsColumn, language), bold=True))
    row = 1
    for dimension in instrument.dimensions:
        for area in dimension.areas:
            for item in area.items:
                row += 1
                texts = [
                    dimension.title.get(language),
                    area.title.get(language),
                    _item_text(item, language),
                ]
                height = lines_height(zip(texts, _ITEMS_WIDTHS[1:], strict=True))
                if height is not None:
                    items_ws.row_dimensions[row].height = height
                items_ws.append(stream_row(items_ws, [item.key, *texts], wrap=(0, 1, 2, 3)))
    return workbook_bytes(wb)


_CSV_ROWS_PER_CHUNK: Final = 200


def export_raw_csv(instrument: Instrument, rows: Iterable[RawRow]) -> Iterator[str]:
    """The raw data as CSV text chunks: a BOM (so Excel reads UTF-8), a header of ``RawColumn``
    names and item keys, then the rows. Every field is quoted; text fields that start with
    ``= + - @``, tab, CR, LF or NUL get a leading ``'`` (OWASP CSV injection)."""
    keys = list(instrument.items)
    yield BOM + csv_chunk([[c.value for c in RawColumn] + keys])
    batch: list[list[str]] = []
    for r in rows:
        answers = r.answers
        batch.append(
            [
                csv_text(r.assessment_id),
                csv_text(r.organization_id),
                csv_text(r.organization_name),
                csv_text(r.external_id),
                csv_text(r.round),
                r.assessed_on.isoformat(),
                csv_text(r.status),
                csv_text(r.instrument_version),
                "" if r.overall is None else number_text(round2(r.overall) or 0.0),
                *(_csv_answer(answers.get(k)) for k in keys),
            ]
        )
        if len(batch) >= _CSV_ROWS_PER_CHUNK:
            yield csv_chunk(batch)
            batch = []
    if batch:
        yield csv_chunk(batch)


def _csv_answer(value: AnswerValue | None) -> str:
    if value is NA:
        return RAW_NA
    number = _numeric(value)
    return "" if number is None else number_text(number)
