"""Many plain rows in one write-only sheet, written as the sheet's XML text directly.

openpyxl builds an object per cell and serializes it through an XML tree writer: about 6 µs a
cell, 3 s of CPU for a 10,000-assessment raw export of 54 columns. The bulk of such a sheet is
plain values (text, numbers, dates, blanks) with no style but a date's, so its rows are written
here as text in the very form openpyxl gives them (``<c r="B7" t="n"><v>3</v></c>``, inline
strings, dates as serial numbers with the workbook's date style) and put in the saved package
after the rows openpyxl wrote (the header). Everything else about the workbook — styles, column
widths, frozen panes, page setup, other sheets — stays openpyxl's.

Text is cleaned of the characters XML 1.0 cannot hold (as ``stream_row`` does) and escaped; an
inline string is never a formula, whatever it starts with.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from typing import Any, Final
from xml.sax.saxutils import escape

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter

from app.excel._export_write import DATE_FORMAT, Value, workbook_bytes
from app.excel._worker import clean_text

_EXCEL_EPOCH: Final = date(1899, 12, 30).toordinal()  # serial 1 is 1900-01-01 (Excel's leap bug)
_END: Final = b"</sheetData>"


def date_style(ws: Any) -> int:
    """The workbook's style index of a date cell (registering the style if it is new)."""
    cell = WriteOnlyCell(ws, value=date(2000, 1, 1))
    cell.number_format = DATE_FORMAT
    style: int = cell.style_id
    return style


def rows_xml(
    rows: Iterable[Sequence[Value]], *, first_row: int, columns: int, date_style: int
) -> Iterator[str]:
    """Each row as the sheet XML openpyxl would write for it; blanks are left out."""
    letters = [get_column_letter(i + 1) for i in range(columns)]
    for number, values in enumerate(rows, start=first_row):
        parts = [f'<row r="{number}">']
        for letter, value in zip(letters, values, strict=False):
            if value is None:
                continue
            if isinstance(value, str):
                text = escape(clean_text(value))
                space = ' xml:space="preserve"' if text != text.strip() else ""
                parts.append(
                    f'<c r="{letter}{number}" t="inlineStr"><is><t{space}>{text}</t></is></c>'
                )
            elif isinstance(value, date):
                serial = value.toordinal() - _EXCEL_EPOCH
                parts.append(f'<c r="{letter}{number}" s="{date_style}" t="n"><v>{serial}</v></c>')
            else:
                parts.append(f'<c r="{letter}{number}" t="n"><v>{value!r}</v></c>')
        parts.append("</row>")
        yield "".join(parts)


def save_with_rows(wb: Workbook, ws: Any, rows: Iterable[str]) -> bytes:
    """The saved workbook with ``rows`` (from ``rows_xml``) after the rows ``ws`` already has."""
    index = wb.worksheets.index(ws)
    sheet = f"xl/worksheets/sheet{index + 1}.xml"  # openpyxl names sheets by their position
    saved = zipfile.ZipFile(io.BytesIO(workbook_bytes(wb)))
    out = io.BytesIO()
    # the rows are the bulk of the file: deflated at the fastest level
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as package:
        for info in saved.infolist():
            body = saved.read(info)
            if info.filename != sheet:
                package.writestr(info, body)
                continue
            head, end, tail = body.partition(_END)
            if not end or _END in tail:
                raise RuntimeError(f"{sheet} has no single </sheetData> to add the rows to")
            with package.open(info.filename, "w") as stream:
                stream.write(head)
                batch: list[str] = []
                for row in rows:
                    batch.append(row)
                    if len(batch) == 500:
                        stream.write("".join(batch).encode())
                        batch = []
                stream.write("".join(batch).encode())
                stream.write(end + tail)
    return out.getvalue()
