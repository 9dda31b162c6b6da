"""The fill-in template of one instrument version, optionally prefilled with an assessment."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from io import BytesIO
from typing import Any, Final

from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from openpyxl.workbook.protection import WorkbookProtection
from openpyxl.worksheet.datavalidation import DataValidation

from app.domain.instrument import Area, Dimension, Instrument, Item, Scale
from app.domain.scoring import NA, AnswerValue
from app.excel._worker import set_text
from app.excel.layout import (
    COVER_LABEL_COLUMN,
    COVER_LABELS,
    COVER_ROWS,
    COVER_VALUE_COLUMN,
    FORMAT_VERSION,
    GENERATOR,
    HEADER_ROW,
    ITEM_HEADERS,
    META_LISTS_FIRST_COLUMN,
    META_ROWS,
    META_SHEET,
    META_TABLE_COLUMNS,
    META_TABLE_FIRST_COLUMN,
    META_TABLE_HEADER_ROW,
    NA_LABEL,
    ROUND_NAMES,
    CoverField,
    ItemColumn,
    Language,
    MetaKey,
    SheetLayout,
    WorkbookLayout,
    cover_cell,
    item_text,
    number_text,
    ordered_values,
    round_name,
    workbook_layout,
)
from app.excel.styles import (
    BODY_FONT,
    BOLD,
    BORDER,
    GREY,
    HEADER_FILL,
    HEADER_FONT,
    HELPER_FONT,
    INPUT_FILL,
    TITLE_FONT,
    UNLOCKED,
    WRAP_TOP,
    fit_page,
    row_height,
)
from app.excel.template_instructions import SUBJECT, write_instructions


@dataclass(frozen=True)
class Prefill:
    """An assessment written back into template form (export that can be re-imported)."""

    organization_name: str | None = None
    organization_external_id: str | None = None
    round: str | None = None
    assessed_on: date | None = None
    assessor: str | None = None
    answers: Mapping[str, AnswerValue] = field(default_factory=dict)
    notes: Mapping[str, str] = field(default_factory=dict)


_TEXT_FORMAT: Final = "@"
_DATE_FORMAT: Final = "yyyy-mm-dd"
_INLINE_LIST_MAX: Final = 250  # Excel refuses inline lists over 255 characters
# column widths in characters. The answer cell starts about 470 px from the left, so it is on a
# laptop screen next to the item; a dimension sheet prints one page wide on landscape A4/Letter
_WIDTHS: Final[dict[ItemColumn, float]] = {
    ItemColumn.key: 14,  # at least; widened to the longest key of the instrument
    ItemColumn.item: 50,
    ItemColumn.answer: 16,  # at least; widened to the longest answer label
    ItemColumn.notes: 32,
    ItemColumn.guidance: 36,
    ItemColumn.evidence: 32,
    ItemColumn.area: 22,
}
_KEY_WIDTH_MAX: Final = 30
_ANSWER_WIDTH_MAX: Final = 28
_LEVEL_WIDTH: Final = 30
# A landscape page holds about this many characters of column width at a readable scale (~70 %).
_PAGE_CHARACTERS: Final = 190.0
_COVER_WIDTHS: Final = (42, 44)

_T: Final[dict[str, dict[str, str]]] = {
    "fill_cover": {
        "en": "Fill in the yellow cells, then answer the items on the following sheets. "
        "See the Instructions sheet.",
        "es": "Complete las celdas amarillas y después responda los ítems de las hojas "
        "siguientes. Vea la hoja Instrucciones.",
    },
    "choose": {"en": "Choose a value from the list.", "es": "Elija un valor de la lista."},
    "choose_title": {"en": "Answer", "es": "Respuesta"},
    "invalid_title": {"en": "Not on the scale", "es": "Fuera de la escala"},
    "invalid": {
        "en": "Choose one of the values of the list (or leave the cell blank).",
        "es": "Elija uno de los valores de la lista (o deje la celda vacía).",
    },
    "round_prompt": {
        "en": "baseline, midline, endline, or your program's own label.",
        "es": "línea de base, medio término, línea final u otra etiqueta de su programa.",
    },
    "date_prompt": {"en": "A date, e.g. 2025-03-31.", "es": "Una fecha, p. ej. 2025-03-31."},
    "date_error": {
        "en": "Type a date between 2000 and 2100, e.g. 2025-03-31.",
        "es": "Escriba una fecha entre 2000 y 2100, p. ej. 2025-03-31.",
    },
    "level": {"en": "Level", "es": "Nivel"},
    "evidence": {"en": "Evidence to look for", "es": "Evidencia a revisar"},
}

_VERSION_LINE: Final = {"en": "Version {version} · English", "es": "Versión {version} · español"}
_DESIRED: Final = {
    "en": "{title} (desired stage: {stage})",
    "es": "{title} (etapa deseada: {stage})",
}


def build_template(
    instrument: Instrument,
    content_hash: str,
    lang: str = "en",
    prefill: Prefill | None = None,
) -> bytes:
    """The .xlsx template of one instrument version in one language, optionally prefilled.

    Raises ValueError for an unknown language or a prefill that does not fit the instrument.
    """
    layout = workbook_layout(instrument, lang)
    language = layout.language
    labels = _prefill_labels(instrument, language, prefill) if prefill else {}

    wb = Workbook()
    wb.remove(wb.active)
    cover = wb.create_sheet(layout.cover_sheet)
    instructions = wb.create_sheet(layout.instructions_sheet)
    dimension_sheets = [wb.create_sheet(s.name) for s in layout.sheets]
    meta = wb.create_sheet(META_SHEET)

    lists = _validation_lists(instrument, language, meta)
    _write_cover(cover, instrument, language, prefill)
    write_instructions(instructions, instrument, language)
    for ws, sheet, dimension in zip(
        dimension_sheets, layout.sheets, instrument.dimensions, strict=True
    ):
        _write_dimension(ws, sheet, dimension, instrument, language, lists, labels, prefill)
    _write_meta(meta, instrument, content_hash, layout)

    for ws in wb.worksheets:
        ws.protection.sheet = True
        ws.protection.formatColumns = False  # people may widen columns and rows to read
        ws.protection.formatRows = False
    meta.sheet_state = "veryHidden"
    wb.active = 0
    wb.security = WorkbookProtection(lockStructure=True)
    wb.properties.creator = "OCA Engine"
    wb.properties.title = f"{instrument.title.get(language)} ({instrument.id} {instrument.version})"

    out = BytesIO()
    wb.save(out)
    return out.getvalue()


def _prefill_labels(instrument: Instrument, lang: Language, prefill: Prefill) -> dict[str, str]:
    """The label to write in each prefilled answer cell; ValueError if an answer does not fit."""
    problems: list[str] = []
    labels: dict[str, str] = {}
    items = instrument.items
    for key, value in prefill.answers.items():
        item = items.get(key)
        if item is None:
            problems.append(f"'{key}' is not an item of {instrument.id} {instrument.version}")
            continue
        scale = instrument.scales[item.scale]
        if value is NA:
            if not scale.allow_na:
                problems.append(f"item '{key}' cannot be not applicable")
                continue
            labels[key] = NA_LABEL[lang]
            continue
        found = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            found = scale.by_value(float(value))
        if found is None:
            problems.append(f"item '{key}': {value!r} is not a value of its scale")
            continue
        labels[key] = found.label.get(lang)
    problems += [
        f"note for '{key}', which is not an item" for key in prefill.notes if key not in items
    ]
    if problems:
        raise ValueError("prefill does not fit the instrument: " + "; ".join(problems))
    return labels


def _scale_labels(scale: Scale, lang: Language, *, na: bool = True) -> list[str]:
    labels = [v.label.get(lang) for v in scale.values]
    if scale.allow_na and na:
        labels.append(NA_LABEL[lang])
    return labels


_NO_NA: Final = ":no-na"  # the list of a scale without N/A, for key questions that refuse it


def _list_key(instrument: Instrument, item: Item) -> str:
    """Which drop-down an item gets: its scale's, without N/A where the item refuses N/A."""
    scale = instrument.scales[item.scale]
    return item.scale if instrument.allows_na(item) or not scale.allow_na else item.scale + _NO_NA


def _validation_lists(instrument: Instrument, lang: Language, meta: Any) -> dict[str, str]:
    """Scale key -> the list formula of its drop-down.

    Inline ("a,b,c") when the labels allow it, because Excel keeps inline lists in the plain
    dataValidations part that every reader understands; otherwise a range on the ``_meta`` sheet.
    """
    formulas: dict[str, str] = {}
    letter = get_column_letter(META_LISTS_FIRST_COLUMN)
    row = 1  # blocks stacked in one column: the scale key, then its labels, then a blank row
    keys = sorted({_list_key(instrument, item) for item in instrument.items.values()})
    for key in keys:
        scale = instrument.scales[key.removesuffix(_NO_NA)]
        labels = _scale_labels(scale, lang, na=not key.endswith(_NO_NA))
        joined = ",".join(labels)
        if all("," not in x and '"' not in x for x in labels) and len(joined) <= _INLINE_LIST_MAX:
            formulas[key] = f'"{joined}"'
            continue
        set_text(meta.cell(row=row, column=META_LISTS_FIRST_COLUMN), key)
        for offset, label in enumerate(labels, start=1):
            set_text(meta.cell(row=row + offset, column=META_LISTS_FIRST_COLUMN), label)
        formulas[key] = f"'{META_SHEET}'!${letter}${row + 1}:${letter}${row + len(labels)}"
        row += len(labels) + 2
    return formulas


def _input(cell: Any, number_format: str = _TEXT_FORMAT) -> None:
    cell.protection = UNLOCKED
    cell.fill = INPUT_FILL
    cell.border = BORDER
    cell.alignment = WRAP_TOP
    cell.number_format = number_format


def _write_cover(ws: Any, instrument: Instrument, lang: Language, prefill: Prefill | None) -> None:
    title = ws.cell(row=1, column=1)
    set_text(title, instrument.title.get(lang))
    title.font = TITLE_FONT
    title.alignment = WRAP_TOP
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=2)
    ws.row_dimensions[1].height = row_height(title.value, sum(_COVER_WIDTHS) * 0.8, TITLE_FONT)
    about = ws.cell(row=2, column=1)
    set_text(about, _VERSION_LINE[lang].format(version=instrument.version))
    about.font = GREY
    for field_, row in COVER_ROWS.items():
        label = ws.cell(row=row, column=COVER_LABEL_COLUMN)
        set_text(label, COVER_LABELS[field_][lang])
        label.font = BOLD
        label.alignment = WRAP_TOP
        ws.row_dimensions[row].height = row_height(label.value, _COVER_WIDTHS[0] * 0.9)
        value = ws.cell(row=row, column=COVER_VALUE_COLUMN)
        _input(value, _DATE_FORMAT if field_ is CoverField.assessed_on else _TEXT_FORMAT)
    last = max(COVER_ROWS.values()) + 2
    note = ws.cell(row=last, column=1)
    set_text(note, _T["fill_cover"][lang])
    note.alignment = WRAP_TOP
    note.font = BODY_FONT
    ws.row_dimensions[last].height = row_height(note.value, _COVER_WIDTHS[0])
    if instrument.subject is not None:  # e.g. a learning community rather than one organization
        last += 1
        subject = ws.cell(row=last, column=1)
        set_text(subject, SUBJECT[lang].format(subject=instrument.subject.get(lang)))
        subject.alignment = WRAP_TOP
        subject.font = BOLD
        ws.row_dimensions[last].height = row_height(subject.value, _COVER_WIDTHS[0], BOLD)
    ws.column_dimensions["A"].width = _COVER_WIDTHS[0]
    ws.column_dimensions["B"].width = _COVER_WIDTHS[1]
    fit_page(ws, landscape=False)
    ws.print_area = f"A1:B{last}"

    round_dv = DataValidation(
        type="list",
        formula1='"' + ",".join(round_name(r, lang) for r in ROUND_NAMES) + '"',
        allow_blank=True,
        showErrorMessage=False,  # a suggestion, not a rule: programs define their own rounds
        showInputMessage=True,
        prompt=_T["round_prompt"][lang],
    )
    round_dv.add(cover_cell(CoverField.round))
    date_dv = DataValidation(
        type="date",
        operator="between",
        formula1="36526",  # 2000-01-01
        formula2="73415",  # 2100-12-31
        allow_blank=True,
        showErrorMessage=True,
        showInputMessage=True,
        prompt=_T["date_prompt"][lang],
        error=_T["date_error"][lang],
    )
    date_dv.add(cover_cell(CoverField.assessed_on))
    ws.add_data_validation(round_dv)
    ws.add_data_validation(date_dv)

    if prefill is None:
        return
    texts = {
        CoverField.organization_name: prefill.organization_name,
        CoverField.organization_external_id: prefill.organization_external_id,
        CoverField.round: round_name(prefill.round, lang) if prefill.round else None,
        CoverField.assessor: prefill.assessor,
    }
    for field_, text in texts.items():
        if text:
            set_text(ws[cover_cell(field_)], text)
    if prefill.assessed_on is not None:
        ws[cover_cell(CoverField.assessed_on)].value = prefill.assessed_on


def _level_headers(
    sheet: SheetLayout, dimension: Dimension, instrument: Instrument, lang: Language
) -> list[str]:
    scales = {i.scale for a in dimension.areas for i in a.items if i.levels}
    if len(scales) == 1:
        scale = instrument.scales[next(iter(scales))]
        by_value = {v.value: v for v in scale.values}
        headers = []
        for value in ordered_values(scale):
            label = by_value[value].label.get(lang)
            number = number_text(value)
            # "Level 1 - Basic" already says its number: do not write "1 — Level 1 - Basic"
            numbered = re.search(rf"(?<![\d.]){re.escape(number)}(?![\d.])", label)
            headers.append(label if numbered else f"{number} — {label}")
        return headers
    return [f"{_T['level'][lang]} {n}" for n in range(1, sheet.level_count + 1)]


def _write_dimension(
    ws: Any,
    sheet: SheetLayout,
    dimension: Dimension,
    instrument: Instrument,
    lang: Language,
    lists: dict[str, str],
    labels: dict[str, str],
    prefill: Prefill | None,
) -> None:
    columns = sheet.columns
    headers: dict[int, str] = {n: ITEM_HEADERS[c][lang] for c, n in columns.items()}
    for offset, text in enumerate(_level_headers(sheet, dimension, instrument, lang)):
        headers[sheet.first_level_column + offset] = text
    for column, text in headers.items():
        cell = ws.cell(row=HEADER_ROW, column=column)
        set_text(cell, text)
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        cell.alignment = WRAP_TOP
        cell.border = BORDER
    widths = _column_widths(sheet, instrument, lang)
    ws.row_dimensions[HEADER_ROW].height = max(
        row_height(text, widths[column]) for column, text in headers.items()
    )

    areas = {a.key: a for a in dimension.areas}
    items = instrument.items
    validations: dict[str, DataValidation] = {}
    for position in sheet.items:
        item = items[position.key]
        row = position.row
        values: dict[int, str] = {
            columns[ItemColumn.key]: item.key,
            columns[ItemColumn.item]: item_text(item, lang),
            columns[ItemColumn.area]: _area_title(areas[position.area_key], item, instrument, lang),
        }
        if item.guidance is not None:
            values[columns[ItemColumn.guidance]] = item.guidance.get(lang)
        if item.evidence is not None:
            values[columns[ItemColumn.evidence]] = item.evidence.get(lang)
        if item.levels:
            scale = instrument.scales[item.scale]
            for offset, value in enumerate(ordered_values(scale)):
                statement = item.levels.get(int(value))
                if statement is not None:
                    values[sheet.first_level_column + offset] = statement.get(lang)
        for column in range(1, sheet.width + 1):
            cell = ws.cell(row=row, column=column)
            if column in values:
                set_text(cell, values[column])
            cell.alignment = WRAP_TOP
            cell.border = BORDER
            cell.font = BODY_FONT
        for kind in (ItemColumn.area, ItemColumn.guidance, ItemColumn.evidence):
            if kind in columns:
                ws.cell(row=row, column=columns[kind]).font = HELPER_FONT
        answer = ws.cell(row=row, column=columns[ItemColumn.answer])
        note = ws.cell(row=row, column=columns[ItemColumn.notes])
        _input(answer)
        _input(note)
        if item.key in labels:
            set_text(answer, labels[item.key])
        if prefill is not None and prefill.notes.get(item.key):
            set_text(note, prefill.notes[item.key])
        list_key = _list_key(instrument, item)
        dv = validations.get(list_key)
        if dv is None:
            dv = validations[list_key] = DataValidation(
                type="list",
                formula1=lists[list_key],
                allow_blank=True,
                showErrorMessage=True,
                showInputMessage=True,
                promptTitle=_T["choose_title"][lang],
                prompt=_T["choose"][lang],
                errorTitle=_T["invalid_title"][lang],
                error=_T["invalid"][lang],
            )
            ws.add_data_validation(dv)
        dv.add(answer.coordinate)
        ws.row_dimensions[row].height = max(
            row_height(text, widths[column]) for column, text in values.items()
        )

    for column, width in widths.items():
        ws.column_dimensions[get_column_letter(column)].width = width
    ws.freeze_panes = sheet.freeze_cell
    last_row = sheet.items[-1].row
    ws.print_area = f"A1:{get_column_letter(sheet.width)}{last_row}"
    ws.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    fit_page(ws, landscape=True, pages_wide=math.ceil(sum(widths.values()) / _PAGE_CHARACTERS))
    if ws.page_setup.fitToWidth > 1:  # key and item on every page, next to their levels
        first, second = sheet.columns[ItemColumn.key], sheet.columns[ItemColumn.item]
        ws.print_title_cols = f"{get_column_letter(first)}:{get_column_letter(second)}"


def _area_title(area: Area, item: Item, instrument: Instrument, lang: Language) -> str:
    """The area's title, with its desired stage when the file declares one (CLA)."""
    title = area.title.get(lang)
    if area.desired_stage is None:
        return title
    value = instrument.scales[item.scale].by_value(area.desired_stage)
    label = value.label.get(lang) if value is not None else ""
    stage = f"{area.desired_stage} — {label}" if label else str(area.desired_stage)
    return _DESIRED[lang].format(title=title, stage=stage)


def _column_widths(sheet: SheetLayout, instrument: Instrument, lang: Language) -> dict[int, float]:
    widths = {n: _WIDTHS[kind] for kind, n in sheet.columns.items()}
    key_column = sheet.columns[ItemColumn.key]
    longest_key = max(len(k) for k in instrument.items)
    widths[key_column] = min(max(widths[key_column], longest_key + 2.0), _KEY_WIDTH_MAX)
    answer_column = sheet.columns[ItemColumn.answer]
    longest_label = max(len(x) for s in instrument.scales.values() for x in _scale_labels(s, lang))
    widths[answer_column] = min(
        max(widths[answer_column], longest_label + 4.0), _ANSWER_WIDTH_MAX
    )  # room for the drop-down arrow
    for offset in range(sheet.level_count):
        widths[sheet.first_level_column + offset] = _LEVEL_WIDTH
    return widths


def _write_meta(ws: Any, instrument: Instrument, content_hash: str, layout: WorkbookLayout) -> None:
    values: dict[MetaKey, str | int] = {
        MetaKey.format_version: FORMAT_VERSION,
        MetaKey.instrument_id: instrument.id,
        MetaKey.instrument_version: instrument.version,
        MetaKey.content_hash: content_hash,
        MetaKey.language: layout.language,
        MetaKey.cover_sheet: layout.cover_sheet,
        MetaKey.generator: GENERATOR,
    }
    for key, value in values.items():
        row = META_ROWS[key]
        set_text(ws.cell(row=row, column=1), key.value)
        if isinstance(value, str):
            set_text(ws.cell(row=row, column=2), value)
        else:
            ws.cell(row=row, column=2).value = value
    first = META_TABLE_FIRST_COLUMN
    for offset, name in enumerate(META_TABLE_COLUMNS):
        set_text(ws.cell(row=META_TABLE_HEADER_ROW, column=first + offset), name)
    row = META_TABLE_HEADER_ROW + 1
    for sheet in layout.sheets:
        for position in sheet.items:
            set_text(ws.cell(row=row, column=first), sheet.name)
            ws.cell(row=row, column=first + 1).value = position.row
            set_text(ws.cell(row=row, column=first + 2), position.key)
            set_text(ws.cell(row=row, column=first + 3), sheet.ref(ItemColumn.answer, position.row))
            set_text(ws.cell(row=row, column=first + 4), sheet.ref(ItemColumn.notes, position.row))
            row += 1
