"""The one rounding rule for numbers a person reads (DESIGN §5): half-even to 2 places.

Scores are computed unrounded; every output (API, Excel, audit log) rounds at its edge with this
rule, and a change between two shown numbers is the difference of the shown numbers, so a reader
can check it by hand (baseline 1.98, endline 2.52: change 0.54, never 0.55).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache
from typing import Any

PLACES = Decimal("0.01")


# Beyond this the 2nd decimal is past a float's precision: such numbers are shown as they are
# (Decimal's 28-digit context could not even hold them at 2 places).
_EXACT_BELOW = 1e15


def half_even(value: float) -> float:
    """``value`` half-even to 2 places, on the decimal the float prints as (2.675 -> 2.68)."""
    if value == 0:
        return 0.0  # one zero, never -0.0 (which would also share a cache slot with 0.0)
    if not -_EXACT_BELOW < value < _EXACT_BELOW:
        return value  # huge, infinite or NaN: nothing to round at 2 places
    return _half_even(value)


@lru_cache(maxsize=1 << 16)  # the same few hundred score values recur in every answer
def _half_even(value: float) -> float:
    return float(Decimal(repr(value)).quantize(PLACES, rounding=ROUND_HALF_EVEN))


@lru_cache(maxsize=1 << 16)
def shown_change(baseline: float, endline: float) -> float:
    """The change a reader sees: the rounded endline minus the rounded baseline, exactly."""
    base, end = half_even(baseline), half_even(endline)
    if (
        -_HUNDREDTHS_BELOW < base < _HUNDREDTHS_BELOW
        and -_HUNDREDTHS_BELOW < end < _HUNDREDTHS_BELOW
    ):
        # each is the float nearest a whole number of hundredths, k / 100, and times 100 is
        # within far less than a half of k at this size; the quotient of the whole difference
        # by 100 is rounded once, as the float of the decimal difference below is. The same
        # number (a property test checks it against the decimal one), without two Decimals
        # (a national cohort takes 80,000 of these)
        return (round(end * 100) - round(base * 100)) / 100
    if not -_EXACT_BELOW < base < _EXACT_BELOW or not -_EXACT_BELOW < end < _EXACT_BELOW:
        return end - base
    return float(Decimal(repr(end)) - Decimal(repr(base))) or 0.0


_HUNDREDTHS_BELOW = 1e9  # scores are far below; their hundredths times 100 stay exact integers


def rounded_numbers(value: Any) -> Any:
    """Every float in a JSON-like value (dicts, lists) half-even to 2 places (the edge rule)."""
    kind = type(value)
    if kind is float:
        return half_even(value)
    if kind is dict:
        return _rounded_dict(value)
    if kind is list:
        return _rounded_list(value)
    return value


def rounded_flat(value: Mapping[str, Any]) -> dict[str, Any]:
    """``rounded_numbers`` of a flat mapping of numbers (no nested dicts or lists): what the
    walk gives for it, without walking the containers around it (a cohort has thousands)."""
    shown = _SHOWN
    out: dict[str, Any] = {}
    for k, v in value.items():
        if type(v) is float:
            r = shown.get(v)
            v = _shown(v) if r is None else r
        out[k] = v
    return out


# The walk below is the one above, unrolled: a float costs one dict lookup (``_SHOWN``; no frames of
# rounded_numbers and half_even on the way) and a value that is neither a float nor a container is
# kept as it is. A stored score has ~160 floats in ~130 dicts; this walk was 28 % of rescoring.


def _rounded_dict(value: dict[Any, Any]) -> dict[Any, Any]:
    shown = _SHOWN
    out: dict[Any, Any] = {}
    for k, v in value.items():
        kind = type(v)
        if kind is float:
            r = shown.get(v)
            v = _shown(v) if r is None else r
        elif kind is dict:
            v = _rounded_dict(v)
        elif kind is list:
            v = _rounded_list(v)
        out[k] = v
    return out


def _rounded_list(value: list[Any]) -> list[Any]:
    if value and type(value[0]) is str:
        return value  # lists of ids and keys (the bulk of cohort answers) hold no numbers
    shown = _SHOWN
    out: list[Any] = []
    for v in value:
        kind = type(v)
        if kind is float:
            r = shown.get(v)
            v = _shown(v) if r is None else r
        elif kind is dict:
            v = _rounded_dict(v)
        elif kind is list:
            v = _rounded_list(v)
        out.append(v)
    return out


# Each float seen and its rounding, for the walks above: a dict lookup where a float is in it,
# where ``lru_cache`` made and hashed a key tuple per call (a national cohort rounds 160,000
# floats, a stored score ~170). Emptied when full; NaN is never kept (NaN != NaN).
_SHOWN: dict[float, float] = {}
_SHOWN_MAX = 1 << 16


def _shown(value: float) -> float:
    r = half_even(value)
    if value == value:
        if len(_SHOWN) >= _SHOWN_MAX:
            _SHOWN.clear()
        _SHOWN[value] = r
    return r
