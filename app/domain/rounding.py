"""The one rounding rule for numbers a person reads (DESIGN §5): half-even to 2 places.

Scores are computed unrounded; every output (API, Excel, audit log) rounds at its edge with this
rule, and a change between two shown numbers is the difference of the shown numbers, so a reader
can check it by hand (baseline 1.98, endline 2.52: change 0.54, never 0.55).
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache
from typing import Any

PLACES = Decimal("0.01")


def half_even(value: float) -> float:
    """``value`` half-even to 2 places, on the decimal the float prints as (2.675 -> 2.68)."""
    return 0.0 if value == 0 else _half_even(value)  # one zero, never -0.0


@lru_cache(maxsize=1 << 16)  # the same few hundred score values recur in every comparison
def _half_even(value: float) -> float:
    return float(Decimal(repr(value)).quantize(PLACES, rounding=ROUND_HALF_EVEN))


@lru_cache(maxsize=1 << 16)
def shown_change(baseline: float, endline: float) -> float:
    """The change a reader sees: the rounded endline minus the rounded baseline, exactly."""
    base = Decimal(repr(half_even(baseline)))
    end = Decimal(repr(half_even(endline)))
    return float(end - base) or 0.0


def rounded_numbers(value: Any) -> Any:
    """Every float in a JSON-like value (dicts, lists) half-even to 2 places."""
    if isinstance(value, float):
        return half_even(value)
    if isinstance(value, dict):
        return {k: rounded_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded_numbers(v) for v in value]
    return value
