"""How the workbooks look: the fonts, fills and borders that the templates and the exports share,
and the row height and print setup of template sheets.

One definition of each look, so a template and an export of the same instrument match; openpyxl
writes equal styles once, so sharing them changes no byte of a workbook.
"""

from __future__ import annotations

from typing import Any, Final

from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side

FONT_NAME: Final = "Calibri"
BODY_FONT: Final = Font(name=FONT_NAME, size=11)
BOLD: Final = Font(name=FONT_NAME, size=11, bold=True)
TITLE_FONT: Final = Font(name=FONT_NAME, size=14, bold=True)
SECTION_FONT: Final = Font(name=FONT_NAME, size=12, bold=True)
MUTED: Final = Font(name=FONT_NAME, size=11, italic=True, color="FF595959")
SMALL_MUTED: Final = Font(name=FONT_NAME, size=9, color="FF595959")
GREY: Final = Font(name=FONT_NAME, size=11, color="FF595959")  # the template's version line
HEADER_FONT: Final = Font(name=FONT_NAME, size=11, bold=True, color="FFFFFFFF")
HEADER_FILL: Final = PatternFill("solid", fgColor="FF1F4E79")
WRAP_TOP: Final = Alignment(wrap_text=True, vertical="top")

# the template's cells: yellow unlocked inputs, grey borders, italic helper columns
INPUT_FILL: Final = PatternFill("solid", fgColor="FFFFF2CC")
HELPER_FONT: Final = Font(name=FONT_NAME, size=11, italic=True, color="FF404040")
_THIN: Final = Side(style="thin", color="FFBFBFBF")
BORDER: Final = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
UNLOCKED: Final = Protection(locked=False)

# Calibri 11 (Carlito in LibreOffice) fits 1.1 to 1.2 characters of prose per unit of column
# width (the lower end, so that wrapped text is not cut)
CHARS_PER_WIDTH: Final = 1.1

_MAX_ROW_HEIGHT: Final = 409.0  # Excel's limit, in points
# a line of Calibri 11 is 18 px (13.5 pt) in Excel; LibreOffice draws Carlito a little tighter
_LINE_FACTOR: Final = 1.23
_CELL_PADDING: Final = 4.0


def text_lines(text: str, width: float, chars_per_width: float = CHARS_PER_WIDTH) -> int:
    """How many lines ``text`` wraps to (word wrap) in a column ``width`` characters wide."""
    per_line = max(int(width * chars_per_width), 1)
    count = 0
    for paragraph in text.split("\n"):
        count += 1
        used = 0
        for word in paragraph.split():
            size = len(word)
            if used and used + 1 + size > per_line:
                count += 1
                used = 0
            if size > per_line:  # a word longer than the line is broken anywhere
                count += (used + size - 1) // per_line
                used = (used + size) % per_line or per_line
                continue
            used += size + (1 if used else 0)
    return count


def row_height(text: str, width: float, font: Font | None = None) -> float:
    """A row height that shows all of a wrapped text: LibreOffice, and Excel for rows it has
    not edited, keep the default height instead of fitting wrapped text."""
    size = float(font.sz) if font is not None and font.sz else 11.0
    lines = text_lines(text, width * 11.0 / size)
    return min(round(lines * size * _LINE_FACTOR + _CELL_PADDING, 1), _MAX_ROW_HEIGHT)


def fit_page(ws: Any, *, landscape: bool, pages_wide: int = 1) -> None:
    """A template sheet printed at full width: so many pages wide, as many long as it takes."""
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.page_setup.fitToWidth = max(1, pages_wide)
    if pages_wide > 1:  # an item's levels and guidance right after the item, page by page
        ws.page_setup.pageOrder = "overThenDown"
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_margins.left = ws.page_margins.right = 0.5
    ws.page_margins.top = ws.page_margins.bottom = 0.6
