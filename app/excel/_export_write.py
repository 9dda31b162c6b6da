"""Generic writing for exports: safe cells, tables, native charts, CSV fields.

Nothing here knows what a sheet means (that is ``exports``). Every string goes into a workbook as
a string cell and every CSV text field is neutralized, so text that starts with ``=`` ``+`` ``-``
``@`` or a control character never becomes a formula (reliability.md §A3).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Final, Literal

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.chart import BarChart, LineChart, RadarChart, Reference, Series
from openpyxl.chart.data_source import StrRef
from openpyxl.chart.series import SeriesLabel
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from app.excel._worker import clean_text, set_text

Value = str | float | int | date | None

SCORE_FORMAT: Final = "0.00"
SHARE_FORMAT: Final = "0%"
COUNT_FORMAT: Final = "0"
DATE_FORMAT: Final = "yyyy-mm-dd"

_FONT: Final = "Calibri"
TITLE_FONT: Final = Font(name=_FONT, size=14, bold=True)
SECTION_FONT: Final = Font(name=_FONT, size=12, bold=True)
BOLD: Final = Font(name=_FONT, size=11, bold=True)
MUTED: Final = Font(name=_FONT, size=11, italic=True, color="FF595959")
_HEADER_FONT: Final = Font(name=_FONT, size=11, bold=True, color="FFFFFFFF")
_HEADER_FILL: Final = PatternFill("solid", fgColor="FF1F4E79")
_WRAP_TOP: Final = Alignment(wrap_text=True, vertical="top")
_LEFT: Final = Alignment(horizontal="left")
_TOP: Final = Alignment(vertical="top")
_LINE_HEIGHT: Final = 15.0
_DEFAULT_WIDTH: Final = 8.43

# OWASP CSV injection triggers, plus NUL (ASVS 5.0 §1.2.10)
_CSV_TRIGGERS: Final = ("=", "+", "-", "@", "\t", "\r", "\n", "\0")
_Q: Final = Decimal("0.01")


def round2(value: float | None) -> float | None:
    """Half-even to two places: the one rounding rule at the edge (DESIGN §5)."""
    if value is None:
        return None
    return float(Decimal(repr(float(value))).quantize(_Q, rounding=ROUND_HALF_EVEN))


def number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


# --- normal (in-memory) worksheets ---------------------------------------------------------------


def put(
    ws: Any,
    row: int,
    column: int,
    value: Value,
    number_format: str | None = None,
    font: Font | None = None,
) -> Any:
    """Write one cell; text always as a string cell, never a formula."""
    cell = ws.cell(row=row, column=column)
    if isinstance(value, str):
        set_text(cell, value)
    elif value is not None:
        cell.value = value
        if isinstance(value, date) and not isinstance(value, datetime):
            cell.number_format = DATE_FORMAT
    if number_format is not None and not isinstance(value, str):
        cell.number_format = number_format
    if font is not None:
        cell.font = font
    return cell


def header_row(ws: Any, row: int, titles: Sequence[str], first_column: int = 1) -> None:
    for offset, title in enumerate(titles):
        cell = put(ws, row, first_column + offset, title, font=_HEADER_FONT)
        cell.fill = _HEADER_FILL
        cell.alignment = _WRAP_TOP


def table(
    ws: Any,
    top: int,
    titles: Sequence[str],
    rows: Iterable[Sequence[Value]],
    formats: Sequence[str | None] = (),
    first_column: int = 1,
) -> tuple[int, int]:
    """A header row at ``top`` and the rows under it; (first data row, last data row).

    An empty table gives last < first.
    """
    header_row(ws, top, titles, first_column)
    row = top
    for row, values in enumerate(rows, start=top + 1):
        for offset, value in enumerate(values):
            fmt = formats[offset] if offset < len(formats) else None
            put(ws, row, first_column + offset, value, fmt).alignment = _TOP
    return top + 1, row


def label_values(
    ws: Any, top: int, pairs: Sequence[tuple[str, Value]], number_format: str | None = None
) -> int:
    """Label in column A (bold), value in column B, one pair a row; the last row written."""
    for offset, (label, value) in enumerate(pairs):
        put(ws, top + offset, 1, label, font=BOLD)
        put(ws, top + offset, 2, value, number_format).alignment = _LEFT
    return top + len(pairs) - 1


def widths(ws: Any, values: Sequence[float], first_column: int = 1) -> None:
    for offset, width in enumerate(values):
        ws.column_dimensions[get_column_letter(first_column + offset)].width = width


def fit_height(ws: Any, row: int, max_lines: int = 4) -> None:
    """Make a row tall enough for the longest of its wrapped cells, by column width (a rough
    estimate): LibreOffice, and Excel for rows it has not edited, keep the default height for
    rows a program wrote."""
    lines = 1
    for cell in ws[row]:
        if isinstance(cell.value, str) and cell.value and cell.alignment.wrap_text:
            width = ws.column_dimensions[cell.column_letter].width or _DEFAULT_WIDTH
            per_line = max(int(width * 1.05), 1)
            lines = max(lines, sum(1 + len(part) // per_line for part in cell.value.split("\n")))
    if lines > 1:
        ws.row_dimensions[row].height = _LINE_HEIGHT * min(lines, max_lines)


def fit_rows(ws: Any, first: int, last: int, max_lines: int = 12) -> None:
    for row in range(first, last + 1):
        fit_height(ws, row, max_lines)


def wrap(ws: Any, columns: Iterable[int], first_row: int, last_row: int) -> None:
    for column in columns:
        for row in range(first_row, last_row + 1):
            ws.cell(row=row, column=column).alignment = _WRAP_TOP


def new_workbook(title: str) -> Workbook:
    wb = Workbook()
    wb.remove(wb.active)
    wb.properties.creator = "OCA Engine"
    wb.properties.title = clean_text(title)
    return wb


def workbook_bytes(wb: Workbook) -> bytes:
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# --- write-only (streaming) worksheets -----------------------------------------------------------


def stream_row(ws: Any, values: Sequence[Value], *, bold: bool = False) -> list[Any]:
    """A row for ``ws.append`` in write-only mode with every string as a string cell."""
    out: list[Any] = []
    for value in values:
        if isinstance(value, str):
            cell = WriteOnlyCell(ws, value=clean_text(value))
            cell.data_type = "s"
            if bold:
                cell.font = BOLD
            out.append(cell)
        elif isinstance(value, date):
            cell = WriteOnlyCell(ws, value=value)
            cell.number_format = DATE_FORMAT
            out.append(cell)
        else:
            out.append(value)
    return out


# --- native charts -------------------------------------------------------------------------------

ChartKind = Literal["column", "bar", "line", "radar"]


def chart(
    kind: ChartKind,
    *,
    title: str,
    data: Any,
    series_columns: Sequence[int],
    header_row: int,
    first_row: int,
    last_row: int,
    category_column: int,
    y_title: str | None = None,
    y_range: tuple[float, float] | None = None,
    number_format: str | None = None,
    size: tuple[float, float] = (18.0, 9.0),
) -> Any:
    """A native chart over a table on ``data``: one series per column, titled by its header cell,
    categories from ``category_column``. Column, bar (horizontal), line or radar."""
    made: Any
    if kind in ("column", "bar"):
        made = BarChart()
        made.type = "col" if kind == "column" else "bar"
        made.grouping = "clustered"
    elif kind == "line":
        made = LineChart()
    else:
        made = RadarChart()
        made.type = "marker"
    made.title = clean_text(title)
    made.width, made.height = size
    for column in series_columns:
        values = Reference(
            data, min_col=column, max_col=column, min_row=first_row, max_row=last_row
        )
        title_ref = Reference(data, min_col=column, min_row=header_row)
        series = Series(values)
        series.tx = SeriesLabel(strRef=StrRef(f=str(title_ref)))
        made.series.append(series)
    made.set_categories(
        Reference(
            data,
            min_col=category_column,
            max_col=category_column,
            min_row=first_row,
            max_row=last_row,
        )
    )
    if kind == "bar":
        # first category on top, value axis kept at the bottom
        made.x_axis.scaling.orientation = "maxMin"
        made.y_axis.crosses = "max"
    if len(series_columns) == 1:
        made.legend = None  # the title says it all
    if kind == "line":
        for series in made.series:
            series.marker.symbol = "circle"
            series.smooth = False
    # openpyxl 3.1 leaves the axes' "delete" unset, which recent Excel reads as hidden axes
    made.x_axis.delete = False
    made.y_axis.delete = False
    if y_title is not None and kind != "radar":
        made.y_axis.title = clean_text(y_title)
    if y_range is not None:
        made.y_axis.scaling.min, made.y_axis.scaling.max = y_range
    if number_format is not None:
        made.y_axis.number_format = number_format
    return made


# --- CSV -----------------------------------------------------------------------------------------

BOM: Final = "\ufeff"


def csv_text(value: str | None) -> str:
    """A text field made inert for spreadsheets: a leading trigger character gets a ``'``."""
    if not value:
        return ""
    return "'" + value if value.startswith(_CSV_TRIGGERS) else value


def csv_chunk(rows: Iterable[Sequence[str]]) -> str:
    """RFC 4180 lines (CRLF) with every field quoted."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerows(rows)
    return buffer.getvalue()


def text_of(labels: Mapping[str, str], lang: str) -> str:
    """A bilingual label: the language's text, English as fallback, '' when empty."""
    return labels.get(lang) or labels.get("en") or ""
