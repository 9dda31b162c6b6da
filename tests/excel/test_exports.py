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
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from openpyxl.chart import BarChart, LineChart, RadarChart

from app.catalog import InstrumentFile, load_catalog
from app.domain.comparison import OrgPair, compare_cohort
from app.domain.instrument import Instrument
from app.domain.scoring import NA, AnswerValue, score
from app.excel.exports import (
    RAW_NA,
    AssessmentInfo,
    CohortRow,
    RawColumn,
    RawRow,
    export_assessment,
    export_cohort,
    export_raw,
    export_raw_csv,
    export_series,
)
from app.excel.layout import NA_LABEL
from app.services.analysis import CohortResult, cohort_json
from app.services.scores import round_half_even, score_payload, score_summary
from tests.excel.helpers import open_workbook, sheet_xml

ROOT = Path(__file__).resolve().parents[2]
LANGS = ["en", "es"]
PAYLOADS = ["=1+2", '=HYPERLINK("http://x","y")', "+1", "-1+2", "@SUM(1)", "\t=1"]
NO_ANSWER = {"en": "(no answer)", "es": "(sin respuesta)"}


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
    wb = open_workbook(export_assessment(instrument, info_for(f), answers, notes, payload, lang))
    names = {
        "en": ["Cover", "Answers", "Scores"],
        "es": ["Portada", "Respuestas", "Puntajes"],
    }[lang]
    assert wb.sheetnames == names
    cover, sheet, scores = (wb[n] for n in names)

    # cover
    org_label = {"en": "Organization", "es": "Organización"}[lang]
    assert cover.cell(row=find(cover, org_label, 1), column=2).value == "Fundación Ejemplo"
    assessor_row = find(
        cover, {"en": "Assessor / facilitator", "es": "Evaluador(a) / facilitador(a)"}[lang], 1
    )
    assert cover.cell(row=assessor_row, column=2).value == "A. Consultant"
    status_row = find(cover, {"en": "Status", "es": "Estado"}[lang], 1)
    assert cover.cell(row=status_row, column=2).value == {"en": "Submitted", "es": "Enviada"}[lang]
    version_row = find(cover, "2015.1", 2)
    assert cover.cell(row=version_row - 1, column=2).value.endswith("(oca)")

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

    # scores: overall, each dimension, areas, lens
    overall = payload["overall"]
    overall_header = find(scores, {"en": "Overall", "es": "Global"}[lang], 1) + 1
    assert (
        row_values(scores, overall_header)[:3]
        == {
            "en": ["Score", "Coverage", "Answered"],
            "es": ["Puntaje", "Cobertura", "Con respuesta"],
        }[lang]
    )
    got = row_values(scores, overall_header + 1)
    assert got[0] == r2(overall["score"])
    assert got[1] == r2(overall["coverage"])
    assert got[2:5] == [overall["answered"], overall["na"], overall["missing"]]
    assert got[5] == overall["band"][lang]
    for d in payload["dimensions"]:
        row = row_values(scores, find(scores, d["key"], 1))
        assert row[1] == instrument.dimensions[
            [x.key for x in instrument.dimensions].index(d["key"])
        ].title.get(lang)
        assert row[2:7] == [r2(d["score"]), r2(d["coverage"]), d["answered"], d["na"], d["missing"]]
    null_areas = [a for d in payload["dimensions"] for a in d["areas"] if a["score"] is None]
    assert null_areas, "the answers should leave some area without a score"
    for a in null_areas:
        row = row_values(scores, find(scores, a["key"], 2))
        assert row[3] is None
        assert row[8] == a["reason"][lang]
    lens_names = {
        "en": ["Management", "Financing", "Processes", "Culture"],
        "es": ["Gestión", "Financiamiento", "Procesos", "Cultura"],
    }[lang]
    for lens, name in zip(
        ["management", "financing", "processes", "culture"], lens_names, strict=True
    ):
        row = row_values(scores, find(scores, name, 1))
        assert row[1] == r2(payload["lens"][lens]["score"])
        assert row[1] is None or 0 <= row[1] <= 100

    # native charts: dimensions, lens (0-100), areas
    assert charts(scores) == [(BarChart, 1), (BarChart, 1), (BarChart, 1)]
    lens_chart = scores._charts[1]
    assert lens_chart.y_axis.scaling.min == 0 and lens_chart.y_axis.scaling.max == 100
    title = "".join(run.t for p in scores._charts[0].title.tx.rich.p for run in (p.r or []))
    assert title == {"en": "Score by dimension", "es": "Puntaje por dimensión"}[lang]


@pytest.mark.parametrize("lang", LANGS)
def test_assessment_risk_sheet(lang: str) -> None:
    f = instrument_file("nupas")
    instrument = f.instrument
    answers = answers_for(instrument, seed=3, level=0.4)
    payload = score_payload(score(f.compiled, answers), instrument)
    risk = payload["risk"]
    assert risk is not None and risk["conditions"], "the answers should recommend conditions"
    wb = open_workbook(export_assessment(instrument, info_for(f), answers, {}, payload, lang))
    sheet_name = {"en": "Risk", "es": "Riesgo"}[lang]
    assert wb.sheetnames[-1] == sheet_name
    ws = wb[sheet_name]
    bands = {
        "en": {"low": "Low", "medium": "Medium", "high": "High", "extreme": "Extreme"},
        "es": {"low": "Bajo", "medium": "Medio", "high": "Alto", "extreme": "Extremo"},
    }[lang]
    overall_label = {"en": "Overall risk", "es": "Riesgo global"}[lang]
    assert ws.cell(row=find(ws, overall_label, 1), column=2).value == bands[risk["overall"]]
    titles = {d.key: d.title.get(lang) for d in instrument.dimensions}
    section_header = find(ws, {"en": "Section", "es": "Sección"}[lang], 1)
    for offset, section in enumerate(risk["sections"], start=1):
        row = row_values(ws, section_header + offset)
        assert row[0] == titles[section["key"]]
        assert row[1] == r2(section["percent"])
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
    assert [kind for kind, _ in charts(scores)] == [BarChart] * 3


def test_assessment_without_score_and_answers_that_do_not_fit() -> None:
    f = instrument_file("oca")
    wb = open_workbook(export_assessment(f.instrument, info_for(f), {}, {}, None, "es"))
    assert wb.sheetnames == ["Portada", "Respuestas", "Puntajes"]
    assert charts(wb["Puntajes"]) == []
    assert find(wb["Puntajes"], "Esta evaluación todavía no tiene puntaje.")
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
    wb = open_workbook(export_series(f.instrument, "Fundación Ejemplo", series, lang))
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
        assert row[1] == point["round"]
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
        {"en": "Latest: endline", "es": "Última: endline"}[lang]
    )
    for offset, d in enumerate(latest["dimensions"], start=1):
        assert ws.cell(row=radar_header + offset, column=3).value == r2(d["score"])
    assert "$B$" in first_col


def test_series_with_one_point_and_with_none() -> None:
    f = instrument_file("nupas")
    one = open_workbook(
        export_series(f.instrument, "Org", make_series(f, [("baseline", "2024-01-01")]), "en")
    )
    ws = one["Series"]
    assert charts(ws) == [(LineChart, 1 + len(f.instrument.dimensions)), (RadarChart, 1)]
    assert find(ws, "Overall risk") == find(ws, "Date")  # risk instruments add the risk band
    empty = open_workbook(export_series(f.instrument, "Org", {"points": []}, "es"))
    assert charts(empty["Serie"]) == []
    assert find(empty["Serie"], "Todavía no hay evaluaciones con puntaje.")


# --- 3. cohort -----------------------------------------------------------------------------------


def make_cohort(
    f: InstrumentFile,
    names: list[str],
    cohort_name: str = "Cohorte 2025",
    baseline: str = "baseline",
    endline: str = "endline",
) -> tuple[dict[str, Any], list[CohortRow]]:
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
        comparison,
        pairs,
        False,
    )
    rows = [CohortRow(p.organization_id, p.name, p.baseline, p.endline) for p in pairs]
    return cohort_json(result), rows


@pytest.mark.parametrize("lang", LANGS)
def test_cohort_organizations_summary_and_charts(lang: str) -> None:
    f = instrument_file("oca")
    dims = f.instrument.dimensions
    keys = ["overall", *(d.key for d in dims)]
    comparison, rows = make_cohort(f, [f"Org {n}" for n in range(12)])
    wb = open_workbook(export_cohort(f.instrument, comparison, rows, lang))
    orgs_name, summary_name = {
        "en": ("Organizations", "Summary"),
        "es": ("Organizaciones", "Resumen"),
    }[lang]
    assert wb.sheetnames == [orgs_name, summary_name]
    ws = wb[orgs_name]
    titles = row_values(ws, 3)
    assert len(titles) == 2 + 4 * len(keys)
    assert (
        titles[2:6]
        == {
            "en": ["Overall: Baseline", "Overall: Endline", "Overall: Change", "Overall: Improved"],
            "es": [
                "Global: Línea de base",
                "Global: Línea final",
                "Global: Cambio",
                "Global: Mejoró",
            ],
        }[lang]
    )
    stats = {k["key"]: k for k in comparison["keys"]}
    yes, no = {"en": ("Yes", "No"), "es": ("Sí", "No")}[lang]
    improved_seen = 0
    for offset, r in enumerate(rows, start=4):
        row = row_values(ws, offset)
        assert row[:2] == [r.name, r.organization_id]
        for k, key in enumerate(keys):
            b, e = r.baseline.get(key), r.endline.get(key)
            got = row[2 + 4 * k : 6 + 4 * k]
            assert got[0] == r2(b) and got[1] == r2(e)
            if b is None or e is None:
                assert got[2] is None and got[3] is None
                continue
            assert got[2] == r2(e - b)
            improved = r.organization_id in stats[key]["change"]["improved"]
            improved_seen += improved
            assert got[3] == (yes if improved else no)
    assert improved_seen

    ws = wb[summary_name]
    assert (
        ws.cell(
            row=find(ws, {"en": "With both rounds", "es": "Con ambas rondas"}[lang], 1), column=2
        ).value
        == 10
    )
    header = find(ws, "overall", 1) - 1
    assert (
        row_values(ws, header)[2]
        == {
            "en": "Organizations with both rounds",
            "es": "Organizaciones con ambas rondas",
        }[lang]
    )
    names = {r.organization_id: r.name for r in rows}
    for offset, key in enumerate(keys, start=1):
        s = stats[key]
        row = row_values(ws, header + offset)
        assert row[0] == key
        assert row[2] == len(s["paired"]) == 10
        assert row[3:6] == [
            s["baseline"]["n"],
            r2(s["baseline"]["mean"]),
            r2(s["baseline"]["median"]),
        ]
        assert row[3] == 11  # every organization but the one without a baseline
        assert row[6:9] == [s["endline"]["n"], r2(s["endline"]["mean"]), r2(s["endline"]["median"])]
        assert row[9] == r2(s["change"]["mean_delta"])
        assert row[10] == len(s["change"]["improved"])
        assert row[11] == r2(s["change"]["share_improved"]) == r2(row[10] / row[2])
        assert (row[12] or "") == "; ".join(names[i] for i in s["change"]["improved"])
    assert charts(ws) == [(BarChart, 2), (BarChart, 1)]
    means, share = ws._charts
    assert means.grouping == "clustered"
    # the charts show the dimensions only (not the overall row)
    assert means.series[0].val.numRef.f.endswith(f"${header + 1 + len(dims)}")
    assert f"${header + 2}:" in share.series[0].val.numRef.f


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
        assert row[6:9] == ["final", "2015.1", r2(r.overall)]
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
            "2015.1",
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
        "assessment": export_assessment(instrument, info, answers, notes, payload_score, "en"),
        "series": export_series(
            instrument,
            payload,
            make_series(f, [(payload, "2024-01-01"), (payload, "2025-01-01")]),
            "es",
        ),
        "raw": export_raw(
            instrument,
            raw_rows(f, 5, organization_name=payload, round=payload, external_id=payload),
            "en",
        ),
    }
    comparison, rows = make_cohort(
        f, [payload] * 6, cohort_name=payload, baseline=payload, endline=payload + " "
    )
    outputs["cohort"] = export_cohort(instrument, comparison, rows, "en")
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
