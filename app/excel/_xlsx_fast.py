"""A fast reader of the cells ``_worker.extract`` needs, for the workbooks this service writes.

It reads the workbook's parts with the standard library's expat (the parser openpyxl uses under
defusedxml), streaming each part out of the zip, and builds the same cells openpyxl's read-only
reader gives: the same numbers, shared strings, booleans, error values and dates (openpyxl's own
date-format test and serial conversion). It takes no decision of its own: whenever a workbook has
anything it does not handle exactly like openpyxl (a formula, an inline string, a DTD, a chart
sheet, rows or cells out of order or without their reference, a bound reached, any exception),
it raises ``Unusual`` and the caller reads the workbook with openpyxl, the reference, which then
gives the verdict. So a refusal always comes from openpyxl, and a result from here equals
openpyxl's (``tests/excel/test_fast_reader.py`` compares both on every workbook the tests read).

Like ``_worker`` it imports only the standard library and openpyxl (it runs in the parser process).
"""

from __future__ import annotations

import posixpath
import zipfile
from collections.abc import Callable
from io import BytesIO
from typing import Any, Final
from xml.parsers import expat

from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format, is_timedelta_format
from openpyxl.utils.cell import coordinate_to_tuple, range_boundaries
from openpyxl.utils.datetime import WINDOWS_EPOCH, from_excel

MAIN: Final = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELATIONSHIPS: Final = "http://schemas.openxmlformats.org/package/2006/relationships"
CONTENT_TYPES: Final = "http://schemas.openxmlformats.org/package/2006/content-types"
DOCUMENT_RELATIONSHIPS: Final = (
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
)
WORKBOOK_TYPE: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
STRINGS_TYPE: Final = (
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
)
WORKSHEET_RELATIONSHIP: Final = DOCUMENT_RELATIONSHIPS + "/worksheet"
CHUNK: Final = 64 * 1024
# parts openpyxl parses when it opens a workbook and this reader does not interpret: they must at
# least be well-formed XML without a DTD, or openpyxl's verdict is needed
_CHECKED: Final = ("_rels/.rels", "docProps/core.xml", "docProps/custom.xml")

Cell = list[Any]


class Unusual(Exception):
    """The workbook needs the reference reader (openpyxl)."""


def _refuse(*_: object) -> Any:
    raise Unusual("DTD or entity declaration")


def _parse(
    archive: zipfile.ZipFile, name: str, start: Any, end: Any = None, text: Any = None
) -> None:
    """Stream one part through expat with namespaces as ``"uri name"``; a DTD is ``Unusual``."""
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.StartDoctypeDeclHandler = _refuse
    parser.EntityDeclHandler = _refuse
    parser.ExternalEntityRefHandler = _refuse
    parser.buffer_text = True
    parser.ordered_attributes = False
    if start is not None:
        parser.StartElementHandler = start
    if end is not None:
        parser.EndElementHandler = end
    if text is not None:
        parser.CharacterDataHandler = text
    with archive.open(name) as source:
        while chunk := source.read(CHUNK):
            parser.Parse(chunk, False)
    parser.Parse(b"", True)


class _Workbook:
    def __init__(self, data: bytes) -> None:
        self.archive = zipfile.ZipFile(BytesIO(data))
        self.files = set(self.archive.namelist())
        overrides: dict[str, str] = {}

        def content_type(name: str, attrs: dict[str, str]) -> None:
            if name == f"{CONTENT_TYPES} Override":
                overrides[attrs["PartName"]] = attrs["ContentType"]

        _parse(self.archive, "[Content_Types].xml", content_type)
        workbooks = [p for p, t in overrides.items() if t.endswith(".main+xml")]
        if workbooks != ["/xl/workbook.xml"] or overrides[workbooks[0]] != WORKBOOK_TYPE:
            raise Unusual("workbook part")
        strings = [p for p, t in overrides.items() if t == STRINGS_TYPE]
        if len(strings) > 1 or any(not p.startswith("/") for p in strings):
            raise Unusual("shared strings part")
        self.strings = self._strings(strings[0][1:]) if strings else []
        self.names, self.paths, self.epoch = self._sheets()
        self.dates, self.timedeltas = self._styles()
        for name in _CHECKED:
            if name in self.files:
                _parse(self.archive, name, None)

    def _sheets(self) -> tuple[list[str], dict[str, str], Any]:
        sheets: list[tuple[str, str]] = []

        def start(name: str, attrs: dict[str, str]) -> None:
            if name == f"{MAIN} sheet":
                rid = attrs.get(f"{DOCUMENT_RELATIONSHIPS} id")
                if not rid or "name" not in attrs:
                    raise Unusual("sheet without id")
                sheets.append((attrs["name"], rid))
            elif name == f"{MAIN} workbookPr" and "date1904" in attrs:
                raise Unusual("date1904")
            elif name == f"{MAIN} chartsheet":  # pragma: no cover - not in workbook.xml
                raise Unusual("chart sheet")

        _parse(self.archive, "xl/workbook.xml", start)
        targets: dict[str, tuple[str, str]] = {}

        def relationship(name: str, attrs: dict[str, str]) -> None:
            if name == f"{RELATIONSHIPS} Relationship":
                if attrs.get("TargetMode") == "External":
                    return
                target = attrs["Target"]
                if target.startswith("/"):
                    target = target[1:]
                else:  # as openpyxl's get_dependents resolves it
                    target = posixpath.normpath(posixpath.join("xl", target))
                targets[attrs["Id"]] = (attrs["Type"], target)

        _parse(self.archive, "xl/_rels/workbook.xml.rels", relationship)
        paths: dict[str, str] = {}
        names: list[str] = []
        for name, rid in sheets:
            kind, target = targets[rid]
            if kind != WORKSHEET_RELATIONSHIP or target not in self.files or name in paths:
                raise Unusual("sheet relationship")
            names.append(name)
            paths[name] = target
        return names, paths, WINDOWS_EPOCH

    def _strings(self, path: str) -> list[str]:
        strings: list[str] = []
        parts: list[str] = []
        state = {"depth": 0, "text": False, "plain": 0}
        si, t, r = f"{MAIN} si", f"{MAIN} t", f"{MAIN} r"
        allowed_in_si = {t, r, f"{MAIN} rPh", f"{MAIN} phoneticPr"}
        stack: list[str] = []

        def start(name: str, attrs: dict[str, str]) -> None:
            parent = stack[-1] if stack else ""
            stack.append(name)
            if name == si:
                parts.clear()
                state["plain"] = 0
            elif parent == si:
                if name not in allowed_in_si:
                    raise Unusual("shared string part")
                if name == t:
                    state["plain"] += 1
                    if state["plain"] > 1:
                        raise Unusual("two plain texts")
                    state["text"] = True
            elif parent == r and name == t:
                state["text"] = True
            elif name == t or parent == t:
                raise Unusual("text elsewhere")

        def end(name: str) -> None:
            stack.pop()
            if name == t:
                state["text"] = False
            elif name == si:
                strings.append("".join(parts).replace("x005F_", ""))

        def text(data: str) -> None:
            if state["text"]:
                parts.append(data)

        _parse(self.archive, path, start, end, text)
        return strings

    def _styles(self) -> tuple[set[int], set[int]]:
        if "xl/styles.xml" not in self.files:
            raise Unusual("no styles")
        custom: dict[int, str] = {}
        formats: list[int] = []
        where: list[str] = []

        def start(name: str, attrs: dict[str, str]) -> None:
            where.append(name)
            if name == f"{MAIN} numFmt":
                custom[int(attrs["numFmtId"])] = attrs["formatCode"]
            elif name == f"{MAIN} xf" and len(where) > 1 and where[-2] == f"{MAIN} cellXfs":
                formats.append(int(attrs.get("numFmtId", 0)))

        _parse(self.archive, "xl/styles.xml", start, lambda _: where.pop())
        dates: set[int] = set()
        timedeltas: set[int] = set()
        for index, number_format in enumerate(formats):  # openpyxl's Stylesheet._normalise_numbers
            code = custom.get(number_format)
            if code is None:
                code = BUILTIN_FORMATS.get(number_format)
            if is_date_format(code):
                dates.add(index)
            if is_timedelta_format(code):
                timedeltas.add(index)
        return dates, timedeltas


def _cast_number(value: str) -> int | float:
    if "." in value or "E" in value or "e" in value:
        return float(value)
    return int(value)


class _SheetReader:
    """A sheet's non-empty cells as ``[row, column, value, kind]``, as ``_worker._Reader.sheet``
    gives them from openpyxl; ``Unusual`` for anything else, a bound reached included."""

    def __init__(self, book: _Workbook, params: dict[str, Any], budget: list[int]) -> None:
        self.book = book
        self.max_rows = int(params["max_rows"])
        self.max_columns = int(params["max_columns"])
        self.budget = budget  # characters of text left, all sheets together

    def cells(self, name: str) -> list[Cell]:
        book, max_rows, max_columns = self.book, self.max_rows, self.max_columns
        strings, dates, timedeltas, epoch = book.strings, book.dates, book.timedeltas, book.epoch
        budget = self.budget
        out: list[Cell] = []
        row_tag, cell_tag, value_tag = f"{MAIN} row", f"{MAIN} c", f"{MAIN} v"
        inline_tag, text_tag, run_tag = f"{MAIN} is", f"{MAIN} t", f"{MAIN} r"
        phonetic_tag, phonetic_properties_tag = f"{MAIN} rPh", f"{MAIN} phoneticPr"
        data_tag, dimension_tag = f"{MAIN} sheetData", f"{MAIN} dimension"
        state: dict[str, Any] = {
            "row": 0,
            "column": 0,
            "cell": None,
            "in_data": False,
            "value": False,
            "inline": False,
            "text": False,
        }
        depth = [0]
        text: list[str] = []

        def start(tag: str, attrs: dict[str, str]) -> None:
            depth[0] += 1
            if tag == cell_tag:
                if state["cell"] is not None or depth[0] != 4:
                    raise Unusual("cell out of place")
                row, column = coordinate_to_tuple(attrs["r"])
                if row != state["row"] or column <= state["column"]:
                    raise Unusual("cell out of order")
                state["column"] = column
                state["cell"] = (row, column, attrs.get("t", "n"), attrs.get("s"))
                text.clear()
                state["value"] = state["inline"] = state["text"] = False
            elif tag == value_tag:
                if state["cell"] is None or depth[0] != 5 or state["value"] or state["inline"]:
                    raise Unusual("value out of place")
                state["value"] = True
            elif tag == inline_tag:
                if state["cell"] is None or depth[0] != 5 or state["inline"] or state["value"]:
                    raise Unusual("inline string out of place")
                state["inline"], state["plain"] = True, 0
            elif state["inline"]:  # inside <is>: openpyxl's Text.from_tree(...).content
                if depth[0] == 6 and tag == text_tag:
                    state["plain"] += 1
                    if state["plain"] > 1:
                        raise Unusual("two plain texts")
                    state["text"] = True
                elif depth[0] == 6 and tag in (run_tag, phonetic_tag, phonetic_properties_tag):
                    state["parent"] = tag
                elif depth[0] == 7 and tag == text_tag and state["parent"] == run_tag:
                    state["text"] = True
                elif tag == text_tag or state["text"]:
                    raise Unusual("text out of place")
            elif tag == row_tag:
                if not state["in_data"] or depth[0] != 3:
                    raise Unusual("row out of place")
                row = int(attrs["r"])
                if row <= state["row"] or row > max_rows:
                    raise Unusual("row out of order or beyond the bound")
                state["row"], state["column"] = row, 0
            elif tag == data_tag:
                state["in_data"] = True
            elif state["in_data"]:
                raise Unusual(f"unexpected element {tag}")  # a formula, an inline string...
            elif tag == dimension_tag and not out:
                _, _, columns, rows = range_boundaries(attrs["ref"])
                if isinstance(rows, int) and rows > max_rows:
                    raise Unusual("dimension beyond the rows")
                if isinstance(columns, int) and columns > max_columns:
                    raise Unusual("dimension beyond the columns")

        def end(tag: str) -> None:
            depth[0] -= 1
            if tag == cell_tag:
                row, column, kind, style = state["cell"]
                inline, state["cell"], state["inline"] = state["inline"], None, False
                if column > max_columns:
                    return  # openpyxl's iter_rows(max_col=...) leaves it out
                value: Any
                if kind == "inlineStr":
                    if not inline:
                        return
                    value = "".join(text)  # may be "": openpyxl keeps an empty inline string
                    budget[0] -= len(value)
                    if budget[0] < 0:
                        raise Unusual("text bound")
                    out.append([row, column, value, "v"])
                    return
                if inline:
                    raise Unusual("inline string in a cell of another type")
                raw = "".join(text) if state["value"] else None
                if not raw:
                    return
                if kind == "n":
                    value = _cast_number(raw)
                    if style and int(style) in dates:
                        try:
                            value = from_excel(value, epoch, timedelta=int(style) in timedeltas)
                        except (OverflowError, ValueError):  # past 9999-12-31: openpyxl's #VALUE!
                            raise Unusual("a date serial out of range") from None
                elif kind == "s":
                    value = strings[int(raw)]
                elif kind == "b":
                    value = bool(int(raw))
                elif kind in ("str", "e"):
                    value = raw
                else:
                    raise Unusual(f"cell type {kind}")
                if isinstance(value, str):
                    budget[0] -= len(value)
                    if budget[0] < 0:
                        raise Unusual("text bound")
                out.append([row, column, _plain(value), "e" if kind == "e" else "v"])
            elif tag == data_tag:
                state["in_data"] = False
            elif tag == text_tag:
                state["text"] = False
            elif tag in (run_tag, phonetic_tag, phonetic_properties_tag) and depth[0] == 5:
                state["parent"] = None

        def characters(data: str) -> None:
            if state["cell"] is not None and (state["value"] or state["text"]):
                text.append(data)

        _parse(book.archive, book.paths[name], start, end, characters)
        return out


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return _JSON[type(value).__name__](value)


_JSON: Final[dict[str, Callable[[Any], Any]]] = {
    "datetime": lambda v: {"datetime": v.isoformat()},
    "date": lambda v: {"date": v.isoformat()},
    "time": lambda v: {"time": v.isoformat()},
    "timedelta": lambda v: {"timedelta": v.total_seconds()},
}


def sheets_named_in(meta: list[Cell], params: dict[str, Any]) -> set[str]:
    """The sheets the meta sheet's cells (row, column, value, format) name: the cover's sheet
    and each sheet of its table. Only those are read (openpyxl's reader uses this too)."""
    wanted: set[str] = set()
    for row, column, value, _ in meta:
        if not isinstance(value, str):
            continue
        if (row, column) == (params["cover_row"], params["value_column"]):
            wanted.add(value)
        if column == params["table_column"] and row > params["table_header_row"]:
            wanted.add(value)
    return wanted


def extract(data: bytes, params: dict[str, Any]) -> dict[str, Any]:
    """``_worker._extract``'s result for a template workbook; ``Unusual`` when openpyxl must
    read it."""
    book = _Workbook(data)
    try:
        names = book.names
        meta_sheet = str(params["meta_sheet"])
        if len(names) > int(params["max_sheets"]) or meta_sheet not in names:
            raise Unusual("sheets")
        reader = _SheetReader(book, params, [int(params["max_text"])])
        meta = reader.cells(meta_sheet)
        wanted = sheets_named_in(meta, params)
        sheets = {meta_sheet: meta}
        every = bool(params.get("all_sheets"))
        for name in names:
            if name == meta_sheet:
                continue
            if every or name in wanted:
                sheets[name] = reader.cells(name)
            else:  # openpyxl reads the start of every sheet when it opens the workbook
                _parse(book.archive, book.paths[name], None)
        return {"sheetnames": names, "sheets": sheets}
    finally:
        book.archive.close()
