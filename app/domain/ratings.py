"""Individual ratings of a facilitated assessment: per item, how the raters' answers spread, when
the group disagrees, and the consensus the ratings suggest (docs/raters.md gives the reasons).

Pure: the ratings come in already parsed (``app.domain.answers``), one answer per rater.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from app.domain.instrument import Scale
from app.domain.scoring import NA, AnswerValue

CODE_PATTERN: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,15}$")
"""A rater code ("R07"): 1-16 letters, digits, '-', '_' or '.', starting with a letter or digit."""

MIN_RATERS: Final = 3
"""An item's distribution is shown only when at least this many raters rated it (a value or N/A):
with one or two, the numbers would give away what each person said."""

WIDE_STEPS: Final = 2
"""Disagreement: the highest and lowest ratings are at least this many steps apart on the scale
(on a two-valued scale, such as yes/no, one step is the whole scale: any split disagrees)."""


@dataclass(frozen=True)
class Distribution:
    """How the raters rated one item. ``rated`` = raters who gave a value or N/A.

    When fewer than ``MIN_RATERS`` rated it, everything but ``rated`` is withheld (None) and
    ``withheld`` is True."""

    rated: int
    withheld: bool
    n: int | None = None  # raters who gave a scale value
    n_na: int | None = None  # raters who said not applicable
    minimum: float | None = None
    maximum: float | None = None
    median: float | None = None
    mean: float | None = None
    spread: float | None = None  # maximum - minimum, in scale values
    spread_steps: int | None = None  # how many scale values apart maximum and minimum are
    disagreement: bool | None = None  # spread_steps >= the scale's threshold (WIDE_STEPS)
    na_split: bool | None = None  # some raters said N/A, others gave a value


def steps_threshold(scale: Scale) -> int:
    """How many steps apart two ratings must be to count as disagreement on this scale."""
    return min(WIDE_STEPS, len(scale.values) - 1)


def distribution(scale: Scale, ratings: Iterable[AnswerValue]) -> Distribution:
    """The distribution of one item's ratings (each a scale value or NA; missing ones left out)."""
    given = list(ratings)
    values = sorted(float(v) for v in given if isinstance(v, int | float))
    n_na = sum(1 for v in given if v is NA)
    rated = len(values) + n_na
    if rated < MIN_RATERS:
        return Distribution(rated=rated, withheld=True)
    if not values:
        return Distribution(
            rated=rated, withheld=False, n=0, n_na=n_na, disagreement=False, na_split=False
        )
    order = sorted(v.value for v in scale.values)
    low, high = values[0], values[-1]
    steps = order.index(high) - order.index(low)
    return Distribution(
        rated=rated,
        withheld=False,
        n=len(values),
        n_na=n_na,
        minimum=low,
        maximum=high,
        median=float(statistics.median(values)),
        mean=statistics.fmean(values),
        spread=high - low,
        spread_steps=steps,
        disagreement=steps >= steps_threshold(scale),
        na_split=n_na > 0,
    )


def nearest_value(scale: Scale, number: float) -> float:
    """The scale value nearest ``number``; exactly between two, the lower one (conservative: a
    capacity is claimed when the group shows it, and the discussion can still raise it)."""
    return min((v.value for v in scale.values), key=lambda v: (abs(v - number), v))


def propose(scale: Scale, d: Distribution) -> AnswerValue | None:
    """The consensus the ratings suggest: N/A when most raters said N/A, else the median rounded
    to a scale value (``nearest_value``); None when the distribution is withheld or empty."""
    if d.withheld or d.n is None or d.n_na is None:
        return None
    if d.n_na > d.n:
        return NA
    if d.median is None:
        return None
    return nearest_value(scale, d.median)
