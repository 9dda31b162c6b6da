"""The ratings workbook of a facilitated assessment: one sheet per rater, named by the rater's
code, each laid out like a template's answer sheet (key, item, answer, notes, level statements,
area) with every item of the instrument.

The writer reuses the template's sheet writer; the reader reuses the template's item reader and
answer check (``reader_sheets``), so a rating means exactly what an answer means and every
problem names its sheet and cell. The workbook structure is left unlocked: a facilitator may copy
a sheet for another rater and rename it to that rater's code. A hidden ``_meta`` sheet pins the
assessment, the instrument version and its content hash.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from io import BytesIO
from typing import Final

from openpyxl import Workbook

from app.domain.answers import ParsedAnswers
from app.domain.instrument import Dimension, Instrument
from app.domain.ratings import CODE_PATTERN
from app.domain.scoring import AnswerValue
from app.excel._worker import set_text
from app.excel.filled import Cell, FilledItem, Grid
from app.excel.layout import (
    FIRST_ITEM_ROW,
    INSTRUCTIONS_SHEET,
    META_SHEET,
    ItemColumn,
    ItemRow,
    Language,
    SheetLayout,
    WorkbookLayout,
    check_language,
)
from app.excel.problems import Problem, ProblemCode, WorkbookRejected, problem, sort_problems
from app.excel.reader import every_sheet
from app.excel.reader_sheets import check_answers, read_items
from app.excel.safety import DEFAULT_LIMITS, Limits, check_upload
from app.excel.styles import BODY_FONT, TITLE_FONT, WRAP_TOP
from app.excel.template import (
    Prefill,
    _prefill_labels,
    _validation_lists,
    _write_dimension,
)

KIND: Final = "oca-ratings"
FORMAT_VERSION: Final = 1


class MetaRow:
    """Rows of the ``_meta`` sheet: a label in column A, its value in column B."""

    kind = 1
    format_version = 2
    instrument_id = 3
    instrument_version = 4
    content_hash = 5
    language = 6
    assessment_id = 7


_LABELS: Final = {
    MetaRow.kind: "kind",
    MetaRow.format_version: "format_version",
    MetaRow.instrument_id: "instrument_id",
    MetaRow.instrument_version: "instrument_version",
    MetaRow.content_hash: "content_hash",
    MetaRow.language: "language",
    MetaRow.assessment_id: "assessment_id",
}

_INSTRUCTIONS: Final[dict[str, tuple[str, ...]]] = {
    "en": (
        "Individual ratings",
        "Each sheet holds one rater's own ratings; the sheet's name is the rater's code "
        "(e.g. R07). Names are not written here.",
        "Each rater rates every item on their own, before the group discussion: choose a value "
        "in the Answer column (or N/A where the item allows it); notes are optional.",
        "For another rater, copy a sheet (right-click the tab, Move or Copy, Create a copy) and "
        "rename the copy to the rater's code: 1 to 16 letters, digits, '-', '_' or '.'.",
        "A sheet left blank is skipped. Uploading the workbook replaces the ratings of every "
        "rater it has; other raters stay as they are. The consensus is agreed afterwards, in "
        "the assessment itself.",
    ),
    "es": (
        "Calificaciones individuales",
        "Cada hoja contiene las calificaciones de un participante; el nombre de la hoja es su "
        "código (p. ej. R07). Aquí no se escriben nombres.",
        "Cada participante califica cada ítem por su cuenta, antes de la discusión del grupo: "
        "elija un valor en la columna Respuesta (o «No aplica» si el ítem lo admite); las notas "
        "son opcionales.",
        "Para otro participante, copie una hoja (clic derecho en la pestaña, Mover o copiar, "
        "Crear una copia) y cambie el nombre de la copia por el código del participante: de 1 a "
        "16 letras, dígitos, '-', '_' o '.'.",
        "Una hoja en blanco se omite. Al subir el libro se reemplazan las calificaciones de cada "
        "participante que contiene; los demás quedan como están. El consenso se acuerda "
        "después, en la evaluación misma.",
    ),
}


@dataclass(frozen=True)
class RaterSheet:
    """One rater's sheet to write: their code and (when prefilled) their ratings."""

    code: str
    answers: Mapping[str, AnswerValue] = field(default_factory=dict)
    notes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ReadRater:
    code: str
    items: tuple[FilledItem, ...]
    answers: ParsedAnswers


@dataclass(frozen=True)
class RatingsWorkbook:
    raters: tuple[ReadRater, ...]
    skipped: tuple[str, ...]  # rater sheets left blank


def rater_layout(instrument: Instrument, lang: Language, name: str) -> WorkbookLayout:
    """The layout of one rater's sheet: every item of the instrument, in order, on one sheet."""
    rows: list[ItemRow] = []
    level_count = 0
    for d in instrument.dimensions:
        for area in d.areas:
            for item in area.items:
                rows.append(ItemRow(item.key, area.key, FIRST_ITEM_ROW + len(rows)))
                if item.levels:
                    level_count = max(level_count, len(instrument.scales[item.scale].values))
    items = instrument.items.values()
    sheet = SheetLayout(
        "*",
        name,
        level_count,
        tuple(rows),
        any(i.guidance is not None for i in items),
        any(i.evidence is not None for i in items),
    )
    return WorkbookLayout(lang, "", INSTRUCTIONS_SHEET[lang], (sheet,))


def _every_area(instrument: Instrument) -> Dimension:
    """One pseudo-dimension holding every area, for the template's sheet writer."""
    first = instrument.dimensions[0]
    return Dimension.model_construct(
        key="*",
        title=instrument.title,
        lens=first.lens,
        areas=tuple(a for d in instrument.dimensions for a in d.areas),
    )


def build_ratings_workbook(
    instrument: Instrument,
    content_hash: str,
    lang: str,
    assessment_id: uuid.UUID,
    raters: Sequence[RaterSheet],
) -> bytes:
    """The ratings workbook: an instructions sheet, then one sheet per rater (prefilled)."""
    language = check_language(lang)
    codes = [r.code for r in raters]
    bad = [c for c in codes if not CODE_PATTERN.match(c)]
    if bad or len({c.casefold() for c in codes}) != len(codes):
        raise ValueError(f"rater codes must be valid and distinct: {codes}")
    wb = Workbook()
    wb.remove(wb.active)
    instructions = wb.create_sheet(INSTRUCTIONS_SHEET[language])
    sheets = [wb.create_sheet(r.code) for r in raters]
    meta = wb.create_sheet(META_SHEET)
    lists = _validation_lists(instrument, language, meta)
    everything = _every_area(instrument)
    for ws, rater in zip(sheets, raters, strict=True):
        layout = rater_layout(instrument, language, rater.code).sheets[0]
        prefill = Prefill(answers=rater.answers, notes=rater.notes)
        labels = _prefill_labels(instrument, language, prefill)
        _write_dimension(ws, layout, everything, instrument, language, lists, labels, prefill)
    for row, text in enumerate(_INSTRUCTIONS[language], start=1):
        cell = instructions.cell(row=row, column=1)
        set_text(cell, text)
        cell.alignment = WRAP_TOP
        cell.font = TITLE_FONT if row == 1 else BODY_FONT
    instructions.column_dimensions["A"].width = 100
    values: dict[int, str | int] = {
        MetaRow.kind: KIND,
        MetaRow.format_version: FORMAT_VERSION,
        MetaRow.instrument_id: instrument.id,
        MetaRow.instrument_version: instrument.version,
        MetaRow.content_hash: content_hash,
        MetaRow.language: language,
        MetaRow.assessment_id: str(assessment_id),
    }
    for row, value in values.items():
        set_text(meta.cell(row=row, column=1), _LABELS[row])
        if isinstance(value, str):
            set_text(meta.cell(row=row, column=2), value)
        else:
            meta.cell(row=row, column=2).value = value
    for ws in wb.worksheets:
        ws.protection.sheet = True
        ws.protection.formatColumns = False
        ws.protection.formatRows = False
    meta.sheet_state = "veryHidden"
    wb.active = 1 if sheets else 0
    wb.properties.creator = "OCA Engine"
    wb.properties.title = f"{instrument.title.get(language)}: ratings"
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


# --- reading -------------------------------------------------------------------------------------


def _extract(data: bytes, limits: Limits) -> dict[str, Grid]:
    result = every_sheet(data, limits, META_SHEET)
    if "problems" in result:
        raise WorkbookRejected(
            [
                problem(ProblemCode(p["code"]), sheet=p["sheet"], cell=p["cell"], **p["params"])
                for p in result["problems"]
            ]
        )
    return {
        name: {(int(r), int(c)): Cell(v, str(k)) for r, c, v, k in cells}
        for name, cells in result["sheets"].items()
    }


def _not_ours(detail: str, detail_es: str) -> WorkbookRejected:
    return WorkbookRejected(
        [problem(ProblemCode.not_accepted, sheet=None, detail=detail, detail_es=detail_es)]
    )


def _check_meta(
    grid: Grid, instrument: Instrument, content_hash: str, assessment_id: uuid.UUID
) -> Language:
    def value(row: int) -> str | None:
        label, cell = grid.get((row, 1)), grid.get((row, 2))
        if label is None or label.value != _LABELS[row] or cell is None or cell.is_formula:
            return None
        return str(cell.value).strip()

    if value(MetaRow.kind) != KIND:
        raise _not_ours(
            "this is not a ratings workbook; download one from the assessment "
            "(GET /v1/assessments/{id}/ratings.xlsx)",
            "este no es un libro de calificaciones; descargue uno desde la evaluación",
        )
    if value(MetaRow.format_version) != str(FORMAT_VERSION):
        raise _not_ours(
            "this ratings workbook has another format version; download it again",
            "este libro de calificaciones tiene otra versión de formato; descárguelo de nuevo",
        )
    if value(MetaRow.assessment_id) != str(assessment_id):
        raise _not_ours(
            "this ratings workbook belongs to another assessment",
            "este libro de calificaciones pertenece a otra evaluación",
        )
    pinned = (value(MetaRow.instrument_id), value(MetaRow.instrument_version))
    if pinned != (instrument.id, instrument.version) or value(MetaRow.content_hash) != content_hash:
        raise _not_ours(
            "this ratings workbook was made for another instrument version",
            "este libro de calificaciones se hizo para otra versión del instrumento",
        )
    return "es" if value(MetaRow.language) == "es" else "en"


def _blank(grid: Grid, sheet: SheetLayout) -> bool:
    inputs = {sheet.columns[ItemColumn.answer], sheet.columns[ItemColumn.notes]}
    return not any(
        row >= FIRST_ITEM_ROW and col in inputs and cell.value not in (None, "")
        for (row, col), cell in grid.items()
    )


def read_ratings_workbook(
    data: bytes,
    instrument: Instrument,
    content_hash: str,
    assessment_id: uuid.UUID,
    limits: Limits = DEFAULT_LIMITS,
) -> RatingsWorkbook:
    """Check and read an uploaded ratings workbook; raise WorkbookRejected listing every problem
    (sheet and cell) of every rater sheet. Nothing is evaluated; formulas are refused."""
    check_upload(data, limits)
    sheets = _extract(data, limits)
    language = _check_meta(sheets.get(META_SHEET, {}), instrument, content_hash, assessment_id)
    problems: list[Problem] = []
    raters: list[ReadRater] = []
    skipped: list[str] = []
    order: list[str] = []
    instruction_sheets = {v.casefold() for v in INSTRUCTIONS_SHEET.values()}
    for name in sheets:
        if name == META_SHEET or name.casefold() in instruction_sheets:
            continue
        order.append(name)
        layout = rater_layout(instrument, language, name)
        if _blank(sheets[name], layout.sheets[0]):
            skipped.append(name)
            continue
        if not CODE_PATTERN.match(name):
            problems.append(
                problem(
                    ProblemCode.not_accepted,
                    sheet=name,
                    detail=f"the sheet name '{name}' is not a rater code: rename the sheet to "
                    "the rater's code (1 to 16 letters, digits, '-', '_' or '.', e.g. R07)",
                    detail_es=f"el nombre de hoja '{name}' no es un código de participante: "
                    "cambie el nombre de la hoja por su código (de 1 a 16 letras, dígitos, '-', "
                    "'_' o '.', p. ej. R07)",
                )
            )
            continue
        before = len(problems)
        found = read_items(sheets, instrument, layout, problems)
        items, answers = check_answers(instrument, found, problems)
        if len(problems) == before:
            raters.append(ReadRater(name, tuple(items), answers))
    if not raters and not problems:
        problems.append(problem(ProblemCode.empty_workbook))
    if problems:
        raise WorkbookRejected(sort_problems(problems, order), language)
    return RatingsWorkbook(tuple(raters), tuple(skipped))
