"""Raw data for R, Stata or SPSS: one row per assessment and one column per item, as a streamed
(write-only) workbook or as CSV chunks."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from enum import StrEnum
from typing import Final

from openpyxl import Workbook

from app.domain.instrument import Instrument
from app.domain.scoring import NA, AnswerValue
from app.excel._export_write import (
    BOM,
    csv_chunk,
    csv_text,
    lines_height,
    number_text,
    page_setup,
    pages_wide,
    round2,
    stream_row,
    widths,
)
from app.excel.bulk_rows import date_style, rows_xml, save_with_rows
from app.excel.exports.assessment import ANSWER_HEADERS, COVER_HEADERS, AnswerColumn, CoverRow
from app.excel.exports.common import answer_number, headers_of
from app.excel.exports.inputs import RawRow
from app.excel.exports.words import SHEETS, Labels, pair
from app.excel.layout import ITEM_HEADERS, ItemColumn, check_language, item_text


class RawColumn(StrEnum):
    """The fixed columns of a raw export; one column per item key follows, in instrument order.
    The values are the CSV header; the xlsx header is in the export's language."""

    assessment_id = "assessment_id"
    organization_id = "organization_id"
    organization_name = "organization_name"
    external_id = "external_id"
    round = "round"
    assessed_on = "assessed_on"
    status = "status"
    instrument_version = "instrument_version"
    overall = "overall"


RAW_HEADERS: Final[dict[RawColumn, Labels]] = {
    RawColumn.assessment_id: COVER_HEADERS[CoverRow.assessment_id],
    RawColumn.organization_id: pair("Organization ID", "ID de la organización"),
    RawColumn.organization_name: COVER_HEADERS[CoverRow.organization],
    RawColumn.external_id: COVER_HEADERS[CoverRow.external_id],
    RawColumn.round: COVER_HEADERS[CoverRow.round],
    RawColumn.assessed_on: COVER_HEADERS[CoverRow.assessed_on],
    RawColumn.status: COVER_HEADERS[CoverRow.status],
    RawColumn.instrument_version: COVER_HEADERS[CoverRow.instrument_version],
    RawColumn.overall: pair("Overall score", "Puntaje global"),
}
RAW_NA: Final = "NA"


class ItemsColumn(StrEnum):
    key = "key"
    dimension = "dimension"
    area = "area"
    text = "text"


ITEMS_HEADERS: Final[dict[ItemsColumn, Labels]] = {
    ItemsColumn.key: ITEM_HEADERS[ItemColumn.key],
    ItemsColumn.dimension: ANSWER_HEADERS[AnswerColumn.dimension],
    ItemsColumn.area: ITEM_HEADERS[ItemColumn.area],
    ItemsColumn.text: ITEM_HEADERS[ItemColumn.item],
}


def _raw_answer(value: AnswerValue | None) -> float | str | None:
    return RAW_NA if value is NA else answer_number(value)


# widths of the raw export's fixed columns (UUIDs are 36 characters), then each item column
_RAW_WIDTHS: Final[dict[RawColumn, float]] = {
    RawColumn.assessment_id: 38,
    RawColumn.organization_id: 38,
    RawColumn.organization_name: 32,
    RawColumn.external_id: 16,
    RawColumn.round: 14,
    RawColumn.assessed_on: 13,
    RawColumn.status: 12,
    RawColumn.instrument_version: 14,
    RawColumn.overall: 12,
}
_ITEMS_WIDTHS: Final = (34, 30, 30, 90)


def export_raw(instrument: Instrument, rows: Iterable[RawRow], lang: str = "en") -> bytes:
    """Raw data as .xlsx, streamed (write-only): one row per assessment, one column per item.

    Fixed columns (``RawColumn``), then the item keys in instrument order holding the numeric
    value, ``NA`` for not applicable, blank for missing. An Items sheet maps key to text.
    """
    language = check_language(lang)
    keys = list(instrument.items)
    wb = Workbook(write_only=True)
    wb.properties.creator = "OCA Engine"
    data = wb.create_sheet(SHEETS["data"][language])
    items_ws = wb.create_sheet(SHEETS["items"][language])
    # column widths, row heights and page setup go before the rows in write-only mode
    headers = [*headers_of(RAW_HEADERS, RawColumn, language), *keys]
    raw_widths = [
        *(max(w, len(h) + 3.0) for w, h in zip(_RAW_WIDTHS.values(), headers, strict=False)),
        *(min(max(len(k) + 3.0, 8.0), 36.0) for k in keys),
    ]
    widths(data, raw_widths)
    data.freeze_panes = "D2"  # IDs and name stay in view
    page_setup(
        data, title_rows=(1, 1), title_columns="A:C", pages_wide=pages_wide(data, len(raw_widths))
    )
    widths(items_ws, _ITEMS_WIDTHS)
    items_ws.freeze_panes = "A2"
    page_setup(items_ws, title_rows=(1, 1))
    data.append(stream_row(data, headers, bold=True))
    # the rows, the bulk of the file, are written as text (bulk_rows) after the items sheet
    values = (
        [
            r.assessment_id,
            r.organization_id,
            r.organization_name,
            r.external_id,
            r.round,
            r.assessed_on,
            r.status,
            r.instrument_version,
            round2(r.overall),
            *(_raw_answer(r.answers.get(k)) for k in keys),
        ]
        for r in rows
    )
    body = rows_xml(values, first_row=2, columns=len(headers), date_style=date_style(data))
    items_ws.append(
        stream_row(items_ws, headers_of(ITEMS_HEADERS, ItemsColumn, language), bold=True)
    )
    row = 1
    for dimension in instrument.dimensions:
        for area in dimension.areas:
            for item in area.items:
                row += 1
                texts = [
                    dimension.title.get(language),
                    area.title.get(language),
                    item_text(item, language),
                ]
                height = lines_height(zip(texts, _ITEMS_WIDTHS[1:], strict=True))
                if height is not None:
                    items_ws.row_dimensions[row].height = height
                items_ws.append(stream_row(items_ws, [item.key, *texts], wrap=(0, 1, 2, 3)))
    return save_with_rows(wb, data, body)


_CSV_ROWS_PER_CHUNK: Final = 200


def export_raw_csv(instrument: Instrument, rows: Iterable[RawRow]) -> Iterator[str]:
    """The raw data as CSV text chunks: a BOM (so Excel reads UTF-8), a header of ``RawColumn``
    names and item keys, then the rows. Every field is quoted; text fields that start with
    ``= + - @``, tab, CR, LF or NUL get a leading ``'`` (OWASP CSV injection)."""
    keys = list(instrument.items)
    yield BOM + csv_chunk([[c.value for c in RawColumn] + keys])
    batch: list[list[str]] = []
    for r in rows:
        answers = r.answers
        batch.append(
            [
                csv_text(r.assessment_id),
                csv_text(r.organization_id),
                csv_text(r.organization_name),
                csv_text(r.external_id),
                csv_text(r.round),
                r.assessed_on.isoformat(),
                csv_text(r.status),
                csv_text(r.instrument_version),
                "" if r.overall is None else number_text(round2(r.overall) or 0.0),
                *(_csv_answer(answers.get(k)) for k in keys),
            ]
        )
        if len(batch) >= _CSV_ROWS_PER_CHUNK:
            yield csv_chunk(batch)
            batch = []
    if batch:
        yield csv_chunk(batch)


def _csv_answer(value: AnswerValue | None) -> str:
    if value is NA:
        return RAW_NA
    number = answer_number(value)
    return "" if number is None else number_text(number)
