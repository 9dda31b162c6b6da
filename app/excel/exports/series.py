"""An organization's series: its scored assessments of one instrument over time, a line chart by
round and a radar of the first against the latest assessment."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Final

from app.domain.instrument import Instrument, Lens
from app.domain.score_object import SeriesRead
from app.excel._export_write import (
    PERCENT_FORMAT,
    SCORE_FORMAT,
    Value,
    chart,
    chart_rows,
    fit_rows,
    new_workbook,
    note,
    page_break_before,
    page_setup,
    pages_wide,
    put,
    round2,
    table,
    widths,
    workbook_bytes,
    wrap,
)
from app.excel.exports.assessment import COVER_HEADERS, CoverRow
from app.excel.exports.common import (
    as_date,
    band_text,
    headers_of,
    instrument_name,
    is_risk,
    score_axis,
    status_text,
)
from app.excel.exports.scores import SCORE_HEADERS, ScoreColumn
from app.excel.exports.words import LENS, SHEETS, TEXT, Labels, pair
from app.excel.layout import check_language, round_name, shorten
from app.excel.styles import MUTED, SECTION_FONT, SMALL_MUTED, TITLE_FONT


class SeriesColumn(StrEnum):
    """The fixed columns of the series table; dimension and lens columns follow ``overall``."""

    assessed_on = "assessed_on"
    round = "round"
    status = "status"
    instrument_version = "instrument_version"
    overall = "overall"
    risk = "risk"  # risk instruments only, after the lens columns


SERIES_HEADERS: Final[dict[SeriesColumn, Labels]] = {
    SeriesColumn.assessed_on: pair("Date", "Fecha"),
    SeriesColumn.round: pair("Round", "Ronda"),
    SeriesColumn.status: COVER_HEADERS[CoverRow.status],
    SeriesColumn.instrument_version: COVER_HEADERS[CoverRow.instrument_version],
    SeriesColumn.overall: TEXT["overall"],
    SeriesColumn.risk: TEXT["overall_risk"],
}


def _short(names: Sequence[str], limit: int = 30) -> list[str]:
    """Chart category labels cut between words (with an ellipsis) so a radar keeps its size;
    longer when the short ones would collide."""
    for size in (limit, limit + 10):
        short = [n if len(n) <= size else shorten(n, size - 1) + "…" for n in names]
        if len(set(short)) == len(short):
            return short
    return list(names)


def export_series(
    instrument: Instrument,
    organization_name: str,
    series: SeriesRead,
    lang: str = "en",
) -> bytes:
    """An organization's scored assessments of one instrument over time, as .xlsx.

    ``series`` is ``services.analysis.series``, read into its typed model. One row per
    assessment (date, round, status, version, overall, each dimension, each lens), a line chart
    of overall and dimensions by round, and a radar chart of the first vs the latest assessment
    by dimension.
    """
    language = check_language(lang)
    risk = is_risk(instrument)
    dims = instrument.dimensions
    wb = new_workbook(f"{organization_name} — {instrument.title.get(language)}")
    ws = wb.create_sheet(SHEETS["series"][language])
    put(ws, 1, 1, organization_name, font=TITLE_FONT)
    put(
        ws,
        2,
        1,
        f"{TEXT['series_title'][language]} — {instrument_name(instrument, language)}",
        font=MUTED,
    )
    points = series.points
    fixed = [c for c in SeriesColumn if c is not SeriesColumn.risk]
    titles = [
        *headers_of(SERIES_HEADERS, fixed, language),
        *(d.title.get(language) for d in dims),
        *(f"{LENS[lens][language]} (0–100)" for lens in Lens),
        *([SERIES_HEADERS[SeriesColumn.risk][language]] if risk else []),
    ]
    rows: list[list[Value]] = []
    dim_values: list[dict[str, float | None]] = []
    for p in points:
        by_dim = {d.key: round2(d.score) for d in p.dimensions}
        dim_values.append({d.key: by_dim.get(d.key) for d in dims})
        rows.append(
            [
                as_date(p.assessed_on),
                round_name(p.round, language) if p.round else None,
                status_text(p.status, language) if p.status else None,
                p.instrument_version,
                round2(p.overall.score),
                *(by_dim.get(d.key) for d in dims),
                *(round2(p.lens.get(x.value)) for x in Lens),
                *([band_text(p.risk, language)] if risk else []),
            ]
        )
    header = 4
    score_format = PERCENT_FORMAT if risk else SCORE_FORMAT
    formats: list[str | None] = [None] * len(fixed)
    formats[len(fixed) - 1] = score_format  # overall
    formats += [score_format] * len(dims) + [PERCENT_FORMAT] * len(Lens)
    if risk:
        formats.append(None)
    widths(ws, [30, 16, 12, 12, 12, *([16] * (len(titles) - len(fixed)))])
    first, last = table(ws, header, titles, rows, formats)
    wrap(ws, (2,), first, last)
    ws.freeze_panes = f"A{header + 1}"
    # the organization and instrument on every page (the table is short, the charts follow)
    page_setup(ws, title_rows=(1, 2), title_columns="A:B", pages_wide=pages_wide(ws, len(titles)))
    if not rows:
        put(ws, header + 1, 1, TEXT["no_points"][language], font=MUTED)
        fit_rows(ws, 1, ws.max_row)
        return workbook_bytes(wb)
    lens_note = TEXT["lens_note"][language].format(instrument=instrument_name(instrument, language))
    note(ws, last + 1, lens_note, min(len(titles), 6))

    round_col = fixed.index(SeriesColumn.round) + 1
    overall_col = fixed.index(SeriesColumn.overall) + 1
    # the first vs latest table that the radar chart reads
    radar_header = last + 4
    put(ws, radar_header - 1, 1, TEXT["radar_title"][language], font=SECTION_FONT)
    ends = [0] if len(points) == 1 else [0, len(points) - 1]
    which = [TEXT["first"][language], TEXT["latest"][language]]
    radar_titles = [SCORE_HEADERS[ScoreColumn.dimension][language]]
    for n, index in enumerate(ends):
        p = points[index]
        shown_round = round_name(p.round, language)
        radar_titles.append(f"{which[n]}: {shown_round} ({p.assessed_on})")
    radar_titles.append(TEXT["chart_label"][language])
    names = []
    for d in dims:
        name = d.title.get(language)
        if any(dim_values[i][d.key] is None for i in ends):
            name += TEXT["no_score_suffix"][language]
        names.append(name)
    labels = _short(names)
    radar_first, radar_last = table(
        ws,
        radar_header,
        radar_titles,
        [[names[n], *(dim_values[i][d.key] for i in ends), labels[n]] for n, d in enumerate(dims)],
        [None, score_format, score_format, None],
    )
    label_column = len(radar_titles)
    for row in range(radar_first, radar_last + 1):
        ws.cell(row=row, column=label_column).font = SMALL_MUTED
    wrap(ws, (1,), radar_first, radar_last)
    fit_rows(ws, 1, ws.max_row)

    axis = score_axis(instrument)
    row = radar_last + 3
    row = page_break_before(ws, row)
    line_size = (24.0, 11.0)
    ws.add_chart(
        chart(
            "line",
            title=TEXT["series_risk_chart" if risk else "series_chart"][language],
            data=ws,
            series_columns=list(range(overall_col, overall_col + 1 + len(dims))),
            header_row=header,
            first_row=first,
            last_row=last,
            category_column=round_col,
            y_title=TEXT["risk_axis" if risk else "score_axis"][language],
            axis=axis,
            emphasize_first=True,  # the overall line
            size=line_size,
        ),
        f"A{row}",
    )
    row = page_break_before(ws, row + chart_rows(line_size[1]))
    ws.add_chart(
        chart(
            "radar",
            title=TEXT["radar_chart"][language],
            data=ws,
            series_columns=list(range(2, 2 + len(ends))),
            header_row=radar_header,
            first_row=radar_first,
            last_row=radar_last,
            category_column=label_column,  # short names, so the radar keeps its size
            axis=axis,
            size=(20.0, 13.0),
        ),
        f"A{row}",
    )
    return workbook_bytes(wb)
