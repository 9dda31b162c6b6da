"""``rounded_numbers`` (unrolled for speed: 28 % of rescoring walked it) rounds exactly what the
plain recursive walk rounds, and keeps everything else as it is."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.rounding import half_even, rounded_numbers


def _plain(value: Any) -> Any:
    """The rule as first written: every float rounded, lists of strings kept as they are."""
    if type(value) is float:
        return half_even(value)
    if type(value) is dict:
        return {k: _plain(v) for k, v in value.items()}
    if type(value) is list:
        if value and type(value[0]) is str:
            return value
        return [_plain(v) for v in value]
    return value


leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([0.0, -0.0, 2.675, 1.005, -1.125, 1e15, 1e-7])
    | st.text(max_size=5)
)
json_like = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=4), inner, max_size=5)
    ),
    max_leaves=40,
)


def _same(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if type(a) is float:
        return (math.isnan(a) and math.isnan(b)) or (
            a == b and math.copysign(1, a) == math.copysign(1, b)
        )
    if type(a) is dict:
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if type(a) is list:
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@settings(max_examples=300)
@given(json_like)
def test_the_unrolled_walk_rounds_what_the_plain_one_does(value: Any) -> None:
    assert _same(rounded_numbers(value), _plain(value))


def test_negative_zero_and_the_cache_give_one_zero() -> None:
    assert _same(rounded_numbers([-0.0, 0.0, {"a": -0.0}]), [0.0, 0.0, {"a": 0.0}])
    assert _same(
        rounded_numbers({"x": [1, 2.675, True, None, "s"]}), {"x": [1, 2.68, True, None, "s"]}
    )
