"""The Risk sheet of a risk instrument's assessment (NUPAS): the overall band and the rule that set
it, each section's risk, and the special award conditions it recommends."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Final

from openpyxl import Workbook

from app.domain.instrument import Instrument
from app.domain.score_object import ConditionSection, RiskResultRead, SectionRead
from app.excel._export_write import (
    PERCENT_FORMAT,
    POINTS_FORMAT,
    Value,
    fit_rows,
    label_values,
    number_text,
    page_setup,
    put,
    round2,
    table,
    text_of,
    widths,
    wrap,
)
from app.excel.exports.common import (
    band_text,
    dimension_titles_of,
    headers_of,
    instrument_name,
    reason_text,
)
from app.excel.exports.scores import RISK_SCORE_HEADER, SCORE_HEADERS, ScoreColumn
from app.excel.exports.words import RISK_BAND_PHRASE, RISK_RULE, SHEETS, TEXT, Labels, pair
from app.excel.layout import Language
from app.excel.styles import MUTED, SECTION_FONT, TITLE_FONT


class RiskColumn(StrEnum):
    section = "section"
    percent = "percent"
    band = "band"
    points = "points"
    max_points = "max_points"
    key_questions = "key_questions"


RISK_HEADERS: Final[dict[RiskColumn, Labels]] = {
    RiskColumn.section: pair("Section", "Sección"),
    RiskColumn.percent: RISK_SCORE_HEADER,
    RiskColumn.band: pair("Risk band", "Nivel de riesgo"),
    RiskColumn.points: pair("Risk points", "Puntos de riesgo"),
    RiskColumn.max_points: pair("Maximum points", "Puntos máximos"),
    RiskColumn.key_questions: pair(
        "Key questions answered the risky way", "Preguntas clave con respuesta de riesgo"
    ),
}


class ConditionColumn(StrEnum):
    condition = "condition"
    reason = "reason"
    sections = "sections"


CONDITION_HEADERS: Final[dict[ConditionColumn, Labels]] = {
    ConditionColumn.condition: pair("Condition", "Condición"),
    ConditionColumn.reason: pair("Reason", "Motivo"),
    ConditionColumn.sections: pair("Sections", "Secciones"),
}


def write_risk(wb: Workbook, instrument: Instrument, risk: RiskResultRead, lang: Language) -> None:
    ws = wb.create_sheet(SHEETS["risk"][lang])
    dim_titles = dimension_titles_of(instrument, lang)
    items = instrument.items
    put(
        ws,
        1,
        1,
        f"{TEXT['risk_title'][lang]} — {instrument_name(instrument, lang)}",
        font=TITLE_FONT,
    )
    sections = risk.sections
    row = label_values(
        ws,
        3,
        [
            (TEXT["overall_risk"][lang], band_text(risk.overall, lang)),
            (TEXT["risk_rule"][lang], _risk_rule(risk, sections, dim_titles, lang)),
            (TEXT["pooled_risk_percent"][lang], round2(risk.percent)),
            *(
                [(SCORE_HEADERS[ScoreColumn.reason][lang], reason_text(risk.reason, lang))]
                if risk.reason
                else []
            ),
        ],
    )
    ws.cell(row=5, column=2).number_format = PERCENT_FORMAT
    put(ws, row + 1, 1, TEXT["pooled_note"][lang], font=MUTED)
    widths(ws, (40, 40, 28, 14, 14, 60))  # 196: one landscape page at a readable size
    wrap(ws, (1, 2), 3, row)

    row += 3
    put(ws, row, 1, TEXT["sections"][lang], font=SECTION_FONT)
    section_rows: list[list[Value]] = []
    for section in sections:
        failed = section.key_questions_failed
        section_rows.append(
            [
                dim_titles.get(section.key, section.key),
                round2(section.percent),
                band_text(section.band, lang),
                round2(section.points),
                round2(section.max_points),
                "\n".join(f"{k}: {items[k].text.get(lang)}" if k in items else k for k in failed)
                or None,
            ]
        )
    header = row + 1
    first, row = table(
        ws,
        header,
        headers_of(RISK_HEADERS, RiskColumn, lang),
        section_rows,
        [None, PERCENT_FORMAT, None, POINTS_FORMAT, POINTS_FORMAT, None],
    )
    wrap(ws, (1, len(RiskColumn)), first, row)

    row += 2
    put(ws, row, 1, TEXT["conditions"][lang], font=SECTION_FONT)
    conditions = risk.conditions
    if not conditions:
        put(ws, row + 1, 1, TEXT["no_conditions"][lang], font=MUTED)
    else:
        condition_rows: list[list[Value]] = []
        for condition in conditions:
            condition_sections = condition.sections
            reason = _condition_reason(condition_sections, dim_titles, lang) or reason_text(
                condition.reason, lang
            )
            condition_rows.append(
                [
                    text_of(condition.title, lang) or condition.key,
                    reason,
                    ", ".join(dim_titles.get(s.key, s.key) for s in condition_sections) or None,
                ]
            )
        first, last = table(
            ws, row + 1, headers_of(CONDITION_HEADERS, ConditionColumn, lang), condition_rows
        )
        wrap(ws, (1, 2, 3), first, last)
    fit_rows(ws, 1, ws.max_row)
    page_setup(ws, title_rows=(1, 1))


_RISK_ORDER: Final = ("low", "medium", "high", "extreme")


def _risk_rule(
    risk: RiskResultRead,
    sections: Sequence[SectionRead],
    titles: Mapping[str, str],
    lang: Language,
) -> str | None:
    """How the overall band was reached, with the numbers: the worst section(s) named, or the
    mean of the sections' risk."""
    rule = risk.rule
    words = RISK_RULE.get(rule)
    if words is None:
        return rule or None
    scored = [s.percent for s in sections if s.band in _RISK_ORDER and s.percent is not None]
    if rule == "mean_section":
        if not scored:
            return None
        mean = sum(scored) / len(scored)
        return words[lang].format(percent=number_text(round(mean, 1)))
    worst = risk.overall
    named = []
    for s in sections:  # a key question sets a band even where the percentage is not shown
        if s.band != worst or worst is None:
            continue
        shown = round2(s.percent)
        percent = f"{number_text(round(shown, 1))} %" if shown is not None else "—"
        why = TEXT["key_question_floor"][lang] if s.key_questions_failed else ""
        named.append(f"«{titles.get(s.key, s.key)}» ({percent}{why})")
    if not named:
        return None
    return words[lang].format(sections=", ".join(named))


def _condition_reason(
    sections: Sequence[ConditionSection], titles: Mapping[str, str], lang: Language
) -> str | None:
    parts: list[str] = []
    for section in sections:
        band = section.band
        phrase = RISK_BAND_PHRASE.get(band)
        parts.append(
            TEXT["section_is"][lang].format(
                section=titles.get(section.key, section.key),
                band=phrase[lang] if phrase else band,
            )
        )
    return TEXT["because"][lang] + ", ".join(parts) if parts else None
