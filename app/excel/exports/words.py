"""Every word of the exports in English and Spanish, in one place so a translator finds them all.

Column headers stay with their column specs in the module of their sheet; these are the sheet
names, titles, notes and the labels of statuses, bands, outcomes and directions."""

from __future__ import annotations

from typing import Final

from app.domain.instrument import Lens

Labels = dict[str, str]


def pair(en: str, es: str) -> Labels:
    """A text in both languages of the exports."""
    return {"en": en, "es": es}


SHEETS: Final[dict[str, Labels]] = {
    "cover": pair("Cover", "Portada"),
    "answers": pair("Answers", "Respuestas"),
    "scores": pair("Scores", "Puntajes"),
    "risk": pair("Risk", "Riesgo"),
    "series": pair("Series", "Serie"),
    "organizations": pair("Organizations", "Organizaciones"),
    "summary": pair("Summary", "Resumen"),
    "data": pair("Data", "Datos"),
    "items": pair("Items", "Ítems"),
}

TEXT: Final[dict[str, Labels]] = {
    "assessment_title": pair("Assessment", "Evaluación"),
    "overall": pair("Overall", "Global"),
    "dimensions": pair("Dimensions", "Dimensiones"),
    "areas": pair("Areas", "Áreas"),
    "lens": pair("Sustainability profile (0–100)", "Perfil de sostenibilidad (0–100)"),
    "no_answer": pair("(no answer)", "(sin respuesta)"),
    "not_scored": pair(
        "This assessment has no score yet.", "Esta evaluación todavía no tiene puntaje."
    ),
    "not_scored_draft": pair(
        "This assessment has no score: it is a draft, and drafts are scored when they are "
        "submitted.",
        "Esta evaluación no tiene puntaje: es un borrador, y los borradores se califican cuando "
        "se envían.",
    ),
    "na_suffix": pair(" (N/A)", " (No aplica)"),
    "no_score_suffix": pair(" (no score)", " (sin puntaje)"),
    "lens_note": pair(
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
    "score_chart": pair("Score by dimension", "Puntaje por dimensión"),
    "risk_chart": pair("Risk by section (%)", "Riesgo por sección (%)"),
    "area_chart": pair("Score by area", "Puntaje por área"),
    "area_risk_chart": pair("Risk by area (%)", "Riesgo por área (%)"),
    "lens_chart": pair("Sustainability profile (0–100)", "Perfil de sostenibilidad (0–100)"),
    "score_axis": pair("Score", "Puntaje"),
    "risk_axis": pair("Risk %", "Riesgo %"),
    "risk_title": pair("Risk assessment", "Evaluación de riesgo"),
    "overall_risk": pair("Overall risk", "Riesgo global"),
    "pooled_risk_percent": pair(
        "Risk over all questions, pooled (%)", "Riesgo sobre todas las preguntas en conjunto (%)"
    ),
    "risk_rule": pair("Overall risk is", "El riesgo global es"),
    "key_question_floor": pair(
        "; a key question answered the risky way", "; una pregunta clave con respuesta de riesgo"
    ),
    "pooled_note": pair(
        "The pooled % counts every question's risk points together; it is not the overall "
        "risk, which follows the rule above.",
        "El % en conjunto suma los puntos de riesgo de todas las preguntas; no es el riesgo "
        "global, que sigue la regla anterior.",
    ),
    "sections": pair("Sections", "Secciones"),
    "conditions": pair(
        "Recommended special award conditions (2 CFR 200.208)",
        "Condiciones especiales recomendadas (2 CFR 200.208)",
    ),
    "no_conditions": pair(
        "No special conditions are recommended.", "No se recomiendan condiciones especiales."
    ),
    "because": pair("Recommended because ", "Se recomienda porque "),
    "section_is": pair("section «{section}» is {band} risk", "la sección «{section}» tiene {band}"),
    "series_title": pair("Scores over time", "Puntajes en el tiempo"),
    "series_chart": pair("Scores by round", "Puntajes por ronda"),
    "series_risk_chart": pair("Risk by round (%)", "Riesgo por ronda (%)"),
    "radar_title": pair("First vs latest assessment", "Primera vs. última evaluación"),
    "radar_chart": pair(
        "First vs latest assessment by dimension", "Primera vs. última evaluación por dimensión"
    ),
    "first": pair("First", "Primera"),
    "chart_label": pair("Label in the chart", "Etiqueta en el gráfico"),
    "latest": pair("Latest", "Última"),
    "no_points": pair(
        "There are no scored assessments yet.", "Todavía no hay evaluaciones con puntaje."
    ),
    "cohort_title": pair("Cohort comparison", "Comparación de la cohorte"),
    "cohort": pair("Cohort", "Cohorte"),
    "instrument": pair("Instrument", "Instrumento"),
    "baseline_round": pair("Baseline round", "Ronda de línea de base"),
    "endline_round": pair("Endline round", "Ronda de línea final"),
    "members": pair("Organizations in the cohort", "Organizaciones en la cohorte"),
    "with_both": pair("With both rounds", "Con ambas rondas"),
    "only_baseline": pair("Only baseline", "Solo línea de base"),
    "only_endline": pair("Only endline", "Solo línea final"),
    "threshold": pair("Improvement threshold", "Umbral de mejora"),
    "versions_mixed": pair(
        "Note: the assessments use more than one instrument version. {rescored} organization(s) "
        "with a round on an older version are scored on version {version}, on the items its "
        "supersedes map carries over; {left} could not be compared and are left out.",
        "Nota: las evaluaciones usan más de una versión del instrumento. {rescored} "
        "organización(es) con una ronda en una versión anterior se puntúan en la versión "
        "{version}, con los ítems que su mapa de equivalencias conserva; {left} no se pudieron "
        "comparar y quedan fuera.",
    ),
    "means_chart": pair(
        "Mean score by dimension: baseline vs endline",
        "Puntaje medio por dimensión: línea de base vs. línea final",
    ),
    "means_risk_chart": pair(
        "Mean risk % by section: baseline vs endline",
        "Riesgo medio % por sección: línea de base vs. línea final",
    ),
    "paired_n": pair(
        "organizations with both rounds, n = {n}", "organizaciones con ambas rondas, n = {n}"
    ),
    "share_chart": pair(
        "Share of organizations that {improved}, by dimension",
        "Proporción de organizaciones que {improved}, por dimensión",
    ),
    "share_axis": pair("Share", "Proporción"),
    "yes": pair("Yes", "Sí"),
    "no": pair("No", "No"),
    "no_baseline": pair(
        "no baseline scored (draft?)", "sin línea de base con puntaje (¿borrador?)"
    ),
    "no_endline": pair("no endline scored (draft?)", "sin línea final con puntaje (¿borrador?)"),
    "no_score": pair("no score", "sin puntaje"),
    "cohort_note": pair(
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
    "risk_down_is_better": pair(" (for risk, down is better)", " (en riesgo, bajar es mejor)"),
    "summary_note": pair(
        "The paired columns (and the chart) compare the same organizations in both rounds; the "
        "“all scored” columns describe every organization scored in that round.",
        "Las columnas emparejadas (y el gráfico) comparan las mismas organizaciones en ambas "
        "rondas; las columnas «todas con puntaje» describen a todas las organizaciones con "
        "puntaje en esa ronda.",
    ),
}

OUTCOME: Final[dict[str, Labels]] = {
    "improved": pair("improved", "mejoró"),
    "declined": pair("declined", "empeoró"),
    "unchanged": pair("unchanged", "sin cambio"),
}

DIRECTION: Final[dict[str, Labels]] = {
    "up": pair("up", "sube"),
    "same": pair("same", "igual"),
    "down": pair("down", "baja"),
}
# the unit of the improvement threshold, by scale kind: (singular, plural)
UNIT: Final[dict[str, dict[str, tuple[str, str]]]] = {
    "levels": {"en": ("level", "levels"), "es": ("nivel", "niveles")},
    "stages": {"en": ("stage", "stages"), "es": ("etapa", "etapas")},
    "points": {"en": ("point", "points"), "es": ("punto", "puntos")},
    "yesno": {"en": ("point", "points"), "es": ("punto", "puntos")},
}
IMPROVED: Final[dict[str, Labels]] = {
    "scale": pair(
        "Outcome, ± {n} {unit} ({low}–{high} scale)",
        "Resultado, ± {n} {unit} (escala {low}–{high})",
    ),
    "plain": pair("Outcome, ± {n} {unit}", "Resultado, ± {n} {unit}"),
    "risk": pair(
        "Outcome, risk ± {n} {unit} (0–100 %)", "Resultado, riesgo ± {n} {unit} (0–100 %)"
    ),
}
IMPROVED_VERB: Final[dict[str, Labels]] = {
    "scale": pair(
        "improved ≥ {n} {unit} ({low}–{high} scale)", "mejoraron ≥ {n} {unit} (escala {low}–{high})"
    ),
    "plain": pair("improved ≥ {n} {unit}", "mejoraron ≥ {n} {unit}"),
    "risk": pair("lowered risk ≥ {n} {unit}", "bajaron el riesgo ≥ {n} {unit}"),
}

STATUS: Final[dict[str, Labels]] = {
    "draft": pair("Draft", "Borrador"),
    "submitted": pair("Submitted", "Enviada"),
    "final": pair("Final", "Final"),
}

LENS: Final[dict[Lens, Labels]] = {
    Lens.management: pair("Management", "Gestión"),
    Lens.financing: pair("Financing", "Financiamiento"),
    Lens.processes: pair("Processes", "Procesos"),
    Lens.culture: pair("Culture", "Cultura"),
}

RISK_BAND: Final[dict[str, Labels]] = {
    "low": pair("Low", "Bajo"),
    "medium": pair("Medium", "Medio"),
    "high": pair("High", "Alto"),
    "extreme": pair("Extreme", "Extremo"),
}
RISK_BAND_PHRASE: Final[dict[str, Labels]] = {
    "low": pair("low", "riesgo bajo"),
    "medium": pair("medium", "riesgo medio"),
    "high": pair("high", "riesgo alto"),
    "extreme": pair("extreme", "riesgo extremo"),
}
RISK_RULE: Final[dict[str, Labels]] = {
    "worst_section": pair(
        "the band of the worst section: {sections}", "el nivel de la peor sección: {sections}"
    ),
    "mean_section": pair(
        "the band of the mean of the sections' risk ({percent} %)",
        "el nivel del promedio del riesgo de las secciones ({percent} %)",
    ),
}
