"""NUPAS-style risk: a risky answer is never hidden by coverage, an unassessed section never reads
as "low", the overall names what drives it, and every condition carries its 200.208(c) notice."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.catalog import Catalog, InstrumentFile, load_file
from app.domain.answers import AnswersInvalid, RawAnswer, parse_answers
from app.domain.comparison import comparable_map
from app.domain.instrument import Instrument, RiskBand
from app.domain.scoring import NA, AnswerValue, Score, compile_instrument, score
from app.services.scores import score_payload
from tests.conftest import DATA, INSTRUMENTS

RISKMINI = DATA / "scoring" / "riskmini" / "1.0.yaml"
NUPAS_2012_SHA256 = "d11386cba6cb72dcaf6702d5f7cc933fe83922a12427a60d248b964e8f625c02"
WEAK_INTERNAL_CONTROL = (
    "financial.reporting.1",  # no annual statements
    "financial.bank.2",  # no reconciliation
    "financial.bank.3",  # no dual signatures
    "financial.reporting.2",  # no budget versus actual
    "financial.controls.3",  # no manual
)


def nupas(catalog: Catalog, version: str) -> InstrumentFile:
    f = catalog.get("nupas", version)
    assert f is not None
    return f


def all_yes(f: InstrumentFile) -> dict[str, AnswerValue]:
    return {k: 1.0 for k in f.instrument.item_keys}


def section(s: Score, key: str) -> Any:
    return next(d for d in s.dimensions if d.key == key)


def riskmini(**scoring: Any) -> Instrument:
    data = yaml.safe_load(RISKMINI.read_text(encoding="utf-8"))
    data["scoring"]["risk"].update(scoring)
    return Instrument.model_validate(data)


def run(instrument: Instrument, answers: dict[str, AnswerValue]) -> Score:
    return score(compile_instrument(instrument), answers)


# --- a key question answered the risky way always counts -----------------------------------------
@pytest.mark.parametrize("version", ["2012.1", "2020.1"])
def test_risky_key_question_counts_in_a_section_below_coverage(
    catalog: Catalog, version: str
) -> None:
    f = nupas(catalog, version)
    answers = all_yes(f)
    financial = [i.key for d in f.instrument.dimensions if d.key == "financial" for a in d.areas
                 for i in a.items]  # fmt: skip
    for key in financial[10:]:  # 10 of 15 answered: 67 % < 80 %, the overall still >= 80 %
        del answers[key]
    answers["financial.accounting.2"] = 0.0  # a key question answered "no"
    s = score(f.compiled, answers)
    fin = section(s, "financial")
    assert fin.score is None and fin.reason is not None
    assert fin.reason.code == "below_min_coverage"
    assert fin.risk is not None
    assert (fin.risk.band, fin.risk.basis) == (RiskBand.high, "key_question")
    assert fin.risk.key_questions_failed == ("financial.accounting.2",)
    assert s.overall.score is not None  # 47 of 52 answered
    assert s.risk is not None
    assert s.risk.overall is RiskBand.high
    assert s.risk.driven_by == ("financial",)
    assert s.risk.complete is False and s.risk.not_assessed == ("financial",)
    recommended = {c.key for c in s.risk.conditions}
    assert {"detailed-financial-reports", "technical-assistance"} <= recommended


def test_key_question_alone_sets_the_band_with_a_single_answer() -> None:
    ins = riskmini()
    s = run(ins, {"fin.bank.1": 0.0, "ops.buy.1": 1.0, "ops.buy.2": 1.0})
    fin = section(s, "fin")
    assert fin.score is None and fin.partial == pytest.approx(100.0)
    assert fin.risk.band is RiskBand.high and fin.risk.basis == "key_question"
    assert s.risk is not None and s.risk.overall is RiskBand.high
    assert s.risk.reason is not None and s.risk.reason.code == "incomplete"
    assert "at least high" in s.risk.reason.en and "al menos alto" in s.risk.reason.es
    assert [c.key for c in s.risk.conditions] == ["reports", "assistance"]


def test_mean_section_rule_never_drops_below_the_key_question_floor() -> None:
    ins = riskmini(overall="mean_section")
    answers = {k: 1.0 for k in ins.item_keys}
    answers["fin.bank.1"] = 0.0  # fin 3 / 15 = 20 % (low by percent, high by key question)
    s = run(ins, answers)
    assert s.risk is not None
    assert s.risk.overall is RiskBand.high  # the mean of 20 % and 0 % alone would be low
    assert s.risk.driven_by == ("fin",)


# --- not assessed is never "low" -----------------------------------------------------------------
@pytest.mark.parametrize("version", ["2012.1", "2020.1"])
def test_a_section_without_answers_makes_the_overall_not_assessed(
    catalog: Catalog, version: str
) -> None:
    f = nupas(catalog, version)
    answers = all_yes(f)
    for d in f.instrument.dimensions:
        if d.key == "sustainability":
            for a in d.areas:
                for i in a.items:
                    del answers[i.key]
    s = score(f.compiled, answers)
    assert s.overall.score is not None  # 45 of 52: the pooled percentage exists
    sustainability = section(s, "sustainability")
    assert sustainability.score is None and sustainability.risk is None
    assert sustainability.reason is not None and sustainability.reason.code == "no_answers"
    assert s.risk is not None
    assert s.risk.overall is None  # never "low" while a section is not assessed
    assert s.risk.reason is not None and s.risk.reason.code == "not_assessed"
    assert "sustainability" in s.risk.reason.en and "sustainability" in s.risk.reason.es
    assert s.risk.not_assessed == ("sustainability",) and s.risk.complete is False
    payload = score_payload(s, f.instrument)["risk"]
    sections = {x["key"]: x for x in payload["sections"]}
    assert sections["sustainability"]["assessed"] is False
    assert sections["sustainability"]["reason"]["code"] == "no_answers"


def test_a_known_high_band_stays_visible_as_a_lower_bound(catalog: Catalog) -> None:
    f = nupas(catalog, "2020.1")
    answers = all_yes(f)
    for key in [k for k in answers if k.startswith("sustainability.")]:
        del answers[key]
    answers["legal.status.1"] = 0.0
    s = score(f.compiled, answers)
    assert s.risk is not None
    assert s.risk.overall is RiskBand.high and s.risk.complete is False
    assert s.risk.reason is not None and s.risk.reason.code == "incomplete"
    explanation = score_payload(s, f.instrument)["risk"]["explanation"]
    assert "incomplete" in explanation["en"] and "incompleto" in explanation["es"]


def test_nothing_answered_has_no_band() -> None:
    s = run(riskmini(), {})
    assert s.risk is not None and s.risk.overall is None
    assert s.risk.reason is not None and s.risk.reason.code == "not_assessed"
    assert s.overall.score is None


# --- weak internal control, failing areas and medium conditions ----------------------------------
def test_weak_internal_control_is_high_with_conditions_in_2020(catalog: Catalog) -> None:
    f = nupas(catalog, "2020.1")
    answers = all_yes(f)
    for key in WEAK_INTERNAL_CONTROL:
        answers[key] = 0.0
    s = score(f.compiled, answers)
    fin = section(s, "financial")
    assert fin.score == pytest.approx(100 * 11 / 31)  # 35.5 %: medium by percent alone
    assert fin.risk.band is RiskBand.high  # reconciliation is a key question in 2020.1
    assert fin.risk.key_questions_failed == ("financial.bank.2",)
    assert fin.risk.failing_areas == ("financial.bank", "financial.reporting")
    assert s.risk is not None and s.risk.overall is RiskBand.high
    assert [c.key for c in s.risk.conditions] == [
        "detailed-financial-reports",
        "technical-assistance",
    ]


def test_medium_section_recommends_its_medium_conditions_only_with_a_failing_area() -> None:
    ins = riskmini()
    base = {k: 1.0 for k in ins.item_keys}
    # books 6 of 10 points (60 %: high, a failing area); fin 6 of 15 = 40 %: medium
    failing = run(ins, {**base, "fin.books.1": 0.0, "fin.books.2": 0.0, "fin.books.3": 0.0})
    fin = section(failing, "fin")
    assert fin.risk.band is RiskBand.medium and fin.risk.failing_areas == ("fin.books",)
    assert failing.risk is not None
    assert [(c.key, [x.failing_areas for x in c.sections]) for c in failing.risk.conditions] == [
        ("reports", [("fin.books",)])
    ]
    # the same 40 % spread so that no area reaches high: no condition
    spread = run(ins, {**base, "fin.bank.2": 0.0, "fin.books.1": 0.0, "fin.books.2": 0.0})
    assert section(spread, "fin").risk.band is RiskBand.medium
    assert spread.risk is not None and spread.risk.conditions == ()


def test_medium_conditions_need_a_failing_area_rule() -> None:
    data = yaml.safe_load(RISKMINI.read_text(encoding="utf-8"))
    del data["scoring"]["risk"]["failing_area_band"]
    with pytest.raises(ValueError, match="failing_area_band"):
        Instrument.model_validate(data)


# --- what drives the overall, and the notice of each condition -----------------------------------
def test_overall_names_the_section_that_drives_it(catalog: Catalog) -> None:
    f = nupas(catalog, "2020.1")
    answers = all_yes(f)
    for key in [k for k in answers if k.startswith("legal.")]:
        answers[key] = 0.0
    s = score(f.compiled, answers)
    assert s.risk is not None
    assert s.risk.overall is RiskBand.extreme
    assert s.overall.score == pytest.approx(100 * 16 / 103)  # 15.5 %: the pooled share
    assert s.risk.driven_by == ("legal",)
    explanation = score_payload(s, f.instrument)["risk"]["explanation"]
    assert "'Legal structure'" in explanation["en"] and "worst section" in explanation["en"]
    assert "«Estructura legal»" in explanation["es"] and "extremo" in explanation["es"]


def test_every_2020_condition_carries_the_200_208c_notice(catalog: Catalog) -> None:
    f = nupas(catalog, "2020.1")
    answers = {k: 0.0 for k in f.instrument.item_keys}  # every section extreme
    payload = score_payload(score(f.compiled, answers), f.instrument)
    conditions = payload["risk"]["conditions"]
    assert [c["key"] for c in conditions] == [c.key for c in f.instrument.scoring.risk.conditions]  # type: ignore[union-attr]
    for c in conditions:
        assert c["notice_complete"] is True
        for part in ("title", "reason", "action", "time_allowed", "reconsideration"):
            assert c[part]["en"] and c[part]["es"], (c["key"], part)
        assert "recommended because" in c["reason"]["en"]
        assert "se recomienda porque" in c["reason"]["es"]


def test_a_condition_without_notice_texts_says_so() -> None:
    ins = riskmini()
    answers = {k: 1.0 for k in ins.item_keys}
    answers["fin.bank.1"] = 0.0
    payload = score_payload(run(ins, answers), ins)
    by_key = {c["key"]: c for c in payload["risk"]["conditions"]}
    assert by_key["reports"]["notice_complete"] is True
    assert by_key["assistance"]["notice_complete"] is False
    assert by_key["assistance"]["action"] is None
    assert "fin.bank.1" in by_key["assistance"]["reason"]["en"]
    assert "riesgo alto" in by_key["assistance"]["reason"]["es"]


# --- N/A on key questions ------------------------------------------------------------------------
def test_na_on_a_key_question_is_refused_unless_the_file_gives_a_reason() -> None:
    ins = riskmini()
    with pytest.raises(AnswersInvalid) as info:
        parse_answers(ins, [RawAnswer("fin.bank.1", "N/A"), RawAnswer("fin.bank.2", "na")])
    [problem] = info.value.problems
    assert (problem.item, problem.code) == ("fin.bank.1", "na_key_question")
    assert "key question" in problem.en and "pregunta clave" in problem.es
    parsed = parse_answers(ins, [RawAnswer("ops.buy.2", "no aplica")])
    assert parsed.values == {"ops.buy.2": NA}


def test_na_reason_is_only_for_key_questions() -> None:
    data = yaml.safe_load(RISKMINI.read_text(encoding="utf-8"))
    item = data["dimensions"][0]["areas"][0]["items"][1]
    item["na_reason"] = {"en": "why", "es": "por qué"}
    with pytest.raises(ValueError, match="only key questions"):
        Instrument.model_validate(data)


# --- provenance and the version ------------------------------------------------------------------
def test_the_2012_file_is_byte_identical() -> None:
    raw = (INSTRUMENTS / "nupas" / "2012.1.yaml").read_bytes()
    assert hashlib.sha256(raw).hexdigest() == NUPAS_2012_SHA256


def test_2020_is_dated_to_the_rule_it_cites_and_carries_every_answer(catalog: Catalog) -> None:
    new, old = nupas(catalog, "2020.1").instrument, nupas(catalog, "2012.1").instrument
    assert catalog.latest("nupas") is not None and catalog.latest("nupas").instrument is new  # type: ignore[union-attr]
    assert new.supersedes is not None and new.supersedes.version == "2012.1"
    assert comparable_map(old, new) == {k: k for k in old.item_keys}
    for cited in ("2 CFR 200.208", "2020", "AHNI", "not the NUPAS guide"):
        assert cited in new.source, cited
    text = (INSTRUMENTS / "nupas" / "2020.1.yaml").read_text(encoding="utf-8")
    assert "22 CFR 226.14" in text  # the choice not taken is named, with why
    assert new.items["financial.audit.1"].na_reason is not None
    assert [k for k, i in new.items.items() if i.na_reason] == ["financial.audit.1"]


def test_every_lens_mapping_of_2020_gives_its_reason() -> None:
    lines = (INSTRUMENTS / "nupas" / "2020.1.yaml").read_text(encoding="utf-8").splitlines()
    lens_lines = [n for n, line in enumerate(lines) if line.strip().startswith("lens:")]
    assert len(lens_lines) == 8  # six sections and two areas mapped apart from their section
    for n in lens_lines:
        above = [line.strip() for line in lines[max(0, n - 4) : n]]
        assert any(line.startswith("# Lens:") for line in above), lines[n - 1]


def test_load_file_reads_the_test_instrument() -> None:
    assert load_file(Path(RISKMINI)).instrument.scoring.risk.failing_area_band is RiskBand.high  # type: ignore[union-attr]
