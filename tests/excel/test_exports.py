"""Exports: concrete cell values against numbers computed here, native charts, both languages,
streaming raw data, and text that must never turn into a formula."""

from __future__ import annotations

import csv
import io
import random
import re
import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from openpyxl.chart import BarChart, LineChart, RadarChart

from app.catalog import InstrumentFile, load_catalog
from app.domain.cohort import OrgPair, compare_cohort
from app.domain.instrument import Instrument
from app.domain.rounding import half_even as round_half_even
from app.domain.score_object import ScorePayload, SeriesRead
from app.domain.scoring import NA, AnswerValue, score
from app.excel.exports import (
    RAW_NA,
    AssessmentInfo,
    CohortRow,
    RawColumn,
    RawRow,
    export_assessment,
    export_raw,
    export_raw_csv,
    export_series,
)
from app.excel.layout import NA_LABEL, round_name
from app.services.cohort_comparison import CohortResult, cohort_json
from app.services.exports import cohort_export
from app.services.scores import score_payload, score_summary
from tests.excel.helpers import open_workbook, sheet_xml

ROOT = Path(__file__).resolve().parents[2]
LANGS = ["en", "es"]
PAYLOADS = ["=1+2", '=HYPERLINK("http://x","y")', "+1", "-1+2", "@SUM(1)", "\t=1"]
NO_ANSWER = {"en": "(no answer)", "es": "(sin respuesta)"}
EMU_PER_CM = 360_000


@cache
def instrument_file(instrument_id: str) -> InstrumentFile:
    found = load_catalog(ROOT / "instruments").latest(instrument_id)
    assert found is not None
    return found


def r2(value: float | None) -> float | None:
    return None if value is None else round_half_even(value)


def answers_for(instrument: Instrument, seed: int, level: float = 1.5) -> dict[str, AnswerValue]:
    """Every 9th item N/A (where allowed), every 11th missing, the rest around ``level``."""
    rng = random.Random(seed)
    out: dict[str, AnswerValue] = {}
    for n, (key, item) in enumerate(instrument.items.items()):
        scale = instrument.scales[item.scale]
        values = sorted(v.value for v in scale.values)
        if n % 9 == 4 and scale.allow_na:
            out[key] = NA
        elif n % 11 == 6:
            continue
        else:
            out[key] = values[min(len(values) - 1, max(0, round(rng.gauss(level, 1))))]
    return out


def info_for(f: InstrumentFile, **changes: Any) -> AssessmentInfo:
    info = AssessmentInfo(
        assessment_id="3f2b6d1e-0000-4000-8000-000000000001",
        organization_name="Fundación Ejemplo",
        round="baseline",
        assessed_on=date(2025, 3, 31),
        status="submitted",
        instrument_version=f.instrument.version,
        revision=2,
        organization_external_id="ORG-001",
        assessor="A. Consultant",
    )
    return replace(info, **changes)


def find(ws: Any, value: object, column: int | None = None) -> int:
    """The first row holding ``value`` (in ``column`` if given)."""
    for row in ws.iter_rows():
        for cell in row:
            if cell.value == value and (column is None or cell.column == column):
                return int(cell.row)
    raise AssertionError(f"{value!r} not found on {ws.title}")


def row_values(ws: Any, row: int) -> list[Any]:
    return [c.value for c in ws[row]]


def charts(ws: Any) -> list[tuple[type, int]]:
    """The native charts of a sheet as read back by openpyxl: (chart class, number of series)."""
    return [(type(c), len(c.series)) for c in ws._charts]


def chart_title(c: Any) -> str:
    return "".join(run.t for p in c.title.tx.rich.p for run in (p.r or []))


def assert_page_setup(wb: Any) -> None:
    """Every sheet prints landscape, fitted to a number of pages wide, with title rows."""
    for ws in wb.worksheets:
        assert ws.page_setup.orientation == "landscape", ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert ws.page_setup.fitToWidth >= 1, ws.title
        assert ws.print_title_rows, ws.title


def assert_bar_chart_conventions(c: Any, label_format: str, major: float | None) -> None:
    """Values written on the bars (a real 0 reads "0", N/A has no label) and an axis whose
    format is its own, not the cells' "0.00"."""
    assert c.dataLabels is not None and c.dataLabels.showVal
    assert c.dataLabels.numFmt == label_format
    assert not c.y_axis.number_format.sourceLinked
    assert c.y_axis.number_format.formatCode in ("0", "0%")
    assert c.y_axis.majorUnit == major


def strings(wb: Any) -> list[str]:
    return [
        c.value
        for ws in wb.worksheets
        for row in ws.iter_rows()
        for c in row
        if isinstance(c.value, str)
    ]


def assert_no_internal_keys(wb: Any, instrument: Instrument) -> None:
    """No cell is a dimension, area or scale key, or "overall"; no "(oca)" after a title."""
    keys = {"overall", *instrument.scales}
    keys |= {d.key for d in instrument.dimensions}
    keys |= {a.key for d in instrument.dimensions for a in d.areas}
    texts = strings(wb)
    assert not keys & set(texts), keys & set(texts)
    assert not [t for t in texts if f"({instrument.id})" in t]


def no_formulas(data: bytes) -> None:
    sheets = sheet_xml(data)
    assert sheets
    for name, xml in sheets.items():
        assert re.search(r"<(\w+:)?f[ >]", xml) is None, name


# --- 1. one assessment ---------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_assessment_cover_answers_and_scores(lang: str) -> None:
    f = instrument_file("oca")
    instrument = f.instrument
    answers = answers_for(instrument, seed=1)
    first_key = next(iter(instrument.items))
    notes = {first_key: "Seen the strategic plan"}
    payload = score_payload(score(f.compiled, answers), instrument)
    wb = open_workbook(
        export_assessment(
            instrument, info_for(f), answers, notes, ScorePayload.model_validate(payload), lang
        )
    )
    names = {
        "en": ["Cover", "Answers", "Scores", "Reading the scores"],
        "es": ["Portada", "Respuestas", "Puntajes", "Lectura de puntajes"],
    }[lang]
    assert wb.sheetnames == names
    cover, sheet, scores, _ = (wb[n] for n in names)

    # cover
    org_label = {"en": "Organization", "es": "Organización"}[lang]
    assert cover.cell(row=find(cover, org_label, 1), column=2).value == "Fundación Ejemplo"
    assessor_row = find(
        cover, {"en": "Assessor / facilitator", "es": "Evaluador(a) / facilitador(a)"}[lang], 1
    )
    assert cover.cell(row=assessor_row, column=2).value == "A. Consultant"
    status_row = find(cover, {"en": "Status", "es": "Estado"}[lang], 1)
    assert cover.cell(row=status_row, column=2).value == {"en": "Submitted", "es": "Enviada"}[lang]
    version_row = find(cover, instrument.version, 2)
    assert cover.cell(row=version_row - 1, column=2).value == instrument.title.get(lang)
    # the date is a date, left-aligned like the texts around it
    date_row = find(cover, {"en": "Assessment date", "es": "Fecha de la evaluación"}[lang], 1)
    assert cover.cell(row=date_row, column=2).alignment.horizontal == "left"

    # answers: one row per item in instrument order, N/A and blanks spelled out
    headers = row_values(sheet, 1)
    assert (
        headers
        == {
            "en": ["Dimension", "Area", "Key", "Item", "Value", "Answer", "Notes / evidence"],
            "es": ["Dimensión", "Área", "Clave", "Ítem", "Valor", "Respuesta", "Notas / evidencia"],
        }[lang]
    )
    keys = list(instrument.items)
    assert [sheet.cell(row=r, column=3).value for r in range(2, 2 + len(keys))] == keys
    na_seen = missing_seen = 0
    for offset, key in enumerate(keys):
        row = row_values(sheet, 2 + offset)
        item = instrument.items[key]
        value = answers.get(key)
        if value is None:
            missing_seen += 1
            assert row[4] is None
            assert row[5] == NO_ANSWER[lang]
        elif value is NA:
            na_seen += 1
            assert row[4] == row[5] == NA_LABEL[lang]
        else:
            assert row[4] == value
            found = instrument.scales[item.scale].by_value(float(value))  # type: ignore[arg-type]
            assert found is not None
            assert row[5] == found.label.get(lang)
        assert row[6] == notes.get(key)
    assert na_seen and missing_seen
    # columns A-C (dimension, area, key) are readable: wrapped, or as wide as the longest key
    assert sheet.cell(row=2, column=1).alignment.wrap_text
    assert sheet.cell(row=2, column=2).alignment.wrap_text
    assert sheet.column_dimensions["C"].width >= max(len(k) for k in keys)

    # scores: overall, each dimension, areas, lens; all tables start name, score, coverage, ...
    overall = payload["overall"]
    overall_header = find(scores, {"en": "Overall", "es": "Global"}[lang], 1) + 1
    assert (
        row_values(scores, overall_header)[:4]
        == {
            "en": ["Name", "Score", "Coverage", "Answered"],
            "es": ["Nombre", "Puntaje", "Cobertura", "Con respuesta"],
        }[lang]
    )
    got = row_values(scores, overall_header + 1)
    assert got[0] == {"en": "Overall", "es": "Global"}[lang]
    assert got[1] == r2(overall["score"])
    assert got[2] == r2(overall["coverage"])
    assert got[3:6] == [overall["answered"], overall["na"], overall["missing"]]
    assert got[7] == overall["band"][lang]
    titles = {d.key: d.title.get(lang) for d in instrument.dimensions}
    for d in payload["dimensions"]:
        row = row_values(scores, find(scores, titles[d["key"]], 1))
        assert row[1:6] == [r2(d["score"]), r2(d["coverage"]), d["answered"], d["na"], d["missing"]]
    null_areas = [a for d in payload["dimensions"] for a in d["areas"] if a["score"] is None]
    assert null_areas, "the answers should leave some area without a score"
    area_titles = {a.key: a.title.get(lang) for d in instrument.dimensions for a in d.areas}
    na_suffix = {"en": " (N/A)", "es": " (No aplica)"}[lang]
    no_score_suffix = {"en": " (no score)", "es": " (sin puntaje)"}[lang]
    assert {a["reason"]["code"] for a in null_areas} == {"all_not_applicable", "no_answers"}
    for a in null_areas:
        # the chart's category says why there is no bar, so it does not read as a 0
        na = a["reason"]["code"] == "all_not_applicable"
        name = area_titles[a["key"]] + (na_suffix if na else no_score_suffix)
        row = row_values(scores, find(scores, name, 1))
        assert row[1] is None
        assert row[6] == a["reason"][lang]
    scored_names = [
        scores.cell(row=r, column=1).value
        for r in range(1, scores.max_row + 1)
        if isinstance(scores.cell(row=r, column=2).value, float)
    ]
    assert scored_names and not [n for n in scored_names if n.endswith(na_suffix)]
    lens_names = {
        "en": ["Management", "Financing", "Processes", "Culture"],
        "es": ["Gestión", "Financiamiento", "Procesos", "Cultura"],
    }[lang]
    for lens, name in zip(
        ["management", "financing", "processes", "culture"], lens_names, strict=True
    ):
        unscored = payload["lens"][lens]["score"] is None
        row = row_values(scores, find(scores, name + (no_score_suffix if unscored else ""), 1))
        assert row[1] == r2(payload["lens"][lens]["score"])
        assert row[1] is None or 0 <= row[1] <= 100
    # the 0-100 profile is explained under its table
    lens_note = {"en": "four dimensions", "es": "cuatro dimensiones"}[lang]
    assert [t for t in strings(wb) if lens_note in t and "0–100" in t]

    # native charts under the tables: dimensions, lens (0-100), areas
    assert charts(scores) == [(BarChart, 1), (BarChart, 1), (BarChart, 1)]
    last_table_row = max(
        r
        for r in range(1, scores.max_row + 1)
        if str(scores.cell(row=r, column=1).value or "").startswith(lens_names[-1])
    )
    for c in scores._charts:
        assert c.anchor._from.col == 0 and c.anchor._from.row >= last_table_row
    dim_chart, lens_chart, area_chart = scores._charts
    assert_bar_chart_conventions(dim_chart, "0.0", 1.0)
    assert_bar_chart_conventions(lens_chart, "0", 20.0)
    assert_bar_chart_conventions(area_chart, "0.0", 1.0)
    assert lens_chart.y_axis.scaling.min == 0 and lens_chart.y_axis.scaling.max == 100
    assert dim_chart.y_axis.scaling.min == 0 and dim_chart.y_axis.scaling.max == 4
    # 45 areas: a horizontal bar chart tall enough for every name
    assert area_chart.type == "bar"
    assert area_chart.anchor.ext.height / EMU_PER_CM >= 0.5 * len(area_titles)
    assert (
        chart_title(dim_chart) == {"en": "Score by dimension", "es": "Puntaje por dimensión"}[lang]
    )
    assert_page_setup(wb)
    assert_no_internal_keys(wb, instrument)


@pytest.mark.parametrize("lang", LANGS)
def test_assessment_risk_sheet(lang: str) -> None:
    f = instrument_file("nupas")
    instrument = f.instrument
    answers = answers_for(instrument, seed=3, level=0.4)
    payload = score_payload(score(f.compiled, answers), instrument)
    risk = payload["risk"]
    assert risk is not None and risk["conditions"], "the answers should recommend conditions"
    wb = open_workbook(
        export_assessment(
            instrument, info_for(f), answers, {}, ScorePayload.model_validate(payload), lang
        )
    )
    sheet_name = {"en": "Risk", "es": "Riesgo"}[lang]
    assert wb.sheetnames[-2:] == [
        sheet_name,
        {"en": "Reading the scores", "es": "Lectura de puntajes"}[lang],
    ]
    ws = wb[sheet_name]
    bands = {
        "en": {"low": "Low", "medium": "Medium", "high": "High", "extreme": "Extreme"},
        "es": {"low": "Bajo", "medium": "Medio", "high": "Alto", "extreme": "Extremo"},
    }[lang]
    overall_label = {"en": "Overall risk", "es": "Riesgo global"}[lang]
    assert ws.cell(row=find(ws, overall_label, 1), column=2).value == bands[risk["overall"]]
    titles = {d.key: d.title.get(lang) for d in instrument.dimensions}
    # the overall band is the worst section's: said so, with the section(s) and their %
    rule = ws.cell(
        row=find(ws, {"en": "Overall risk is", "es": "El riesgo global es"}[lang], 1), column=2
    ).value
    worst = [x for x in risk["sections"] if x["band"] == risk["overall"]]
    assert worst and rule.startswith(
        {"en": "the band of the worst section", "es": "el nivel de la peor sección"}[lang]
    )
    for x in worst:
        assert f"«{titles[x['key']]}» ({round(x['percent'], 1):g} %" in rule
    for x in risk["sections"]:
        if x not in worst:
            assert titles[x["key"]] not in rule
    # the pooled % is labelled as pooled, at one decimal
    pooled_label = {
        "en": "Risk over all questions, pooled (%)",
        "es": "Riesgo sobre todas las preguntas en conjunto (%)",
    }[lang]
    pooled = ws.cell(row=find(ws, pooled_label, 1), column=2)
    assert pooled.value == r2(risk["percent"]) and pooled.number_format == "0.0"
    assert not [t for t in strings(wb) if t in ("Overall risk %", "Riesgo global %")]
    section_header = find(ws, {"en": "Section", "es": "Sección"}[lang], 1)
    for offset, section in enumerate(risk["sections"], start=1):
        row = row_values(ws, section_header + offset)
        assert row[0] == titles[section["key"]]
        assert row[1] == r2(section["percent"])
        # risk % at one decimal, whole risk points without ".00"
        assert ws.cell(row=section_header + offset, column=2).number_format == "0.0"
        assert ws.cell(row=section_header + offset, column=4).number_format == "General"
        assert ws.cell(row=section_header + offset, column=5).number_format == "General"
        assert row[2] == (bands[section["band"]] if section["band"] else None)
        failed = section.get("key_questions_failed") or []
        assert (row[5] or "").count(":") >= len(failed)
        for key in failed:
            assert key in row[5]
    condition_header = find(ws, {"en": "Condition", "es": "Condición"}[lang], 1)
    for offset, condition in enumerate(risk["conditions"], start=1):
        row = row_values(ws, condition_header + offset)
        assert row[0] == condition["title"][lang]
        assert row[1].startswith({"en": "Recommended because", "es": "Se recomienda porque"}[lang])
        for s in condition["sections"]:
            assert titles[s["key"]] in row[1]
    # the scores sheet speaks of risk, not score
    scores = wb[{"en": "Scores", "es": "Puntajes"}[lang]]
    assert find(scores, {"en": "Risk %", "es": "Riesgo %"}[lang])
    assert find(scores, {"en": "Risk % (pooled)", "es": "Riesgo % (en conjunto)"}[lang])
    assert [kind for kind, _ in charts(scores)] == [BarChart] * 3
    assert_bar_chart_conventions(scores._charts[0], "0.0", 20.0)
    assert_page_setup(wb)
    assert_no_internal_keys(wb, instrument)


def test_assessment_without_score_and_answers_that_do_not_fit() -> None:
    f = instrument_file("oca")
    wb = open_workbook(export_assessment(f.instrument, info_for(f), {}, {}, None, "es"))
    assert wb.sheetnames == ["Portada", "Respuestas", "Puntajes"]
    assert charts(wb["Puntajes"]) == []
    assert find(wb["Puntajes"], "Esta evaluación todavía no tiene puntaje.")
    draft = open_workbook(
        export_assessment(f.instrument, info_for(f, status="draft"), {}, {}, None, "en")
    )
    assert find(
        draft["Scores"],
        "This assessment has no score: it is a draft, and drafts are scored when they are "
        "submitted.",
    )
    answers = wb["Respuestas"]
    assert {answers.cell(row=r, column=6).value for r in range(2, answers.max_row + 1)} == {
        "(sin respuesta)"
    }
    with pytest.raises(ValueError, match="not an item"):
        export_assessment(f.instrument, info_for(f), {"nope": 1.0}, {}, None, "en")
    with pytest.raises(ValueError, match="not a value"):
        export_assessment(f.instrument, info_for(f), {"gls.vision.1": 7.0}, {}, None, "en")
    with pytest.raises(ValueError, match="2014"):
        export_assessment(f.instrument, info_for(f, instrument_version="2014"), {}, {}, None, "en")
    with pytest.raises(ValueError, match="language"):
        export_assessment(f.instrument, info_for(f), {}, {}, None, "fr")


# --- 2. series -----------------------------------------------------------------------------------


def series_point(
    f: InstrumentFile, answers: Mapping[str, AnswerValue], round_: str, on: str
) -> dict[str, Any]:
    """A point as ``services.analysis.series`` builds it from a stored score payload."""
    p = score_payload(score(f.compiled, answers), f.instrument)
    return {
        "assessment_id": str(uuid.uuid4()),
        "round": round_,
        "assessed_on": on,
        "status": "final",
        "revision": 1,
        "retrospective": False,
        "instrument_version": f.instrument.version,
        "overall": p["overall"],
        "dimensions": [
            {
                "key": d["key"],
                "score": d["score"],
                "coverage": d["coverage"],
                "areas": [{"key": a["key"], "score": a["score"]} for a in d["areas"]],
            }
            for d in p["dimensions"]
        ],
        "lens": {k: v["score"] for k, v in p["lens"].items()},
        "risk": (p.get("risk") or {}).get("overall"),
    }


def make_series(f: InstrumentFile, rounds: list[tuple[str, str]], org: str = "x") -> dict[str, Any]:
    points = [
        series_point(f, answers_for(f.instrument, seed=n, level=0.5 + n), r, on)
        for n, (r, on) in enumerate(rounds)
    ]
    return {"organization_id": org, "instrument_id": f.instrument.id, "points": points}


@pytest.mark.parametrize("lang", LANGS)
def test_series_table_and_charts(lang: str) -> None:
    f = instrument_file("oca")
    dims = f.instrument.dimensions
    series = make_series(
        f, [("baseline", "2023-02-01"), ("midline", "2024-03-01"), ("endline", "2025-04-01")]
    )
    wb = open_workbook(
        export_series(f.instrument, "Fundación Ejemplo", SeriesRead.model_validate(series), lang)
    )
    ws = wb[{"en": "Series", "es": "Serie"}[lang]]
    assert ws["A1"].value == "Fundación Ejemplo"
    header = find(ws, {"en": "Date", "es": "Fecha"}[lang], 1)
    titles = row_values(ws, header)
    assert (
        titles[:5]
        == {
            "en": ["Date", "Round", "Status", "Instrument version", "Overall"],
            "es": ["Fecha", "Ronda", "Estado", "Versión del instrumento", "Global"],
        }[lang]
    )
    assert titles[5 : 5 + len(dims)] == [d.title.get(lang) for d in dims]
    assert len(titles) == 5 + len(dims) + 4
    for offset, point in enumerate(series["points"], start=1):
        row = row_values(ws, header + offset)
        assert row[0].date() == date.fromisoformat(point["assessed_on"])
        assert row[1] == round_name(point["round"], lang)  # 'línea final' in Spanish
        assert row[2] == {"en": "Final", "es": "Final"}[lang]
        assert row[4] == r2(point["overall"]["score"])
        assert row[5 : 5 + len(dims)] == [r2(d["score"]) for d in point["dimensions"]]
        lens = [r2(point["lens"][k]) for k in ("management", "financing", "processes", "culture")]
        assert row[5 + len(dims) :] == lens
    assert charts(ws) == [(LineChart, 1 + len(dims)), (RadarChart, 2)]
    radar = ws._charts[1]
    first_col = radar.series[0].val.numRef.f
    latest = series["points"][-1]
    # the radar reads a first-vs-latest table: check the latest column against the last point
    radar_header = find(ws, {"en": "Dimension", "es": "Dimensión"}[lang], 1)
    assert row_values(ws, radar_header)[2].startswith(
        {"en": "Latest: endline", "es": "Última: línea final"}[lang]
    )
    for offset, d in enumerate(latest["dimensions"], start=1):
        assert ws.cell(row=radar_header + offset, column=3).value == r2(d["score"])
        # the full name wraps in the table (no clipping); the radar reads a short label
        full = ws.cell(row=radar_header + offset, column=1)
        assert full.value == dims[offset - 1].title.get(lang) and full.alignment.wrap_text
        short = ws.cell(row=radar_header + offset, column=4).value
        assert len(short) <= 30
        assert short == full.value or short.rstrip("…") in full.value
    assert "$B$" in first_col
    assert radar.series[0].cat.numRef.f.startswith(f"'{ws.title}'!$D$")
    assert radar.legend is not None and radar.legend.position == "b"
    # the overall line stands out
    line = ws._charts[0]
    overall_width, *others = (x.graphicalProperties.line.w for x in line.series)
    assert others and overall_width > max(others)
    assert not line.y_axis.number_format.sourceLinked and line.y_axis.majorUnit == 1
    assert chart_title(ws._charts[0])
    # the lens columns are explained, the subtitle names the instrument without its id
    assert [t for t in strings(wb) if "0–100" in t and {"en": "four", "es": "cuatro"}[lang] in t]
    assert ws["A2"].value.endswith(f.instrument.title.get(lang))
    assert_page_setup(wb)
    assert_no_internal_keys(wb, f.instrument)


def test_series_with_one_point_and_with_none() -> None:
    f = instrument_file("nupas")
    one = open_workbook(
        export_series(
            f.instrument,
            "Org",
            SeriesRead.model_validate(make_series(f, [("baseline", "2024-01-01")])),
            "en",
        )
    )
    ws = one["Series"]
    assert charts(ws) == [(LineChart, 1 + len(f.instrument.dimensions)), (RadarChart, 1)]
    assert find(ws, "Overall risk") == find(ws, "Date")  # risk instruments add the risk band
    nothing = SeriesRead(organization_id="x", instrument_id=f.instrument.id, points=[])
    empty = open_workbook(export_series(f.instrument, "Org", nothing, "es"))
    assert charts(empty["Serie"]) == []
    assert find(empty["Serie"], "Todavía no hay evaluaciones con puntaje.")


# --- 3. cohort -----------------------------------------------------------------------------------


def make_cohort(
    f: InstrumentFile,
    names: list[str],
    cohort_name: str = "Cohorte 2025",
    baseline: str = "baseline",
    endline: str = "endline",
) -> tuple[CohortResult, dict[str, Any], list[CohortRow]]:
    """A cohort's typed result (what the export reads), its JSON as the API would send it and
    its rows (what the tests expect the sheets to show)."""
    instrument = f.instrument

    def flat(seed: int, level: float) -> dict[str, float | None]:
        s = score_summary(score(f.compiled, answers_for(instrument, seed, level)))
        return {"overall": s["overall"], **s["dimensions"]}

    pairs = [
        OrgPair(
            str(uuid.UUID(int=n + 1)),
            name,
            {} if n == 2 else flat(10 + n, 0.8),
            {} if n == 4 else flat(50 + n, 1.2 + (n % 3) * 0.6),
        )
        for n, name in enumerate(names)
    ]
    keys = ["overall", *(d.key for d in instrument.dimensions)]
    scales = list(instrument.scales.values())
    comparison = compare_cohort(
        pairs,
        keys,
        scale_low=min(s.min for s in scales),
        scale_high=max(s.max for s in scales),
        risk=instrument.scoring.method.value == "risk",
        improvement_threshold=instrument.scoring.improvement_threshold,
    )
    result = CohortResult(
        uuid.UUID(int=99),
        cohort_name,
        f,
        baseline,
        endline,
        {p.organization_id: p.name for p in pairs},
        {p.organization_id: None for p in pairs},
        comparison,
        pairs,
        False,
    )
    rows = [CohortRow(p.organization_id, p.name, p.baseline, p.endline) for p in pairs]
    return result, cohort_json(result), rows


COHORT_KEY_HEADERS = {
    "en": [
        "Baseline",
        "Endline",
        "Change",
        "Change, unrounded",
        "Direction",
        "Outcome, ± 1 level (1–4 scale)",
    ],
    "es": [
        "Línea de base",
        "Línea final",
        "Cambio",
        "Cambio, sin redondear",
        "Dirección",
        "Resultado, ± 1 nivel (escala 1–4)",
    ],
}
OUTCOMES = {
    "en": {"improved": "improved", "declined": "declined", "unchanged": "unchanged"},
    "es": {"improved": "mejoró", "declined": "empeoró", "unchanged": "sin cambio"},
}
DIRECTIONS = {"en": ("up", "same", "down"), "es": ("sube", "igual", "baja")}
NO_ROUND = {
    "en": ("no baseline scored (draft?)", "no endline scored (draft?)"),
    "es": (
        "sin línea de base con puntaje (¿borrador?)",
        "sin línea final con puntaje (¿borrador?)",
    ),
}


@pytest.mark.parametrize("lang", LANGS)
def test_cohort_organizations_summary_and_charts(lang: str) -> None:
    f = instrument_file("oca")
    dims = f.instrument.dimensions
    keys = ["overall", *(d.key for d in dims)]
    result, comparison, rows = make_cohort(f, [f"Org {n}" for n in range(12)])
    wb = open_workbook(cohort_export(result, lang))
    orgs_name, summary_name = {
        "en": ("Organizations", "Summary"),
        "es": ("Organizaciones", "Resumen"),
    }[lang]
    assert wb.sheetnames == [orgs_name, summary_name]
    ws = wb[orgs_name]
    titles = row_values(ws, 3)
    # no program IDs here: organization, six columns per key, items left out, the internal ID
    assert len(titles) == 1 + 6 * len(keys) + 2
    overall = {"en": "Overall", "es": "Global"}[lang]
    assert titles[1:7] == [f"{overall}: {h}" for h in COHORT_KEY_HEADERS[lang]]
    assert titles[-1] == {"en": "Internal ID", "es": "ID interno"}[lang]
    assert titles[-2].startswith({"en": "Items left out", "es": "Ítems excluidos"}[lang])
    assert ws.column_dimensions[ws.cell(row=3, column=len(titles)).column_letter].width < 38
    assert ws.freeze_panes == "B4"
    stats = {k["key"]: k for k in comparison["keys"]}
    up, same, down = DIRECTIONS[lang]
    no_baseline, no_endline = NO_ROUND[lang]
    improved_seen = declined_seen = 0
    for offset, r in enumerate(rows, start=4):
        row = row_values(ws, offset)
        assert row[0] == r.name and row[-1] == r.organization_id
        for k, key in enumerate(keys):
            b, e = r.baseline.get(key), r.endline.get(key)
            got = row[1 + 6 * k : 7 + 6 * k]
            assert got[0] == (r2(b) if b is not None else no_baseline if not r.baseline else None)
            assert got[1] == (r2(e) if e is not None else no_endline if not r.endline else None)
            if b is None or e is None:
                assert got[2:] == [None, None, None, None]
                continue
            # the shown change is the difference of the shown numbers; the unrounded one beside
            delta = float(Decimal(repr(r2(e))) - Decimal(repr(r2(b))))
            assert got[2] == delta and got[3] == pytest.approx(e - b)
            assert got[4] == (up if delta > 0 else down if delta < 0 else same)
            outcome = next(
                o for o in OUTCOMES[lang] if r.organization_id in stats[key]["outcomes"][o]
            )
            improved_seen += outcome == "improved"
            declined_seen += got[4] == down
            assert got[5] == OUTCOMES[lang][outcome]
    assert improved_seen and declined_seen
    note = {"en": "Direction shows any rise or fall", "es": "Dirección muestra toda subida"}[lang]
    assert [
        t for t in strings(wb) if {"en": "Items left out:", "es": "Ítems excluidos:"}[lang] in t
    ]
    assert [t for t in strings(wb) if note in t]

    ws = wb[summary_name]
    assert (
        ws.cell(
            row=find(ws, {"en": "With both rounds", "es": "Con ambas rondas"}[lang], 1), column=2
        ).value
        == 10
    )
    threshold_row = find(ws, {"en": "Improvement threshold", "es": "Umbral de mejora"}[lang], 1)
    assert ws.cell(row=threshold_row, column=2).value == COHORT_KEY_HEADERS[lang][-1]
    header = find(ws, overall, 1) - 1
    headers = row_values(ws, header)
    assert (
        headers[1:5]
        == {
            "en": [
                "Paired: organizations with both rounds (n)",
                "Baseline mean (paired)",
                "Endline mean (paired)",
                "Mean change (paired)",
            ],
            "es": [
                "Emparejadas: organizaciones con ambas rondas (n)",
                "Media línea de base (emparejadas)",
                "Media línea final (emparejadas)",
                "Cambio medio (emparejadas)",
            ],
        }[lang]
    )
    assert headers[6].startswith(COHORT_KEY_HEADERS[lang][-1])
    assert all(cell.alignment.wrap_text for cell in ws[header] if cell.value)
    names = {r.organization_id: r.name for r in rows}
    titles_by_key = {"overall": overall, **{d.key: d.title.get(lang) for d in dims}}
    for offset, key in enumerate(keys, start=1):
        s = stats[key]
        row = row_values(ws, header + offset)
        assert row[0] == titles_by_key[key]  # titles, never the internal key
        assert row[1] == len(s["paired"]) == s["paired_baseline"]["n"] == 10
        # the before/after means are over the same organizations; their difference is the change
        assert row[2:5] == [
            r2(s["paired_baseline"]["mean"]),
            r2(s["paired_endline"]["mean"]),
            r2(s["mean_delta"]),
        ]
        assert row[4] == r2(row[3] - row[2])  # the shown change of the shown means
        assert row[5] == pytest.approx(s["paired_endline"]["mean"] - s["paired_baseline"]["mean"])
        assert s["paired_baseline"]["mean"] != s["baseline"]["mean"]
        outcomes = s["outcomes"]
        assert row[6] == len(outcomes["improved"])
        assert row[7] == r2(outcomes["share_improved"]) == r2(row[6] / row[1])
        assert row[8:10] == [len(outcomes["declined"]), len(outcomes["unchanged"])]
        assert row[6] + row[8] + row[9] == row[1]
        assert row[10:13] == [
            s["baseline"]["n"],
            r2(s["baseline"]["mean"]),
            r2(s["baseline"]["median"]),
        ]
        assert row[10] == 11  # every organization but the one without a baseline
        assert row[13:16] == [
            s["endline"]["n"],
            r2(s["endline"]["mean"]),
            r2(s["endline"]["median"]),
        ]
        assert (row[16] or "") == "; ".join(names[i] for i in outcomes["improved"])
    assert charts(ws) == [(BarChart, 2), (BarChart, 1)]
    means, share = ws._charts
    assert means.grouping == "clustered"
    # the charts show the dimensions only (not the overall row), the means chart the paired ones
    assert means.series[0].val.numRef.f.endswith(f"$C${header + 2}:$C${header + 1 + len(dims)}")
    assert means.series[1].val.numRef.f.endswith(f"$D${header + 2}:$D${header + 1 + len(dims)}")
    assert "n = 10" in chart_title(means)
    assert f"${header + 2}:" in share.series[0].val.numRef.f
    assert {"en": "improved ≥ 1 level (1–4 scale)", "es": "mejoraron ≥ 1 nivel (escala 1–4)"}[
        lang
    ] in chart_title(share)
    for c in ws._charts:
        assert c.anchor._from.row > header + len(keys)
    assert_bar_chart_conventions(means, "0.0", 1.0)
    assert_bar_chart_conventions(share, "0%", 0.2)
    assert_page_setup(wb)
    assert_no_internal_keys(wb, f.instrument)


def test_cohort_almost_one_level_is_not_improved_but_goes_up() -> None:
    """+0.99 on a 1-4 scale is below the 1-level threshold: "No", yet "up", not a decline."""
    f = instrument_file("oca")
    keys = ["overall", *(d.key for d in f.instrument.dimensions)]
    pairs = [
        OrgPair("a", "Almost", dict.fromkeys(keys, 2.0), dict.fromkeys(keys, 2.99)),
        OrgPair("b", "Declined", dict.fromkeys(keys, 3.0), dict.fromkeys(keys, 2.5)),
        OrgPair("c", "Improved", dict.fromkeys(keys, 1.5), dict.fromkeys(keys, 2.5)),
        OrgPair("d", "Flat", dict.fromkeys(keys, 2.0), dict.fromkeys(keys, 2.001)),
        OrgPair("e", "Half", dict.fromkeys(keys, 1.975), dict.fromkeys(keys, 2.525)),
    ]
    result = CohortResult(
        uuid.UUID(int=1),
        "C",
        f,
        "baseline",
        "endline",
        {p.organization_id: p.name for p in pairs},
        {p.organization_id: f"EXT-{n}" for n, p in enumerate(pairs)},
        compare_cohort(
            pairs,
            keys,
            scale_low=1,
            scale_high=4,
            risk=False,
            improvement_threshold=f.instrument.scoring.improvement_threshold,
        ),
        pairs,
        False,
    )
    ws = open_workbook(cohort_export(result, "en"))["Organizations"]
    titles = row_values(ws, 3)
    # the program's ID comes second; the internal UUID is kept, last
    assert titles[:3] == ["Organization", "Organization ID (program)", "Overall: Baseline"]
    assert titles[-1] == "Internal ID"
    assert ws.freeze_panes == "C4"
    got = {ws.cell(row=r, column=1).value: row_values(ws, r) for r in range(4, 4 + len(pairs))}
    assert got["Almost"][1] == "EXT-0" and got["Almost"][-1] == "a"
    assert got["Almost"][4:8] == [0.99, pytest.approx(0.99), "up", "unchanged"]
    assert got["Declined"][4:8] == [-0.5, -0.5, "down", "unchanged"]
    assert got["Improved"][4:8] == [1.0, 1.0, "up", "improved"]
    assert got["Flat"][4:8] == [0.0, pytest.approx(0.001), "same", "unchanged"]
    # 1.975 and 2.525 show as 1.98 and 2.52: the change shown is 0.54 (0.55 before rounding)
    assert got["Half"][2:8] == [1.98, 2.52, 0.54, pytest.approx(0.55), "up", "unchanged"]


def test_cohort_risk_instrument_says_its_threshold_in_risk_points() -> None:
    f = instrument_file("nupas")
    result, _, _ = make_cohort(f, [f"Org {n}" for n in range(6)])
    wb = open_workbook(cohort_export(result, "es"))
    titles = row_values(wb["Organizaciones"], 3)
    assert titles[6] == "Global: Resultado, riesgo ± 10 puntos (0–100 %)"
    assert [t for t in strings(wb) if "(en riesgo, bajar es mejor)" in t]
    assert_no_internal_keys(wb, f.instrument)


# --- 4. raw data ---------------------------------------------------------------------------------


def raw_rows(f: InstrumentFile, n: int, **text: str) -> list[RawRow]:
    rows = []
    for i in range(n):
        answers = answers_for(f.instrument, seed=i, level=1 + i % 3)
        rows.append(
            RawRow(
                assessment_id=str(uuid.UUID(int=i)),
                organization_id=str(uuid.UUID(int=10_000 + i // 2)),
                organization_name=text.get("organization_name", f"Organización {i // 2}"),
                round=text.get("round", "baseline" if i % 2 else "endline"),
                assessed_on=date(2024, 1, 1) + timedelta(days=i),
                status="final",
                instrument_version=f.instrument.version,
                overall=score(f.compiled, answers).overall.score,
                answers=answers,
                external_id=text.get("external_id", f"EXT-{i}"),
            )
        )
    return rows


@pytest.mark.parametrize("lang", LANGS)
def test_raw_xlsx(lang: str) -> None:
    f = instrument_file("oca")
    keys = list(f.instrument.items)
    rows = raw_rows(f, 30)
    wb = open_workbook(export_raw(f.instrument, iter(rows), lang))
    data_name, items_name = {"en": ("Data", "Items"), "es": ("Datos", "Ítems")}[lang]
    assert wb.sheetnames == [data_name, items_name]
    ws = wb[data_name]
    header = row_values(ws, 1)
    assert len(header) == 9 + len(keys) == ws.max_column
    assert header[9:] == keys
    assert (
        header[:3]
        == {
            "en": ["Assessment ID", "Organization ID", "Organization"],
            "es": ["ID de la evaluación", "ID de la organización", "Organización"],
        }[lang]
    )
    assert ws.max_row == 1 + len(rows)
    na_cells = blank_cells = 0
    for offset, r in enumerate(rows, start=2):
        row = row_values(ws, offset)
        assert row[:5] == [
            r.assessment_id,
            r.organization_id,
            r.organization_name,
            r.external_id,
            r.round,
        ]
        assert row[5].date() == r.assessed_on
        assert row[6:9] == ["final", f.instrument.version, r2(r.overall)]
        for key, got in zip(keys, row[9:], strict=True):
            expected = r.answers.get(key)
            if expected is NA:
                na_cells += 1
                assert got == RAW_NA
            elif expected is None:
                blank_cells += 1
                assert got is None
            else:
                assert got == expected
    assert na_cells and blank_cells
    items = wb[items_name]
    assert items.max_row == 1 + len(keys)
    for offset, key in enumerate(keys, start=2):
        assert items.cell(row=offset, column=1).value == key
        assert items.cell(row=offset, column=4).value == f.instrument.items[key].text.get(lang)
        assert items.cell(row=offset, column=4).alignment.wrap_text
    # long item texts wrap in rows tall enough to show them
    assert all(items.row_dimensions[r].height for r in range(2, 2 + len(keys)))

    # every column has a width: UUIDs and dates in full (no ###), headers and keys not cut
    for column, title in enumerate(header, start=1):
        width = ws.column_dimensions[ws.cell(row=1, column=column).column_letter].width
        assert width >= len(str(title)), title
    assert ws.column_dimensions["A"].width >= 36  # a UUID
    assert ws.column_dimensions["F"].width >= 12  # a date, yyyy-mm-dd
    assert ws.freeze_panes == "D2"
    assert_page_setup(wb)


def test_raw_xlsx_rows_written_as_text_read_back_as_written() -> None:
    """The raw export's rows are written as sheet XML text (``bulk_rows``), in batches: every
    value of 1,201 rows reads back as it went in, in openpyxl's own cell forms — text that looks
    like a formula stays text, spaces at the ends are kept, dates are dates, blanks are blank."""
    f = instrument_file("oca")
    keys = list(f.instrument.items)
    rows = raw_rows(f, 1201, organization_name=" =SUM(A1) & <b> ", round="ronda\x01 uno")
    data = export_raw(f.instrument, iter(rows), "en")
    wb = open_workbook(data)
    ws = wb["Data"]
    assert ws.max_row == 1202
    got = list(ws.iter_rows(min_row=2, values_only=True))
    for r, values in zip(rows, got, strict=True):
        assert values[:5] == (
            r.assessment_id, r.organization_id, " =SUM(A1) & <b> ", r.external_id, "ronda uno"
        )  # fmt: skip
        assert values[5].date() == r.assessed_on
        expected = [r.answers.get(k) for k in keys]
        assert list(values[9:]) == [RAW_NA if v is NA else v for v in expected]
    no_formulas(data)
    assert ws["F2"].number_format == "yyyy-mm-dd"


def test_raw_csv_round_trip() -> None:
    f = instrument_file("oca")
    keys = list(f.instrument.items)
    rows = raw_rows(f, 200)
    chunks = list(export_raw_csv(f.instrument, iter(rows)))
    assert len(chunks) > 1, "the CSV is produced in chunks"
    text = "".join(chunks)
    assert text.startswith("\ufeff")
    assert text.encode("utf-8")[:3] == b"\xef\xbb\xbf"
    parsed = list(csv.reader(io.StringIO(text[1:], newline="")))
    assert parsed[0] == [c.value for c in RawColumn] + keys
    assert len(parsed) == 1 + len(rows)
    for r, line in zip(rows, parsed[1:], strict=True):
        assert len(line) == 9 + len(keys)
        assert line[:9] == [
            r.assessment_id,
            r.organization_id,
            r.organization_name,
            r.external_id,
            r.round,
            r.assessed_on.isoformat(),
            "final",
            f.instrument.version,
            "" if r.overall is None else str(r2(r.overall)).removesuffix(".0"),
        ]
        for key, got in zip(keys, line[9:], strict=True):
            expected = r.answers.get(key)
            if expected is NA:
                assert got == "NA"
            elif expected is None:
                assert got == ""
            else:
                assert float(got) == expected
    # every field quoted (RFC 4180 with QUOTE_ALL)
    first_row = text[1:].split("\r\n")[1]
    assert first_row.startswith('"') and first_row.count('","') == 9 + len(keys) - 1


def test_raw_export_is_lazy() -> None:
    """Rows are pulled one at a time: a generator that fails after the header proves it."""
    f = instrument_file("oca")
    pulled: list[int] = []

    def rows() -> Any:
        for i, r in enumerate(raw_rows(f, 3)):
            pulled.append(i)
            yield r

    chunks = export_raw_csv(f.instrument, rows())
    next(chunks)  # the header comes before any row is read
    assert pulled == []
    assert len(list(chunks)) == 1 and pulled == [0, 1, 2]


# --- 5. formula injection ------------------------------------------------------------------------


@pytest.mark.parametrize("payload", PAYLOADS, ids=repr)
def test_user_text_never_becomes_a_formula(payload: str) -> None:
    f = instrument_file("nupas")
    instrument = f.instrument
    answers = answers_for(instrument, seed=3, level=0.4)
    notes = {k: payload for k in instrument.items}
    info = info_for(
        f,
        organization_name=payload,
        organization_external_id=payload,
        round=payload,
        assessor=payload,
        assessment_id=payload,
        status=payload,
    )
    payload_score = score_payload(score(f.compiled, answers), instrument)
    outputs = {
        "assessment": export_assessment(
            instrument, info, answers, notes, ScorePayload.model_validate(payload_score), "en"
        ),
        "series": export_series(
            instrument,
            payload,
            SeriesRead.model_validate(
                make_series(f, [(payload, "2024-01-01"), (payload, "2025-01-01")])
            ),
            "es",
        ),
        "raw": export_raw(
            instrument,
            raw_rows(f, 5, organization_name=payload, round=payload, external_id=payload),
            "en",
        ),
    }
    result, _, _ = make_cohort(
        f, [payload] * 6, cohort_name=payload, baseline=payload, endline=payload + " "
    )
    outputs["cohort"] = cohort_export(result, "en")
    for name, data in outputs.items():
        no_formulas(data)
        wb = open_workbook(data)
        texts = [
            c.value
            for ws in wb.worksheets
            for row in ws.iter_rows()
            for c in row
            if isinstance(c.value, str)
        ]
        assert texts.count(payload) >= 2, name  # written, as the very text that came in

    text = "".join(
        export_raw_csv(
            instrument,
            raw_rows(f, 3, organization_name=payload, round=payload, external_id=payload),
        )
    )
    for line in list(csv.reader(io.StringIO(text[1:], newline="")))[1:]:
        for field in (line[2], line[3], line[4]):
            assert field == "'" + payload
