"""Comparing rounds: one organization's two assessments, and a cohort's organizations.

Pure functions over scores and answers. Cross-version comparison goes through the newer version's
``supersedes`` map: both assessments are re-scored on the newer version using only the items the
map makes comparable (everything else is treated as not applicable on both sides), and the result
is flagged.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from app.domain.instrument import Instrument, Method
from app.domain.scoring import NA, AnswerValue, CompiledInstrument, Score, score

# --- one organization ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Delta:
    key: str
    baseline: float | None
    endline: float | None
    delta: float | None
    direction: str  # "up" | "down" | "same" | "n/a"  (up = better; for risk, risk went down)
    improved: bool | None  # by the instrument's threshold (one level by default)
    improved_by_threshold: bool | None  # by the caller's (smaller) threshold


@dataclass(frozen=True)
class ItemDelta:
    key: str
    baseline: AnswerValue | None
    endline: AnswerValue | None
    delta: float | None
    direction: str


@dataclass(frozen=True)
class DimensionDelta:
    dimension: Delta
    areas: tuple[Delta, ...]


@dataclass(frozen=True)
class OrgComparison:
    instrument_id: str
    version: str
    baseline_version: str
    endline_version: str
    cross_version: bool
    comparable_items: int
    excluded_items: tuple[str, ...]
    improvement_threshold: float
    threshold: float
    overall: Delta
    dimensions: tuple[DimensionDelta, ...]
    lens: tuple[Delta, ...]
    items: tuple[ItemDelta, ...]
    baseline_score: Score
    endline_score: Score


def _delta(
    key: str,
    base: float | None,
    end: float | None,
    *,
    lower_is_better: bool,
    level: float,
    threshold: float,
) -> Delta:
    if base is None or end is None:
        return Delta(key, base, end, None, "n/a", None, None)
    delta = end - base
    gain = -delta if lower_is_better else delta
    eps = 1e-9
    direction = "up" if gain > eps else "down" if gain < -eps else "same"
    return Delta(key, base, end, delta, direction, gain >= level - eps, gain >= threshold - eps)


def comparable_map(old: Instrument, new: Instrument) -> dict[str, str]:
    """Old item key -> new item key for every item the two versions share (explicit map first)."""
    if old.version == new.version:
        return {k: k for k in new.item_keys}
    explicit = (
        new.supersedes.items if new.supersedes and new.supersedes.version == old.version else {}
    )
    out: dict[str, str] = {}
    for key in old.item_keys:
        if key in explicit:
            target = explicit[key]
            if target is not None:
                out[key] = target
        elif key in new.item_keys:
            out[key] = key
    return out


def _supersedes(new: Instrument, old: Instrument) -> bool:
    return new.supersedes is not None and new.supersedes.version == old.version


def compare_assessments(
    *,
    baseline_instrument: Instrument,
    endline_instrument: Instrument,
    compiled: CompiledInstrument,
    baseline_answers: Mapping[str, AnswerValue],
    endline_answers: Mapping[str, AnswerValue],
    threshold: float | None = None,
) -> OrgComparison:
    """Compare two assessments; ``compiled`` is the newer version's compiled instrument.

    Either side may be the newer version (a retrospective baseline can be taken on a newer
    version than the endline): the older side's answers are carried onto the newer version's
    keys through its ``supersedes`` map, and both are scored on the newer version.
    Raises ValueError when the versions are not comparable (different instruments, or neither
    version declares that it supersedes the other).
    """
    if baseline_instrument.id != endline_instrument.id:
        raise ValueError("assessments of different instruments cannot be compared")
    new, old = endline_instrument, baseline_instrument
    cross = baseline_instrument.version != endline_instrument.version
    if cross and not _supersedes(new, old):
        if _supersedes(baseline_instrument, endline_instrument):
            new, old = baseline_instrument, endline_instrument
        else:
            raise ValueError(
                f"neither {new.id} {new.version} nor {old.version} declares that it supersedes "
                "the other; the two versions cannot be compared"
            )
    carried = carry_onto(
        new, [(baseline_instrument, baseline_answers), (endline_instrument, endline_answers)]
    )
    assert carried is not None  # the versions were checked just above
    comparable, (base_ans, end_ans) = carried
    excluded = tuple(sorted(new.item_keys - comparable))
    b = score(compiled, base_ans)
    e = score(compiled, end_ans)
    risk = new.scoring.method is Method.risk
    level = new.scoring.improvement_threshold
    thr = level if threshold is None else threshold

    def d(key: str, x: float | None, y: float | None) -> Delta:
        return _delta(key, x, y, lower_is_better=risk, level=level, threshold=thr)

    dims: list[DimensionDelta] = []
    for bd, ed in zip(b.dimensions, e.dimensions, strict=True):
        areas = tuple(
            d(ba.key, ba.score, ea.score) for ba, ea in zip(bd.areas, ed.areas, strict=True)
        )
        dims.append(DimensionDelta(d(bd.key, bd.score, ed.score), areas))
    # Lens scores are on 0-100 (higher is better): express the thresholds on that scale.
    span = 1.0 if risk else 100.0 / ((compiled.scale_high - compiled.scale_low) or 1.0)
    lens = tuple(
        _delta(
            bl.lens.value,
            bl.score,
            el.score,
            lower_is_better=False,
            level=level * span,
            threshold=thr * span,
        )
        for bl, el in zip(b.lens, e.lens, strict=True)
    )
    items: list[ItemDelta] = []
    for dim in new.dimensions:
        for area in dim.areas:
            for item in area.items:
                if item.key in excluded:
                    continue
                bv = base_ans.get(item.key)
                ev = end_ans.get(item.key)
                if isinstance(bv, float) and isinstance(ev, float):
                    delta = ev - bv
                    direction = "up" if delta > 0 else "down" if delta < 0 else "same"
                    items.append(ItemDelta(item.key, bv, ev, delta, direction))
                else:
                    items.append(ItemDelta(item.key, bv, ev, None, "n/a"))
    return OrgComparison(
        new.id,
        new.version,
        baseline_instrument.version,
        endline_instrument.version,
        cross,
        len(comparable),
        excluded,
        level,
        thr,
        d("overall", b.overall.score, e.overall.score),
        tuple(dims),
        lens,
        tuple(items),
        b,
        e,
    )


def carry_onto(
    new: Instrument, sides: Sequence[tuple[Instrument, Mapping[str, AnswerValue]]]
) -> tuple[set[str], list[dict[str, AnswerValue]]] | None:
    """Answers given on versions of one instrument, carried onto the ``new`` version's keys.

    Only the items every side can carry over (explicit ``supersedes`` map first, then same keys)
    are kept; the new version's other items are N/A on every side, so the sides compare. Returns
    those comparable keys and each side's answers, or ``None`` when a side's version is neither
    ``new`` nor the one it supersedes."""
    maps: list[dict[str, str]] = []
    for instrument, _ in sides:
        if instrument.id != new.id or (
            instrument.version != new.version and not _supersedes(new, instrument)
        ):
            return None
        maps.append(comparable_map(instrument, new))
    comparable = set(new.item_keys)
    for mapping in maps:
        comparable &= set(mapping.values())
    excluded = {k: NA for k in new.item_keys - comparable}
    carried = [
        {**{mapping[k]: v for k, v in answers.items() if mapping.get(k) in comparable}, **excluded}
        for (_, answers), mapping in zip(sides, maps, strict=True)
    ]
    return comparable, carried


def rescore_on(
    new: Instrument,
    compiled: CompiledInstrument,
    sides: Sequence[tuple[Instrument, Mapping[str, AnswerValue]]],
) -> list[Score] | None:
    """Score answers given on several versions of one instrument on the ``new`` version
    (``carry_onto``): how a cohort whose rounds used different versions is compared."""
    carried = carry_onto(new, sides)
    if carried is None:
        return None
    return [score(compiled, answers) for answers in carried[1]]


# --- a cohort ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrgPair:
    """One organization's baseline and endline numbers (overall and per dimension key)."""

    organization_id: str
    name: str
    baseline: Mapping[str, float | None]
    endline: Mapping[str, float | None]


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
    improved: tuple[str, ...]
    declined: tuple[str, ...]
    unchanged: tuple[str, ...]
    mean_delta: float | None
    share_improved: float | None


@dataclass(frozen=True)
class KeyStats:
    """One number (overall or a dimension) across the cohort.

    ``baseline``/``endline`` describe every organization scored in that round; the ``paired_*``
    stats use only the organizations scored in both, which is what a before/after chart compares.
    """

    key: str
    baseline: RoundStats
    endline: RoundStats
    paired: tuple[str, ...]
    paired_baseline: RoundStats
    paired_endline: RoundStats
    change: Change
    change_by_threshold: Change


@dataclass(frozen=True)
class CohortComparison:
    organizations_with_both: tuple[str, ...]
    only_baseline: tuple[str, ...]
    only_endline: tuple[str, ...]
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
    values: Sequence[tuple[str, float]], bins: list[tuple[str, float, float]]
) -> RoundStats:
    if not values:
        return RoundStats(0, None, None, None, None, tuple((b[0], 0, ()) for b in bins), ())
    nums = [v for _, v in values]
    dist = []
    for label, a, b in bins:
        ids = tuple(o for o, v in values if a <= v < b)
        dist.append((label, len(ids), ids))
    return RoundStats(
        len(nums),
        statistics.fmean(nums),
        statistics.median(nums),
        min(nums),
        max(nums),
        tuple(dist),
        tuple(o for o, _ in values),
    )


def _change(
    pairs: Sequence[tuple[str, float, float]], *, lower_is_better: bool, threshold: float
) -> Change:
    improved, declined, unchanged = [], [], []
    for org, b, e in pairs:
        gain = (b - e) if lower_is_better else (e - b)
        if gain >= threshold - 1e-9:
            improved.append(org)
        elif gain < -1e-9:
            declined.append(org)
        else:
            unchanged.append(org)
    n = len(pairs)
    return Change(
        tuple(improved),
        tuple(declined),
        tuple(unchanged),
        statistics.fmean(e - b for _, b, e in pairs) if n else None,
        len(improved) / n if n else None,
    )


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
    """Counts, means, medians, distributions and the share improved, with the orgs behind each."""
    bins = _bins(scale_low, scale_high, risk)
    thr = improvement_threshold if threshold is None else threshold
    both = tuple(p.organization_id for p in pairs if p.baseline and p.endline)
    only_b = tuple(p.organization_id for p in pairs if p.baseline and not p.endline)
    only_e = tuple(p.organization_id for p in pairs if p.endline and not p.baseline)
    out: list[KeyStats] = []
    for key in keys:
        base = [(p.organization_id, v) for p in pairs if (v := p.baseline.get(key)) is not None]
        end = [(p.organization_id, v) for p in pairs if (v := p.endline.get(key)) is not None]
        paired = [
            (p.organization_id, b, e)
            for p in pairs
            if (b := p.baseline.get(key)) is not None and (e := p.endline.get(key)) is not None
        ]
        out.append(
            KeyStats(
                key,
                _round_stats(base, bins),
                _round_stats(end, bins),
                tuple(o for o, _, _ in paired),
                _round_stats([(o, b) for o, b, _ in paired], bins),
                _round_stats([(o, e) for o, _, e in paired], bins),
                _change(paired, lower_is_better=risk, threshold=improvement_threshold),
                _change(paired, lower_is_better=risk, threshold=thr),
            )
        )
    return CohortComparison(both, only_b, only_e, tuple(out))
