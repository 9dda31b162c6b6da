"""The part of reading that touches untrusted XML: bytes -> plain cell values, within bounds.

Runs inside the sandbox. It knows where the template keeps its metadata (to choose which sheets
to read) but nothing about instruments; everything it returns is JSON, which the parent checks.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from io import BytesIO
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from app.excel.layout import (
    META_ROWS,
    META_SHEET,
    META_TABLE_FIRST_COLUMN,
    META_TABLE_HEADER_ROW,
    MetaKey,
)
from app.excel.problems import Problem, ProblemCode, problem

# a cell as sent to the parent: [row, column, value, kind]; kind "f" formula, "e" error, "v" value
Cell = list[Any]


@dataclass(frozen=True)
class ExtractParams:
    max_rows: int
    max_columns: int
    max_sheets: int

    def dumps(self) -> str:
        return json.dumps(
            {"max_rows": self.max_rows, "max_columns": self.max_columns,
             "max_sheets": self.max_sheets}
        )

    @classmethod
    def loads(cls, text: str) -> ExtractParams:
        raw = json.loads(text)
        return cls(int(raw["max_rows"]), int(raw["max_columns"]), int(raw["max_sheets"]))


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, date):
        return {"date": value.isoformat()}
    if isinstance(value, time):
        return {"time": value.isoformat()}
    if isinstance(value, timedelta):
        return {"timedelta": value.total_seconds()}
    return str(getattr(value, "text", value))  # ArrayFormula, DataTableFormula, rich text


class _Overflow(Exception):
    def __init__(self, found: Problem) -> None:
        self.problem = found


def _read_sheet(ws: Any, params: ExtractParams, *, stop_at_first: bool = False) -> list[Cell]:
    """Every non-empty cell within the bounds; _Overflow when the sheet goes beyond them."""
    title = str(ws.title)
    declared_rows, declared_columns = ws.max_row, ws.max_column
    if isinstance(declared_rows, int) and declared_rows > params.max_rows:
        raise _Overflow(_rows_problem(title, params))
    if isinstance(declared_columns, int) and declared_columns > params.max_columns:
        raise _Overflow(
            problem(
                ProblemCode.too_many_columns,
                sheet=title,
                cell=f"{get_column_letter(params.max_columns + 1)}1",
                limit=get_column_letter(params.max_columns),
            )
        )
    cells: list[Cell] = []
    count = 0
    # read-only iteration yields the real rows up to max_row, and pads with empty rows only up to
    # a real row; so seeing row max_rows + 1 at all means the sheet has a row beyond the cap
    for row in ws.iter_rows(min_row=1, max_row=params.max_rows + 1, max_col=params.max_columns):
        count += 1
        if count > params.max_rows:
            raise _Overflow(_rows_problem(title, params))
        for cell in row:
            value = cell.value
            if value is None:
                continue
            kind = {"f": "f", "e": "e"}.get(cell.data_type, "v")
            cells.append([cell.row, cell.column, _json_value(value), kind])
            if stop_at_first:
                return cells
    return cells


def _rows_problem(title: str, params: ExtractParams) -> Problem:
    return problem(
        ProblemCode.too_many_rows, sheet=title, cell=f"A{params.max_rows + 1}",
        limit=params.max_rows,
    )


def _wanted_sheets(meta_cells: list[Cell], sheetnames: list[str]) -> list[str]:
    """The cover and the dimension sheets the metadata names, in workbook order."""
    names: set[str] = set()
    for row, column, value, _ in meta_cells:
        if not isinstance(value, str):
            continue
        if column == 2 and row == META_ROWS[MetaKey.cover_sheet]:
            names.add(value)
        if column == META_TABLE_FIRST_COLUMN and row > META_TABLE_HEADER_ROW:
            names.add(value)
    return [n for n in sheetnames if n in names]


def extract(data: bytes, arg: str) -> bytes:
    """Sandbox task: JSON {"problems": [...]} or {"sheetnames", "sheets": {name: cells}}."""
    params = ExtractParams.loads(arg)
    try:
        result = _extract(data, params)
    except _Overflow as overflow:
        result = {"problems": [overflow.problem.to_dict()]}
    return json.dumps(result).encode("utf-8")


def _is_unsafe_xml(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if type(seen).__module__.startswith("defusedxml"):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _parse_failure(exc: Exception) -> dict[str, Any]:
    code = ProblemCode.unsafe_xml if _is_unsafe_xml(exc) else ProblemCode.corrupt_workbook
    return {"problems": [problem(code).to_dict()]}


def _extract(data: bytes, params: ExtractParams) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openpyxl warns about features it drops; we read values
        try:
            wb = load_workbook(
                BytesIO(data), read_only=True, data_only=False, keep_links=False, keep_vba=False
            )
        except MemoryError:
            raise
        except Exception as exc:
            return _parse_failure(exc)
        try:
            return _read(wb, params)
        except (_Overflow, MemoryError):
            raise
        except Exception as exc:
            return _parse_failure(exc)
        finally:
            wb.close()


def _read(wb: Any, params: ExtractParams) -> dict[str, Any]:
    sheetnames: list[str] = list(wb.sheetnames)
    if len(sheetnames) > params.max_sheets:
        found = problem(ProblemCode.too_many_sheets, count=len(sheetnames), limit=params.max_sheets)
        return {"problems": [found.to_dict()]}
    if META_SHEET not in sheetnames:
        for name in sheetnames:
            if _read_sheet(wb[name], params, stop_at_first=True):
                return {"problems": [problem(ProblemCode.not_a_template).to_dict()]}
        return {"problems": [problem(ProblemCode.empty_workbook).to_dict()]}
    meta_cells = _read_sheet(wb[META_SHEET], params)
    sheets: dict[str, list[Cell]] = {META_SHEET: meta_cells}
    for name in _wanted_sheets(meta_cells, sheetnames):
        sheets[name] = _read_sheet(wb[name], params)
    return {"sheetnames": sheetnames, "sheets": sheets}
