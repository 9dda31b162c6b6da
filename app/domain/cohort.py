"""A cohort's organizations compared, baseline against endline (``compare_cohort``): counts,
means, medians, distributions and who improved, declined or stayed, per key, by the rules of
``app.domain.comparison`` (the same threshold both ways; changes of the shown numbers)."""

from __future__ import annotations

import statistics
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import compress, repeat
from typing import NamedTuple, cast

from app.domain.comparison import _EPS, LeftOut
from app.domain.rounding import shown_change


class OrgPair(NamedTuple):
    """One organization's baseline and endline numbers (overall and per dimension key), and the
    items left out of both because they were answered in one round only (a named tuple: a
    national comparison makes 10,000)."""

    organization_id: str
    name: str
    baseline: Mapping[str, float | None]
    endline: Mapping[str, float | None]
    left_out: tuple[LeftOut, ...] = ()


@dataclass(frozen=True)
class RoundStats:
    n: int
    mean: float | None
    median: float | None
    minimum: float | None
    maximum: float | None
    distribution: tuple[tuple[str, int, tuple[str, ...]], ...]  # (bin label, count, org ids)
    organizations: tuple[str, ...]


@dataclass(frozen=True)
class Change:
    """The improvement rule over the paired organizations (the same threshold both ways)."""

    threshold: float
    improved: tuple[str, ...]
    declined: tuple[str, ...]
    unchanged: tuple[str, ...]
    share_improved: float | None
    share_declined: float | None
    share_unchanged: float | None


@dataclass(frozen=True)
class Signs:
    """The plain sign of each paired organization's change (``up`` = better)."""

    up: tuple[str, ...]
    down: tuple[str, ...]
    same: tuple[str, ...]
    share_up: float | None
    share_down: float | None
    share_same: float | None


@dataclass(frozen=True)
class KeyStats:
    """One number (overall or a dimension) across the cohort.

    ``baseline``/``endline`` describe every organization scored in that round; the ``paired_*``
    stats use only the organizations scored in both, which is what a before/after chart compares.
    ``mean_delta`` is the shown paired endline mean minus the shown paired baseline mean.
    """

    key: str
    baseline: RoundStats
    endline: RoundStats
    paired: tuple[str, ...]
    paired_baseline: RoundStats
    paired_endline: RoundStats
    mean_delta: float | None
    mean_delta_unrounded: float | None
    change: Change  # by the rule's threshold
    signs: Signs
    at_instrument_threshold: Change  # by the instrument's own threshold


@dataclass(frozen=True)
class CohortComparison:
    organizations_with_both: tuple[str, ...]
    only_baseline: tuple[str, ...]
    only_endline: tuple[str, ...]
    threshold: float
    instrument_threshold: float
    keys: tuple[KeyStats, ...]


def _bins(low: float, high: float, risk: bool) -> list[tuple[str, float, float]]:
    if risk:
        edges = [0.0, 30.0, 60.0, 90.0, 100.0]
    else:
        edges = [low + i for i in range(int(high - low) + 1)]
    out = []
    for i in range(len(edges) - 1):
        a, b = edges[i], edges[i + 1]
        last = i == len(edges) - 2
        out.append((f"{a:g}–{b:g}" if last else f"{a:g}–<{b:g}", a, b if not last else b + 1e-9))
    return out


def _round_stats(
    ids: Sequence[str], nums: Sequence[float], bins: list[tuple[str, float, float]]
) -> RoundStats:
    """A round's statistics over ``nums``, organization ``ids[i]``'s number at ``nums[i]``."""
    if not nums:
        return RoundStats(0, None, None, None, None, tuple((b[0], 0, ()) for b in bins), ())
    # each value's bin found by bisect in C (no Python call per organization), then each id put
    # in its bin in one pass: the bins are ascending and touch, so bisecting their starts and the
    # last one's end gives bin k - 1, or 0 / len(bins) + 1 for a value outside them all (and 0
    # when there is no bin: scales spanning less than one)
    edges = [a for _, a, _ in bins] + [b for _, _, b in bins[-1:]]
    held: list[list[str]] = [[] for _ in range(len(bins) + 2)]
    for o, k in zip(ids, map(bisect_right, repeat(edges, len(nums)), nums), strict=True):
        held[k].append(o)
    ordered = sorted(nums)  # one sort for the median, the least and the greatest
    n, half = len(ordered), len(ordered) // 2
    return RoundStats(
        n,
        statistics.fmean(nums),
        ordered[half] if n % 2 else (ordered[half - 1] + ordered[half]) / 2,  # statistics.median
        ordered[0],
        ordered[-1],
        tuple((label, len(h), tuple(h)) for (label, _, _), h in zip(bins, held[1:], strict=False)),
        tuple(ids),
    )


def _share(part: Sequence[str], n: int) -> float | None:
    return len(part) / n if n else None


def _change(ids: Sequence[str], gains: Sequence[float], threshold: float) -> Change:
    # outcome_of for each gain (organization ids[i]'s is gains[i]), its comparisons written out
    # (no call per organization)
    improved: list[str] = []
    declined: list[str] = []
    unchanged: list[str] = []
    at_least, at_most = threshold - _EPS, -threshold + _EPS
    for org, gain in zip(ids, gains, strict=True):
        if gain >= at_least:
            improved.append(org)
        elif gain <= at_most:
            declined.append(org)
        else:
            unchanged.append(org)
    n = len(gains)
    return Change(
        threshold,
        tuple(improved),
        tuple(declined),
        tuple(unchanged),
        _share(improved, n),
        _share(declined, n),
        _share(unchanged, n),
    )


def _signs(ids: Sequence[str], gains: Sequence[float]) -> Signs:
    # direction_of for each gain, written out likewise
    up: list[str] = []
    down: list[str] = []
    same: list[str] = []
    for org, gain in zip(ids, gains, strict=True):
        if gain > _EPS:
            up.append(org)
        elif gain < -_EPS:
            down.append(org)
        else:
            same.append(org)
    n = len(gains)
    return Signs(
        tuple(up),
        tuple(down),
        tuple(same),
        _share(up, n),
        _share(down, n),
        _share(same, n),
    )


def _present(ids: Sequence[str], values: Sequence[float | None]) -> tuple[list[str], list[float]]:
    """The organizations with a number (``values[i]`` is ``ids[i]``'s) and their numbers."""
    kept = [(o, v) for o, v in zip(ids, values, strict=True) if v is not None]
    return [o for o, _ in kept], [v for _, v in kept]


def compare_cohort(
    pairs: Sequence[OrgPair],
    keys: Sequence[str],
    *,
    scale_low: float,
    scale_high: float,
    risk: bool,
    improvement_threshold: float,
    threshold: float | None = None,
) -> CohortComparison:
    """Counts, means, medians, distributions and the shares improved, declined and unchanged
    (by the rule and by the plain sign), with the organizations behind each number.
    ``threshold`` replaces the instrument's ``improvement_threshold`` in the rule."""
    bins = _bins(scale_low, scale_high, risk)
    thr = improvement_threshold if threshold is None else threshold
    both = tuple(p.organization_id for p in pairs if p.baseline and p.endline)
    only_b = tuple(p.organization_id for p in pairs if p.baseline and not p.endline)
    only_e = tuple(p.organization_id for p in pairs if p.endline and not p.baseline)
    out: list[KeyStats] = []
    # each key reads every pair's numbers once, as columns (an organization's i-th place in each)
    oids = [p.organization_id for p in pairs]
    baselines = [p.baseline for p in pairs]
    endlines = [p.endline for p in pairs]
    for key in keys:
        bs = [d.get(key) for d in baselines]
        es = [d.get(key) for d in endlines]
        # the paired organizations' columns picked by C code (compress)
        both_here = [b is not None and e is not None for b, e in zip(bs, es, strict=True)]
        ids = list(compress(oids, both_here))
        pb = cast(list[float], list(compress(bs, both_here)))
        pe = cast(list[float], list(compress(es, both_here)))
        gains = list(map(shown_change, pb, pe))
        if risk:
            gains = [-g for g in gains]
        paired_base = _round_stats(ids, pb, bins)
        paired_end = _round_stats(ids, pe, bins)
        mean_b, mean_e = paired_base.mean, paired_end.mean
        change = _change(ids, gains, thr)
        out.append(
            KeyStats(
                key,
                # when every organization of a round is paired (the usual case), the round's
                # stats are the paired ones: the same values in the same order
                paired_base
                if len(bs) - bs.count(None) == len(ids)
                else _round_stats(*_present(oids, bs), bins),
                paired_end
                if len(es) - es.count(None) == len(ids)
                else _round_stats(*_present(oids, es), bins),
                paired_base.organizations,
                paired_base,
                paired_end,
                shown_change(mean_b, mean_e) if mean_b is not None and mean_e is not None else None,
                mean_e - mean_b if mean_b is not None and mean_e is not None else None,
                change,
                _signs(ids, gains),
                change
                if thr == improvement_threshold
                else _change(ids, gains, improvement_threshold),
            )
        )
    return CohortComparison(both, only_b, only_e, thr, improvement_threshold, tuple(out))
