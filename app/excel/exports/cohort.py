"""A cohort comparison: the Organizations sheet (a row per organization, baseline against endline
for each key) and the workbook around it; the Summary sheet is ``cohort_summary``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Final

from openpyxl import Workbook

from app.domain.cohort import Change, CohortComparison
from app.domain.instrument import Instrument
from app.domain.rounding import shown_change
from app.excel._export_write import (
    COUNT_FORMAT,
    SCORE_FORMAT,
    Value,
    fit_rows,
    new_workbook,
    note,
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
from app.excel.exports.cohort_summary import write_cohort_summary
from app.excel.exports.common import (
    UNROUNDED_FORMAT,
    CohortView,
    is_risk,
)
from app.excel.exports.inputs import CohortInfo, CohortRow
from app.excel.exports.words import DIRECTION, OUTCOME, SHEETS, TEXT, Labels, pair
from app.excel.layout import Language, check_language
from app.excel.styles import MUTED, SMALL_MUTED, TITLE_FONT


class CohortColumn(StrEnum):
    """Two fixed columns, five per compared key (overall first, then each dimension), and the
    internal ID last."""

    organization = "organization"
    external_id = "external_id"
    baseline = "baseline"
    endline = "endline"
    change = "change"
    change_unrounded = "change_unrounded"
    direction = "direction"
    improved = "improved"  # the outcome; its header says the threshold: see outcome_label
    left_out = "left_out"
    organization_id = "organization_id"


COHORT_HEADERS: Final[dict[CohortColumn, Labels]] = {
    CohortColumn.organization: COVER_HEADERS[CoverRow.organization],
    CohortColumn.external_id: COVER_HEADERS[CoverRow.external_id],
    CohortColumn.baseline: pair("Baseline", "Línea de base"),
    CohortColumn.endline: pair("Endline", "Línea final"),
    CohortColumn.change: pair("Change", "Cambio"),
    CohortColumn.change_unrounded: pair("Change, unrounded", "Cambio, sin redondear"),
    CohortColumn.direction: pair("Direction", "Dirección"),
    CohortColumn.improved: pair("Outcome", "Resultado"),
    CohortColumn.left_out: pair(
        "Items left out (answered in one round only)",
        "Ítems excluidos (respondidos en una sola ronda)",
    ),
    CohortColumn.organization_id: pair("Internal ID", "ID interno"),
}
COHORT_KEY_COLUMNS: Final = (
    CohortColumn.baseline,
    CohortColumn.endline,
    CohortColumn.change,
    CohortColumn.change_unrounded,
    CohortColumn.direction,
    CohortColumn.improved,
)


def _direction(delta: float | None, lang: Language) -> str | None:
    """Which way the number moved, by its rounded value (as shown in the Change column)."""
    shown = round2(delta)
    if shown is None:
        return None
    return DIRECTION["up" if shown > 0 else "down" if shown < 0 else "same"][lang]


def export_cohort(
    instrument: Instrument,
    info: CohortInfo,
    comparison: CohortComparison,
    rows: Sequence[CohortRow],
    lang: str = "en",
) -> bytes:
    """A cohort's baseline vs endline comparison as .xlsx.

    ``comparison`` is the cohort's statistics (``CohortResult.comparison``), ``info`` what is
    said around them; ``rows`` the organizations' numbers (``CohortResult.pairs``). An
    Organizations sheet (baseline, endline, change, direction and improved-by-the-threshold per
    key) and a Summary sheet (paired means of the organizations scored in both rounds, counts,
    means and medians of all scored, share improved, with the organizations behind them) with
    native charts.
    """
    view = CohortView.of(instrument, info, comparison, rows, check_language(lang))
    wb = new_workbook(view.heading)
    _cohort_organizations(wb, view)
    write_cohort_summary(wb, view)
    return workbook_bytes(wb)


def _cohort_organizations(wb: Workbook, view: CohortView) -> None:
    """One row per organization: its program ID when there is one (the internal UUID last),
    then baseline, endline, change (shown and unrounded), direction and outcome for each key,
    and how many items were left out."""
    instrument, lang, rows, keys = view.instrument, view.lang, view.rows, view.keys
    ws = wb.create_sheet(SHEETS["organizations"][lang])
    put(ws, 1, 1, view.heading, font=TITLE_FONT)
    improved_label = view.outcome_label()
    key_headers = {c: COHORT_HEADERS[c][lang] for c in COHORT_KEY_COLUMNS}
    key_headers[CohortColumn.improved] = improved_label
    external = any(r.external_id for r in rows)
    fixed = [CohortColumn.organization, *([CohortColumn.external_id] if external else [])]
    titles = [
        *(COHORT_HEADERS[c][lang] for c in fixed),
        *(f"{view.key_titles[k]}: {key_headers[c]}" for k in keys for c in COHORT_KEY_COLUMNS),
        COHORT_HEADERS[CohortColumn.left_out][lang],
        COHORT_HEADERS[CohortColumn.organization_id][lang],
    ]
    outcome_of: dict[str, dict[str, str]] = {}
    for key in keys:
        found = view.stats.get(key)
        change = found.change if found else None
        outcome_of[key] = {} if change is None else _outcomes(change)
    table_rows: list[list[Value]] = []
    for r in rows:
        values: list[Value] = [r.name, *([r.external_id] if external else [])]
        for key in keys:
            b, e = r.baseline.get(key), r.endline.get(key)
            both = b is not None and e is not None
            shown = shown_change(b, e) if b is not None and e is not None else None
            outcome = outcome_of[key].get(r.organization_id)
            values += [
                round2(b) if b is not None else _missing(r.baseline, "no_baseline", lang),
                round2(e) if e is not None else _missing(r.endline, "no_endline", lang),
                shown,
                e - b if b is not None and e is not None else None,
                _direction(shown, lang),
                OUTCOME[outcome][lang] if both and outcome else None,
            ]
        values += [r.left_out, r.organization_id]
        table_rows.append(values)
    number = SCORE_FORMAT
    key_formats = [number, number, number, UNROUNDED_FORMAT, None, None]
    formats = [*([None] * len(fixed)), *(key_formats * len(keys)), COUNT_FORMAT, None]
    header = 3
    widths(ws, [30, *([14] * (len(fixed) - 1)), *([13] * len(keys) * len(key_formats)), 14, 30])
    first, last = table(ws, header, titles, table_rows, formats)
    block = len(COHORT_KEY_COLUMNS)
    for row in range(first, last + 1):
        ws.cell(row=row, column=len(titles)).font = SMALL_MUTED  # the UUID, for reference
        for k in range(len(keys)):  # the unrounded change is for checking, not for reading
            ws.cell(row=row, column=len(fixed) + k * block + 4).font = SMALL_MUTED
        for k in range(len(keys)):
            for offset in (1, 2):  # baseline, endline
                cell = ws.cell(row=row, column=len(fixed) + k * block + offset)
                if isinstance(cell.value, str):
                    cell.font = MUTED  # "no endline scored (draft?)"
    wrap(ws, range(1, len(titles)), first, last)
    fit_rows(ws, 1, ws.max_row)
    ws.freeze_panes = ws.cell(row=header + 1, column=len(fixed) + 1).coordinate
    last_column = ws.cell(row=header, column=len(titles)).column_letter
    ws.auto_filter.ref = f"A{header}:{last_column}{max(last, header)}"
    risk_words = TEXT["risk_down_is_better"][lang] if is_risk(instrument) else ""
    note(
        ws,
        max(last, header) + 2,
        TEXT["cohort_note"][lang].format(risk=risk_words, improved=improved_label),
        min(len(titles), 8),
    )
    page_setup(
        ws,
        title_rows=(header, header),
        title_columns=f"A:{ws.cell(row=header, column=len(fixed)).column_letter}",
        pages_wide=pages_wide(ws, len(titles)),
    )


def _outcomes(change: Change) -> dict[str, str]:
    """Each paired organization's outcome by the rule: ``improved``, ``declined``, ``unchanged``
    (the keys of ``OUTCOME``)."""
    found = dict.fromkeys(change.improved, "improved")
    found.update(dict.fromkeys(change.declined, "declined"))
    found.update(dict.fromkeys(change.unchanged, "unchanged"))
    return found


def _missing(scores: Mapping[str, float | None], which: str, lang: Language) -> str:
    """The marker of a blank score: the round was not scored at all, or this key was not."""
    return TEXT[which if not scores else "no_score"][lang]
