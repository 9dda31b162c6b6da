"""The uploaded workbook handed back with every problem marked where it is, to be fixed in place."""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from io import BytesIO
from typing import Any, Final

from openpyxl import load_workbook
from openpyxl.cell.cell import MergedCell
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils.cell import coordinate_from_string

from app.excel._cells import set_text
from app.excel.layout import META_ROWS, META_SHEET, PROBLEMS_SHEET, MetaKey
from app.excel.problems import Problem, ProblemCode, WorkbookRejected, problem
from app.excel.safety import DEFAULT_LIMITS, Limits, check_upload
from app.excel.sandbox import SandboxFailure, TaskError, run_task

ERROR_FILL_COLOR: Final = "FFFF7C80"
COMMENT_AUTHOR: Final = "OCA Engine"
_ERROR_FILL: Final = PatternFill("solid", fgColor=ERROR_FILL_COLOR)
_FAILED: Final = b"!"
_HEADERS: Final = {
    "en": ("Sheet", "Cell", "Item", "Code", "Problem"),
    "es": ("Hoja", "Celda", "Ítem", "Código", "Problema"),
}
_WIDTHS: Final = (24, 10, 18, 22, 100)


def annotate(
    data: bytes,
    problems: Sequence[Problem],
    limits: Limits = DEFAULT_LIMITS,
    lang: str | None = None,
) -> bytes:
    """Return ``data`` with each problem's cell filled red and commented, plus a problems sheet.

    Messages are in ``lang``, else in the workbook's language (from its metadata), else English.
    Only for workbooks that passed the upload checks; raises WorkbookRejected otherwise.
    """
    check_upload(data, limits)
    arg = json.dumps({"problems": [p.to_dict() for p in problems], "lang": lang})
    try:
        result = run_task(_annotate_task, data, arg, limits, max_result_bytes=4 * limits.max_bytes)
    except SandboxFailure as failure:
        raise WorkbookRejected(
            [problem(ProblemCode.too_complex, detail=failure.reason, detail_es=failure.reason)]
        ) from None
    except TaskError as error:
        raise RuntimeError(f"annotating the workbook failed: {error}") from None
    if result.startswith(_FAILED):
        raise WorkbookRejected([problem(ProblemCode(result[1:].decode("ascii")))])
    return result


def _annotate_task(data: bytes, arg: str) -> bytes:
    params = json.loads(arg)
    problems = [Problem.from_dict(p) for p in params["problems"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. Excel's extension lists, which openpyxl drops
        try:
            wb = load_workbook(BytesIO(data), keep_links=False, keep_vba=False, rich_text=True)
        except MemoryError:
            raise
        except Exception:
            return _FAILED + ProblemCode.corrupt_workbook.value.encode("ascii")
        lang = params.get("lang") or _language(wb)
        _mark_cells(wb, problems, lang)
        _problems_sheet(wb, problems, lang)
        out = BytesIO()
        wb.save(out)
    return out.getvalue()


def _language(wb: Any) -> str:
    if META_SHEET not in wb.sheetnames:
        return "en"
    value = wb[META_SHEET].cell(row=META_ROWS[MetaKey.language], column=2).value
    return "es" if value == "es" else "en"


def _valid_ref(ref: str) -> bool:
    try:
        column, row = coordinate_from_string(ref)
    except ValueError:
        return False
    return bool(column) and 1 <= int(row) <= 1_048_576


def _mark_cells(wb: Any, problems: Sequence[Problem], lang: str) -> None:
    messages: dict[tuple[str, str], list[str]] = {}
    for p in problems:
        if p.sheet is None or p.cell is None or p.sheet not in wb.sheetnames:
            continue
        if not _valid_ref(p.cell):
            continue
        messages.setdefault((p.sheet, p.cell.upper()), []).append(p.message(lang))
    for (sheet, ref), texts in messages.items():
        cell = wb[sheet][ref]
        if isinstance(cell, MergedCell):
            continue
        text = "\n".join(texts)
        previous = cell.comment
        if previous is not None and previous.author != COMMENT_AUTHOR:
            text = f"{text}\n\n{previous.text}"
        lines = sum(1 + len(line) // 45 for line in text.split("\n"))
        cell.comment = Comment(text, COMMENT_AUTHOR, height=min(40 + 15 * lines, 600), width=320)
        cell.fill = _ERROR_FILL


def _problems_sheet(wb: Any, problems: Sequence[Problem], lang: str) -> None:
    title = PROBLEMS_SHEET["es" if lang == "es" else "en"]
    for name in list(PROBLEMS_SHEET.values()):
        if name in wb.sheetnames:
            wb.remove(wb[name])
    ws = wb.create_sheet(title, 0)
    header_font = Font(bold=True)
    for column, (text, width) in enumerate(zip(_HEADERS["es" if lang == "es" else "en"], _WIDTHS,
                                               strict=True), start=1):
        cell = ws.cell(row=1, column=column)
        set_text(cell, text)
        cell.font = header_font
        ws.column_dimensions[cell.column_letter].width = width
    wrap = Alignment(wrap_text=True, vertical="top")
    for row, p in enumerate(problems, start=2):
        for column, value in enumerate(
            (p.sheet or "", p.cell or "", p.item or "", p.code.value, p.message(lang)), start=1
        ):
            cell = ws.cell(row=row, column=column)
            set_text(cell, value)
            cell.alignment = wrap
    ws.freeze_panes = "A2"
    for sheet in wb.worksheets:
        sheet.sheet_view.tabSelected = False
    ws.sheet_view.tabSelected = True
    wb.active = 0
