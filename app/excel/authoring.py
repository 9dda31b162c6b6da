"""An instrument version as an authoring workbook (XLSForm layout plus columns of our own).

``build_authoring`` writes it; ``app.excel.authoring_reader`` reads it back into the same
``Instrument``: for every shipped version, reading what was written gives back the instrument.
The layout is in ``authoring_layout`` and explained in ``docs/authoring.md``.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.worksheet.worksheet import Worksheet

from app.domain.instrument import Area, Dimension, Instrument, Item, Text
from app.excel._worker import set_text
from app.excel.authoring_layout import (
    BEGIN_GROUP,
    CHOICES_COLUMNS,
    END_GROUP,
    LANG_COLUMNS,
    LIST_COLUMNS,
    NO,
    SELECT_ONE,
    SETTINGS_COLUMNS,
    SURVEY_HEAD,
    SURVEY_TAIL,
    YES,
    Sheet,
    level_columns,
    plain_texts,
    texts,
)
from app.excel.xlsform import EN, choice_name

Value = str | int | float | None
Row = dict[str, Value]


def number(value: float) -> int | float:
    """Whole numbers as integers, so the sheet shows 1 rather than 1.0."""
    return int(value) if float(value).is_integer() else value


def _text(row: Row, name: str, text: Text | None, columns: tuple[str, str] | None = None) -> None:
    if text is None:
        return
    for (code, _), column in zip(LANG_COLUMNS, columns or texts(name), strict=True):
        row[column] = text.get(code)


def _words(values: Iterable[str]) -> str | None:
    joined = " ".join(values)
    return joined or None


def _flag(value: bool) -> str | None:
    return YES if value else None


def _weight(value: float) -> int | float | None:
    return None if value == 1 else number(value)


def levels_of(instrument: Instrument) -> list[int]:
    """The level numbers that get statement columns: every whole value of every scale."""
    found = {int(v.value) for s in instrument.scales.values() for v in s.values}
    found |= {n for i in instrument.items.values() for n in (i.levels or {})}
    return sorted(found)


def survey_columns(instrument: Instrument) -> tuple[str, ...]:
    levels = [c for n in levels_of(instrument) for c in level_columns(n)]
    return (*SURVEY_HEAD, *levels, *SURVEY_TAIL)


def _group(node: Dimension | Area) -> Row:
    row: Row = {"type": BEGIN_GROUP, "name": node.key, "weight": _weight(node.weight)}
    _text(row, "label", node.title)
    _text(row, "hint", node.description)
    _text(row, "lens_note", node.lens_note)
    row["lens"] = node.lens.value if node.lens else None
    if isinstance(node, Dimension) and node.conditions is not None:
        row["conditions_medium"] = _words(node.conditions.medium)
        row["conditions_high"] = _words(node.conditions.high)
        row["conditions_extreme"] = _words(node.conditions.extreme)
    if isinstance(node, Area) and node.desired_stage is not None:
        row["desired_stage"] = node.desired_stage
    return row


def _item(item: Item) -> Row:
    row: Row = {"type": f"{SELECT_ONE} {item.scale}", "name": item.key}
    _text(row, "label", item.text)
    _text(row, "guidance_hint", item.guidance)
    for level, statement in (item.levels or {}).items():
        _text(row, f"level_{level}", statement)
    _text(row, "evidence", item.evidence)
    _text(row, "na_reason", item.na_reason)
    row["weight"] = _weight(item.weight)
    row["key_question"] = _flag(item.key_question)
    if item.risk is not None:
        row["risk_points"] = number(item.risk.points)
        row["risk_when"] = item.risk.when
    row["tags"] = _words(item.tags)
    return row


def survey_rows(instrument: Instrument) -> list[Row]:
    rows: list[Row] = []
    for d in instrument.dimensions:
        rows.append(_group(d))
        for a in d.areas:
            rows.append(_group(a))
            rows.extend(_item(i) for i in a.items)
            rows.append({"type": END_GROUP, "name": a.key})
        rows.append({"type": END_GROUP, "name": d.key})
    return rows


def choices_rows(instrument: Instrument) -> list[Row]:
    rows: list[Row] = []
    for key, scale in instrument.scales.items():
        for n, v in enumerate(scale.values):
            row: Row = {"list_name": key, "name": choice_name(v.value, v.code)}
            row["score"] = number(v.value)
            _text(row, "label", v.label)
            _text(row, "description", v.description, plain_texts("description"))
            if n == 0:  # a list's own settings are written once, on its first row
                row["kind"] = scale.kind
                row["allow_na"] = YES if scale.allow_na else NO
            rows.append(row)
    return rows


def settings_row(instrument: Instrument) -> Row:
    s = instrument.scoring
    row: Row = {
        "form_title": instrument.title.en,
        "form_id": instrument.id,
        "version": instrument.version,
        "default_language": EN,
        "form_title_es": instrument.title.es,
        "source": instrument.source,
        "languages": " ".join(instrument.languages),
        "method": s.method.value,
        "min_coverage": number(s.min_coverage),
        "improvement_threshold": number(s.improvement_threshold),
        "cap_by_weakest": s.cap_by_weakest,
        "allow_partial": YES if s.allow_partial else NO,
        "supersedes": instrument.supersedes.version if instrument.supersedes else None,
    }
    _text(row, "description", instrument.description, plain_texts("description"))
    _text(row, "subject", instrument.subject, plain_texts("subject"))
    if s.risk is not None:
        row["risk_key_question_floor"] = s.risk.key_question_floor.value
        row["risk_overall"] = s.risk.overall
        band = s.risk.failing_area_band
        row["risk_failing_area_band"] = band.value if band else None
    derived = instrument.derived_from
    if derived is not None:
        row["derived_from"] = derived.version
        row["derived_variant"] = derived.variant
        row["derived_dropped_tags"] = _words(derived.dropped_tags)
        row["derived_dropped_items"] = _words(derived.dropped_items)
    return row


def list_rows(instrument: Instrument) -> dict[Sheet, list[Row]]:
    s = instrument.scoring
    out: dict[Sheet, list[Row]] = {sheet: [] for sheet in LIST_COLUMNS}
    for band in s.bands:
        row: Row = {"max": number(band.max)}
        _text(row, "label", band.label)
        out[Sheet.bands].append(row)
    if s.risk is not None:
        for t in s.risk.thresholds:
            out[Sheet.risk_thresholds].append({"band": t.band.value, "below": number(t.below)})
        for c in s.risk.conditions:
            row = {"key": c.key}
            _text(row, "title", c.title)
            _text(row, "action", c.action)
            _text(row, "time_allowed", c.time_allowed)
            _text(row, "reconsideration", c.reconsideration)
            out[Sheet.conditions].append(row)
    if instrument.supersedes is not None:
        for old, new in instrument.supersedes.items.items():
            out[Sheet.supersedes].append({"old_item": old, "new_item": new})
    for v in instrument.variants:
        row = {"key": v.key, "drop_tags": _words(v.drop_tags)}
        _text(row, "title", v.title)
        _text(row, "description", v.description)
        out[Sheet.variants].append(row)
    return out


def build_authoring(instrument: Instrument) -> bytes:
    """The authoring workbook of one instrument version."""
    wb = Workbook()
    first = wb.active
    assert isinstance(first, Worksheet)
    first.title = Sheet.survey.value
    _fill(first, survey_columns(instrument), survey_rows(instrument))
    _fill(wb.create_sheet(Sheet.choices.value), CHOICES_COLUMNS, choices_rows(instrument))
    _fill(wb.create_sheet(Sheet.settings.value), SETTINGS_COLUMNS, [settings_row(instrument)])
    for sheet, rows in list_rows(instrument).items():
        _fill(wb.create_sheet(sheet.value), LIST_COLUMNS[sheet], rows)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _fill(sheet: Worksheet, columns: Sequence[str], rows: Sequence[Row]) -> None:
    for c, name in enumerate(columns, start=1):
        cell = sheet.cell(row=1, column=c)
        set_text(cell, name)
        cell.font = Font(bold=True)
        letter = cell.column_letter
        wide = "::" in name or name == "source"
        sheet.column_dimensions[letter].width = 40 if wide else 14
    for r, row in enumerate(rows, start=2):
        for c, name in enumerate(columns, start=1):
            value = row.get(name)
            if value is None:
                continue
            cell = sheet.cell(row=r, column=c)
            if isinstance(value, str):
                set_text(cell, value)
                if "\n" in value:
                    cell.alignment = Alignment(wrap_text=True, vertical="top")
            else:
                cell.value = value
    sheet.freeze_panes = "C2" if sheet.title == Sheet.survey.value else "A2"
