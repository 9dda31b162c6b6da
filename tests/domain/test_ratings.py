"""The distribution of individual ratings, the disagreement rule and the proposed consensus,
checked by hand on small cases (docs/raters.md)."""

from __future__ import annotations

import pytest

from app.domain.instrument import Scale
from app.domain.ratings import MIN_RATERS, distribution, nearest_value, propose
from app.domain.scoring import NA, AnswerValue

LEVELS = Scale.model_validate(
    {
        "kind": "levels",
        "values": [{"value": v, "label": {"en": f"L{v}", "es": f"N{v}"}} for v in (1, 2, 3, 4)],
    }
)
YESNO = Scale.model_validate(
    {
        "kind": "yesno",
        "values": [
            {"value": 1, "code": "yes", "label": {"en": "Yes", "es": "Sí"}},
            {"value": 0, "code": "no", "label": {"en": "No", "es": "No"}},
        ],
    }
)


def test_distribution_numbers_by_hand() -> None:
    d = distribution(LEVELS, [1.0, 2.0, 2.0, 4.0])
    assert (d.rated, d.withheld, d.n, d.n_na) == (4, False, 4, 0)
    assert (d.minimum, d.maximum, d.median, d.mean) == (1, 4, 2, 2.25)
    assert (d.spread, d.spread_steps, d.disagreement, d.na_split) == (3, 3, True, False)
    d = distribution(LEVELS, [2.0, 3.0, 3.0, NA])
    assert (d.rated, d.n, d.n_na, d.median, d.spread) == (4, 3, 1, 3, 1)
    assert d.mean == pytest.approx(8 / 3)
    assert (d.disagreement, d.na_split) == (False, True)


@pytest.mark.parametrize(
    ("ratings", "disagree"),
    [
        ([2.0, 3.0, 3.0], False),  # neighbouring levels: usual between honest raters
        ([2.0, 3.0, 4.0], True),  # two levels apart: the threshold itself
        ([1.0, 1.0, 1.0, 1.0], False),
        ([1.0, 4.0, 4.0], True),
    ],
    ids=["one-step", "two-steps", "unanimous", "three-steps"],
)
def test_disagreement_is_two_scale_steps(ratings: list[AnswerValue], disagree: bool) -> None:
    assert distribution(LEVELS, ratings).disagreement is disagree


def test_on_yes_no_any_split_is_disagreement() -> None:
    assert distribution(YESNO, [1.0, 1.0, 0.0]).disagreement is True
    assert distribution(YESNO, [1.0, 1.0, 1.0]).disagreement is False


def test_fewer_than_three_raters_withholds_everything() -> None:
    assert MIN_RATERS == 3
    for ratings in ([], [3.0], [1.0, 4.0], [NA, 2.0]):
        d = distribution(LEVELS, ratings)
        assert d.withheld and d.rated == len(ratings)
        assert (d.n, d.n_na, d.minimum, d.maximum, d.median, d.mean) == (None,) * 6
        assert (d.spread, d.disagreement, d.na_split) == (None, None, None)
        assert propose(LEVELS, d) is None


@pytest.mark.parametrize(
    ("ratings", "proposed"),
    [
        ([1.0, 3.0, 4.0], 3.0),  # the median itself
        ([2.0, 2.0, 3.0, 3.0], 2.0),  # 2.5: exactly between two levels, the lower one
        ([1.0, 2.0, 3.0, 4.0], 2.0),
        ([3.0, 3.0, 4.0, 4.0], 3.0),
        ([NA, NA, 3.0], NA),  # most raters said N/A
        ([NA, NA, 3.0, 4.0], 3.0),  # half is not most: the median of the values (3.5 -> 3)
        ([NA, NA, NA], NA),
    ],
    ids=["median", "tie-lower", "tie-lower-wide", "tie-lower-high", "most-na", "half-na", "all-na"],
)
def test_proposed_consensus(ratings: list[AnswerValue], proposed: AnswerValue) -> None:
    assert propose(LEVELS, distribution(LEVELS, ratings)) == proposed


def test_nearest_value_of_uneven_scales() -> None:
    points = Scale.model_validate(
        {
            "kind": "points",
            "values": [{"value": v, "label": {"en": str(v), "es": str(v)}} for v in (0, 5, 10)],
        }
    )
    assert nearest_value(points, 6.0) == 5
    assert nearest_value(points, 7.5) == 5  # tie: the lower
    assert nearest_value(points, 8.0) == 10
    assert nearest_value(YESNO, 0.5) == 0
