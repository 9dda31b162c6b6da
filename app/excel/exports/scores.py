"""The Scores sheet of an assessment: overall, dimensions, areas and the sustainability profile,
as tables whose first columns line up, with a native chart under each."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any, Final

from openpyxl import Workbook

from app.domain.instrument import Instrument, Lens
from app.domain.score_object import ScorePayload
from app.excel._export_write import (
    COUNT_FORMAT,
    PERCENT_FORMAT,
    SCORE_FORMAT,
    SHARE_FORMAT,
    ChartKind,
    Value,
    ValueAxis,
    chart,
    chart_rows,
    fit_rows,
    note,
    page_break_before,
    page_setup,
    put,
    round2,
    table,
    text_of,
    widths,
    wrap,
)
from app.excel.exports.common import (
    LENS_AXIS,
    ScoredNode,
    area_titles_of,
    band_text,
    dimension_titles_of,
    instrument_name,
    is_risk,
    reason_text,
    score_axis,
    unscored_name,
)
from app.excel.exports.words import LENS, SHEETS, TEXT, Labels, pair
from app.excel.layout import NA_LABEL, Language
from app.excel.styles import MUTED, SECTION_FONT, TITLE_FONT


class ScoreColumn(StrEnum):
    name = "name"
    score = "score"
    coverage = "coverage"
    answered = "answered"
    na = "na"
    missing = "missing"
    reason = "reason"
    band = "band"
    dimension = "dimension"


SCORE_HEADERS: Final[dict[ScoreColumn, Labels]] = {
    ScoreColumn.name: pair("Name", "Nombre"),
    ScoreColumn.score: pair("Score", "Puntaje"),
    ScoreColumn.coverage: pair("Coverage", "Cobertura"),
    ScoreColumn.answered: pair("Answered", "Con respuesta"),
    ScoreColumn.na: NA_LABEL,
    ScoreColumn.missing: pair("Missing", "Sin respuesta"),
    ScoreColumn.reason: pair("Why there is no score", "Por qué no hay puntaje"),
    ScoreColumn.band: pair("Band", "Nivel"),
    ScoreColumn.dimension: pair("Dimension", "Dimensión"),
}
# the score column of a risk instrument (NUPAS) and of the 0-100 lens profile
RISK_SCORE_HEADER: Final = pair("Risk %", "Riesgo %")
POOLED_RISK_HEADER: Final = pair("Risk % (pooled)", "Riesgo % (en conjunto)")
LENS_SCORE_HEADER: Final = pair("Score (0–100)", "Puntaje (0–100)")

# every table of the Scores sheet starts with the same columns, so that they line up
DIMENSION_COLUMNS: Final = (
    ScoreColumn.name,
    ScoreColumn.score,
    ScoreColumn.coverage,
    ScoreColumn.answered,
    ScoreColumn.na,
    ScoreColumn.missing,
    ScoreColumn.reason,
)
OVERALL_COLUMNS: Final = (*DIMENSION_COLUMNS, ScoreColumn.band)
AREA_COLUMNS: Final = (*DIMENSION_COLUMNS, ScoreColumn.dimension)
LENS_COLUMNS: Final = DIMENSION_COLUMNS
_SCORE_FORMATS: Final[dict[ScoreColumn, str]] = {
    ScoreColumn.score: SCORE_FORMAT,
    ScoreColumn.coverage: SHARE_FORMAT,
    ScoreColumn.answered: COUNT_FORMAT,
    ScoreColumn.na: COUNT_FORMAT,
    ScoreColumn.missing: COUNT_FORMAT,
}
_SCORES_WIDTHS: Final = (44, 12, 11, 13, 10, 13, 44, 44)


def _score_cells(
    node: ScoredNode | None,
    columns: Sequence[ScoreColumn],
    lang: Language,
    extra: Mapping[ScoreColumn, Value],
) -> list[Value]:
    """A row of a score table; ``node`` None (a lens the score does not have): empty cells."""
    out: list[Value] = []
    for column in columns:
        if column in extra:
            out.append(extra[column])
        elif node is None:
            out.append(None)
        elif column is ScoreColumn.score:
            out.append(round2(node.score))
        elif column is ScoreColumn.coverage:
            out.append(None if node.coverage is None else round2(node.coverage))
        elif column is ScoreColumn.answered:
            out.append(node.answered)
        elif column is ScoreColumn.na:
            out.append(node.na)
        elif column is ScoreColumn.missing:
            out.append(node.missing)
        elif column is ScoreColumn.reason:
            out.append(reason_text(node.reason, lang))
        else:
            out.append(None)
    return out


def _score_headers(
    columns: Sequence[ScoreColumn], lang: Language, score_header: Labels | None = None
) -> list[str]:
    return [
        (score_header or SCORE_HEADERS[c])[lang]
        if c is ScoreColumn.score
        else SCORE_HEADERS[c][lang]
        for c in columns
    ]


def _formats(columns: Sequence[ScoreColumn], score_format: str = SCORE_FORMAT) -> list[str | None]:
    return [score_format if c is ScoreColumn.score else _SCORE_FORMATS.get(c) for c in columns]


def write_scores(
    wb: Workbook,
    instrument: Instrument,
    score: ScorePayload | None,
    lang: Language,
    *,
    draft: bool = False,
) -> None:
    ws = wb.create_sheet(SHEETS["scores"][lang])
    put(
        ws,
        1,
        1,
        f"{SHEETS['scores'][lang]} — {instrument_name(instrument, lang)}",
        font=TITLE_FONT,
    )
    page_setup(ws, title_rows=(1, 1))
    if score is None:
        put(ws, 3, 1, TEXT["not_scored_draft" if draft else "not_scored"][lang], font=MUTED)
        widths(ws, (100,))
        return
    risk = is_risk(instrument)
    score_header = RISK_SCORE_HEADER if risk else None
    score_format = PERCENT_FORMAT if risk else SCORE_FORMAT
    dim_titles = dimension_titles_of(instrument, lang)
    area_titles = area_titles_of(instrument, lang)
    widths(ws, _SCORES_WIDTHS)

    overall = score.overall
    if risk:
        band = band_text(score.risk.overall if score.risk else None, lang)
    else:
        band = text_of(overall.band, lang) if overall.band else None
    row = 3
    put(ws, row, 1, TEXT["overall"][lang], font=SECTION_FONT)
    overall_header = row + 1
    _, row = table(
        ws,
        overall_header,
        _score_headers(OVERALL_COLUMNS, lang, POOLED_RISK_HEADER if risk else None),
        [
            _score_cells(
                overall,
                OVERALL_COLUMNS,
                lang,
                {ScoreColumn.name: TEXT["overall"][lang], ScoreColumn.band: band},
            )
        ],
        _formats(OVERALL_COLUMNS, score_format),
    )

    dimensions = score.dimensions
    row += 2
    put(ws, row, 1, TEXT["dimensions"][lang], font=SECTION_FONT)
    dim_header = row + 1
    dim_first, dim_last = table(
        ws,
        dim_header,
        _score_headers(DIMENSION_COLUMNS, lang, score_header),
        [
            _score_cells(
                d,
                DIMENSION_COLUMNS,
                lang,
                {ScoreColumn.name: unscored_name(dim_titles.get(d.key, d.key), d, lang)},
            )
            for d in dimensions
        ],
        _formats(DIMENSION_COLUMNS, score_format),
    )

    row = dim_last + 2
    put(ws, row, 1, TEXT["areas"][lang], font=SECTION_FONT)
    area_header = row + 1
    area_rows = [
        _score_cells(
            a,
            AREA_COLUMNS,
            lang,
            {
                ScoreColumn.name: unscored_name(area_titles.get(a.key, a.key), a, lang),
                ScoreColumn.dimension: dim_titles.get(d.key, d.key),
            },
        )
        for d in dimensions
        for a in d.areas
    ]
    area_first, area_last = table(
        ws,
        area_header,
        _score_headers(AREA_COLUMNS, lang, score_header),
        area_rows,
        _formats(AREA_COLUMNS, score_format),
    )

    row = area_last + 2
    source = f"{instrument_name(instrument, lang)} {instrument.version}"
    put(ws, row, 1, f"{TEXT['lens'][lang]} — {source}", font=SECTION_FONT)
    lens_header = row + 1
    lens_first, lens_last = table(
        ws,
        lens_header,
        _score_headers(LENS_COLUMNS, lang, LENS_SCORE_HEADER),
        [
            _score_cells(
                score.lens.get(lens.value),
                LENS_COLUMNS,
                lang,
                {
                    ScoreColumn.name: unscored_name(
                        LENS[lens][lang], score.lens.get(lens.value), lang
                    )
                },
            )
            for lens in Lens
        ],
        _formats(LENS_COLUMNS, PERCENT_FORMAT),
    )
    note(ws, lens_last + 1, TEXT["lens_note"][lang].format(instrument=source), len(LENS_COLUMNS))
    names = (ScoreColumn.name, ScoreColumn.reason)
    for columns, first, last in (
        (OVERALL_COLUMNS, overall_header + 1, overall_header + 1),
        (DIMENSION_COLUMNS, dim_first, dim_last),
        (AREA_COLUMNS, area_first, area_last),
        (LENS_COLUMNS, lens_first, lens_last),
    ):
        wrap(ws, [columns.index(c) + 1 for c in (*names, columns[-1])], first, last)
    fit_rows(ws, 1, lens_last)

    # the charts, under the tables, each block on a page of its own
    y_title, axis = TEXT["risk_axis" if risk else "score_axis"][lang], score_axis(instrument)
    row = page_break_before(ws, lens_last + 4)
    if dim_last >= dim_first:
        size = (24.0, max(8.0, 2.5 + 0.9 * (dim_last - dim_first + 1)))
        title = TEXT["risk_chart" if risk else "score_chart"][lang]
        row = _chart(ws, row, "bar", title, (dim_header, dim_first, dim_last), y_title, size, axis)
    lens_rows = (lens_header, lens_first, lens_last)
    lens_title, lens_y = TEXT["lens_chart"][lang], LENS_SCORE_HEADER[lang]
    row = _chart(ws, row, "column", lens_title, lens_rows, lens_y, (24.0, 8.0), LENS_AXIS)
    if area_last >= area_first:
        # a horizontal bar per area, tall enough for every name (45 for OCA) on one page
        count = area_last - area_first + 1
        # (at most 25 cm: taller, the chart is cut across two printed pages)
        size = (24.0, min(25.0, max(8.0, 3.0 + 0.75 * count)))
        title = TEXT["area_risk_chart" if risk else "area_chart"][lang]
        area_table = (area_header, area_first, area_last)
        _chart(ws, page_break_before(ws, row), "bar", title, area_table, y_title, size, axis)


def _chart(
    ws: Any,
    row: int,
    kind: ChartKind,
    title: str,
    rows: tuple[int, int, int],
    y_title: str,
    size: tuple[float, float],
    axis: ValueAxis,
) -> int:
    """A chart of one score table (``rows``: its header, first and last row), its Score column
    by its Name column (the same columns in every table), placed at ``row``; the row under it."""
    header, first, last = rows
    ws.add_chart(
        chart(
            kind,
            title=title,
            data=ws,
            series_columns=[DIMENSION_COLUMNS.index(ScoreColumn.score) + 1],
            header_row=header,
            first_row=first,
            last_row=last,
            category_column=DIMENSION_COLUMNS.index(ScoreColumn.name) + 1,
            y_title=y_title,
            axis=axis,
            data_labels=True,
            size=size,
        ),
        f"A{row}",
    )
    return row + chart_rows(size[1])
