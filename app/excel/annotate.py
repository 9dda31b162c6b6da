"""The uploaded workbook handed back with every problem marked where it is, to be fixed in place."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Final

from app.excel.layout import META_ROWS, META_SHEET, PROBLEMS_SHEET, MetaKey
from app.excel.problems import Problem, ProblemCode, WorkbookRejected, problem
from app.excel.safety import DEFAULT_LIMITS, Limits, check_upload
from app.excel.sandbox import SandboxFailure, TaskError, run_task

ERROR_FILL_COLOR: Final = "FFFF7C80"
COMMENT_AUTHOR: Final = "OCA Engine"
_HEADERS: Final = {
    "en": ("Sheet", "Cell", "Item", "Code", "Problem"),
    "es": ("Hoja", "Celda", "Ítem", "Código", "Problema"),
}
# about 130 characters: one landscape A4 or Letter page wide at full size
_WIDTHS: Final = (20, 8, 18, 18, 66)


def annotate(
    data: bytes,
    problems: Sequence[Problem],
    limits: Limits = DEFAULT_LIMITS,
    lang: str | None = None,
) -> bytes:
    """Return ``data`` with each problem's cell filled red and commented, plus a problems sheet.

    Messages are in ``lang``, else in the workbook's language (from its metadata), else English.
    Only for workbooks that pass the upload checks and load as .xlsx; raises WorkbookRejected
    otherwise. Parsing runs isolated like the reader's.
    """
    check_upload(data, limits)
    params = {
        "problems": [p.to_dict() for p in problems],
        "lang": lang if lang in ("en", "es") else None,
        "meta_sheet": META_SHEET,
        "language_row": META_ROWS[MetaKey.language],
        "problems_sheet": PROBLEMS_SHEET,
        "headers": _HEADERS,
        "widths": _WIDTHS,
        "fill": ERROR_FILL_COLOR,
        "author": COMMENT_AUTHOR,
    }
    try:
        result = run_task("annotate", data, json.dumps(params), limits)
    except SandboxFailure as failure:
        raise WorkbookRejected(
            [problem(ProblemCode.too_complex, detail=failure.reason, detail_es=failure.reason)]
        ) from None
    except TaskError as error:
        raise RuntimeError(f"annotating the workbook failed: {error}") from None
    if result.startswith(b"!"):
        raise WorkbookRejected([problem(ProblemCode(result[1:].decode("ascii")))])
    return result
