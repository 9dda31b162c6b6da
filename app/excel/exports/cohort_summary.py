"""The Summary sheet of a cohort comparison: per key, paired means and outcomes of the organizations
scored in both rounds, counts, means and medians of all scored, and two native charts."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from openpyxl import Workbook

from app.excel._export_write import (
    COUNT_FORMAT,
    SCORE_FORMAT,
    SHARE_FORMAT,
    Value,
    chart,
    chart_rows,
    fit_rows,
    label_values,
    note,
    page_break_before,
    page_setup,
    pages_wide,
    put,
    round2,
    table,
    widths,
    wrap,
)
from app.excel.exports.common import (
    SHARE_AXIS,
    UNROUNDED_FORMAT,
    CohortView,
    instrument_name,
    is_risk,
    score_axis,
)
from app.excel.exports.scores import SCORE_HEADERS, ScoreColumn
from app.excel.exports.words import SHEETS, TEXT, Labels, pair
from app.excel.layout import round_name
from app.excel.styles import MUTED, TITLE_FONT


class SummaryColumn(StrEnum):
    name = "name"
    paired = "paired"
    paired_baseline_mean = "paired_baseline_mean"
    paired_endline_mean = "paired_endline_mean"
    mean_change = "mean_change"
    mean_change_unrounded = "mean_change_unrounded"
    improved_n = "improved_n"
    share_improved = "share_improved"
    declined_n = "declined_n"
    unchanged_n = "unchanged_n"
    baseline_n = "baseline_n"
    baseline_mean = "baseline_mean"
    baseline_median = "baseline_median"
    endline_n = "endline_n"
    endline_mean = "endline_mean"
    endline_median = "endline_median"
    improved_organizations = "improved_organizations"


SUMMARY_HEADERS: Final[dict[SummaryColumn, Labels]] = {
    SummaryColumn.name: SCORE_HEADERS[ScoreColumn.dimension],
    SummaryColumn.paired: pair(
        "Paired: organizations with both rounds (n)",
        "Emparejadas: organizaciones con ambas rondas (n)",
    ),
    SummaryColumn.paired_baseline_mean: pair(
        "Baseline mean (paired)", "Media línea de base (emparejadas)"
    ),
    SummaryColumn.paired_endline_mean: pair(
        "Endline mean (paired)", "Media línea final (emparejadas)"
    ),
    SummaryColumn.mean_change: pair("Mean change (paired)", "Cambio medio (emparejadas)"),
    SummaryColumn.mean_change_unrounded: pair(
        "Mean change, unrounded", "Cambio medio, sin redondear"
    ),
    # improved_n and share_improved say the threshold: see write_cohort_summary
    SummaryColumn.improved_n: pair("{improved}: n", "{improved}: n"),
    SummaryColumn.share_improved: pair("{improved}: share", "{improved}: proporción"),
    SummaryColumn.declined_n: pair("Declined: n", "Empeoraron: n"),
    SummaryColumn.unchanged_n: pair("Unchanged: n", "Sin cambio: n"),
    SummaryColumn.baseline_n: pair("Baseline, all scored: n", "Línea de base, todas: n"),
    SummaryColumn.baseline_mean: pair("Baseline, all scored: mean", "Línea de base, todas: media"),
    SummaryColumn.baseline_median: pair(
        "Baseline, all scored: median", "Línea de base, todas: mediana"
    ),
    SummaryColumn.endline_n: pair("Endline, all scored: n", "Línea final, todas: n"),
    SummaryColumn.endline_mean: pair("Endline, all scored: mean", "Línea final, todas: media"),
    SummaryColumn.endline_median: pair(
        "Endline, all scored: median", "Línea final, todas: mediana"
    ),
    SummaryColumn.improved_organizations: pair(
        "Organizations that improved", "Organizaciones que mejoraron"
    ),
}
_SUMMARY_FORMATS: Final[dict[SummaryColumn, str]] = {
    SummaryColumn.paired: COUNT_FORMAT,
    SummaryColumn.paired_baseline_mean: SCORE_FORMAT,
    SummaryColumn.paired_endline_mean: SCORE_FORMAT,
    SummaryColumn.mean_change: SCORE_FORMAT,
    SummaryColumn.mean_change_unrounded: UNROUNDED_FORMAT,
    SummaryColumn.improved_n: COUNT_FORMAT,
    SummaryColumn.share_improved: SHARE_FORMAT,
    SummaryColumn.declined_n: COUNT_FORMAT,
    SummaryColumn.unchanged_n: COUNT_FORMAT,
    SummaryColumn.baseline_n: COUNT_FORMAT,
    SummaryColumn.baseline_mean: SCORE_FORMAT,
    SummaryColumn.baseline_median: SCORE_FORMAT,
    SummaryColumn.endline_n: COUNT_FORMAT,
    SummaryColumn.endline_mean: SCORE_FORMAT,
    SummaryColumn.endline_median: SCORE_FORMAT,
}


def write_cohort_summary(wb: Workbook, view: CohortView) -> None:
    instrument, about, comparison, rows = view.instrument, view.info, view.comparison, view.rows
    lang = view.lang
    risk = is_risk(instrument)
    names = {**about.names, **{r.organization_id: r.name for r in rows}}
    ws = wb.create_sheet(SHEETS["summary"][lang])
    put(ws, 1, 1, TEXT["cohort_title"][lang], font=TITLE_FONT)
    info: list[tuple[str, Value]] = [
        (TEXT["cohort"][lang], about.cohort_name),
        (TEXT["instrument"][lang], instrument_name(instrument, lang)),
        (TEXT["baseline_round"][lang], round_name(about.baseline_round, lang)),
        (TEXT["endline_round"][lang], round_name(about.endline_round, lang)),
        (TEXT["members"][lang], len(about.names or rows)),
        (TEXT["with_both"][lang], len(comparison.organizations_with_both)),
        (TEXT["only_baseline"][lang], len(comparison.only_baseline)),
        (TEXT["only_endline"][lang], len(comparison.only_endline)),
        (TEXT["threshold"][lang], view.outcome_label()),
    ]
    row = label_values(ws, 3, info)
    if about.versions_mixed:
        row += 1
        mixed = TEXT["versions_mixed"][lang].format(
            rescored=about.rescored, left=about.not_comparable, version=about.compared_on_version
        )
        put(ws, row, 1, mixed, font=MUTED)
    header = row + 2
    improved_words = view.outcome_label()
    summary_rows: list[list[Value]] = []
    paired_counts: set[int] = set()
    for key in view.keys:
        k = view.stats.get(key)
        if k is None:  # a key the comparison does not have: its name, and nothing to show
            summary_rows.append([view.key_titles[key], *([None] * (len(SummaryColumn) - 1))])
            continue
        base, end, change = k.baseline, k.endline, k.change
        means = (k.paired_baseline.mean, k.paired_endline.mean)
        if key != "overall":
            paired_counts.add(len(k.paired))
        cells: dict[SummaryColumn, Value] = {
            SummaryColumn.name: view.key_titles[key],
            SummaryColumn.paired: len(k.paired),
            SummaryColumn.paired_baseline_mean: round2(means[0]),
            SummaryColumn.paired_endline_mean: round2(means[1]),
            SummaryColumn.mean_change: round2(k.mean_delta),
            SummaryColumn.mean_change_unrounded: means[1] - means[0]
            if means[0] is not None and means[1] is not None
            else None,
            SummaryColumn.improved_n: len(change.improved),
            SummaryColumn.share_improved: round2(change.share_improved),
            SummaryColumn.declined_n: len(change.declined),
            SummaryColumn.unchanged_n: len(change.unchanged),
            SummaryColumn.baseline_n: base.n,
            SummaryColumn.baseline_mean: round2(base.mean),
            SummaryColumn.baseline_median: round2(base.median),
            SummaryColumn.endline_n: end.n,
            SummaryColumn.endline_mean: round2(end.mean),
            SummaryColumn.endline_median: round2(end.median),
            SummaryColumn.improved_organizations: "; ".join(
                names.get(i, i) for i in change.improved
            )
            or None,
        }
        summary_rows.append([cells[c] for c in SummaryColumn])
    columns = list(SummaryColumn)
    headers = [SUMMARY_HEADERS[c][lang].format(improved=improved_words) for c in columns]
    formats: list[str | None] = [_SUMMARY_FORMATS.get(c) for c in columns]
    widths(ws, (30, 14, 14, 14, 13, 13, 14, 14, 11, 11, 13, 13, 13, 13, 13, 13, 40))
    first, last = table(ws, header, headers, summary_rows, formats)
    wrap(ws, (1, columns.index(SummaryColumn.improved_organizations) + 1), first, last)
    fit_rows(ws, 1, ws.max_row)
    note(ws, last + 1, TEXT["summary_note"][lang], 8)
    ws.freeze_panes = ws.cell(row=header + 1, column=2).coordinate
    wide = pages_wide(ws, ws.max_column)  # the names in column A on every page when it splits
    page_setup(ws, title_rows=(1, 1), title_columns="A:A" if wide > 1 else None, pages_wide=wide)

    dims_first = first + 1  # the overall row comes first; the charts show dimensions
    if last < dims_first:
        return
    name_col = columns.index(SummaryColumn.name) + 1
    row = last + 4
    row = page_break_before(ws, row)
    if len(paired_counts) == 1:
        n = str(paired_counts.pop())
    else:
        n = f"{min(paired_counts)}–{max(paired_counts)}"
    means_title = TEXT["means_risk_chart" if risk else "means_chart"][lang]
    means_size = (24.0, 10.0)
    ws.add_chart(
        chart(
            "column",
            title=f"{means_title} ({TEXT['paired_n'][lang].format(n=n)})",
            data=ws,
            series_columns=[
                columns.index(SummaryColumn.paired_baseline_mean) + 1,
                columns.index(SummaryColumn.paired_endline_mean) + 1,
            ],
            header_row=header,
            first_row=dims_first,
            last_row=last,
            category_column=name_col,
            y_title=TEXT["risk_axis" if risk else "score_axis"][lang],
            axis=score_axis(instrument),
            data_labels=True,
            size=means_size,
        ),
        f"A{row}",
    )
    row += chart_rows(means_size[1])
    ws.add_chart(
        chart(
            "column",
            title=TEXT["share_chart"][lang].format(improved=view.outcome_label(verb=True)),
            data=ws,
            series_columns=[columns.index(SummaryColumn.share_improved) + 1],
            header_row=header,
            first_row=dims_first,
            last_row=last,
            category_column=name_col,
            y_title=TEXT["share_axis"][lang],
            axis=SHARE_AXIS,
            data_labels=True,
            size=means_size,
        ),
        f"A{row}",
    )
