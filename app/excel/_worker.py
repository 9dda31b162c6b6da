"""The code that touches untrusted workbook XML, runnable as a separate, resource-limited process.

It imports the standard library and openpyxl, and for its ``read`` task the pure reading code of
``app`` (``reader_wire``; no settings, no database), so ``sandbox`` can run it as a script with
``python -I -B _worker.py ...``, without the service's settings, environment or database
connections. Tasks are also callable in-process (``TASKS``). Two ways to run it:

* one task: ``_worker.py TASK MEMORY_BYTES CPU_SECONDS``. Input on stdin: an 8-byte big-endian
  length, that many bytes of JSON parameters, then the workbook. Output on stdout: one status byte
  (``o`` ok, ``m`` out of memory, ``x`` error) and the task's bytes.
* a long-lived worker: ``_worker.py --serve MEMORY_BYTES CPU_CAP_SECONDS``, which answers requests
  one at a time until its stdin closes. Every message is a frame: an 8-byte big-endian length and
  that many bytes. A request is two frames: JSON ``{"task", "arg", "cpu"}`` and the workbook. A
  response is two frames: JSON statistics ``{"cpu": seconds used by the process so far, "vm":
  bytes of address space, "rss": peak resident bytes}`` (vm and rss 0 off Linux) and the status
  byte + the task's bytes as above. Before each task the worker sets its own RLIMIT_CPU soft
  limit to the time used so far plus the request's ``cpu`` seconds (RLIMIT_CPU counts a process's
  whole life); the hard limit stays at CPU_CAP_SECONDS, and the parent retires a worker before it
  gets near that. After a MemoryError the worker answers ``m`` and exits (or exits with
  ``EXIT_MEMORY`` when even that fails). Anything else a library prints goes to stderr: the
  frames use private descriptors.

The parent process owns every decision; this side only reports what it sees, as JSON.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from io import BytesIO
from typing import Any, Final

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

EXCEL_CELL_MAX: Final = 32_767
STATUS_OK: Final = b"o"
STATUS_MEMORY: Final = b"m"
STATUS_ERROR: Final = b"x"
SERVE: Final = "--serve"
EXIT_MEMORY: Final = 3  # a serving worker that could not even say it ran out of memory
FRAME_HEADER: Final = 8
MAX_REQUEST_HEADER: Final = 16 * 1024 * 1024

# a cell as reported: [row, column, value, kind]; kind "f" formula, "e" error value, "v" value
Cell = list[Any]


# --- writing text that stays text (reliability.md §A3) -------------------------------------------


def clean_text(value: str) -> str:
    """Drop the control characters XML cannot hold and clip to Excel's cell limit."""
    cleaned: str = ILLEGAL_CHARACTERS_RE.sub("", value)
    return cleaned[:EXCEL_CELL_MAX]


def set_text(cell: Any, value: str) -> None:
    """Write ``value`` as a string cell: a leading = + - @ never turns into a formula."""
    cell.value = clean_text(value)
    cell.data_type = "s"


# --- extract: bytes -> cell values within bounds -------------------------------------------------


class _Stop(Exception):
    """Reading stops with one problem: {"code", "sheet", "cell", "params"}."""

    def __init__(
        self, code: str, sheet: str | None = None, cell: str | None = None, **params: object
    ) -> None:
        super().__init__(code)
        self.found = {"code": code, "sheet": sheet, "cell": cell, "params": params}


def json_value(value: Any) -> Any:
    """A cell value as JSON: dates, times and durations tagged (``reader_checks.from_json``)."""
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


class _Reader:
    def __init__(self, params: dict[str, Any]) -> None:
        self.max_rows = int(params["max_rows"])
        self.max_columns = int(params["max_columns"])
        self.max_sheets = int(params["max_sheets"])
        self.text_budget = int(params["max_text"])  # characters of cell text, all sheets together

    def sheet(self, ws: Any, *, stop_at_first: bool = False) -> list[Cell]:
        """Every non-empty cell within the bounds; _Stop when the sheet goes beyond them."""
        from openpyxl.utils import get_column_letter

        title = str(ws.title)
        rows, columns = ws.max_row, ws.max_column  # from <dimension>: cheap, maybe absent or false
        if isinstance(rows, int) and rows > self.max_rows:
            raise _Stop("too_many_rows", title, f"A{self.max_rows + 1}", limit=self.max_rows)
        if isinstance(columns, int) and columns > self.max_columns:
            raise _Stop(
                "too_many_columns",
                title,
                f"{get_column_letter(self.max_columns + 1)}1",
                limit=get_column_letter(self.max_columns),
            )
        cells: list[Cell] = []
        count = 0
        # read-only iteration yields the real rows up to max_row and pads with empty rows only up
        # to a real row, so reaching row max_rows + 1 means the sheet has a row beyond the cap
        for row in ws.iter_rows(min_row=1, max_row=self.max_rows + 1, max_col=self.max_columns):
            count += 1
            if count > self.max_rows:
                raise _Stop("too_many_rows", title, f"A{self.max_rows + 1}", limit=self.max_rows)
            for cell in row:
                value = cell.value
                if value is None:
                    continue
                value = json_value(value)
                if isinstance(value, str):
                    self.text_budget -= len(value)
                    if self.text_budget < 0:
                        raise _Stop(
                            "too_complex",
                            title,
                            None,
                            detail="too much text",
                            detail_es="demasiado texto",
                        )
                kind = {"f": "f", "e": "e"}.get(cell.data_type, "v")
                cells.append([cell.row, cell.column, value, kind])
                if stop_at_first:
                    return cells
        return cells


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


# how running out of address space shows when it does not surface as MemoryError
_NO_MEMORY: Final = ("error -4 while", "out of memory", "no memory", "cannot allocate")


def _failure(exc: Exception) -> dict[str, Any]:
    """The problem a parser exception stands for; MemoryError when it was really memory."""
    chain = _chain(exc)
    if any(
        isinstance(e, MemoryError) or any(m in str(e).lower() for m in _NO_MEMORY) for e in chain
    ):
        raise MemoryError(str(exc)) from exc
    unsafe = any(type(e).__module__.startswith("defusedxml") for e in chain)
    code = "unsafe_xml" if unsafe else "corrupt_workbook"
    return {"problems": [{"code": code, "sheet": None, "cell": None, "params": {}}]}


def extract(data: bytes, arg: str) -> bytes:
    """JSON {"problems": [...]} or {"sheetnames": [...], "sheets": {name: [cell, ...]}}.

    With a metadata sheet, reads it, the cover and the sheets its item table names; without one,
    only looks whether any sheet has content (a foreign workbook or an empty one).
    """
    return json.dumps(_extracted(data, json.loads(arg))).encode()


def _extracted(data: bytes, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("reader") == "openpyxl":
        return _reference(data, params)
    fast = _fast(data, params)
    if params.get("reader") == "compare":
        reference = _reference(data, params)
        if fast is not None and json.dumps(fast) != json.dumps(reference):
            raise RuntimeError("the fast reader and openpyxl read this workbook differently")
        return reference
    return _reference(data, params) if fast is None else fast


def read(data: bytes, arg: str) -> bytes:
    """``reader_wire.read``: a filled template's upload checks, cells and, when the parent said
    which instrument version to expect, its checks (the only task that imports ``app``)."""
    try:
        wire = _wire()
    except ImportError as exc:  # under a small memory cap, pydantic's library may not load
        if any(m in str(exc).lower() for m in (*_NO_MEMORY, "failed to map segment")):
            raise MemoryError(str(exc)) from exc
        raise
    return json.dumps(wire.read(data, json.loads(arg), _extracted)).encode()


def _wire() -> Any:
    """Loaded by the first ``read`` task, not at start: a worker that only extracts or annotates
    never holds the domain and pydantic (~20 MiB)."""
    if not __package__ and "app" not in sys.modules:  # run as a script (python -I)
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        sys.path.append(root)
    from app.excel import reader_wire

    return reader_wire


def _fast(data: bytes, params: dict[str, Any]) -> dict[str, Any] | None:
    """The fast reader's result, or None when the workbook needs openpyxl (``_xlsx_fast``)."""
    try:
        return _fast_reader().extract(data, params)  # type: ignore[no-any-return]
    except MemoryError:
        raise
    except Exception:  # Unusual, or anything it did not expect: openpyxl decides
        return None


def _fast_reader() -> Any:
    if __package__:
        from app.excel import _xlsx_fast

        return _xlsx_fast
    module = sys.modules.get("_xlsx_fast")
    if module is None:  # run as a script (python -I): its sibling is not importable by name
        import importlib.util

        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_xlsx_fast.py")
        spec = importlib.util.spec_from_file_location("_xlsx_fast", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["_xlsx_fast"] = module
        spec.loader.exec_module(module)
    return module


def _reference(data: bytes, params: dict[str, Any]) -> dict[str, Any]:
    """What openpyxl reads: the reference, and the reader of every workbook the fast one
    leaves to it."""
    import openpyxl
    from openpyxl import load_workbook

    if not openpyxl.DEFUSEDXML:
        raise RuntimeError("defusedxml must be installed and enabled to read uploads")
    reader = _Reader(params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openpyxl warns about parts it drops; we read values
        try:
            wb = load_workbook(
                BytesIO(data), read_only=True, data_only=False, keep_links=False, keep_vba=False
            )
        except MemoryError:
            raise
        except Exception as exc:
            return _failure(exc)
        try:
            result = _extract(wb, reader, params)
        except _Stop as stop:
            result = {"problems": [stop.found]}
        except MemoryError:
            raise
        except Exception as exc:
            result = _failure(exc)
        finally:
            wb.close()
    return result


def _extract(wb: Any, reader: _Reader, params: dict[str, Any]) -> dict[str, Any]:
    names: list[str] = list(wb.sheetnames)
    if len(names) > reader.max_sheets:
        raise _Stop("too_many_sheets", count=len(names), limit=reader.max_sheets)
    meta_sheet = str(params["meta_sheet"])
    if meta_sheet not in names:
        for name in names:
            if reader.sheet(wb[name], stop_at_first=True):
                raise _Stop("not_a_template")
        raise _Stop("empty_workbook")
    meta = reader.sheet(wb[meta_sheet])
    wanted = _fast_reader().sheets_named_in(meta, params)
    sheets = {meta_sheet: meta}
    every = bool(params.get("all_sheets"))  # a ratings workbook: one sheet per rater, any name
    for name in names:
        if (every or name in wanted) and name != meta_sheet:
            sheets[name] = reader.sheet(wb[name])
    return {"sheetnames": names, "sheets": sheets}


# --- annotate: mark problems in place ------------------------------------------------------------


def annotate(data: bytes, arg: str) -> bytes:
    """The workbook with problem cells filled and commented, plus a problems sheet in front.

    Returns ``!`` + a problem code when the workbook cannot be loaded.
    """
    from openpyxl import load_workbook

    params = json.loads(arg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. Excel's extension lists, which openpyxl drops
        try:
            wb = load_workbook(BytesIO(data), keep_links=False, keep_vba=False, rich_text=True)
        except MemoryError:
            raise
        except Exception as exc:
            return b"!" + str(_failure(exc)["problems"][0]["code"]).encode()
        lang = params.get("lang") or _language(wb, params)
        _mark_cells(wb, params, lang)
        _problems_sheet(wb, params, lang)
        out = BytesIO()
        wb.save(out)
    return out.getvalue()


def _language(wb: Any, params: dict[str, Any]) -> str:
    if params["meta_sheet"] not in wb.sheetnames:
        return "en"
    value = wb[params["meta_sheet"]].cell(row=params["language_row"], column=2).value
    return "es" if value == "es" else "en"


def _valid_ref(ref: str) -> bool:
    from openpyxl.utils.cell import coordinate_from_string

    try:
        column, row = coordinate_from_string(ref)
    except ValueError:
        return False
    return bool(column) and 1 <= int(row) <= 1_048_576


def _mark_cells(wb: Any, params: dict[str, Any], lang: str) -> None:
    from openpyxl.cell.cell import MergedCell
    from openpyxl.comments import Comment
    from openpyxl.styles import PatternFill

    fill = PatternFill("solid", fgColor=params["fill"])
    author = str(params["author"])
    messages: dict[tuple[str, str], list[str]] = {}
    for p in params["problems"]:
        sheet, ref = p.get("sheet"), p.get("cell")
        if not sheet or not ref or sheet not in wb.sheetnames or not _valid_ref(ref):
            continue
        messages.setdefault((sheet, ref.upper()), []).append(str(p[lang]))
    for (sheet, ref), texts in messages.items():
        cell = wb[sheet][ref]
        if isinstance(cell, MergedCell):
            continue
        text = "\n".join(texts)
        previous = cell.comment
        if previous is not None and previous.author != author:
            text = f"{text}\n\n{previous.text}"
        lines = sum(1 + len(line) // 45 for line in text.split("\n"))
        cell.comment = Comment(text, author, height=min(40 + 15 * lines, 600), width=320)
        cell.fill = fill


def _problems_sheet(wb: Any, params: dict[str, Any], lang: str) -> None:
    from openpyxl.styles import Alignment, Font

    for name in params["problems_sheet"].values():
        if name in wb.sheetnames:
            wb.remove(wb[name])
    ws = wb.create_sheet(params["problems_sheet"][lang], 0)
    for column, (text, width) in enumerate(
        zip(params["headers"][lang], params["widths"], strict=True), start=1
    ):
        cell = ws.cell(row=1, column=column)
        set_text(cell, text)
        cell.font = Font(bold=True)
        ws.column_dimensions[cell.column_letter].width = width
    wrap = Alignment(wrap_text=True, vertical="top")
    widths = params["widths"]
    for row, p in enumerate(params["problems"], start=2):
        values = (p.get("sheet"), p.get("cell"), p.get("item"), p["code"], p[lang])
        lines = 1
        for column, value in enumerate(values, start=1):
            cell = ws.cell(row=row, column=column)
            text = str(value or "")
            set_text(cell, text)
            cell.alignment = wrap
            # wrapped lines at ~0.9 of the width (words do not fill a line), never fewer than 1
            lines = max(lines, -(-len(text) // max(1, int(widths[column - 1] * 0.9))))
        ws.row_dimensions[row].height = 15.0 * lines + 2  # LibreOffice does not grow rows itself
    ws.freeze_panes = "A2"
    # one landscape page wide, as many tall as needed, the header on every page
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_margins.left = ws.page_margins.right = 0.5
    ws.page_margins.top = ws.page_margins.bottom = 0.6
    ws.print_title_rows = "1:1"
    for sheet in wb.worksheets:
        sheet.sheet_view.tabSelected = False
    ws.sheet_view.tabSelected = True
    wb.active = 0


# --- process entry point -------------------------------------------------------------------------

TASKS: Final[dict[str, Callable[[bytes, str], bytes]]] = {
    "extract": extract,
    "read": read,
    "annotate": annotate,
}


def run_guarded(task: str, data: bytes, arg: str) -> bytes:
    """Status byte + result; never raises for a task failure."""
    try:
        return STATUS_OK + TASKS[task](data, arg)
    except MemoryError:
        return STATUS_MEMORY
    except Exception as exc:
        return STATUS_ERROR + f"{type(exc).__name__}: {exc}"[:1000].encode("utf-8", "replace")


def _set_limits(memory_bytes: int, cpu_seconds: int, cpu_hard: int | None = None) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # SIGXCPU would otherwise dump core
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    hard = cpu_seconds + 1 if cpu_hard is None else cpu_hard
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, hard))
    # openpyxl spools worksheets to temporary files when saving (annotate); nothing bigger
    resource.setrlimit(resource.RLIMIT_FSIZE, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))  # nor starts processes


def main() -> None:  # pragma: no cover - runs in the child process
    if sys.argv[1] == SERVE:
        serve(int(sys.argv[2]), int(sys.argv[3]))
        return
    task, memory_bytes, cpu_seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    import openpyxl  # noqa: F401 - import before the memory cap, so the cap is about the file

    if task == "read":
        _wire()
    _set_limits(memory_bytes, cpu_seconds)
    stdin = sys.stdin.buffer
    size = int.from_bytes(stdin.read(8), "big")
    arg = stdin.read(size).decode("utf-8")
    data = stdin.read()
    result = run_guarded(task, data, arg)
    sys.stdout.buffer.write(result)
    sys.stdout.buffer.flush()


# --- long-lived worker ---------------------------------------------------------------------------


def frame(payload: bytes) -> bytes:
    return len(payload).to_bytes(FRAME_HEADER, "big") + payload


def _read_exactly(source: Any, size: int) -> bytes | None:
    """``size`` bytes from a raw file; None at end of input before the first byte."""
    buffer = bytearray(size)
    view = memoryview(buffer)
    done = 0
    while done < size:
        n = source.readinto(view[done:])
        if not n:
            if done == 0:
                return None
            raise EOFError(f"input ended after {done} of {size} bytes")
        done += n
    view.release()
    return bytes(buffer)


def _read_frame(source: Any, limit: int, too_big: type[Exception] = ValueError) -> bytes | None:
    header = _read_exactly(source, FRAME_HEADER)
    if header is None:
        return None
    size = int.from_bytes(header, "big")
    if size > limit:
        raise too_big(f"frame of {size} bytes, limit {limit}")
    if size == 0:
        return b""
    payload = _read_exactly(source, size)
    if payload is None:
        raise EOFError("input ended inside a frame")
    return payload


def _statistics() -> bytes:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    stats: dict[str, float] = {"cpu": usage.ru_utime + usage.ru_stime, "vm": 0, "rss": 0}
    # ru_maxrss would include the parent's size at fork time: read this image's own peak
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith((b"VmSize:", b"VmHWM:")):  # in kB
                    key = "vm" if line.startswith(b"VmSize:") else "rss"
                    stats[key] = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):  # not Linux: the parent recycles by count only
        pass
    return json.dumps(stats).encode()


def _cpu_budget(seconds: int, cpu_hard: int) -> None:
    """Allow ``seconds`` of processor time from now on (RLIMIT_CPU counts the whole life)."""
    import math
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = min(cpu_hard, math.ceil(usage.ru_utime + usage.ru_stime) + max(1, seconds))
    resource.setrlimit(resource.RLIMIT_CPU, (soft, cpu_hard))


_PRELOAD: Final = (
    "openpyxl",
    "openpyxl.cell.cell",
    "openpyxl.comments",
    "openpyxl.styles",
    "openpyxl.utils",
    "openpyxl.utils.cell",
    "math",
    "resource",
    "xml.parsers.expat",
    "openpyxl.styles.numbers",
    "openpyxl.utils.datetime",
)


def serve(memory_bytes: int, cpu_hard: int) -> None:  # pragma: no cover - runs in the child
    """Answer requests on stdin one at a time until stdin closes."""
    import importlib
    import signal

    for module in _PRELOAD:  # everything a task imports, before the memory cap
        importlib.import_module(module)
    _fast_reader()  # not ``_wire()``: see there

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent, which stops us
    # the frames travel on private descriptors; fd 0 reads nothing and fd 1 writes to stderr, so
    # whatever a library might print cannot corrupt them
    source = os.fdopen(os.dup(0), "rb", buffering=0)
    sink = os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    out_of_memory = frame(b"{}") + frame(STATUS_MEMORY)
    _set_limits(memory_bytes, cpu_hard, cpu_hard)  # each request then gets its own budget

    def send(data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(sink, view) :]

    try:
        while True:
            header = _read_frame(source, MAX_REQUEST_HEADER)
            if header is None:
                return  # the parent closed our stdin: done
            request = json.loads(header)
            data = _read_frame(source, memory_bytes, too_big=MemoryError)
            if data is None:
                raise EOFError("request without a workbook")
            _cpu_budget(int(request["cpu"]), cpu_hard)
            result = run_guarded(str(request["task"]), data, str(request["arg"]))
            del data
            send(frame(_statistics()) + frame(result))
            if result == STATUS_MEMORY:
                return  # the heap may be in a bad state: the parent starts a fresh worker
            del result
    except MemoryError:
        try:
            send(out_of_memory)
        finally:
            os._exit(EXIT_MEMORY)


if __name__ == "__main__":  # pragma: no cover
    main()
