"""The CBLD-9 indicator as .xlsx: the numbers, the rule in words, and the organizations behind
each number (one sheet, printable)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from app.domain.indicators import Cbld9
from app.excel._export_write import (
    SCORE_FORMAT,
    SHARE_FORMAT,
    Value,
    label_values,
    new_workbook,
    note,
    page_setup,
    put,
    table,
    widths,
    workbook_bytes,
    wrap,
)
from app.excel.exports.words import TEXT, Labels
from app.excel.layout import check_language
from app.excel.styles import BOLD, SMALL_MUTED, TITLE_FONT

_L: Final[dict[str, dict[str, str]]] = {
    "sheet": {"en": "CBLD-9", "es": "CBLD-9"},
    "cohort": TEXT["cohort"],
    "fiscal_year": {"en": "US fiscal year", "es": "Año fiscal de EE. UU."},
    "period": {"en": "Period", "es": "Periodo"},
    "denominator": {
        "en": "Planned and pursued improvement (denominator)",
        "es": "Planearon y emprendieron una mejora (denominador)",
    },
    "numerator": {
        "en": "Improved performance (numerator)",
        "es": "Mejoraron su desempeño (numerador)",
    },
    "share": {"en": "Percent improved", "es": "Porcentaje que mejoró"},
    "organization": {"en": "Organization", "es": "Organización"},
    "metric": {"en": "Performance metric", "es": "Métrica de desempeño"},
    "better": {"en": "Better when", "es": "Mejor cuando"},
    "higher": {"en": "higher", "es": "mayor"},
    "lower": {"en": "lower", "es": "menor"},
    "earlier_on": {"en": "Measured before: date", "es": "Medición anterior: fecha"},
    "earlier": {"en": "Measured before: value", "es": "Medición anterior: valor"},
    "later_on": {"en": "Measured in the year: date", "es": "Medición en el año: fecha"},
    "later": {"en": "Measured in the year: value", "es": "Medición en el año: valor"},
    "change": {"en": "Change", "es": "Cambio"},
    "improved": {"en": "Improved", "es": "Mejoró"},
    "yes": TEXT["yes"],
    "no": TEXT["no"],
    "waiting": {
        "en": "Named a metric but did not measure it again in the year (in neither count)",
        "es": "Registraron una métrica pero no la volvieron a medir en el año (no cuentan)",
    },
    "last_measured": {"en": "Last measured", "es": "Última medición"},
    "none": {"en": "None.", "es": "Ninguna."},
}


def export_cbld9(
    result: Cbld9,
    cohort_name: str,
    names: Mapping[str, str],
    *,
    title: Labels,
    definition: Labels,
    lang: str = "en",
) -> bytes:
    """The indicator over a cohort (``services.indicators.cohort_cbld9``): its members' names by
    organization id, and the indicator's title and definition in both languages."""
    language = check_language(lang)

    def t(key: str) -> str:
        return _L[key][language]

    def name(organization_id: str) -> str:
        return names.get(organization_id, organization_id)

    heading = title[language]
    wb = new_workbook(heading)
    ws = wb.create_sheet(t("sheet"))
    widths(ws, (34, 30, 12, 14, 12, 14, 12, 12, 10))
    put(ws, 1, 1, heading, font=TITLE_FONT)
    row = label_values(
        ws,
        3,
        [
            (t("cohort"), cohort_name),
            (t("fiscal_year"), f"FY{result.fiscal_year}"),
            (t("period"), f"{result.starts_on.isoformat()} – {result.ends_on.isoformat()}"),
            (t("denominator"), len(result.counted)),
            (t("numerator"), len(result.improved)),
        ],
    )
    row += 1
    put(ws, row, 1, t("share"))
    put(ws, row, 2, result.share_improved, SHARE_FORMAT)
    row += 1
    note(ws, row, definition[language], 9)
    header = row + 2
    rows: list[list[Value]] = []
    for org in result.counted:
        for m in org.metrics:
            rows.append(
                [
                    name(org.organization_id),
                    m.metric,
                    t("higher" if m.higher_is_better else "lower"),
                    m.earlier.measured_on,
                    m.earlier.value,
                    m.later.measured_on,
                    m.later.value,
                    m.change,
                    t("yes" if org.improved else "no"),
                ]
            )
    titles = [
        t(k)
        for k in (
            "organization",
            "metric",
            "better",
            "earlier_on",
            "earlier",
            "later_on",
            "later",
            "change",
            "improved",
        )
    ]
    formats = [None, None, None, None, SCORE_FORMAT, None, SCORE_FORMAT, SCORE_FORMAT, None]
    first, last = table(ws, header, titles, rows, formats)
    wrap(ws, (1, 2), first, last)
    row = max(last, header) + 2
    put(ws, row, 1, t("waiting"), font=BOLD)
    waiting: list[list[Value]] = [
        [name(w.organization_id), w.metric, w.last_measured_on] for w in result.not_measured_again
    ]
    if waiting:
        table(ws, row + 1, [t("organization"), t("metric"), t("last_measured")], waiting)
    else:
        put(ws, row + 1, 1, t("none"), font=SMALL_MUTED)
    page_setup(ws, title_rows=(header, header))
    return workbook_bytes(wb)
