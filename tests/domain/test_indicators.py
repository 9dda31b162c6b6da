"""CBLD-9 by hand: per US fiscal year, organizations that measured a named performance metric
again (the denominator) and those whose metric moved in its better direction (the numerator)."""

from __future__ import annotations

from datetime import date

import pytest

from app.domain.indicators import Measurement, cbld9, fiscal_year_bounds, fiscal_year_of


def m(
    org: str, on: str, value: float, metric: str = "Local revenue %", better: bool = True
) -> Measurement:
    return Measurement(org, f"{org}-{on}", date.fromisoformat(on), metric, value, better)


@pytest.mark.parametrize(
    ("day", "year"), [("2024-09-30", 2024), ("2024-10-01", 2025), ("2025-09-30", 2025)]
)
def test_the_us_fiscal_year_runs_october_to_september(day: str, year: int) -> None:
    assert fiscal_year_of(date.fromisoformat(day)) == year
    assert fiscal_year_bounds(2025) == (date(2024, 10, 1), date(2025, 9, 30))


def test_cbld9_counts_each_organization_once_per_fiscal_year() -> None:
    data = [
        m("a", "2024-03-01", 10),
        m("a", "2024-11-15", 12),
        m("a", "2025-06-01", 15),  # up
        m("b", "2024-05-01", 30),
        m("b", "2025-02-01", 25),  # down: not improved
        m("c", "2024-05-01", 9, "Days to close the books", better=False),
        m("c", "2025-08-01", 6, "days to close  the BOOKS", better=False),  # fewer days: better
        m("d", "2024-05-01", 50),  # named, never measured again
        m("e", "2025-10-02", 1),
        m("e", "2025-12-01", 2),  # FY2026: not this year
        m("x", "2024-01-01", 1),
        m("x", "2025-01-01", 9),  # not a member
    ]
    r = cbld9(data, ["a", "b", "c", "d", "e"], 2025)
    assert [o.organization_id for o in r.counted] == ["a", "b", "c"]
    assert r.improved == ("a", "c") and r.not_improved == ("b",)
    assert r.share_improved == pytest.approx(2 / 3)
    a = r.counted[0].metrics[0]
    # the last measurement in the year against the one before it (which may be in the year)
    assert (a.earlier.value, a.later.value, a.change) == (12, 15, 3)
    assert [(w.organization_id, w.last_measured_on) for w in r.not_measured_again] == [
        ("d", date(2024, 5, 1))
    ]
    assert cbld9(data, ["d"], 2025).share_improved is None


def test_an_organization_improves_only_if_every_metric_measured_again_did() -> None:
    data = [
        m("a", "2024-01-01", 1, "Clients served"),
        m("a", "2025-01-01", 2, "Clients served"),
        m("a", "2024-01-01", 5, "Grants won"),
        m("a", "2025-01-01", 5, "Grants won"),
    ]
    r = cbld9(data, ["a"], 2025)
    assert r.not_improved == ("a",)
    assert [c.improved for c in r.counted[0].metrics] == [True, False]
