"""``compare_cohort`` works out each statistic once: a round's stats are the paired stats when
every organization of the round is paired, the instrument's rule is the requested rule when no
other threshold is asked for, and the distribution is one pass over the values (the same bins
as filtering each bin). The cheaper paths of ``keep_common`` and ``carry_onto`` give what the
plain ones give."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping

from hypothesis import given
from hypothesis import strategies as st

from app.domain.cohort import OrgPair, _bins, _change, _signs, compare_cohort
from app.domain.comparison import LeftOut, direction_of, keep_common, outcome_of
from app.domain.scoring import NA, AnswerValue

KEYS = ["overall", "d1"]


def _compare(pairs: list[OrgPair], threshold: float | None = None):  # type: ignore[no-untyped-def]
    return compare_cohort(
        pairs,
        KEYS,
        scale_low=1,
        scale_high=4,
        risk=False,
        improvement_threshold=0.5,
        threshold=threshold,
    )


def _pair(oid: str, base: float | None, end: float | None) -> OrgPair:
    b = {} if base is None else {"overall": base, "d1": base}
    e = {} if end is None else {"overall": end, "d1": end}
    return OrgPair(oid, oid, b, e)


def test_every_organization_paired_shares_the_round_stats_and_the_rule() -> None:
    c = _compare([_pair("a", 1.0, 2.0), _pair("b", 2.5, 2.0), _pair("c", 3.9, 4.0)])
    for k in c.keys:
        assert k.baseline is k.paired_baseline
        assert k.endline is k.paired_endline
        assert k.at_instrument_threshold is k.change
        assert k.baseline.organizations == ("a", "b", "c")
        assert k.change.improved == ("a",) and k.change.declined == ("b",)


def test_an_unpaired_organization_or_another_threshold_gets_its_own_stats() -> None:
    c = _compare([_pair("a", 1.0, 2.0), _pair("b", 2.5, None), _pair("c", 3.9, 4.0)], 0.05)
    for k in c.keys:
        assert k.baseline is not k.paired_baseline
        assert k.baseline.organizations == ("a", "b", "c")
        assert k.paired_baseline.organizations == ("a", "c")
        assert k.baseline.n == 3 and k.paired_baseline.n == 2
        assert k.endline is k.paired_endline
        assert k.change.improved == ("a", "c")
        assert k.at_instrument_threshold.improved == ("a",)
        assert k.at_instrument_threshold.unchanged == ("c",)


@given(
    st.lists(
        st.one_of(
            st.floats(min_value=0, max_value=5, allow_nan=False),
            st.sampled_from([1.0, 2.0, 3.0, 4.0, 4.0 + 1e-10, 4.0 + 1e-8, 0.999999, math.nan]),
        ),
        max_size=30,
    ),
    st.booleans(),
)
def test_the_distribution_holds_what_filtering_each_bin_holds(
    values: list[float], risk: bool
) -> None:
    values = [v * 25 if risk else v for v in values]
    pairs = [_pair(f"o{i}", v, v) for i, v in enumerate(values)]
    c = compare_cohort(pairs, KEYS, scale_low=1, scale_high=4, risk=risk, improvement_threshold=0.5)
    bins = _bins(1, 4, risk)
    kept = [(f"o{i}", v) for i, v in enumerate(values)]
    for k in c.keys:
        expected = [
            (label, ids, len(ids))
            for label, a, b in bins
            for ids in [tuple(o for o, v in kept if a <= v < b)]
        ]
        assert [(label, ids, n) for label, n, ids in k.baseline.distribution] == expected


@given(
    st.sampled_from([(0.0, 0.5), (0.0, 1.0), (1.0, 4.0), (0.0, 100.0)]),
    st.lists(st.floats(min_value=-5, max_value=105, allow_nan=False), max_size=40),
)
def test_the_distribution_on_any_span_of_scale(
    span: tuple[float, float], values: list[float]
) -> None:
    """A scale spanning less than one has no bin (an empty distribution, not an error), and one
    spanning a hundred has a hundred: each holds what filtering it holds."""
    low, high = span
    pairs = [_pair(f"o{i}", v, v) for i, v in enumerate(values)]
    c = compare_cohort(
        pairs, KEYS, scale_low=low, scale_high=high, risk=False, improvement_threshold=0.5
    )
    bins = _bins(low, high, False)
    assert len(bins) == int(high - low)
    for k in c.keys:
        expected = [
            (label, tuple(f"o{i}" for i, v in enumerate(values) if a <= v < b))
            for label, a, b in bins
        ]
        assert [(label, ids) for label, _, ids in k.baseline.distribution] == expected
        assert all(n == len(ids) for _, n, ids in k.baseline.distribution)


@given(
    st.lists(st.floats(min_value=-10, max_value=110, allow_nan=False), min_size=1, max_size=30),
    st.lists(st.floats(min_value=-10, max_value=110, allow_nan=False), max_size=30),
)
def test_the_round_stats_are_the_statistics_modules(base: list[float], end: list[float]) -> None:
    """Mean, median, least and greatest (from one sort) are what ``statistics`` and
    ``min``/``max`` give, for the paired round and for a round with unpaired organizations."""
    pairs = [_pair(f"o{i}", v, end[i] if i < len(end) else None) for i, v in enumerate(base)]
    for k in _compare(pairs).keys:
        for stats, values in (
            (k.baseline, base),
            (k.paired_endline, end[: len(base)]),
        ):
            assert stats.n == len(values)
            if values:
                assert stats.mean == statistics.fmean(values)
                assert stats.median == statistics.median(values)
                assert (stats.minimum, stats.maximum) == (min(values), max(values))


# --- keep_common, against the plain loop it replaced -------------------------------------------


def _plain_keep_common(
    baseline: Mapping[str, AnswerValue], endline: Mapping[str, AnswerValue], keys: list[str]
) -> tuple[dict[str, AnswerValue], dict[str, AnswerValue], tuple[LeftOut, ...]]:
    def answered(v: AnswerValue | None) -> bool:
        return v is not None and v is not NA

    base, end = dict(baseline), dict(endline)
    left = []
    for key in keys:
        b, e = baseline.get(key), endline.get(key)
        if answered(b) == answered(e):
            continue
        if answered(b):
            code = "na_at_endline" if e is NA else "missing_at_endline"
        else:
            code = "na_at_baseline" if b is NA else "missing_at_baseline"
        left.append(LeftOut(key, code))
        base[key] = NA
        end[key] = NA
    return base, end, tuple(left)


_ITEMS = [f"i{n}" for n in range(8)]
_answers = st.dictionaries(
    st.sampled_from([*_ITEMS, "other"]),
    st.one_of(st.just(NA), st.floats(1, 4), st.none()),  # type: ignore[arg-type]
)


@given(_answers, _answers, st.permutations(_ITEMS))
def test_keep_common_is_the_plain_loop(
    base: dict[str, AnswerValue], end: dict[str, AnswerValue], keys: list[str]
) -> None:
    assert keep_common(base, end, keys) == _plain_keep_common(base, end, keys)


@given(
    st.lists(
        st.one_of(
            st.floats(-4, 4, allow_nan=False),
            st.sampled_from([0.5, -0.5, 0.5 - 1e-10, -0.5 + 1e-10, 1e-10, -1e-10, 0.0, 0.25]),
        ),
        max_size=30,
    ),
    st.sampled_from([0.5, 0.25, 0.0, 1.0]),
)
def test_the_organizations_improved_and_up_are_those_of_the_one_organization_rules(
    gains: list[float], threshold: float
) -> None:
    named = [(f"o{i}", g) for i, g in enumerate(gains)]
    ids = [o for o, _ in named]
    change, signs = _change(ids, gains, threshold), _signs(ids, gains)
    for outcome, ids in (
        ("improved", change.improved),
        ("declined", change.declined),
        ("unchanged", change.unchanged),
    ):
        assert ids == tuple(o for o, g in named if outcome_of(g, threshold) == outcome)
    for direction, ids in (("up", signs.up), ("down", signs.down), ("same", signs.same)):
        assert ids == tuple(o for o, g in named if direction_of(g) == direction)
