"""Comparison of rounds, by hand: one organization, a cohort, and across instrument versions."""

from __future__ import annotations

import pytest

from app.catalog import load_file
from app.domain.cohort import OrgPair, compare_cohort
from app.domain.comparison import compare_assessments, rescore_on
from app.domain.instrument import Instrument
from app.domain.scoring import NA, compile_instrument
from tests.conftest import DATA

MINI = DATA / "instruments" / "mini" / "1.0.yaml"


def test_cohort_numbers_by_hand() -> None:
    pairs = [
        OrgPair("a", "A", {"overall": 1.0}, {"overall": 3.0}),  # +2: improved
        OrgPair("b", "B", {"overall": 2.0}, {"overall": 2.5}),  # +0.5: up, not by a level
        OrgPair("c", "C", {"overall": 3.0}, {"overall": 2.0}),  # declined
        OrgPair("d", "D", {"overall": 4.0}, {}),  # baseline only
    ]
    result = compare_cohort(
        pairs,
        ["overall"],
        scale_low=1,
        scale_high=4,
        risk=False,
        improvement_threshold=1,
        threshold=0.5,
    )
    k = result.keys[0]
    assert result.organizations_with_both == ("a", "b", "c")
    assert result.only_baseline == ("d",)
    assert k.baseline.n == 4 and k.baseline.mean == pytest.approx(2.5)
    assert k.paired_baseline.n == 3 and k.paired_baseline.mean == pytest.approx(2.0)
    assert k.paired_endline.mean == pytest.approx(7.5 / 3)
    assert k.endline.median == pytest.approx(2.5)
    # the rule uses the given threshold (0.5) both ways: -1 is a decline
    assert k.change.improved == ("a", "b") and k.change.declined == ("c",)
    assert k.change.share_improved == pytest.approx(2 / 3)
    # the instrument's own (1 level), both ways: +0.5 is unchanged, -1 declined
    assert k.at_instrument_threshold.improved == ("a",)
    assert k.at_instrument_threshold.unchanged == ("b",)
    assert k.at_instrument_threshold.declined == ("c",)
    assert k.signs.up == ("a", "b") and k.signs.down == ("c",)
    assert k.mean_delta == pytest.approx(7.5 / 3 - 2.0, abs=0.005)
    bins = {label: ids for label, _, ids in k.baseline.distribution}
    assert bins == {"1–<2": ("a",), "2–<3": ("b",), "3–4": ("c", "d")}


def test_risk_cohort_improves_when_risk_falls() -> None:
    pairs = [OrgPair("a", "A", {"overall": 60.0}, {"overall": 20.0})]
    result = compare_cohort(
        pairs, ["overall"], scale_low=0, scale_high=1, risk=True, improvement_threshold=10
    )
    assert result.keys[0].change.improved == ("a",)


def _mini() -> Instrument:
    return load_file(MINI).instrument


def test_organization_comparison_by_hand() -> None:
    ins = _mini()
    compiled = compile_instrument(ins)
    base = {"gov.vision.1": 1.0, "gov.vision.2": 1.0, "gov.board.1": 2.0, "fin.budget.1": 2.0}
    end = {"gov.vision.1": 3.0, "gov.vision.2": NA, "gov.board.1": 3.0, "fin.budget.1": 2.0}
    c = compare_assessments(
        baseline_instrument=ins,
        endline_instrument=ins,
        compiled=compiled,
        baseline_answers=base,
        endline_answers=end,
        threshold=0.5,
    )
    gov = c.dimensions[0]
    # gov baseline: vision 1, board 2 -> 1.5; endline: vision 3, board 3 -> 3
    assert gov.dimension.baseline == pytest.approx(1.5)
    assert gov.dimension.endline == pytest.approx(3.0)
    assert gov.dimension.outcome == "improved" and gov.dimension.direction == "up"
    fin = c.dimensions[1]
    assert fin.dimension.delta == pytest.approx(0) and fin.dimension.direction == "same"
    assert fin.dimension.outcome == "unchanged"
    assert not c.cross_version
    items = {i.key: i for i in c.items}
    assert items["gov.vision.2"].endline is NA and items["gov.vision.2"].delta is None


def test_cross_version_comparison_uses_the_supersedes_map() -> None:
    old = _mini()
    data = old.model_dump(mode="json")
    data["version"] = "2.0"
    # rename an item and drop another in the new version; map them explicitly
    area = data["dimensions"][0]["areas"][0]
    area["items"][0]["key"] = "gov.vision.written"
    data["supersedes"] = {
        "version": "1.0",
        "items": {"gov.vision.1": "gov.vision.written", "gov.board.1": None},
    }
    new = Instrument.model_validate(data)
    compiled = compile_instrument(new)
    c = compare_assessments(
        baseline_instrument=old,
        endline_instrument=new,
        compiled=compiled,
        baseline_answers={"gov.vision.1": 1.0, "gov.board.1": 4.0, "fin.budget.1": 1.0},
        endline_answers={"gov.vision.written": 3.0, "gov.board.1": 1.0, "fin.budget.1": 2.0},
    )
    assert c.cross_version
    assert "gov.board.1" in c.excluded_items
    gov = c.dimensions[0]
    # the board item is excluded on both sides: gov = vision only, 1 -> 3
    assert gov.dimension.baseline == pytest.approx(1.0)
    assert gov.dimension.endline == pytest.approx(3.0)


def test_versions_without_supersedes_cannot_be_compared() -> None:
    old = _mini()
    data = old.model_dump(mode="json")
    data["version"] = "3.0"
    new = Instrument.model_validate(data)
    with pytest.raises(ValueError, match="supersedes"):
        compare_assessments(
            baseline_instrument=old,
            endline_instrument=new,
            compiled=compile_instrument(new),
            baseline_answers={},
            endline_answers={},
        )


def test_a_newer_baseline_is_compared_through_its_supersedes_map() -> None:
    old = _mini()
    data = old.model_dump(mode="json")
    data["version"] = "2.0"
    data["dimensions"][0]["areas"][0]["items"][0]["key"] = "gov.vision.written"
    data["supersedes"] = {"version": "1.0", "items": {"gov.vision.1": "gov.vision.written"}}
    new = Instrument.model_validate(data)
    c = compare_assessments(  # retrospective baseline on 2.0, endline on 1.0
        baseline_instrument=new,
        endline_instrument=old,
        compiled=compile_instrument(new),
        baseline_answers={"gov.vision.written": 1.0, "gov.board.1": 1.0, "fin.budget.1": 1.0},
        endline_answers={"gov.vision.1": 4.0, "gov.board.1": 4.0, "fin.budget.1": 4.0},
    )
    assert c.cross_version and c.baseline_version == "2.0" and c.endline_version == "1.0"
    assert c.overall.baseline == pytest.approx(1.0) and c.overall.endline == pytest.approx(4.0)
    assert c.overall.direction == "up"


def test_rescore_on_the_newer_version_uses_only_what_every_side_carries() -> None:
    old = _mini()
    data = old.model_dump(mode="json")
    data["version"] = "2.0"
    data["dimensions"][0]["areas"][0]["items"][0]["key"] = "gov.vision.written"
    data["supersedes"] = {"version": "1.0", "items": {"gov.board.1": None}}
    new = Instrument.model_validate(data)
    compiled = compile_instrument(new)
    base = {"gov.vision.1": 1.0, "gov.vision.2": 1.0, "gov.board.1": 4.0, "fin.budget.1": 1.0}
    end = {"gov.vision.written": 3.0, "gov.vision.2": 3.0, "gov.board.1": 1.0, "fin.budget.1": 3.0}
    scores = rescore_on(new, compiled, [(old, base), (new, end)])
    assert scores is not None
    b, e = scores
    # gov.vision.1 has no explicit mapping and no namesake in 2.0: not comparable either
    assert b.dimensions[0].score == pytest.approx(1.0) and e.dimensions[0].score == 3.0
    assert b.dimensions[0].areas[1].score is None  # the board, out on both sides
    assert b.dimensions[0].areas[0].answered == 1  # vision.2 only
    unrelated = Instrument.model_validate({**old.model_dump(mode="json"), "version": "0.5"})
    assert rescore_on(new, compiled, [(unrelated, base), (new, end)]) is None
