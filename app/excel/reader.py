"""Reading a filled template: untrusted bytes -> checked, typed answers, or every problem found."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Final

from app.domain.answers import AnswersInvalid, ParsedAnswers, RawAnswer, parse_answers
from app.domain.instrument import Instrument
from app.domain.scoring import AnswerValue
from app.excel.layout import (
    COVER_LABELS,
    COVER_ROWS,
    COVER_VALUE_COLUMN,
    FIRST_ITEM_ROW,
    FORMAT_VERSION,
    HEADER_ROW,
    ITEM_HEADERS,
    MAX_COVER_TEXT,
    META_ROWS,
    META_SHEET,
    META_TABLE_FIRST_COLUMN,
    META_TABLE_HEADER_ROW,
    CoverField,
    ItemColumn,
    Language,
    MetaKey,
    SheetLayout,
    WorkbookLayout,
    cover_cell,
    number_text,
    round_label,
    workbook_layout,
)
from app.excel.problems import Problem, ProblemCode, WorkbookRejected, problem, sort_problems
from app.excel.safety import DEFAULT_LIMITS, Limits, check_upload
from app.excel.sandbox import SandboxFailure, TaskError, run_task

Resolver = Callable[[str, str], tuple[Instrument, str] | None]
"""(instrument id, version) -> (instrument, content hash), or None when unknown."""


@dataclass(frozen=True)
class TemplateMeta:
    instrument_id: str
    instrument_version: str
    content_hash: str
    format_version: int
    language: Language


@dataclass(frozen=True)
class Cover:
    organization_name: str | None
    organization_external_id: str | None
    round: str | None
    assessed_on: date | None
    assessor: str | None


@dataclass(frozen=True)
class FilledItem:
    """One item as found in the workbook. ``raw`` is the answer cell as typed (None if blank)."""

    item: str
    sheet: str
    answer_cell: str
    note_cell: str
    raw: object
    note: str | None
    value: AnswerValue | None


@dataclass(frozen=True)
class FilledWorkbook:
    meta: TemplateMeta
    instrument: Instrument
    cover: Cover
    items: tuple[FilledItem, ...]
    answers: ParsedAnswers
    sha256: str

    def raw_answers(self) -> list[RawAnswer]:
        return [RawAnswer(i.item, i.raw, i.note) for i in self.items]


@dataclass(frozen=True)
class _Value:
    value: object
    kind: str  # "v" value, "f" formula, "e" error

    @property
    def is_formula(self) -> bool:
        return self.kind == "f"


Grid = dict[tuple[int, int], _Value]
# when one of these was found, answers may exist that could not be read: do not call it empty
_HIDE_EMPTINESS: Final = frozenset(
    {
        ProblemCode.not_on_scale,
        ProblemCode.na_not_allowed,
        ProblemCode.na_key_question,
        ProblemCode.formula,
        ProblemCode.sheet_missing,
        ProblemCode.header_changed,
        ProblemCode.item_missing,
        ProblemCode.item_moved,
        ProblemCode.item_duplicated,
        ProblemCode.unknown_item,
    }
)
_DOMAIN_CODES: Final = {
    "not_on_scale": ProblemCode.not_on_scale,
    "na_not_allowed": ProblemCode.na_not_allowed,
    "na_key_question": ProblemCode.na_key_question,
    "unknown_item": ProblemCode.unknown_item,
    "duplicate_item": ProblemCode.item_duplicated,
}


def read_filled_workbook(
    data: bytes, resolve: Resolver, limits: Limits = DEFAULT_LIMITS
) -> FilledWorkbook:
    """Check and read one uploaded template; raise WorkbookRejected listing every problem.

    Nothing is evaluated: formulas are refused wherever they appear in a cell that is read.
    """
    check_upload(data, limits)
    sheets = _extract_sheets(data, limits)
    meta = _read_meta(sheets.get(META_SHEET, {}))
    resolved = resolve(meta.instrument_id, meta.instrument_version)
    if resolved is None:
        raise WorkbookRejected(
            [
                problem(
                    ProblemCode.unknown_instrument,
                    sheet=META_SHEET,
                    instrument=_clip(meta.instrument_id),
                    version=_clip(meta.instrument_version),
                )
            ],
            meta.language,
        )
    instrument, content_hash = resolved
    layout = workbook_layout(instrument, meta.language)
    _check_meta(meta, content_hash, sheets.get(META_SHEET, {}), layout, instrument)

    problems: list[Problem] = []
    cover = _read_cover(sheets.get(layout.cover_sheet), layout, problems)
    found = _read_items(sheets, instrument, layout, problems)
    items, answers = _check_answers(instrument, found, problems)
    if not answers.values and not any(p.code in _HIDE_EMPTINESS for p in problems):
        problems.append(problem(ProblemCode.empty_workbook))
    if problems:
        raise WorkbookRejected(sort_problems(problems, layout.sheet_order), meta.language, cover)
    return FilledWorkbook(
        meta=meta,
        instrument=instrument,
        cover=cover,
        items=tuple(items),
        answers=answers,
        sha256=hashlib.sha256(data).hexdigest(),
    )


# --- extraction ----------------------------------------------------------------------------------


def _extract_sheets(data: bytes, limits: Limits) -> dict[str, Grid]:
    params = {
        "max_rows": limits.max_rows,
        "max_columns": limits.max_columns,
        "max_sheets": limits.max_sheets,
        "max_text": limits.max_inflated_bytes,
        "meta_sheet": META_SHEET,
        "cover_row": META_ROWS[MetaKey.cover_sheet],
        "value_column": 2,
        "table_column": META_TABLE_FIRST_COLUMN,
        "table_header_row": META_TABLE_HEADER_ROW,
    }
    try:
        payload = run_task("extract", data, json.dumps(params), limits)
    except SandboxFailure as failure:
        en, es = _FAILURES.get(failure.reason, ("the reader stopped", "el lector se detuvo"))
        failed = problem(ProblemCode.too_complex, detail=en, detail_es=es)
        raise WorkbookRejected([failed]) from None
    except TaskError as error:
        raise RuntimeError(f"workbook extraction failed: {error}") from None
    result = json.loads(payload)
    if "problems" in result:
        raise WorkbookRejected(
            [
                problem(ProblemCode(p["code"]), sheet=p["sheet"], cell=p["cell"], **p["params"])
                for p in result["problems"]
            ]
        )
    return {
        name: {(int(r), int(c)): _Value(_from_json(v), str(k)) for r, c, v, k in cells}
        for name, cells in result["sheets"].items()
    }


_FAILURES: Final = {
    "timeout": ("time limit", "límite de tiempo"),
    "memory": ("memory limit", "límite de memoria"),
    "cpu": ("processor time limit", "límite de tiempo de procesador"),
}


def _from_json(value: Any) -> object:
    if isinstance(value, dict):
        if "datetime" in value:
            return datetime.fromisoformat(value["datetime"])
        if "date" in value:
            return date.fromisoformat(value["date"])
        if "time" in value:
            return time.fromisoformat(value["time"])
        if "timedelta" in value:
            return timedelta(seconds=float(value["timedelta"]))
    return value


# --- metadata ------------------------------------------------------------------------------------


def _meta_value(grid: Grid, key: MetaKey) -> object:
    row = META_ROWS[key]
    label = grid.get((row, 1))
    if label is None or label.value != key.value:
        return None
    cell = grid.get((row, 2))
    return None if cell is None or cell.is_formula else cell.value


def _read_meta(grid: Grid) -> TemplateMeta:
    def text(key: MetaKey) -> str | None:
        value = _meta_value(grid, key)
        return value.strip() if isinstance(value, str) and value.strip() else None

    instrument_id = text(MetaKey.instrument_id)
    version = text(MetaKey.instrument_version)
    content_hash = text(MetaKey.content_hash)
    language = text(MetaKey.language)
    raw_format = _meta_value(grid, MetaKey.format_version)
    format_version: int | None = None
    if isinstance(raw_format, int | float) and not isinstance(raw_format, bool):
        format_version = int(raw_format) if float(raw_format).is_integer() else None
    elif isinstance(raw_format, str) and raw_format.strip().isdigit():
        format_version = int(raw_format.strip())
    if format_version is not None and format_version != FORMAT_VERSION:
        raise WorkbookRejected(
            [
                problem(
                    ProblemCode.unsupported_format,
                    sheet=META_SHEET,
                    found=format_version,
                    expected=FORMAT_VERSION,
                )
            ]
        )
    missing = [
        key.value
        for key, value in (
            (MetaKey.format_version, format_version),
            (MetaKey.instrument_id, instrument_id),
            (MetaKey.instrument_version, version),
            (MetaKey.content_hash, content_hash),
        )
        if value is None
    ]
    if language not in ("en", "es"):
        missing.append(MetaKey.language.value)
    if missing or instrument_id is None or version is None or content_hash is None:
        raise WorkbookRejected(
            [
                problem(
                    ProblemCode.metadata_tampered,
                    sheet=META_SHEET,
                    instrument=instrument_id or "?",
                    version=version or "?",
                    detail=f"missing or altered: {', '.join(missing)}",
                    detail_es=f"faltan o se alteraron: {', '.join(missing)}",
                )
            ]
        )
    lang: Language = "es" if language == "es" else "en"
    return TemplateMeta(instrument_id, version, content_hash, FORMAT_VERSION, lang)


def _check_meta(
    meta: TemplateMeta,
    content_hash: str,
    grid: Grid,
    layout: WorkbookLayout,
    instrument: Instrument,
) -> None:
    def tampered(detail: str, detail_es: str) -> WorkbookRejected:
        return WorkbookRejected(
            [
                problem(
                    ProblemCode.metadata_tampered,
                    sheet=META_SHEET,
                    instrument=instrument.id,
                    version=instrument.version,
                    detail=detail,
                    detail_es=detail_es,
                )
            ],
            meta.language,
        )

    if meta.content_hash != content_hash:
        raise tampered(
            "its content hash differs from the published definition",
            "su hash de contenido difiere de la definición publicada",
        )
    if _meta_value(grid, MetaKey.cover_sheet) != layout.cover_sheet:
        raise tampered("the cover sheet name differs", "el nombre de la hoja de portada difiere")
    expected = [(s.name, r.row, r.key) for s in layout.sheets for r in s.items]
    first = META_TABLE_FIRST_COLUMN

    def value(row: int, column: int) -> object:
        cell = grid.get((row, column))
        return None if cell is None else cell.value

    found: list[tuple[object, object, object]] = []
    row = META_TABLE_HEADER_ROW + 1
    while any((row, first + offset) in grid for offset in range(3)):
        found.append((value(row, first), value(row, first + 1), value(row, first + 2)))
        row += 1
    if found != expected:
        raise tampered("its item table was edited", "su tabla de ítems fue editada")


# --- cover ---------------------------------------------------------------------------------------

_TEXT_FIELDS: Final = (
    CoverField.organization_name,
    CoverField.organization_external_id,
    CoverField.round,
    CoverField.assessor,
)


def _as_text(value: object) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return number_text(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


def _as_date(value: object) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        for parse in (date.fromisoformat, lambda t: datetime.fromisoformat(t).date()):
            try:
                return parse(text)
            except ValueError:
                continue
    return None


def _formula_problem(sheet: str, cell: str, item: str | None, value: object) -> Problem:
    shown = _clip(str(value))
    return problem(ProblemCode.formula, sheet=sheet, cell=cell, item=item, formula=shown)


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _shown(value: object) -> str:
    """How a cell value appears in a message: quoted when text, clipped when long."""
    return _clip(repr(value) if isinstance(value, str) else _as_text(value))


def _read_cover(grid: Grid | None, layout: WorkbookLayout, problems: list[Problem]) -> Cover:
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
            problems.append(_formula_problem(sheet, ref, None, cell.value))
            unreadable.add(field_)
            continue
        if field_ is CoverField.assessed_on:
            parsed = _as_date(cell.value)
            if parsed is None and not (isinstance(cell.value, str) and not cell.value.strip()):
                shown = _shown(cell.value)
                problems.append(
                    problem(ProblemCode.invalid_date, sheet=sheet, cell=ref, found=shown)
                )
                unreadable.add(field_)
            values[field_] = parsed
            continue
        text = _as_text(cell.value).strip()
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


def _ref(sheet: SheetLayout, column: ItemColumn, row: int) -> str:
    return f"'{sheet.name}'!{sheet.ref(column, row)}"


def _read_items(
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
                        found="empty" if value is None else _shown(value),
                    )
                )
        key_column = sheet.columns[ItemColumn.key]
        for (row, col), cell in sorted(grid.items()):
            if col != key_column or row < FIRST_ITEM_ROW or cell.value is None:
                continue
            ref = sheet.ref(ItemColumn.key, row)
            if cell.is_formula:
                problems.append(_formula_problem(sheet.name, ref, None, cell.value))
                continue
            key = cell.value.strip() if isinstance(cell.value, str) else None
            if not key:
                if key is None:
                    problems.append(
                        problem(
                            ProblemCode.unknown_item,
                            sheet=sheet.name,
                            cell=ref,
                            found=_shown(cell.value),
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
                        found=_shown(key),
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
                    problems.append(
                        problem(
                            ProblemCode.item_missing,
                            sheet=sheet.name,
                            cell=sheet.ref(ItemColumn.key, position.row),
                            item=key,
                            expected=expected_ref,
                        )
                    )
                continue
            chosen = home or places[0]
            for place in places:
                if place is chosen:
                    continue
                problems.append(
                    problem(
                        ProblemCode.item_duplicated,
                        sheet=place.sheet.name,
                        cell=place.sheet.ref(ItemColumn.key, place.row),
                        item=key,
                        expected=expected_ref,
                    )
                )
            if home is None:
                problems.append(
                    problem(
                        ProblemCode.item_moved,
                        sheet=chosen.sheet.name,
                        cell=chosen.sheet.ref(ItemColumn.key, chosen.row),
                        item=key,
                        expected=expected_ref,
                    )
                )
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
        problems.append(_formula_problem(sheet.name, answer_ref, key, answer.value))
    note_text: str | None = None
    if note is not None and note.is_formula:
        problems.append(_formula_problem(sheet.name, note_ref, key, note.value))
    elif note is not None and note.value is not None:
        note_text = _as_text(note.value).strip() or None
    raw = None if answer is None or formula else answer.value
    if isinstance(raw, str) and not raw.strip():
        raw = None
    return FilledItem(key, sheet.name, answer_ref, note_ref, raw, note_text, None)


def _check_answers(
    instrument: Instrument, items: list[FilledItem], problems: list[Problem]
) -> tuple[list[FilledItem], ParsedAnswers]:
    """Map raw cells to scale values with the domain's one rule (``parse_answers``)."""

    def given(raw: object) -> object:
        # a date typed where a label belongs ("1-2" in some locales) can only be off the scale;
        # pass it as text so the message shows what the person sees
        return _as_text(raw) if isinstance(raw, datetime | date | time | timedelta) else raw

    raws = [RawAnswer(i.item, given(i.raw), i.note) for i in items]
    try:
        parsed = parse_answers(instrument, raws)
    except AnswersInvalid as invalid:
        for found in invalid.problems:
            where = items[found.index] if found.index is not None else None
            en, es = found.en, found.es
            if isinstance(found.given, str) and len(found.given) > 60:
                long, short = repr(found.given), _shown(found.given)
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
