"""The "Reading the scores" sheet of one assessment's export: what a mean or a band can hide.

It writes, from the stored score object: the weakest areas and any area at the scale's lowest
level, the cap by the weakest dimension, the values that feed a parent while shown empty, and for
risk instruments what drives the overall band, the sections not fully assessed and each
condition's 2 CFR 200.208(c) notice (action, time allowed, reconsideration).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from openpyxl import Workbook

from app.domain.instrument import Instrument
from app.domain.score_object import CapRead, RiskResultRead, ScorePayload
from app.excel._export_write import (
    PERCENT_FORMAT,
    SCORE_FORMAT,
    Bilingual,
    Value,
    fit_rows,
    note,
    page_setup,
    put,
    round2,
    table,
    text_of,
    widths,
    wrap,
)
from app.excel.exports.common import area_titles_of, dimension_titles_of
from app.excel.exports.risk import CONDITION_HEADERS, ConditionColumn
from app.excel.exports.scores import SCORE_HEADERS, ScoreColumn
from app.excel.exports.words import TEXT, Labels
from app.excel.layout import ITEM_HEADERS, ItemColumn, Language
from app.excel.styles import SECTION_FONT, TITLE_FONT

SHEET: Final[Labels] = {"en": "Reading the scores", "es": "Lectura de puntajes"}
_T: Final[dict[str, Labels]] = {
    "weakest": {"en": "Weakest areas", "es": "Áreas más débiles"},
    "area": ITEM_HEADERS[ItemColumn.area],
    "dimension": SCORE_HEADERS[ScoreColumn.dimension],
    "score": SCORE_HEADERS[ScoreColumn.score],
    "risk_score": {"en": "Risk %", "es": "% de riesgo"},
    "lowest": {"en": "At the lowest level", "es": "En el nivel más bajo"},
    "yes": TEXT["yes"],
    "no": TEXT["no"],
    "none_lowest": {
        "en": "No area is at the scale's lowest level.",
        "es": "Ningún área está en el nivel más bajo de la escala.",
    },
    "some_lowest": {
        "en": "Areas at the scale's lowest level: {areas}.",
        "es": "Áreas en el nivel más bajo de la escala: {areas}.",
    },
    "cap": {
        "en": "Band cap by the weakest dimension",
        "es": "Tope del nivel por la dimensión más débil",
    },
    "cap_not_applied": {
        "en": "The rule (at most {n} band(s) above the weakest dimension) did not change the band.",
        "es": "La regla (como máximo {n} nivel(es) por encima de la dimensión más débil) no cambió "
        "el nivel.",
    },
    "partial": {
        "en": "Shown empty, yet part of the score above them",
        "es": "Se muestran vacíos, pero forman parte del puntaje superior",
    },
    "partial_value": {"en": "Value it contributes", "es": "Valor con que contribuye"},
    "why_empty": {"en": "Why it is shown empty", "es": "Por qué se muestra vacío"},
    "risk": {"en": "What drives the overall risk", "es": "Qué determina el riesgo general"},
    "notice": {
        "en": "Conditions: what the recipient must be told (2 CFR 200.208(c))",
        "es": "Condiciones: lo que debe comunicarse a la organización (2 CFR 200.208(c))",
    },
    "condition": CONDITION_HEADERS[ConditionColumn.condition],
    "reason": CONDITION_HEADERS[ConditionColumn.reason],
    "action": {"en": "Action needed to remove it", "es": "Acción necesaria para retirarla"},
    "time": {"en": "Time allowed", "es": "Plazo"},
    "reconsider": {"en": "How to ask for reconsideration", "es": "Cómo solicitar reconsideración"},
    "missing_notice": {
        "en": "(not given by this instrument version)",
        "es": "(esta versión del instrumento no lo indica)",
    },
}


def _text(value: Bilingual | None, lang: Language, fallback: str = "") -> str:
    return text_of(value, lang) if value else fallback


def write_score_reading(
    wb: Workbook, instrument: Instrument, score: ScorePayload, lang: Language
) -> None:
    """Add the sheet to ``wb`` (an assessment export whose score object is ``score``)."""
    ws = wb.create_sheet(SHEET[lang])
    risk = score.risk
    widths(ws, (34, 30, 30, 30, 30))
    put(ws, 1, 1, f"{SHEET[lang]} — {instrument.title.get(lang)}", font=TITLE_FONT)
    titles = {**dimension_titles_of(instrument, lang), **area_titles_of(instrument, lang)}
    row = 3
    overall = score.overall
    for n in overall.notes:
        note(ws, row, _text(n, lang), 5)
        row += 1
    row = _weakest(ws, row + 1, score, titles, lang, risk is not None)
    if overall.cap:
        row = _cap(ws, row + 1, overall.cap, lang)
    row = _partial(ws, row + 1, score, titles, lang, risk is not None)
    if risk:
        row = _risk(ws, row + 1, risk, lang)
        row = _notice(ws, row + 1, risk, lang)
    fit_rows(ws, 3, ws.max_row)
    page_setup(ws, title_rows=(1, 1))


def _score_format(risk: bool) -> str:
    return PERCENT_FORMAT if risk else SCORE_FORMAT


def _section(
    ws: Any,
    row: int,
    title: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[Value]],
    formats: Sequence[str | None],
    wrapped: Sequence[int],
) -> int:
    """A section's title at ``row``, its table under it; the table's last row."""
    put(ws, row, 1, title, font=SECTION_FONT)
    first, last = table(ws, row + 1, headers, rows, formats)
    wrap(ws, wrapped, first, last)
    return last


def _weakest(
    ws: Any,
    row: int,
    score: ScorePayload,
    titles: Mapping[str, str],
    lang: Language,
    risk: bool,
) -> int:
    rows = [
        [
            titles.get(w.key, w.key),
            titles.get(w.dimension, w.dimension),
            round2(w.score),
            _T["yes" if w.lowest_level else "no"][lang],
        ]
        for w in score.weakest
    ]
    score_header = _T["risk_score" if risk else "score"][lang]
    headers = [_T["area"][lang], _T["dimension"][lang], score_header, _T["lowest"][lang]]
    formats = [None, None, _score_format(risk), None]
    last = _section(ws, row, _T["weakest"][lang], headers, rows, formats, (1, 2))
    lowest = [titles.get(k, k) for k in score.lowest_level]
    text = (
        _T["some_lowest"][lang].format(areas=", ".join(lowest))
        if lowest
        else _T["none_lowest"][lang]
    )
    note(ws, max(last, row + 1) + 1, text, 5)
    return max(last, row + 1) + 2


def _cap(ws: Any, row: int, cap: CapRead, lang: Language) -> int:
    put(ws, row, 1, _T["cap"][lang], font=SECTION_FONT)
    if cap.applied and cap.reason:
        note(ws, row + 1, _text(cap.reason, lang), 5)
    else:
        note(ws, row + 1, _T["cap_not_applied"][lang].format(n=cap.bands_above), 5)
    return row + 2


def _partial(
    ws: Any,
    row: int,
    score: ScorePayload,
    titles: Mapping[str, str],
    lang: Language,
    risk: bool,
) -> int:
    partial = [
        (node, node.partial)
        for d in score.dimensions
        for node in (d, *d.areas)
        if node.partial is not None
    ]
    if not partial:
        return row
    rows = [[titles.get(n.key, n.key), round2(p.score), _text(n.reason, lang)] for n, p in partial]
    headers = [
        _T["area"][lang] + " / " + _T["dimension"][lang],
        _T["partial_value"][lang],
        _T["why_empty"][lang],
    ]
    formats = [None, _score_format(risk), None]
    return _section(ws, row, _T["partial"][lang], headers, rows, formats, (1, 3)) + 1


def _risk(ws: Any, row: int, risk: RiskResultRead, lang: Language) -> int:
    put(ws, row, 1, _T["risk"][lang], font=SECTION_FONT)
    lines = [_text(risk.explanation, lang), _text(risk.reason, lang)]
    for offset, line in enumerate(x for x in lines if x):
        note(ws, row + 1 + offset, line, 5)
        row += 1
    return row + 1


def _notice(ws: Any, row: int, risk: RiskResultRead, lang: Language) -> int:
    if not risk.conditions:
        return row
    missing = _T["missing_notice"][lang]
    rows = [
        [
            _text(c.title, lang, c.key),
            _text(c.reason, lang),
            _text(c.action, lang, missing),
            _text(c.time_allowed, lang, missing),
            _text(c.reconsideration, lang, missing),
        ]
        for c in risk.conditions
    ]
    headers = [_T[k][lang] for k in ("condition", "reason", "action", "time", "reconsider")]
    title = _T["notice"][lang]
    return _section(ws, row, title, headers, rows, (), (1, 2, 3, 4, 5)) + 1
