"""Reading the sheets people fill in: the cover and the items, checked against the instrument."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Final

from app.domain.answers import AnswersInvalid, ParsedAnswers, RawAnswer, parse_answers
from app.domain.instrument import Instrument
from app.excel.filled import (
    Cover,
    FilledItem,
    Grid,
    as_date,
    as_text,
    formula_problem,
    shown_value,
)
from app.excel.layout import (
    COVER_LABELS,
    COVER_ROWS,
    COVER_VALUE_COLUMN,
    FIRST_ITEM_ROW,
    HEADER_ROW,
    ITEM_HEADERS,
    MAX_COVER_TEXT,
    CoverField,
    ItemColumn,
    SheetLayout,
    WorkbookLayout,
    cover_cell,
    round_label,
)
from app.excel.problems import Problem, ProblemCode, problem

_DOMAIN_CODES: Final = {
    "not_on_scale": ProblemCode.not_on_scale,
    "na_not_allowed": ProblemCode.na_not_allowed,
    "na_key_question": ProblemCode.na_key_question,
    "unknown_item": ProblemCode.unknown_item,
    "duplicate_item": ProblemCode.item_duplicated,
}


def read_cover(grid: Grid | None, layout: WorkbookLayout, problems: list[Problem]) -> Cover:
    sheet = layout.cover_sheet
    if grid is None:
        problems.append(problem(ProblemCode.sheet_missing, sheet=sheet))
        return Cover(None, None, None, None, None)
    values: dict[CoverField, object] = {}
    unreadable: set[CoverField] = set()
    for field_, row in COVER_ROWS.items():
        cell = grid.get((row, COVER_VALUE_COLUMN))
        ref = cover_cell(field_)
        if cell is None or cell.value is None:
            continue
        if cell.is_formula:
            problems.append(formula_problem(sheet, ref, None, cell.value))
            unreadable.add(field_)
            continue
        if field_ is CoverField.assessed_on:
            parsed = as_date(cell.value)
            if parsed is None and not (isinstance(cell.value, str) and not cell.value.strip()):
                shown = shown_value(cell.value)
                problems.append(
                    problem(ProblemCode.invalid_date, sheet=sheet, cell=ref, found=shown)
                )
                unreadable.add(field_)
            values[field_] = parsed
            continue
        text = as_text(cell.value).strip()
        if len(text) > MAX_COVER_TEXT:
            problems.append(
                problem(
                    ProblemCode.text_too_long,
                    sheet=sheet,
                    cell=ref,
                    length=len(text),
                    limit=MAX_COVER_TEXT,
                )
            )
            unreadable.add(field_)
        values[field_] = text or None

    def missing(field_: CoverField, en: str, es: str) -> None:
        problems.append(
            problem(
                ProblemCode.missing_cover_value,
                sheet=sheet,
                cell=cover_cell(field_),
                field=en,
                field_es=es,
            )
        )

    org = (CoverField.organization_name, CoverField.organization_external_id)
    if not any(values.get(f) for f in org) and not unreadable.intersection(org):
        missing(
            CoverField.organization_name,
            "The organization name or ID",
            "El nombre o el ID de la organización",
        )
    for field_ in (CoverField.round, CoverField.assessed_on):
        if values.get(field_) is None and field_ not in unreadable:
            missing(field_, COVER_LABELS[field_]["en"], COVER_LABELS[field_]["es"])

    def text_of(field_: CoverField) -> str | None:
        value = values.get(field_)
        return value if isinstance(value, str) and field_ not in unreadable else None

    assessed_on = values.get(CoverField.assessed_on)
    typed_round = text_of(CoverField.round)
    return Cover(
        organization_name=text_of(CoverField.organization_name),
        organization_external_id=text_of(CoverField.organization_external_id),
        round=round_label(typed_round) if typed_round else None,
        assessed_on=assessed_on if isinstance(assessed_on, date) else None,
        assessor=text_of(CoverField.assessor),
    )


# --- items ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Found:
    sheet: SheetLayout
    row: int


def _key_problem(code: ProblemCode, at: _Found, key: str, expected: str) -> Problem:
    """A problem of the key cell at ``at``, saying where the key belongs (``expected``)."""
    cell = at.sheet.ref(ItemColumn.key, at.row)
    return problem(code, sheet=at.sheet.name, cell=cell, item=key, expected=expected)


def _ref(sheet: SheetLayout, column: ItemColumn, row: int) -> str:
    return f"'{sheet.name}'!{sheet.ref(column, row)}"


def read_items(
    sheets: dict[str, Grid],
    instrument: Instrument,
    layout: WorkbookLayout,
    problems: list[Problem],
) -> list[FilledItem]:
    """Every item of the instrument that the workbook has, read from where it was found."""
    lang = layout.language
    found: dict[str, list[_Found]] = {}
    present: list[SheetLayout] = []
    shifted: set[str] = set()  # sheets whose columns moved: their cells mean something else
    for sheet in layout.sheets:
        grid = sheets.get(sheet.name)
        if grid is None:
            problems.append(problem(ProblemCode.sheet_missing, sheet=sheet.name))
            continue
        present.append(sheet)
        for column in (ItemColumn.key, ItemColumn.answer, ItemColumn.notes):
            expected = ITEM_HEADERS[column][lang]
            cell = grid.get((HEADER_ROW, sheet.columns[column]))
            value = None if cell is None else cell.value
            if not (isinstance(value, str) and value.strip() == expected):
                shifted.add(sheet.name)
                problems.append(
                    problem(
                        ProblemCode.header_changed,
                        sheet=sheet.name,
                        cell=sheet.ref(column, HEADER_ROW),
                        expected=expected,
                        found="empty" if value is None else shown_value(value),
                    )
                )
        key_column = sheet.columns[ItemColumn.key]
        for (row, col), cell in sorted(grid.items()):
            if col != key_column or row < FIRST_ITEM_ROW or cell.value is None:
                continue
            ref = sheet.ref(ItemColumn.key, row)
            if cell.is_formula:
                problems.append(formula_problem(sheet.name, ref, None, cell.value))
                continue
            key = cell.value.strip() if isinstance(cell.value, str) else None
            if not key:
                if key is None:
                    problems.append(
                        problem(
                            ProblemCode.unknown_item,
                            sheet=sheet.name,
                            cell=ref,
                            found=shown_value(cell.value),
                            instrument=instrument.id,
                            version=instrument.version,
                        )
                    )
                continue
            if key not in instrument.items:
                problems.append(
                    problem(
                        ProblemCode.unknown_item,
                        sheet=sheet.name,
                        cell=ref,
                        found=shown_value(key),
                        instrument=instrument.id,
                        version=instrument.version,
                    )
                )
                continue
            found.setdefault(key, []).append(_Found(sheet, row))

    present_names = {s.name for s in present}
    filled: list[FilledItem] = []
    for sheet in layout.sheets:
        for position in sheet.items:
            key = position.key
            expected_ref = _ref(sheet, ItemColumn.key, position.row)
            places = found.get(key, [])
            home = next((p for p in places if p.sheet is sheet and p.row == position.row), None)
            if not places:
                if sheet.name in present_names:
                    missing = _Found(sheet, position.row)
                    problems.append(
                        _key_problem(ProblemCode.item_missing, missing, key, expected_ref)
                    )
                continue
            chosen = home or places[0]
            problems += [
                _key_problem(ProblemCode.item_duplicated, place, key, expected_ref)
                for place in places
                if place is not chosen
            ]
            if home is None:
                problems.append(_key_problem(ProblemCode.item_moved, chosen, key, expected_ref))
            if chosen.sheet.name not in shifted:
                filled.append(_read_item(sheets[chosen.sheet.name], chosen, key, problems))
    return filled


def _read_item(grid: Grid, place: _Found, key: str, problems: list[Problem]) -> FilledItem:
    sheet = place.sheet
    answer_ref = sheet.ref(ItemColumn.answer, place.row)
    note_ref = sheet.ref(ItemColumn.notes, place.row)
    answer = grid.get((place.row, sheet.columns[ItemColumn.answer]))
    note = grid.get((place.row, sheet.columns[ItemColumn.notes]))
    formula = answer is not None and answer.is_formula
    if answer is not None and formula:
        problems.append(formula_problem(sheet.name, answer_ref, key, answer.value))
    note_text: str | None = None
    if note is not None and note.is_formula:
        problems.append(formula_problem(sheet.name, note_ref, key, note.value))
    elif note is not None and note.value is not None:
        note_text = as_text(note.value).strip() or None
    raw = None if answer is None or formula else answer.value
    if isinstance(raw, str) and not raw.strip():
        raw = None
    return FilledItem(key, sheet.name, answer_ref, note_ref, raw, note_text, None)


def check_answers(
    instrument: Instrument, items: list[FilledItem], problems: list[Problem]
) -> tuple[list[FilledItem], ParsedAnswers]:
    """Map raw cells to scale values with the domain's one rule (``parse_answers``)."""

    def given(raw: object) -> object:
        # a date typed where a label belongs ("1-2" in some locales) can only be off the scale;
        # pass it as text so the message shows what the person sees
        return as_text(raw) if isinstance(raw, datetime | date | time | timedelta) else raw

    raws = [RawAnswer(i.item, given(i.raw), i.note) for i in items]
    try:
        parsed = parse_answers(instrument, raws)
    except AnswersInvalid as invalid:
        for found in invalid.problems:
            where = items[found.index] if found.index is not None else None
            en, es = found.en, found.es
            if isinstance(found.given, str) and len(found.given) > 60:
                long, short = repr(found.given), shown_value(found.given)
                en, es = en.replace(long, short), es.replace(long, short)
            problems.append(
                Problem(
                    _DOMAIN_CODES.get(found.code, ProblemCode.not_on_scale),
                    en,
                    es,
                    where.sheet if where else None,
                    where.answer_cell if where else None,
                    found.item,
                )
            )
        parsed = ParsedAnswers({}, {})
    typed = [
        FilledItem(
            i.item, i.sheet, i.answer_cell, i.note_cell, i.raw, i.note, parsed.values.get(i.item)
        )
        for i in items
    ]
    return typed, parsed
