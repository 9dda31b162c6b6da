"""Importing field submissions: KoboToolbox / ODK Central exports of a form made by our XLSForm.

Each row is one submission and becomes one assessment through the SAME use case as a workbook
(``imports.import_filled``): organizations matched the same way, created/updated/revised the same
way, scored the same way, each row all-or-nothing in its own transaction. Idempotency comes from
the submission id (``meta/instanceID``, ``_uuid``): it is hashed into the assessment's source
hash, so importing the same export twice answers "unchanged" for every row.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

from sqlalchemy.orm import Session

from app.catalog import Catalog, InstrumentFile
from app.domain.answers import AnswersInvalid, RawAnswer, parse_answers
from app.excel import Cover, FilledItem, FilledWorkbook, Limits, ProblemCode, TemplateMeta
from app.excel import xlsform as xf
from app.excel.layout import COVER_SHEET
from app.excel.problems import Problem
from app.excel.submissions import (
    SUBMISSION_ID,
    ExportRejected,
    Field,
    FormFields,
    SubmissionTable,
    as_date,
    as_text,
    placing_columns,
    read_table,
)
from app.services.imports import Upload, UploadRejected, WorkbookResult, import_filled
from app.services.keys import Principal
from app.services.metrics import IMPORTS

SOURCE = "xlsform"
# Where a problem the workbook path locates on its cover sits in a submission row.
_COVER_CODES = {
    ProblemCode.ambiguous_organization: xf.FIELD_ORG_EXTERNAL_ID,
    ProblemCode.unknown_organization: xf.FIELD_ORG_NAME,
    ProblemCode.future_date: xf.FIELD_DATE,
}


def submission_hash(submission_id: str) -> str:
    """The source hash of a submission: the same id (Kobo's ``_uuid`` or the instanceID with its
    ``uuid:`` prefix) always gives the same hash."""
    bare = submission_id.strip().removeprefix("uuid:")
    return hashlib.sha256(f"xlsform-submission:{bare}".encode()).hexdigest()


class _Row:
    """One submission row being checked; collects every problem with its cell."""

    def __init__(self, table: SubmissionTable, index: int) -> None:
        self.table = table
        self.index = index
        self.problems: list[Problem] = []

    def value(self, column: int | None) -> object:
        return None if column is None else self.table.rows[self.index][column]

    def cell(self, column: int | None) -> str | None:
        return None if column is None else self.table.cell(column, self.index)

    def add(
        self, code: ProblemCode, en: str, es: str, column: int | None, item: str | None = None
    ) -> None:
        header = f" ({self.table.header[column]})" if column is not None else ""
        self.problems.append(
            Problem(code, en + header, es + header, self.table.sheet, self.cell(column), item)
        )


def _instrument(row: _Row, catalog: Catalog, placing: dict[str, int]) -> InstrumentFile | None:
    iid = as_text(row.value(placing.get(xf.FIELD_INSTRUMENT)))
    version = as_text(row.value(placing.get(xf.FIELD_VERSION)))
    f = catalog.get(iid or "", version or "")
    if f is None:
        row.add(
            ProblemCode.unknown_instrument,
            f"unknown instrument version '{iid} {version}'",
            f"versión de instrumento desconocida '{iid} {version}'",
            placing.get(xf.FIELD_VERSION),
        )
        return None
    given = as_text(row.value(placing.get(xf.FIELD_HASH)))
    if given is not None and given != f.content_hash:
        row.add(
            ProblemCode.metadata_tampered,
            f"the form's content hash does not match {iid} {version}; export the form again",
            f"el hash de contenido del formulario no coincide con {iid} {version}; vuelva a "
            "exportar el formulario",
            placing.get(xf.FIELD_HASH),
        )
    return f


def _cover(row: _Row, columns: dict[Field, int]) -> Cover:
    def column(name: str) -> int | None:
        return columns.get(("meta", name))

    def text(name: str) -> str | None:
        return as_text(row.value(column(name)))

    for name, en, es in (
        (
            xf.FIELD_ORG_NAME,
            "the organization name is missing",
            "falta el nombre de la organización",
        ),
        (xf.FIELD_ROUND, "the round is missing", "falta la ronda"),
    ):
        if text(name) is None and not (
            name == xf.FIELD_ORG_NAME and text(xf.FIELD_ORG_EXTERNAL_ID)
        ):
            row.add(ProblemCode.missing_cover_value, en, es, column(name))
    try:
        assessed_on = as_date(row.value(column(xf.FIELD_DATE)))
    except ValueError as exc:
        assessed_on = None
        row.add(
            ProblemCode.invalid_date,
            f"'{exc}' is not a date (YYYY-MM-DD)",
            f"'{exc}' no es una fecha (AAAA-MM-DD)",
            column(xf.FIELD_DATE),
        )
    return Cover(
        organization_name=text(xf.FIELD_ORG_NAME),
        organization_external_id=text(xf.FIELD_ORG_EXTERNAL_ID),
        round=text(xf.FIELD_ROUND),
        assessed_on=assessed_on,
        assessor=None,
    )


def _filled(
    row: _Row, f: InstrumentFile, fields: FormFields, submission_id: str
) -> FilledWorkbook | None:
    """The submission as the workbook path's input, or None (problems on ``row``)."""
    columns = fields.columns(row.table)
    cover = _cover(row, columns)
    items: list[FilledItem] = []
    for key in f.instrument.items:
        answer_col = columns.get(("item", key))
        note_col = columns.get(("note", key))
        items.append(
            FilledItem(
                item=key,
                sheet=row.table.sheet,
                answer_cell=row.cell(answer_col) or "",
                note_cell=row.cell(note_col) or "",
                raw=fields.choice_value(as_text(row.value(answer_col))),
                note=as_text(row.value(note_col)),
                value=None,
            )
        )
    try:
        parsed = parse_answers(f.instrument, [RawAnswer(i.item, i.raw, i.note) for i in items])
    except AnswersInvalid as exc:
        for p in exc.problems:
            code = (
                ProblemCode(p.code)
                if p.code in ProblemCode.__members__
                else ProblemCode.not_on_scale
            )
            row.add(code, p.en, p.es, columns.get(("item", p.item)), p.item)
        return None
    if row.problems:
        return None
    meta = TemplateMeta(f.instrument.id, f.instrument.version, f.content_hash, 0, "en")
    return FilledWorkbook(
        meta, f.instrument, cover, tuple(items), parsed, submission_hash(submission_id), SOURCE
    )


def import_submissions(
    session: Session,
    principal: Principal,
    catalog: Catalog,
    upload: Upload,
    *,
    dry_run: bool = False,
    create_organizations: bool = False,
    limits: Limits,
) -> list[WorkbookResult]:
    """One result per submission row; each row is imported (or rejected) on its own."""
    try:
        table = read_table(upload.name, upload.data, limits)
    except ExportRejected as exc:
        raise UploadRejected(exc.problem) from None
    placing = placing_columns(table)
    if xf.FIELD_INSTRUMENT not in placing or xf.FIELD_VERSION not in placing:
        raise UploadRejected(
            Problem(
                ProblemCode.not_a_template,
                "this is not an export of a form made by this service's XLSForm (no "
                f"'{xf.FIELD_INSTRUMENT}' and '{xf.FIELD_VERSION}' columns)",
                "no es una exportación de un formulario hecho con el XLSForm de este servicio "
                f"(faltan las columnas '{xf.FIELD_INSTRUMENT}' y '{xf.FIELD_VERSION}')",
            )
        )
    forms: dict[str, FormFields] = {}
    results: list[WorkbookResult] = []
    for index in range(len(table.rows)):
        row = _Row(table, index)
        result = WorkbookResult(
            file=f"{upload.name}#row{index + 2}", status="rejected", dry_run=dry_run
        )
        results.append(result)
        submission_id = as_text(row.value(placing.get(SUBMISSION_ID)))
        if submission_id is None:
            row.add(
                ProblemCode.missing_cover_value,
                "the submission has no id (meta/instanceID, _uuid or KEY column)",
                "el envío no tiene identificador (columna meta/instanceID, _uuid o KEY)",
                placing.get(SUBMISSION_ID),
            )
        f = _instrument(row, catalog, placing)
        wb = None
        if f is not None and submission_id is not None:
            key = f"{f.instrument.id} {f.instrument.version}"
            fields = forms.setdefault(key, FormFields(f.instrument))
            wb = _filled(row, f, fields, submission_id)
            result.instrument_id, result.instrument_version = f.instrument.id, f.instrument.version
        if wb is None:
            result.problems = row.problems
        else:
            import_filled(
                session, principal, catalog, wb, result,
                dry_run=dry_run, create_organizations=create_organizations,
            )  # fmt: skip
            result.problems = [_locate(p, row, fields) for p in result.problems]
        IMPORTS.labels(result.status, "true" if dry_run else "false").inc()
    return results


def _locate(p: Problem, row: _Row, fields: FormFields) -> Problem:
    """A problem the workbook path puts on its cover sheet, moved to the submission's cell."""
    if p.sheet not in COVER_SHEET.values():
        return p
    name = _COVER_CODES.get(p.code, xf.FIELD_ORG_NAME)
    column = fields.columns(row.table).get(("meta", name))
    return replace(p, sheet=row.table.sheet, cell=row.cell(column))
