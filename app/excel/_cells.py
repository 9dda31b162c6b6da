"""Writing text into openpyxl cells so that it stays text (reliability.md §A3)."""

from __future__ import annotations

from typing import Any, Final

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

EXCEL_CELL_MAX: Final = 32_767


def clean_text(value: str) -> str:
    """Drop the control characters XML cannot hold and clip to Excel's cell limit."""
    cleaned: str = ILLEGAL_CHARACTERS_RE.sub("", value)
    return cleaned[:EXCEL_CELL_MAX]


def set_text(cell: Any, value: str) -> None:
    """Write ``value`` as a string cell: a leading = + - @ never turns into a formula."""
    cell.value = clean_text(value)
    cell.data_type = "s"
