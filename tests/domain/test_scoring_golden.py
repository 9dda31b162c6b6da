"""Hand-computed scores for every shipped instrument (and the mini fixture)."""

from __future__ import annotations

import math

import pytest

from app.catalog import Catalog, load_file
from app.domain.instrument import RiskBand
from app.domain.scoring import NA, AnswerValue, Score, score
from tests.conftest import DATA


def approx(x: float | None) -> object:
    return pytest.approx(x, abs=1e-9)


def all_items(catalog: Catalog, instrument_id: str, value: float) -> dict[str, AnswerValue]:
    f = catalog.latest(instrument_id)
    assert f is not None
    return {k: value for k in f.instrument.item_keys}


def run(catalog: Catalog, instrument_id: str, answers: dict[str, AnswerValue]) -> Score:
    f = catalog.latest(instrument_id)
    assert f is not None
    return score(f.compiled, answers)


def test_mini_by_hand() -> None:
    f = load_file(DATA / "instruments" / "mini" / "1.0.yaml")
    # gov.vision: items 4 and NA -> 4; gov.board: 2 -> 2; gov = (4 + 2) / 2 = 3
    # fin.budget missing -> no score; overall coverage 2 of 3 applicable = 0.667 >= 0.5
    s = score(f.compiled, {"gov.vision.1": 4.0, "gov.vision.2": NA, "gov.board.1": 2.0})
    gov, fin = s.dimensions
    assert gov.score == approx(3.0)
    assert [a.score for a in gov.areas] == [approx(4.0), approx(2.0)]
    assert gov.areas[0].na == 1
    assert fin.score is None
    assert fin.reason is not None and fin.reason.code == "no_answers"
    assert s.overall.score == approx(3.0)
    assert s.overall.coverage == approx(2 / 3)
    assert (s.overall.answered, s.overall.na, s.overall.missing) == (2, 1, 1)
    # band: 3.0 <= 4 -> "High" (index 1)
    assert s.overall.band == 1
    # lens management: areas normalized (4-1)/3*100 = 100 and (2-1)/3*100 = 33.3 -> 66.67
    management = s.lens[0]
    assert management.score == approx((100 + 100 / 3) / 2)


def test_mini_below_min_coverage_is_null_with_reason() -> None:
    f = load_file(DATA / "instruments" / "mini" / "1.0.yaml")
    s = score(f.compiled, {"gov.board.1": 4.0})  # 1 of 4 answered: 25 % < 50 %
    assert s.overall.score is None
    assert s.overall.reason is not None
    assert s.overall.reason.code == "below_min_coverage"
    assert "1 of 4" in s.overall.reason.en and "1 de 4" in s.overall.reason.es


def test_oca_by_hand(catalog: Catalog) -> None:
    answers = all_items(catalog, "oca", 3.0)
    f = catalog.latest("oca")
    assert f is not None
    gls = f.instrument.dimensions[0]
    for area in gls.areas:  # governance all 4
        answers[area.items[0].key] = 4.0
    s = run(catalog, "oca", answers)
    assert s.dimensions[0].score == approx(4.0)
    assert all(d.score == approx(3.0) for d in s.dimensions[1:])
    # overall = mean of 7 dimensions = (4 + 6 * 3) / 7
    assert s.overall.score == approx(22 / 7)
    assert s.overall.coverage == approx(1.0)
    assert s.overall.answered == 45


def test_oca_na_leaves_numerator_and_denominator(catalog: Catalog) -> None:
    answers = all_items(catalog, "oca", 2.0)
    f = catalog.latest("oca")
    assert f is not None
    fmi = f.instrument.dimensions[1]
    answers[fmi.areas[0].items[0].key] = NA  # budgeting N/A
    answers[fmi.areas[1].items[0].key] = 4.0  # accounting 4
    s = run(catalog, "oca", answers)
    # fmi: 8 areas, one N/A -> 7 scored: one 4 and six 2 -> 16 / 7
    assert s.dimensions[1].score == approx(16 / 7)
    assert s.dimensions[1].na == 1
    assert s.overall.na == 1 and s.overall.missing == 0


def test_opi_index_is_mean_on_1_to_4(catalog: Catalog) -> None:
    answers = all_items(catalog, "opi", 1.0)
    keys = sorted(answers)
    for k, v in zip(keys, [1, 2, 3, 4, 4, 3, 2, 1], strict=True):
        answers[k] = float(v)
    s = run(catalog, "opi", answers)
    # every dimension has 2 equally weighted sub-domains -> mean of dims = mean of all 8 = 2.5
    assert s.overall.score == approx(2.5)


def test_opi_missing_one_subdomain_has_no_index(catalog: Catalog) -> None:
    answers = all_items(catalog, "opi", 3.0)
    answers.pop(sorted(answers)[0])
    s = run(catalog, "opi", answers)  # min_coverage 1.0
    assert s.overall.score is None
    assert s.overall.reason is not None and s.overall.reason.code == "below_min_coverage"


def test_csa_sustainability_lens_equals_dimensions(catalog: Catalog) -> None:
    answers = all_items(catalog, "csa-sustainability", 1.0)
    f = catalog.latest("csa-sustainability")
    assert f is not None
    # financing all 4 -> 100; processes all 2 -> 33.33; others 1 -> 0
    for d in f.instrument.dimensions:
        value = {"financing": 4.0, "processes": 2.0}.get(d.key, 1.0)
        for a in d.areas:
            for item in a.items:  # 2020.2 rates some considerations through several items
                answers[item.key] = value
    s = run(catalog, "csa-sustainability", answers)
    lens = {x.lens.value: x.score for x in s.lens}
    assert lens == {
        "management": approx(0.0),
        "financing": approx(100.0),
        "processes": approx(100 / 3),
        "culture": approx(0.0),
    }
    # overall = (1 + 4 + 2 + 1) / 4
    assert s.overall.score == approx(2.0)


def test_cla_stages_and_partial_coverage(catalog: Catalog) -> None:
    f = catalog.latest("cla")
    assert f is not None
    answers: dict[str, AnswerValue] = {}
    # answer 8 of 16 subcomponents (min_coverage 0.5): the learning component and culture
    for d in f.instrument.dimensions:
        if d.key in ("learning", "culture", "adapting"):
            for a in d.areas:
                answers[a.items[0].key] = 5.0 if d.key == "culture" else 3.0
    s = run(catalog, "cla", answers)
    # CLA 2017.2 allows partial ratings: the 7 blank subcomponents are "not assessed" (never N/A)
    # and left out, so the 9 rated ones are all the coverage counts
    assert (s.overall.areas_assessed, s.overall.areas_total) == (9, 16)
    assert s.overall.coverage == approx(1.0)
    # dimensions with answers: learning 3, adapting 3, culture 5 -> overall (3 + 3 + 5) / 3
    assert s.overall.score == approx(11 / 3)
    collaborating = next(d for d in s.dimensions if d.key == "collaborating")
    assert collaborating.score is None
    assert collaborating.reason is not None and collaborating.reason.code == "not_assessed"


def test_nupas_risk_by_hand(catalog: Catalog) -> None:
    f = catalog.latest("nupas")
    assert f is not None
    i = f.instrument
    answers = all_items(catalog, "nupas", 1.0)  # every answer "yes": no risk
    s = run(catalog, "nupas", answers)
    assert s.risk is not None
    assert s.risk.overall is RiskBand.low
    assert s.overall.score == approx(0.0)
    assert s.risk.conditions == ()

    # answer "no" to every non-key question of the financial section
    financial = next(d for d in i.dimensions if d.key == "financial")
    risky = [it for a in financial.areas for it in a.items if not it.key_question]
    for it in risky:
        answers[it.key] = 0.0
    total = sum(it.risk.points for a in financial.areas for it in a.items if it.risk)
    points = sum(it.risk.points for it in risky if it.risk)
    s = run(catalog, "nupas", answers)
    section = next(d for d in s.dimensions if d.key == "financial")
    assert section.score == approx(100 * points / total)
    assert section.risk is not None
    expected_pct = 100 * points / total
    assert section.risk.band is next(
        t.band
        for t in i.scoring.risk.thresholds
        if expected_pct < t.below  # type: ignore[union-attr]
    )


def test_nupas_key_question_lifts_section_to_high(catalog: Catalog) -> None:
    f = catalog.latest("nupas")
    assert f is not None
    answers = all_items(catalog, "nupas", 1.0)
    key_q = next(
        (d.key, it.key)
        for d in f.instrument.dimensions
        for a in d.areas
        for it in a.items
        if it.key_question
    )
    answers[key_q[1]] = 0.0
    s = run(catalog, "nupas", answers)
    section = next(d for d in s.dimensions if d.key == key_q[0])
    assert section.score is not None and section.score < 30  # low by percentage alone
    assert section.risk is not None
    assert section.risk.band is RiskBand.high
    assert section.risk.key_questions_failed == (key_q[1],)
    assert s.risk is not None and s.risk.overall is RiskBand.high
    dim = next(d for d in f.instrument.dimensions if d.key == key_q[0])
    assert dim.conditions is not None
    assert {c.key for c in s.risk.conditions} == set(dim.conditions.high)
    assert all(
        [(x.section, x.band, x.key_questions_failed) for x in c.sections]
        == [(key_q[0], RiskBand.high, (key_q[1],))]
        for c in s.risk.conditions
    )


def test_nupas_na_reduces_the_maximum(catalog: Catalog) -> None:
    f = catalog.latest("nupas")
    assert f is not None
    answers = all_items(catalog, "nupas", 1.0)
    area = f.instrument.dimensions[0].areas[0]
    first, *rest = area.items
    answers[first.key] = 0.0
    for it in rest:
        answers[it.key] = NA
    s = run(catalog, "nupas", answers)
    # the area's only answered question is risky -> 100 %
    assert s.dimensions[0].areas[0].score == approx(100.0)
    assert not math.isnan(s.dimensions[0].score or 0.0)
