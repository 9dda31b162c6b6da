"""The "Reading the scores" sheet of an assessment export: weakest areas and the lowest level, the
cap, values that feed a score while shown empty, and each condition's 200.208(c) notice."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from app.catalog import InstrumentFile, load_catalog, load_file
from app.domain.score_object import ScorePayload
from app.domain.scoring import AnswerValue, score
from app.excel.exports import AssessmentInfo, export_assessment
from app.services.scores import score_payload
from tests.excel.helpers import open_workbook

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "scoring"
SHEET = {"en": "Reading the scores", "es": "Lectura de puntajes"}


def info(f: InstrumentFile) -> AssessmentInfo:
    return AssessmentInfo(
        assessment_id="3f2b6d1e-0000-4000-8000-000000000002",
        organization_name="Fundación Ejemplo",
        round="baseline",
        assessed_on=date(2025, 3, 31),
        status="submitted",
        instrument_version=f.instrument.version,
        revision=1,
        organization_external_id=None,
        assessor=None,
    )


def texts(ws: Any) -> list[str]:
    return [str(c.value) for row in ws.iter_rows() for c in row if c.value is not None]


def sheet(f: InstrumentFile, answers: dict[str, AnswerValue], lang: str) -> Any:
    payload = score_payload(score(f.compiled, answers), f.instrument)
    wb = open_workbook(
        export_assessment(
            f.instrument, info(f), answers, {}, ScorePayload.model_validate(payload), lang
        )
    )
    ws = wb[SHEET[lang]]
    assert ws.page_setup.orientation == "landscape" and ws.print_title_rows
    return ws


@pytest.mark.parametrize("lang", ["en", "es"])
def test_a_failing_area_is_named_beside_a_flattering_mean(lang: str) -> None:
    f = load_catalog(ROOT / "instruments").get("oca", "2015.1")
    assert f is not None
    answers: dict[str, AnswerValue] = {
        i.key: (1.0 if d.key == "fmi" else 4.0)
        for d in f.instrument.dimensions
        for a in d.areas
        for i in a.items
    }
    ws = sheet(f, answers, lang)
    found = texts(ws)
    fmi = next(d for d in f.instrument.dimensions if d.key == "fmi")
    for area in fmi.areas[:3]:
        assert area.title.get(lang) in found
    lowest = {"en": "Areas at the scale's lowest level: ", "es": "Áreas en el nivel más bajo"}
    assert any(t.startswith(lowest[lang]) for t in found)
    assert found.count({"en": "Yes", "es": "Sí"}[lang]) == 3


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_cap_and_the_partial_values_are_explained(lang: str) -> None:
    f = load_file(DATA / "capped" / "1.0.yaml")
    answers: dict[str, AnswerValue] = {"gov.a.1": 4.0, "gov.b.1": 4.0, "fin.b.1": 2.0,
                                       "pro.a.1": 4.0, "hr.a.1": 4.0}  # fmt: skip
    ws = sheet(f, answers, lang)  # fin: 1 of 3 answered, shown empty, still in the overall
    found = " ".join(texts(ws))
    assert {"en": "weakest dimension", "es": "dimensión más débil"}[lang] in found
    assert {"en": "Value it contributes", "es": "Valor con que contribuye"}[lang] in found
    assert {"en": "'partial'", "es": "'parcial'"}[lang] in found


@pytest.mark.parametrize("lang", ["en", "es"])
def test_every_condition_shows_its_notice(lang: str) -> None:
    f = load_catalog(ROOT / "instruments").get("nupas", "2020.1")
    assert f is not None
    answers: dict[str, AnswerValue] = {k: 1.0 for k in f.instrument.item_keys}
    answers["financial.bank.1"] = 0.0
    ws = sheet(f, answers, lang)
    found = texts(ws)
    conditions = {c.key: c for c in f.instrument.scoring.risk.conditions}  # type: ignore[union-attr]
    for key in ("detailed-financial-reports", "technical-assistance"):
        c = conditions[key]
        assert c.title.get(lang) in found
        assert c.action is not None and c.action.get(lang) in found
    assert conditions["reimbursement"].title.get(lang) not in found
    explanation = {"en": "overall risk is high because", "es": "el riesgo general es alto porque"}
    assert any(t.startswith(explanation[lang]) for t in found)


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_risk_sheet_names_a_section_banded_by_a_key_question_alone(lang: str) -> None:
    f = load_catalog(ROOT / "instruments").get("nupas", "2020.1")
    assert f is not None
    answers: dict[str, AnswerValue] = {
        k: 1.0 for k in f.instrument.item_keys if not k.startswith("financial.")
    }
    answers["financial.bank.1"] = 0.0  # the only financial answer: below coverage, yet high
    payload = score_payload(score(f.compiled, answers), f.instrument)
    wb = open_workbook(
        export_assessment(
            f.instrument, info(f), answers, {}, ScorePayload.model_validate(payload), lang
        )
    )
    found = " ".join(texts(wb[{"en": "Risk", "es": "Riesgo"}[lang]]))
    title = next(d.title.get(lang) for d in f.instrument.dimensions if d.key == "financial")
    assert f"«{title}» (—" in found
