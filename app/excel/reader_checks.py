"""The checks of a filled template's cells, the same wherever they run: in the importing process
over the cells the parser worker extracted, or in the parser worker itself (``reader_wire``).

The hidden ``_meta`` sheet is checked against the published instrument version; the cover and the
items are read in ``reader_sheets``; what comes out is typed in ``filled``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Final

from app.domain.answers import ParsedAnswers
from app.domain.instrument import Instrument
from app.excel.filled import Cell, Cover, FilledItem, Grid, TemplateMeta, clip
from app.excel.layout import (
    FORMAT_VERSION,
    META_ROWS,
    META_SHEET,
    META_TABLE_FIRST_COLUMN,
    META_TABLE_HEADER_ROW,
    Language,
    MetaKey,
    WorkbookLayout,
    workbook_layout,
)
from app.excel.problems import Problem, ProblemCode, WorkbookRejected, problem, sort_problems
from app.excel.reader_sheets import check_answers, read_cover, read_items

Resolver = Callable[[str, str], tuple[Instrument, str] | None]
"""(instrument id, version) -> (instrument, content hash), or None when unknown."""

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


@dataclass(frozen=True)
class Checked:
    """A template whose cells passed every check: what it says, read against ``instrument``."""

    meta: TemplateMeta
    instrument: Instrument
    cover: Cover
    items: tuple[FilledItem, ...]
    answers: ParsedAnswers


def check_sheets(sheets: dict[str, Grid], resolve: Resolver) -> Checked:
    """Check the extracted cells of one template; raise WorkbookRejected listing every problem."""
    meta = _read_meta(sheets.get(META_SHEET, {}))
    resolved = resolve(meta.instrument_id, meta.instrument_version)
    if resolved is None:
        raise WorkbookRejected(
            [
                problem(
                    ProblemCode.unknown_instrument,
                    sheet=META_SHEET,
                    instrument=clip(meta.instrument_id),
                    version=clip(meta.instrument_version),
                )
            ],
            meta.language,
        )
    instrument, content_hash = resolved
    layout = workbook_layout(instrument, meta.language)
    _check_meta(meta, content_hash, sheets.get(META_SHEET, {}), layout, instrument)

    problems: list[Problem] = []
    cover = read_cover(sheets.get(layout.cover_sheet), layout, problems)
    found = read_items(sheets, instrument, layout, problems)
    items, answers = check_answers(instrument, found, problems)
    if not answers.values and not any(p.code in _HIDE_EMPTINESS for p in problems):
        problems.append(problem(ProblemCode.empty_workbook))
    if problems:
        raise WorkbookRejected(sort_problems(problems, layout.sheet_order), meta.language, cover)
    return Checked(meta, instrument, cover, tuple(items), answers)


def grids(sheets: dict[str, list[list[Any]]]) -> dict[str, Grid]:
    """The extracted cells (``_worker.extract``'s ``sheets``) as grids of typed cells."""
    return {
        name: {
            (int(r), int(c)): Cell(from_json(v) if type(v) is dict else v, str(k))
            for r, c, v, k in cells
        }
        for name, cells in sheets.items()
    }


def from_json(value: Any) -> object:
    """A cell value as ``_worker`` writes it in JSON (dates, times and durations tagged)."""
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
