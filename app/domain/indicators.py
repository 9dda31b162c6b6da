"""CBLD-9, the USAID standard indicator "Percent of USG-assisted organizations with improved
performance", computed from performance measurements. Pure.

The indicator is about performance on a metric the organization planned to improve, not about
capacity scores: an organization counts in a US fiscal year (October to September) when it named
a performance metric and measured it again within that year (planned and pursued: the
denominator); it improved when every metric it measured again in the year moved in its better
direction since the measurement before (the numerator). Organizations that named a metric but
did not measure it again in the year are listed apart and left out of both.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date


def fiscal_year_of(day: date) -> int:
    """The US federal fiscal year a day falls in (FY2025 = 2024-10-01 .. 2025-09-30)."""
    return day.year + 1 if day.month >= 10 else day.year


def fiscal_year_bounds(year: int) -> tuple[date, date]:
    return date(year - 1, 10, 1), date(year, 9, 30)


def metric_key(name: str) -> str:
    """Metric names are matched ignoring case and surrounding or repeated spaces."""
    return " ".join(name.split()).casefold()


@dataclass(frozen=True)
class Measurement:
    """A performance metric's value measured for an organization (at an assessment)."""

    organization_id: str
    assessment_id: str
    measured_on: date
    metric: str
    value: float
    higher_is_better: bool


@dataclass(frozen=True)
class MetricChange:
    """One metric of one organization: the measurement in the year against the one before."""

    metric: str
    higher_is_better: bool
    earlier: Measurement
    later: Measurement

    @property
    def change(self) -> float:
        return self.later.value - self.earlier.value

    @property
    def improved(self) -> bool:
        gain = self.change if self.higher_is_better else -self.change
        return gain > 0


@dataclass(frozen=True)
class OrgResult:
    organization_id: str
    metrics: tuple[MetricChange, ...]

    @property
    def improved(self) -> bool:
        return all(m.improved for m in self.metrics)


@dataclass(frozen=True)
class NotMeasuredAgain:
    organization_id: str
    metric: str
    last_measured_on: date


@dataclass(frozen=True)
class Cbld9:
    fiscal_year: int
    starts_on: date
    ends_on: date
    counted: tuple[OrgResult, ...]  # the denominator, in the order organizations were given
    not_measured_again: tuple[NotMeasuredAgain, ...]

    @property
    def improved(self) -> tuple[str, ...]:
        return tuple(o.organization_id for o in self.counted if o.improved)

    @property
    def not_improved(self) -> tuple[str, ...]:
        return tuple(o.organization_id for o in self.counted if not o.improved)

    @property
    def share_improved(self) -> float | None:
        return len(self.improved) / len(self.counted) if self.counted else None


def cbld9(
    measurements: Iterable[Measurement], organizations: Sequence[str], fiscal_year: int
) -> Cbld9:
    """CBLD-9 for one fiscal year over ``organizations`` (measurements of others are ignored)."""
    starts, ends = fiscal_year_bounds(fiscal_year)
    by_org: dict[str, dict[str, list[Measurement]]] = {}
    members = set(organizations)
    for m in measurements:
        if m.organization_id in members and m.measured_on <= ends:
            by_org.setdefault(m.organization_id, {}).setdefault(metric_key(m.metric), []).append(m)
    counted: list[OrgResult] = []
    waiting: list[NotMeasuredAgain] = []
    for org in organizations:
        changes: list[MetricChange] = []
        idle: list[NotMeasuredAgain] = []
        for series in by_org.get(org, {}).values():
            series.sort(key=lambda m: m.measured_on)  # stable: given order breaks ties
            later = series[-1]
            if later.measured_on >= starts and len(series) > 1:
                changes.append(
                    MetricChange(later.metric, later.higher_is_better, series[-2], later)
                )
            else:
                idle.append(NotMeasuredAgain(org, later.metric, later.measured_on))
        if changes:
            counted.append(OrgResult(org, tuple(sorted(changes, key=lambda c: c.metric))))
        else:
            waiting.extend(sorted(idle, key=lambda w: w.metric))
    return Cbld9(fiscal_year, starts, ends, tuple(counted), tuple(waiting))
