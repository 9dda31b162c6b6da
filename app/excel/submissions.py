"""Reading the data exports of KoboToolbox and ODK Central for a form made by ``xlsform``.

Both tools export one row per submission and one column per question, each with its own header
conventions: Kobo writes ``group/sub/name`` (or the bare ``name``, or the labels when asked), adds
``_uuid`` and ``_submission_time``, and separates CSV fields with ``;`` by default; ODK Central
writes ``group-sub-name``, ``meta-instanceID`` and ``KEY``. Values are choice names, or choice
labels when the export was made "with labels". This module turns such a table into columns that
name our fields; the import service does the rest, through the same use case as workbooks.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Literal

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from app.domain.instrument import Instrument, Text
from app.excel import xlsform as xf
from app.excel.problems import Problem, ProblemCode
from app.excel.safety import Limits, check_upload

Kind = Literal["meta", "item", "note"]
Field = tuple[Kind, str]
SUBMISSION_ID = "submission_id"
# Headers that carry a submission's id, best first (Central's KEY equals meta-instanceID).
ID_HEADERS = ("meta/instanceID", "meta-instanceID", "instanceID", "_uuid", "KEY")
MAX_ROWS = 2_000


@dataclass(frozen=True)
class SubmissionTable:
    """The export's first sheet: ``rows[i]`` is spreadsheet row ``i + 2`` (the header is row 1)."""

    sheet: str
    header: tuple[str, ...]
    rows: tuple[tuple[object, ...], ...]

    def cell(self, column: int, row_index: int) -> str:
        return f"{get_column_letter(column + 1)}{row_index + 2}"


class ExportRejected(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.en)
        self.problem = problem


def _reject(en: str, es: str, code: ProblemCode = ProblemCode.not_a_template) -> ExportRejected:
    return ExportRejected(Problem(code, en, es))


def read_table(name: str, data: bytes, limits: Limits) -> SubmissionTable:
    """A CSV (comma or semicolon) or XLSX export as a header and rows of values."""
    if data[:4] == b"PK\x03\x04":
        return _read_xlsx(name, data, limits)
    if len(data) > limits.max_bytes:
        raise _reject(
            f"{name} is larger than {limits.max_bytes} bytes",
            f"{name} pesa más de {limits.max_bytes} bytes",
            ProblemCode.too_big,
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    rows: list[list[object]] = [
        list(r) for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    ]
    return _table(name, rows)


def _read_xlsx(name: str, data: bytes, limits: Limits) -> SubmissionTable:
    from app.excel.problems import WorkbookRejected

    try:  # an export has a column per question: the template's column bound does not apply
        check_upload(data, replace(limits, max_columns=10_000))
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except WorkbookRejected as exc:
        raise ExportRejected(exc.problems[0]) from None
    except Exception:
        raise _reject(
            f"{name} cannot be read as a workbook", f"{name} no se puede leer como libro"
        ) from None
    sheet = book.worksheets[0]
    rows = [list(r) for r in sheet.iter_rows(values_only=True, max_row=MAX_ROWS + 2)]
    book.close()
    return _table(sheet.title, rows)


def _table(sheet: str, rows: list[list[object]]) -> SubmissionTable:
    rows = [r for r in rows if any(v not in (None, "") for v in r)]
    if not rows:
        raise _reject(
            "the export is empty", "la exportación está vacía", ProblemCode.empty_workbook
        )
    if len(rows) - 1 > MAX_ROWS:
        raise _reject(
            f"at most {MAX_ROWS} submissions per file",
            f"como máximo {MAX_ROWS} envíos por archivo",
            ProblemCode.too_many_rows,
        )
    header = tuple("" if v is None else str(v).strip() for v in rows[0])
    width = len(header)
    body = tuple(tuple((list(r) + [None] * width)[:width]) for r in rows[1:])
    return SubmissionTable(sheet, header, body)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.strip().casefold())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


def placing_columns(table: SubmissionTable) -> dict[str, int]:
    """Columns of the hidden fields and the submission id (the same in every version's form)."""
    wanted = {xf.FIELD_INSTRUMENT, xf.FIELD_VERSION, xf.FIELD_HASH}
    out: dict[str, int] = {}
    for index, h in enumerate(table.header):
        last = h.replace("-", "/").rsplit("/", 1)[-1]
        if last in wanted and last not in out:
            out[last] = index
    for h in ID_HEADERS:
        if h in table.header and SUBMISSION_ID not in out:
            out[SUBMISSION_ID] = table.header.index(h)
    return out


class FormFields:
    """Which column of an export holds which field of one instrument version's form."""

    def __init__(self, instrument: Instrument) -> None:
        self.instrument = instrument
        self.names: dict[str, Field] = {}
        self.paths: dict[str, Field] = {}
        about = [
            (xf.FIELD_ORG_NAME, Text(en="Organization name", es="Nombre de la organización")),
            (xf.FIELD_ORG_EXTERNAL_ID, None),
            (xf.FIELD_ROUND, Text(en="Round", es="Ronda")),
            (xf.FIELD_DATE, Text(en="Assessment date", es="Fecha de la evaluación")),
        ]
        for name, label in about:
            self._add(("meta", name), (xf.GROUP_ABOUT, name), label, None)
        for d in instrument.dimensions:
            for a in d.areas:
                groups = (xf.field_name(d.key), xf.field_name(a.key))
                titles = (d.title, a.title)
                for item in a.items:
                    name = xf.field_name(item.key)
                    self._add(("item", item.key), (*groups, name), item.text, titles)
                    self._add(("note", item.key), (*groups, name + xf.NOTE_SUFFIX), None, titles)
        self.choices = self._choice_labels()

    def _add(
        self,
        field: Field,
        path: tuple[str, ...],
        label: Text | None,
        titles: tuple[Text, Text] | None,
    ) -> None:
        self.names[path[-1]] = field
        self.paths["/".join(path)] = field
        self.paths["-".join(path)] = field
        if label is not None:
            for lang in ("en", "es"):
                self.paths[_fold(label.get(lang))] = field
                if titles:
                    full = "/".join(t.get(lang) for t in (*titles, label))
                    self.paths[_fold(full)] = field

    def _choice_labels(self) -> dict[str, str]:
        """Folded choice labels (both languages) to choice names, for exports "with labels"."""
        out: dict[str, str] = {}
        for _, name, *labels in xf.xlsform_rows(self.instrument, "")[1][1:]:
            for label in labels:
                if label and name:
                    out[_fold(label)] = name
        return out

    def field_of(self, header: str) -> Field | None:
        found = self.paths.get(header) or self.paths.get(_fold(header))
        if found:
            return found
        last = header.rsplit("/", 1)[-1]
        if last in self.names:  # Kobo with or without group names
            return self.names[last]
        # ODK Central joins groups with "-", which our names may contain: longest suffix wins
        best = max((n for n in self.names if header.endswith("-" + n)), key=len, default=None)
        return self.names[best] if best else None

    def columns(self, table: SubmissionTable) -> dict[Field, int]:
        out: dict[Field, int] = {}
        for index, h in enumerate(table.header):
            field = self.field_of(h) if h else None
            if field is not None and field not in out:
                out[field] = index
        return out

    def choice_value(self, value: object) -> object:
        """A choice label as its name ("2 — Emerging" → "2"); anything else unchanged."""
        if isinstance(value, str):
            return self.choices.get(_fold(value), value)
        return value


def as_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def as_date(value: object) -> date | None:
    """Dates as the tools write them: ISO text (maybe with a time) or an Excel date cell."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = as_text(value)
    if text is None:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise ValueError(text) from None
