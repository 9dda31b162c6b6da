"""Capacity scores that don't flatter: weakest areas, the cap by the weakest dimension, partial
assessments, and an overall that can be recomputed from what the score object shows."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from app.catalog import Catalog, load_file
from app.domain.instrument import Instrument
from app.domain.scoring import NA, AnswerValue, Score, compile_instrument, score
from app.services.scores import score_payload
from tests.conftest import DATA

CAPPED = DATA / "scoring" / "capped" / "1.0.yaml"
PARTIAL = DATA / "scoring" / "partial" / "1.0.yaml"


def load(path: Any, **scoring: Any) -> Instrument:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["scoring"].update(scoring)
    return Instrument.model_validate(data)


def run(instrument: Instrument, answers: dict[str, AnswerValue]) -> Score:
    return score(compile_instrument(instrument), answers)


def by_dimension(instrument: Instrument, values: dict[str, float]) -> dict[str, AnswerValue]:
    return {i.key: values[d.key] for d in instrument.dimensions for a in d.areas for i in a.items}


# --- the weakest areas and the lowest level ------------------------------------------------------
def test_a_mean_no_longer_hides_a_failing_area(catalog: Catalog) -> None:
    """OCA with Financial Management all 1 and the rest 4: 3.57, "Mature", and now also the
    areas that fail, flagged at the lowest level."""
    f = catalog.get("oca", "2015.1")
    assert f is not None
    values = {d.key: 4.0 for d in f.instrument.dimensions}
    values["fmi"] = 1.0
    s = score(f.compiled, by_dimension(f.instrument, values))
    assert s.overall.score == pytest.approx(25 / 7)
    fmi_areas = [a.key for d in f.instrument.dimensions if d.key == "fmi" for a in d.areas]
    assert [w.key for w in s.weakest] == fmi_areas[:3]
    assert all(w.lowest_level and w.score == 1.0 and w.dimension == "fmi" for w in s.weakest)
    assert s.lowest_level == tuple(fmi_areas)
    payload = score_payload(s, f.instrument)
    assert payload["any_at_lowest_level"] is True
    assert payload["lowest_level"] == fmi_areas
    assert [w["key"] for w in payload["weakest"]] == fmi_areas[:3]
    assert payload["weakest"][0]["title"]["es"]


def test_weakest_areas_are_the_three_lowest_and_only_shown_scores() -> None:
    ins = load(CAPPED)
    s = run(ins, {"gov.a.1": 3.0, "gov.b.1": 2.0, "fin.a.1": 4.0, "fin.b.1": 2.0, "fin.b.2": 3.0,
                  "pro.a.1": 4.0, "hr.a.1": 3.0})  # fmt: skip
    assert [(w.key, w.score) for w in s.weakest] == [
        ("gov.b", 2.0),
        ("fin.b", 2.5),
        ("gov.a", 3.0),
    ]
    assert s.lowest_level == ()


# --- cap_by_weakest ------------------------------------------------------------------------------
def test_the_overall_band_is_capped_by_the_weakest_dimension() -> None:
    ins = load(CAPPED)
    s = run(ins, by_dimension(ins, {"gov": 4, "fin": 2, "pro": 4, "hr": 4}))
    assert s.overall.score == pytest.approx(3.5)  # "Mature capacity" by the mean alone
    cap = s.overall.cap
    assert cap is not None
    assert (cap.applied, cap.weakest, cap.weakest_band, cap.uncapped_band) == (
        True,
        ("fin",),
        1,
        3,
    )
    assert s.overall.band == 2  # at most one band above Emerging: Expanding
    payload = score_payload(s, ins)["overall"]
    assert payload["band"] == {"en": "Expanding capacity", "es": "Capacidad en expansión"}
    assert payload["cap"]["uncapped_band"]["en"] == "Mature capacity"
    assert "'Finance'" in payload["cap"]["reason"]["en"]
    assert "«Finanzas»" in payload["cap"]["reason"]["es"]


def test_leaving_the_weak_dimension_half_blank_does_not_lift_the_cap(catalog: Catalog) -> None:
    """Found in review: Financial Management all 1 but 3 of its 8 items left blank fell below
    coverage, was shown empty, still fed the overall (3.57) and escaped the cap ("Mature")."""
    f = catalog.get("oca", "2015.2")
    assert f is not None
    values = {d.key: 4.0 for d in f.instrument.dimensions}
    values["fmi"] = 1.0
    answers = by_dimension(f.instrument, values)
    fmi_items = [i.key for d in f.instrument.dimensions if d.key == "fmi" for a in d.areas
                 for i in a.items]  # fmt: skip
    full = score(f.compiled, answers)
    for key in fmi_items[:3]:
        del answers[key]
    blanked = score(f.compiled, answers)
    fmi = next(d for d in blanked.dimensions if d.key == "fmi")
    assert fmi.score is None and fmi.partial == 1.0  # shown empty, still feeding the overall
    assert blanked.overall.score == pytest.approx(full.overall.score)
    assert blanked.overall.cap is not None and blanked.overall.cap.applied
    assert blanked.overall.cap.weakest == ("fmi",)
    assert blanked.overall.band == full.overall.band == 1


def test_the_cap_does_nothing_when_the_band_is_within_reach() -> None:
    ins = load(CAPPED)
    s = run(ins, by_dimension(ins, {"gov": 3, "fin": 3, "pro": 3, "hr": 3}))
    assert s.overall.cap is not None and s.overall.cap.applied is False
    assert s.overall.band == 2
    assert score_payload(s, ins)["overall"]["cap"]["reason"] is None


def test_no_cap_without_the_rule() -> None:
    ins = load(CAPPED, cap_by_weakest=None)
    s = run(ins, by_dimension(ins, {"gov": 4, "fin": 2, "pro": 4, "hr": 4}))
    assert s.overall.cap is None and s.overall.band == 3


def test_cap_needs_bands_and_a_mean() -> None:
    with pytest.raises(ValueError, match="needs 'bands'"):
        load(CAPPED, bands=[])
    with pytest.raises(ValueError, match="needs method"):
        load(CAPPED, method="sum")


# --- allow_partial -------------------------------------------------------------------------------
def test_a_partial_assessment_scores_what_was_assessed() -> None:
    ins = load(PARTIAL)
    s = run(ins, {"learn.a.1": 4.0, "learn.a.2": 5.0})
    learn, adapt = s.dimensions
    assert learn.score == pytest.approx(4.5) and learn.coverage == 1.0
    assert learn.areas_assessed == 1
    not_assessed = learn.areas[1]
    assert (not_assessed.assessed, not_assessed.na) == (False, 0)  # never turned into N/A
    assert not_assessed.reason is not None and not_assessed.reason.code == "not_assessed"
    assert adapt.assessed is False and adapt.score is None
    assert adapt.reason is not None and adapt.reason.code == "not_assessed"
    assert (s.overall.score, s.overall.coverage) == (pytest.approx(4.5), 1.0)
    assert (s.overall.answered, s.overall.missing, s.overall.na) == (2, 0, 0)
    assert (s.overall.areas_assessed, s.overall.areas_total) == (1, 4)
    lens = {x.lens.value: x for x in s.lens}
    assert lens["processes"].score == pytest.approx(87.5)
    assert lens["culture"].reason is not None and lens["culture"].reason.code == "not_assessed"
    notes = score_payload(s, ins)["overall"]["notes"]
    assert [n["code"] for n in notes] == ["partial_assessment"]
    assert "1 of 4 areas" in notes[0]["en"] and "1 de 4 áreas" in notes[0]["es"]


def test_without_the_flag_the_same_answers_are_incomplete() -> None:
    ins = load(PARTIAL, allow_partial=False)
    s = run(ins, {"learn.a.1": 4.0, "learn.a.2": 5.0})
    assert s.overall.score is None and s.overall.coverage == pytest.approx(2 / 6)
    assert all(a.assessed for d in s.dimensions for a in d.areas)


def test_an_area_started_is_assessed_and_na_is_not_not_assessed() -> None:
    ins = load(PARTIAL)
    s = run(ins, {"adapt.b.1": 3.0, "adapt.a.1": NA})
    adapt = s.dimensions[1]
    pause, adaptive = adapt.areas
    assert pause.assessed and pause.reason is not None
    assert pause.reason.code == "all_not_applicable"
    assert adaptive.assessed and (adaptive.answered, adaptive.missing) == (1, 1)
    assert adapt.coverage == pytest.approx(0.5)  # the started area's blank counts as missing
    assert s.overall.score is None  # 1 of 2 applicable answered, below 75 %


def test_nothing_answered_in_a_partial_instrument_is_not_assessed() -> None:
    s = run(load(PARTIAL), {})
    assert s.overall.reason is not None and s.overall.reason.code == "not_assessed"
    assert s.overall.areas_assessed == 0


# --- the overall can be recomputed from what is shown --------------------------------------------
def test_a_dimension_shown_null_shows_what_it_feeds_the_overall() -> None:
    ins = load(CAPPED)
    answers = by_dimension(ins, {"gov": 4, "fin": 1, "pro": 3, "hr": 3})
    del answers["fin.a.1"], answers["fin.b.2"]  # fin: 1 of 3 answered, below 50 %
    s = run(ins, answers)
    payload = score_payload(s, ins)
    dims = {d["key"]: d for d in payload["dimensions"]}
    assert dims["fin"]["score"] is None and dims["fin"]["partial"]["score"] == 1.0
    shown = [d["score"] if d["score"] is not None else d["partial"]["score"] for d in dims.values()]
    assert payload["overall"]["score"] == pytest.approx(sum(shown) / len(shown))
    assert payload["overall"]["includes_partial"] == ["fin"]
    assert [n["code"] for n in payload["overall"]["notes"]] == ["includes_partial"]
    fin_b = next(a for a in dims["fin"]["areas"] if a["key"] == "fin.b")
    assert fin_b["score"] == 1.0 and fin_b["partial"] is None  # 1 of 2: 50 %, shown
    assert s.weakest[0].key == "fin.b"


def test_an_area_shown_null_shows_what_it_feeds_its_dimension() -> None:
    ins = load(CAPPED, min_coverage=0.75)
    answers = by_dimension(ins, {"gov": 4, "fin": 1, "pro": 3, "hr": 3})
    answers["fin.a.1"] = 3.0
    del answers["fin.b.2"]  # fin.b: 1 of 2 (50 % < 75 %); fin: 2 of 3 (67 % < 75 %)
    s = run(ins, answers)
    dims = {d["key"]: d for d in score_payload(s, ins)["dimensions"]}
    fin_b = next(a for a in dims["fin"]["areas"] if a["key"] == "fin.b")
    assert fin_b["score"] is None and fin_b["partial"] == {"score": 1.0, "normalized": 0.0}
    assert dims["fin"]["includes_partial"] == ["fin.b"]
    assert dims["fin"]["partial"]["score"] == pytest.approx((3.0 + 1.0) / 2)
    assert "fin.b" not in [w.key for w in s.weakest]  # weakest areas are shown scores only


def test_the_mini_fixture_still_loads() -> None:
    assert (
        load_file(DATA / "instruments" / "mini" / "1.0.yaml").instrument.scoring.allow_partial
        is False
    )
