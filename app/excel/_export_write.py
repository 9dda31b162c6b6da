"""Generic writing for exports: safe cells, tables, native charts, CSV fields.

Nothing here knows what a sheet means (that is ``exports``). Every string goes into a workbook as
a string cell and every CSV text field is neutralized, so text that starts with ``=`` ``+`` ``-``
``@`` or a control character never becomes a formula (reliability.md §A3).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final, Literal, Protocol

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.chart import BarChart, LineChart, RadarChart, Reference, Series
from openpyxl.chart.data_source import NumFmt, StrRef
from openpyxl.chart.label import DataLabelList
from openpyxl.chart.series import SeriesLabel
from openpyxl.chart.shapes import GraphicalProperties
from openpyxl.descriptors import Typed
from openpyxl.drawing.line import LineProperties
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.pagebreak import Break

from app.domain.rounding import half_even
from app.excel._worker import clean_text, set_text
from app.excel.styles import (
    BOLD,
    CHARS_PER_WIDTH,
    HEADER_FILL,
    HEADER_FONT,
    MUTED,
    WRAP_TOP,
    text_lines,
)

Value = str | float | int | date | None

SCORE_FORMAT: Final = "0.00"
PERCENT_FORMAT: Final = "0.0"  # risk % and the 0-100 profile: one decimal
SHARE_FORMAT: Final = "0%"
COUNT_FORMAT: Final = "0"
POINTS_FORMAT: Final = "General"  # whole numbers without ".00", fractions as they are
DATE_FORMAT: Final = "yyyy-mm-dd"

_LEFT: Final = Alignment(horizontal="left")
_TOP: Final = Alignment(vertical="top")
_LINE_HEIGHT: Final = 15.0
_DEFAULT_WIDTH: Final = 8.43
_BOLD_CHARS_PER_WIDTH: Final = 0.95  # bold headers fit fewer than CHARS_PER_WIDTH
_ROW_CM: Final = 0.53  # a default 15 pt row

# OWASP CSV injection triggers, plus NUL (ASVS 5.0 §1.2.10)
_CSV_TRIGGERS: Final = ("=", "+", "-", "@", "\t", "\r", "\n", "\0")


def round2(value: float | None) -> float | None:
    """Half-even to two places: the one rounding rule at the edge (DESIGN §5)."""
    return None if value is None else half_even(float(value))


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
        cell = put(ws, row, first_column + offset, title, font=HEADER_FONT)
        cell.fill = HEADER_FILL
        cell.alignment = WRAP_TOP


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
    """Make a row tall enough for the longest of its wrapped cells, by column width (an
    estimate): LibreOffice, and Excel for rows it has not edited, keep the default height for
    rows a program wrote."""
    lines = 1
    for cell in ws[row]:
        if isinstance(cell.value, str) and cell.value and cell.alignment.wrap_text:
            width = ws.column_dimensions[cell.column_letter].width or _DEFAULT_WIDTH
            bold = bool(cell.font is not None and cell.font.b)
            per_width = _BOLD_CHARS_PER_WIDTH if bold else CHARS_PER_WIDTH
            lines = max(lines, text_lines(cell.value, width, per_width))
    if lines > 1:
        ws.row_dimensions[row].height = _LINE_HEIGHT * min(lines, max_lines)


def lines_height(texts: Iterable[tuple[str, float]], max_lines: int = 12) -> float | None:
    """The height of a row whose wrapped ``(text, column width)`` cells are these; None when one
    line is enough (for write-only sheets, where cells cannot be read back)."""
    lines = max((text_lines(text, width) for text, width in texts), default=1)
    return _LINE_HEIGHT * min(lines, max_lines) if lines > 1 else None


def fit_rows(ws: Any, first: int, last: int, max_lines: int = 12) -> None:
    for row in range(first, last + 1):
        fit_height(ws, row, max_lines)


def note(ws: Any, row: int, text: str, columns: int) -> None:
    """A muted, wrapped note across ``columns`` columns (merged), tall enough to read."""
    cell = put(ws, row, 1, text, font=MUTED)
    cell.alignment = WRAP_TOP
    if columns > 1:
        ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=columns)
    width = sum(
        ws.column_dimensions[get_column_letter(c)].width or _DEFAULT_WIDTH
        for c in range(1, columns + 1)
    )
    ws.row_dimensions[row].height = _LINE_HEIGHT * text_lines(text, width)


def page_setup(
    ws: Any,
    *,
    title_rows: tuple[int, int] | None = None,
    title_columns: str | None = None,
    pages_wide: int = 1,
) -> None:
    """Landscape, ``pages_wide`` pages wide (as many pages tall as needed), the header rows (and
    columns) repeated on every page."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = pages_wide
    ws.page_setup.fitToHeight = 0
    if pages_wide > 1:  # a wide table's right-hand part right after its left, before the charts
        ws.page_setup.pageOrder = "overThenDown"
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_margins.left = ws.page_margins.right = 0.5
    ws.page_margins.top = ws.page_margins.bottom = 0.6
    if title_rows is not None:
        ws.print_title_rows = f"{title_rows[0]}:{title_rows[1]}"
    if title_columns is not None:
        ws.print_title_cols = title_columns


def pages_wide(ws: Any, columns: int, page_width: float = 200.0) -> int:
    """How many landscape pages wide a sheet of ``columns`` columns prints at a readable size."""
    total = sum(
        ws.column_dimensions[get_column_letter(c)].width or _DEFAULT_WIDTH
        for c in range(1, columns + 1)
    )
    return max(1, math.ceil(total / page_width))


def page_break_before(ws: Any, row: int) -> int:
    """Start a new printed page at ``row``; the row under it, where a chart can be anchored
    clear of the page edge."""
    if row > 1:
        ws.row_breaks.append(Break(id=row - 1))
    return row + 1


def chart_rows(height_cm: float) -> int:
    """Default-height rows a chart ``height_cm`` tall covers, plus a gap."""
    return math.ceil(height_cm / _ROW_CM) + 2


def wrap(ws: Any, columns: Iterable[int], first_row: int, last_row: int) -> None:
    """Wrap the text of these cells (top-aligned, keeping their horizontal alignment)."""
    for column in columns:
        for row in range(first_row, last_row + 1):
            cell = ws.cell(row=row, column=column)
            horizontal = cell.alignment.horizontal if cell.has_style else None
            cell.alignment = Alignment(wrap_text=True, vertical="top", horizontal=horizontal)


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


def stream_row(
    ws: Any, values: Sequence[Value], *, bold: bool = False, wrap: Iterable[int] = ()
) -> list[Any]:
    """A row for ``ws.append`` in write-only mode with every string as a string cell; the cells
    at the (0-based) positions in ``wrap`` wrap their text."""
    wrapped = set(wrap)
    out: list[Any] = []
    for index, value in enumerate(values):
        if isinstance(value, str):
            cell = WriteOnlyCell(ws, value=clean_text(value))
            cell.data_type = "s"
            if bold:
                cell.font = BOLD
            if index in wrapped:
                cell.alignment = WRAP_TOP
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


@dataclass(frozen=True)
class ValueAxis:
    """The value axis of a chart and the format of its data labels."""

    low: float | None = None
    high: float | None = None
    major: float | None = None
    number_format: str = "0"
    label_format: str = "0.0"


_EMU_PER_POINT: Final = 12700


class _DataLabels(DataLabelList):  # type: ignore[misc]
    """Data labels with their own number format: openpyxl writes the labels' ``numFmt`` without
    ``sourceLinked="0"``, and LibreOffice then shows the cells' format ("2.60") instead."""

    numFmt = Typed(expected_type=NumFmt, allow_none=True)
    __elements__ = DataLabelList.__elements__
    __attrs__ = DataLabelList.__attrs__
    __nested__ = tuple(n for n in DataLabelList.__nested__ if n != "numFmt")


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
    axis: ValueAxis | None = None,
    data_labels: bool = False,
    emphasize_first: bool = False,
    size: tuple[float, float] = (18.0, 9.0),
) -> Any:
    """A native chart over a table on ``data``: one series per column, titled by its header cell,
    categories from ``category_column``.
    Column, bar (horizontal), line or radar. ``data_labels`` writes each value on its bar, so
    that a real 0 reads "0" and differs from a missing value; ``emphasize_first`` draws the
    first line series thicker (the overall score)."""
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
    if kind in ("bar", "column"):
        # every category named: left to itself, a crowded axis names only every other one
        made.x_axis.tickLblSkip = 1
        made.x_axis.tickMarkSkip = 1
    if len(series_columns) == 1:
        made.legend = None  # the title says it all
    elif made.legend is not None:
        made.legend.position = "b"  # under the plot: never over it, and room for long names
    if kind == "line":
        for n, series in enumerate(made.series):
            series.marker.symbol = "circle"
            series.smooth = False
            width = 4.0 if emphasize_first and n == 0 else 1.75
            series.graphicalProperties = GraphicalProperties(
                ln=LineProperties(w=int(width * _EMU_PER_POINT))
            )
    # openpyxl 3.1 leaves the axes' "delete" unset, which recent Excel reads as hidden axes
    made.x_axis.delete = False
    made.y_axis.delete = False
    if y_title is not None and kind != "radar":
        made.y_axis.title = clean_text(y_title)
    if axis is not None:
        made.y_axis.scaling.min, made.y_axis.scaling.max = axis.low, axis.high
        made.y_axis.majorUnit = axis.major
        made.y_axis.number_format = axis.number_format  # not linked to the cells' "0.00"
        if data_labels and kind in ("column", "bar"):
            made.dataLabels = _DataLabels(
                showVal=True,
                showLegendKey=False,
                showCatName=False,
                showSerName=False,
                showPercent=False,
                numFmt=NumFmt(axis.label_format, False),
                dLblPos="outEnd",
            )
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


class Bilingual(Protocol):
    """A text in both languages: a label's mapping, or a ``Text`` or reason of a score object."""

    def get(self, lang: str, /) -> str | None: ...


def text_of(labels: Bilingual, lang: str) -> str:
    """A bilingual label: the language's text, English as fallback, '' when empty."""
    return labels.get(lang) or labels.get("en") or ""
