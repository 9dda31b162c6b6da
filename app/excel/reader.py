"""Reading a filled template: untrusted bytes -> checked, typed answers, or every problem found.

Everything that touches the bytes runs in the sandbox (``reader_wire``'s ``read`` task): the upload
checks, the extraction of the cells and, when the caller says which instrument version to expect
(an import of many workbooks expects the version of the last one), the checks of
``reader_checks`` too, so that only the checked answers or the problems come back. Otherwise the
cells come back and the same checks run here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any, Final

from app.domain.instrument import Instrument
from app.excel import reader_wire
from app.excel.filled import Cover, FilledItem, FilledWorkbook, TemplateMeta
from app.excel.layout import (
    META_ROWS,
    META_SHEET,
    META_TABLE_FIRST_COLUMN,
    META_TABLE_HEADER_ROW,
    MetaKey,
)
from app.excel.problems import ProblemCode, WorkbookRejected, problem
from app.excel.reader_checks import Checked, Resolver, check_sheets, grids
from app.excel.safety import DEFAULT_LIMITS, Limits
from app.excel.sandbox import SandboxFailure, TaskError, run_task

__all__ = [
    "Cover",
    "Expected",
    "FilledItem",
    "FilledWorkbook",
    "Resolver",
    "TemplateMeta",
    "read_filled_workbook",
]


@dataclass(frozen=True)
class Expected:
    """The instrument version a workbook is expected to be of (the resolver's answer for it):
    the parser worker then checks the workbook itself. Only where the checks run depends on it."""

    instrument: Instrument
    content_hash: str
    _definition: list[str] = field(default_factory=list, compare=False, repr=False)

    def key(self) -> dict[str, str]:
        i = self.instrument
        return {"id": i.id, "version": i.version, "hash": self.content_hash}

    def definition(self) -> str:
        """The instrument as JSON, made once (a worker that does not know it asks for it)."""
        if not self._definition:
            self._definition.append(self.instrument.model_dump_json())
        return self._definition[0]


def read_filled_workbook(
    data: bytes,
    resolve: Resolver,
    limits: Limits = DEFAULT_LIMITS,
    expect: Expected | None = None,
) -> FilledWorkbook:
    """Check and read one uploaded template; raise WorkbookRejected listing every problem.

    Nothing is evaluated: formulas are refused wherever they appear in a cell that is read.
    ``expect``: the version the workbook probably is of; the answer is the same without it.
    """
    params: dict[str, Any] = {
        "meta_sheet": META_SHEET,
        "cover_row": META_ROWS[MetaKey.cover_sheet],
        "value_column": 2,
        "table_column": META_TABLE_FIRST_COLUMN,
        "table_header_row": META_TABLE_HEADER_ROW,
        "limits": dataclasses.asdict(limits),
    }
    if expect is not None and limits.isolate:  # in this process, the cells cost nothing to pass
        params["expect"] = expect.key()
    result = _read(data, limits, params)
    if "need" in result and expect is not None:
        result = _read(data, limits, {**params, "instrument": expect.definition()})
    resolved: tuple[Instrument, str] | None = None
    if "expected" in result and expect is not None:  # checked in the worker against ``expect``
        resolved = resolve(*result["expected"])
        if resolved is None or resolved[1] != expect.content_hash:
            # the resolver answers otherwise for that version now: the cells, checked here
            result = _read(data, limits, {k: v for k, v in params.items() if k != "expect"})
    if "rejected" in result:
        raise reader_wire.rejected(result["rejected"])
    sha256 = hashlib.sha256(data).hexdigest()
    if "checked" in result and resolved is not None:
        return _filled(reader_wire.checked(result["checked"], resolved[0]), sha256)
    if "problems" in result:
        raise WorkbookRejected(
            [
                problem(ProblemCode(p["code"]), sheet=p["sheet"], cell=p["cell"], **p["params"])
                for p in result["problems"]
            ]
        )
    return _filled(check_sheets(grids(result["sheets"]), resolve), sha256)


def _filled(checked: Checked, sha256: str) -> FilledWorkbook:
    return FilledWorkbook(
        meta=checked.meta,
        instrument=checked.instrument,
        cover=checked.cover,
        items=checked.items,
        answers=checked.answers,
        sha256=sha256,
    )


def _read(data: bytes, limits: Limits, params: dict[str, Any]) -> dict[str, Any]:
    return _run("read", data, limits, params)


# --- extraction ----------------------------------------------------------------------------------


def extract(data: bytes, limits: Limits, params: dict[str, Any]) -> dict[str, Any]:
    """The sandboxed extraction of a workbook's cells (``_worker``'s ``extract`` task) within
    ``limits``; a reader stopped by a limit is one ``too_complex`` problem, named by the limit."""
    return _run("extract", data, limits, params)


def _run(task: str, data: bytes, limits: Limits, params: dict[str, Any]) -> dict[str, Any]:
    bounds = {
        "reader": os.environ.get(READER_ENV, "fast"),
        "max_rows": limits.max_rows,
        "max_columns": limits.max_columns,
        "max_sheets": limits.max_sheets,
        "max_text": limits.max_inflated_bytes,
    }
    try:
        payload = run_task(task, data, json.dumps({**bounds, **params}), limits)
    except SandboxFailure as failure:
        en, es = _FAILURES.get(failure.reason, ("the reader stopped", "el lector se detuvo"))
        failed = problem(ProblemCode.too_complex, detail=en, detail_es=es)
        raise WorkbookRejected([failed]) from None
    except TaskError as error:
        raise RuntimeError(f"workbook extraction failed: {error}") from None
    result: dict[str, Any] = json.loads(payload)
    return result


def every_sheet(data: bytes, limits: Limits, meta_sheet: str) -> dict[str, Any]:
    """``extract`` of every sheet of a workbook that has no cover (rater and authoring
    workbooks), ``meta_sheet`` being the one the extractor must find."""
    params = {
        "meta_sheet": meta_sheet,
        "cover_row": 0,
        "value_column": 0,
        "table_column": 0,
        "table_header_row": 0,
        "all_sheets": True,
    }
    return extract(data, limits, params)


READER_ENV: Final = "OCA_EXCEL_READER"
"""``fast`` (default: ``_xlsx_fast``, openpyxl for what it leaves), ``openpyxl`` (the reference
only) or ``compare`` (both, failing on any difference: the test suite runs with it)."""

_FAILURES: Final = {
    "timeout": ("time limit", "límite de tiempo"),
    "memory": ("memory limit", "límite de memoria"),
    "cpu": ("processor time limit", "límite de tiempo de procesador"),
}
