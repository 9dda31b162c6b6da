"""One assessment as a workbook: cover, answers, scores (``scores``), risk (``risk``, NUPAS) and
the reading of the scores (``app.excel.score_reading``)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final

from openpyxl import Workbook

from app.domain.instrument import Instrument
from app.domain.score_object import ScorePayload
from app.domain.scoring import NA, AnswerValue
from app.excel._export_write import (
    Value,
    fit_rows,
    label_values,
    new_workbook,
    page_setup,
    put,
    table,
    widths,
    workbook_bytes,
    wrap,
)
from app.excel.exports.common import (
    answer_number,
    headers_of,
    instrument_name,
    status_text,
)
from app.excel.exports.inputs import AssessmentInfo
from app.excel.exports.risk import write_risk
from app.excel.exports.score_reading import write_score_reading
from app.excel.exports.scores import write_scores
from app.excel.exports.words import SHEETS, TEXT, Labels, pair
from app.excel.layout import (
    ITEM_HEADERS,
    NA_LABEL,
    ItemColumn,
    Language,
    check_language,
    item_text,
    round_name,
)
from app.excel.styles import MUTED, TITLE_FONT


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
    CoverRow.organization: pair("Organization", "Organización"),
    CoverRow.external_id: pair("Organization ID (program)", "ID de la organización (programa)"),
    CoverRow.round: pair("Round", "Ronda"),
    CoverRow.assessed_on: pair("Assessment date", "Fecha de la evaluación"),
    CoverRow.assessor: pair("Assessor / facilitator", "Evaluador(a) / facilitador(a)"),
    CoverRow.status: pair("Status", "Estado"),
    CoverRow.instrument: pair("Instrument", "Instrumento"),
    CoverRow.instrument_version: pair("Instrument version", "Versión del instrumento"),
    CoverRow.revision: pair("Revision", "Revisión"),
    CoverRow.assessment_id: pair("Assessment ID", "ID de la evaluación"),
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
    AnswerColumn.dimension: pair("Dimension", "Dimensión"),
    AnswerColumn.area: ITEM_HEADERS[ItemColumn.area],
    AnswerColumn.key: ITEM_HEADERS[ItemColumn.key],
    AnswerColumn.item: ITEM_HEADERS[ItemColumn.item],
    AnswerColumn.value: pair("Value", "Valor"),
    AnswerColumn.answer: ITEM_HEADERS[ItemColumn.answer],
    AnswerColumn.note: ITEM_HEADERS[ItemColumn.notes],
}


def export_assessment(
    instrument: Instrument,
    info: AssessmentInfo,
    answers: Mapping[str, AnswerValue],
    notes: Mapping[str, str],
    score: ScorePayload | None,
    lang: str = "en",
) -> bytes:
    """One assessment as .xlsx: cover, answers, scores with native charts, and risk (NUPAS).

    ``score`` is the explained score object (stored by ``services.scores.score_payload``,
    rounded or not), or None when the assessment is not scored. Raises ValueError for an unknown
    language, an ``info.instrument_version`` other than the instrument's, or an answer that does
    not fit.
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
    write_scores(wb, instrument, score, language, draft=info.status == "draft")
    if score is not None and score.risk is not None:
        write_risk(wb, instrument, score.risk, language)
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
        number = answer_number(value)
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
    put(ws, 2, 1, TEXT["assessment_title"][lang], font=MUTED)
    values: dict[CoverRow, Value] = {
        CoverRow.organization: info.organization_name,
        CoverRow.external_id: info.organization_external_id,
        CoverRow.round: round_name(info.round, lang),
        CoverRow.assessed_on: info.assessed_on,
        CoverRow.assessor: info.assessor,
        CoverRow.status: status_text(info.status, lang),
        CoverRow.instrument: instrument_name(instrument, lang),
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
                shown: Value = NA_LABEL[lang] if value is NA else answer_number(value)
                rows.append(
                    [
                        dimension.title.get(lang),
                        area.title.get(lang),
                        item.key,
                        item_text(item, lang),
                        shown,
                        labels.get(item.key, TEXT["no_answer"][lang]),
                        notes.get(item.key) or None,
                    ]
                )
    columns = list(AnswerColumn)
    first, last = table(ws, 1, headers_of(ANSWER_HEADERS, columns, lang), rows)
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
