"""Comparing rounds: one organization's two assessments (a cohort's: ``app.domain.cohort``).

Pure functions over scores and answers. Three rules make a comparison add up:

* **The same threshold both ways.** A change of at least the threshold in the better direction is
  "improved", of at least the threshold in the worse direction "declined", anything between
  "unchanged"; the plain sign of the change (``direction``) is reported beside it.
* **Changes are the difference of the shown numbers.** Scores are rounded half-even to 2 places
  (``app.domain.rounding``) and the change is the rounded endline minus the rounded baseline; the
  rule is applied to that change, so a reader can check every label by hand. The unrounded change
  is kept for exports.
* **Only items answered in both rounds.** An item answered in one round and missing or N/A in the
  other is left out of both (listed, with why), so skipping items at endline (e.g. the OCA "without
  NUPAS items" variant) never shows as a drop.

Cross-version comparison goes through the newer version's ``supersedes`` map: both assessments
are re-scored on the newer version using only the items the map makes comparable (everything else
is N/A on both sides), and the result is flagged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from app.domain.instrument import Instrument, Method
from app.domain.rounding import shown_change
from app.domain.scoring import NA, AnswerValue, CompiledInstrument, Score, score

Direction = Literal["up", "down", "same", "n/a"]
Outcome = Literal["improved", "declined", "unchanged"]
_EPS = 1e-9


def direction_of(gain: float) -> Direction:
    """The plain sign of a change in the better direction (``up`` = better)."""
    return "up" if gain > _EPS else "down" if gain < -_EPS else "same"


def outcome_of(gain: float, threshold: float) -> Outcome:
    """The improvement rule: the same threshold in both directions."""
    if gain >= threshold - _EPS:
        return "improved"
    if gain <= -threshold + _EPS:
        return "declined"
    return "unchanged"


# --- items left out ------------------------------------------------------------------------------

LEFT_OUT_REASONS: dict[str, tuple[str, str]] = {
    "missing_at_endline": (
        "answered at baseline, not answered at endline",
        "respondido en la línea de base, sin respuesta en la línea final",
    ),
    "missing_at_baseline": (
        "answered at endline, not answered at baseline",
        "respondido en la línea final, sin respuesta en la línea de base",
    ),
    "na_at_endline": (
        "answered at baseline, marked not applicable at endline",
        "respondido en la línea de base, marcado como «No aplica» en la línea final",
    ),
    "na_at_baseline": (
        "answered at endline, marked not applicable at baseline",
        "respondido en la línea final, marcado como «No aplica» en la línea de base",
    ),
}


@dataclass(frozen=True)
class LeftOut:
    """An item answered in one round only: left out of both sides of the comparison."""

    key: str
    code: str  # a key of LEFT_OUT_REASONS

    @property
    def en(self) -> str:
        return LEFT_OUT_REASONS[self.code][0]

    @property
    def es(self) -> str:
        return LEFT_OUT_REASONS[self.code][1]


def _answered(value: AnswerValue | None) -> bool:
    return value is not None and value is not NA


def keep_common(
    baseline: Mapping[str, AnswerValue], endline: Mapping[str, AnswerValue], keys: Sequence[str]
) -> tuple[dict[str, AnswerValue], dict[str, AnswerValue], tuple[LeftOut, ...]]:
    """Both sides' answers with every item answered on one side only made N/A on both, and
    those items (in ``keys`` order) with the reason."""
    base, end = dict(baseline), dict(endline)
    left: list[LeftOut] = []
    # the items answered on one side only, found with two sets (a cohort does this thousands of
    # times): the loop below visits only those, in ``keys`` order
    one_side = {k for k, v in baseline.items() if v is not None and v is not NA} ^ {
        k for k, v in endline.items() if v is not None and v is not NA
    }
    for key in [k for k in keys if k in one_side] if one_side else ():
        b, e = baseline.get(key), endline.get(key)
        if _answered(b):
            code = "na_at_endline" if e is NA else "missing_at_endline"
        else:
            code = "na_at_baseline" if b is NA else "missing_at_baseline"
        left.append(LeftOut(key, code))
        base[key] = NA
        end[key] = NA
    return base, end, tuple(left)


def item_order(instrument: Instrument) -> list[str]:
    return list(instrument.items)  # built once per instrument, in the file's order


@dataclass(frozen=True)
class Common:
    """Two rounds scored on the ``new`` version, on the items answered in both."""

    baseline: Score
    endline: Score
    comparable: frozenset[str]  # items the versions share
    left_out: tuple[LeftOut, ...]  # shared items answered in one round only
    baseline_answers: dict[str, AnswerValue]  # carried onto the new version's keys
    endline_answers: dict[str, AnswerValue]


@dataclass(frozen=True)
class CommonAnswers:
    """Two rounds' answers carried onto the ``new`` version, as they are scored on the items
    answered in both (``baseline``/``endline``: every item answered on one side only is N/A)."""

    baseline: dict[str, AnswerValue]
    endline: dict[str, AnswerValue]
    comparable: frozenset[str]  # items the versions share
    left_out: tuple[LeftOut, ...]  # shared items answered in one round only
    baseline_answers: dict[str, AnswerValue]  # carried onto the new version's keys
    endline_answers: dict[str, AnswerValue]


def common_answers(
    new: Instrument,
    baseline: tuple[Instrument, Mapping[str, AnswerValue]],
    endline: tuple[Instrument, Mapping[str, AnswerValue]],
) -> CommonAnswers | None:
    """Both rounds carried onto ``new`` (``carry_onto``) and kept to the items answered in both
    (``keep_common``): what ``score_on_common_items`` scores. ``None`` when a side's version is
    neither ``new`` nor the one it supersedes."""
    carried = carry_onto(new, [baseline, endline])
    if carried is None:
        return None
    comparable, (base_ans, end_ans) = carried
    order = [k for k in item_order(new) if k in comparable]
    b, e, left = keep_common(base_ans, end_ans, order)
    return CommonAnswers(b, e, frozenset(comparable), left, base_ans, end_ans)


def score_on_common_items(
    new: Instrument,
    compiled: CompiledInstrument,
    baseline: tuple[Instrument, Mapping[str, AnswerValue]],
    endline: tuple[Instrument, Mapping[str, AnswerValue]],
) -> Common | None:
    """Both rounds carried onto ``new`` (``carry_onto``) and scored there on the items answered
    in both; ``None`` when a side's version is neither ``new`` nor the one it supersedes."""
    c = common_answers(new, baseline, endline)
    if c is None:
        return None
    return Common(
        score(compiled, c.baseline),
        score(compiled, c.endline),
        c.comparable,
        c.left_out,
        c.baseline_answers,
        c.endline_answers,
    )


# --- one organization ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Delta:
    """One number in both rounds.

    ``delta`` is the change as shown (rounded endline minus rounded baseline); ``gain`` is that
    change in the better direction (the negative of it for risk, where less is better);
    ``direction`` its plain sign and ``outcome`` the improvement rule applied to it."""

    key: str
    baseline: float | None
    endline: float | None
    delta: float | None
    delta_unrounded: float | None
    gain: float | None
    direction: Direction
    outcome: Outcome | None


def make_delta(
    key: str, base: float | None, end: float | None, *, lower_is_better: bool, threshold: float
) -> Delta:
    if base is None or end is None:
        return Delta(key, base, end, None, None, None, "n/a", None)
    shown = shown_change(base, end)
    gain = -shown if lower_is_better else shown
    return Delta(
        key,
        base,
        end,
        shown,
        end - base,
        gain,
        direction_of(gain),
        outcome_of(gain, threshold),
    )


@dataclass(frozen=True)
class ItemDelta:
    key: str
    baseline: AnswerValue | None
    endline: AnswerValue | None
    delta: float | None
    direction: Direction
    left_out: LeftOut | None


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
    comparable_items: int  # items the two versions share
    excluded_items: tuple[str, ...]  # items of one version only (either side)
    left_out: tuple[LeftOut, ...]  # shared items answered in one round only
    compared_items: int  # shared items answered in both rounds (or in neither)
    threshold: float  # the improvement rule's threshold, in the instrument's units
    instrument_threshold: float  # the instrument's own
    lens_threshold: float  # the rule's threshold on the lens's 0-100 scale
    overall: Delta
    dimensions: tuple[DimensionDelta, ...]
    lens: tuple[Delta, ...]
    items: tuple[ItemDelta, ...]
    baseline_score: Score
    endline_score: Score


def comparable_map(old: Instrument, new: Instrument) -> dict[str, str]:
    """Old item key -> new item key for every item the two versions share (explicit map first)."""
    if old.version == new.version:
        return {k: k for k in new.item_keys}
    explicit: Mapping[str, str | None] = {}
    if _supersedes(new, old):
        explicit = new.supersedes.items  # type: ignore[union-attr]
    elif _supersedes(old, new):
        # the older side is a later version derived back (e.g. oca 2015.2-core onto 2015.2):
        # read its map the other way; items it dropped have no counterpart
        explicit = {n: o for o, n in old.supersedes.items.items() if n}  # type: ignore[union-attr]
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


def lens_span(compiled: CompiledInstrument, risk: bool) -> float:
    """How many lens points (0-100) one unit of the instrument's scale is."""
    return 1.0 if risk else 100.0 / ((compiled.scale_high - compiled.scale_low) or 1.0)


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
    keys through its ``supersedes`` map, and both are scored on the newer version, on the items
    answered in both rounds. ``threshold`` replaces the instrument's improvement threshold.
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
    common = score_on_common_items(
        new,
        compiled,
        (baseline_instrument, baseline_answers),
        (endline_instrument, endline_answers),
    )
    assert common is not None  # the versions were checked just above
    b, e = common.baseline, common.endline
    # what is not comparable, named on both sides: the newer version's items the older does not
    # carry, and the older version's items its crosswalk drops (or leaves unmapped)
    carried = new.supersedes.items if cross and new.supersedes else {k: k for k in old.item_keys}
    dropped = {k for k in old.item_keys if carried.get(k) not in common.comparable}
    excluded = tuple(sorted((new.item_keys - common.comparable) | dropped))
    risk = new.scoring.method is Method.risk
    level = new.scoring.improvement_threshold
    thr = level if threshold is None else threshold

    def d(key: str, x: float | None, y: float | None) -> Delta:
        return make_delta(key, x, y, lower_is_better=risk, threshold=thr)

    dims: list[DimensionDelta] = []
    for bd, ed in zip(b.dimensions, e.dimensions, strict=True):
        areas = tuple(
            d(ba.key, ba.score, ea.score) for ba, ea in zip(bd.areas, ed.areas, strict=True)
        )
        dims.append(DimensionDelta(d(bd.key, bd.score, ed.score), areas))
    # Lens scores are on 0-100 (higher is better): the threshold is expressed on that scale.
    lens_thr = thr * lens_span(compiled, risk)
    lens = tuple(
        make_delta(bl.lens.value, bl.score, el.score, lower_is_better=False, threshold=lens_thr)
        for bl, el in zip(b.lens, e.lens, strict=True)
    )
    left = {x.key: x for x in common.left_out}
    items: list[ItemDelta] = []
    for key in item_order(new):
        if key in excluded:
            continue
        bv = common.baseline_answers.get(key)
        ev = common.endline_answers.get(key)
        if isinstance(bv, float) and isinstance(ev, float):
            change = shown_change(bv, ev)
            items.append(ItemDelta(key, bv, ev, change, direction_of(change), None))
        else:
            items.append(ItemDelta(key, bv, ev, None, "n/a", left.get(key)))
    return OrgComparison(
        new.id,
        new.version,
        baseline_instrument.version,
        endline_instrument.version,
        cross,
        len(common.comparable),
        excluded,
        common.left_out,
        len(common.comparable) - len(common.left_out),
        thr,
        level,
        lens_thr,
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
    are kept; the new version's other items are N/A on every side, so the sides compare. A side
    may be on the version ``new`` supersedes, or on one that supersedes ``new`` (a variant derived
    from it, such as the OCA without its NUPAS items). Returns those comparable keys and each
    side's answers, or ``None`` when a side's version is related to ``new`` in neither way."""
    if all(i.id == new.id and i.version == new.version for i, _ in sides):
        # every side already on ``new``: nothing to carry (the general path's result, without
        # an identity map per side; a cohort comparison does this thousands of times)
        keys = new.item_keys
        return set(keys), [{k: v for k, v in a.items() if k in keys} for _, a in sides]
    maps: list[dict[str, str]] = []
    for instrument, _ in sides:
        if instrument.id != new.id or (
            instrument.version != new.version
            and not _supersedes(new, instrument)
            and not _supersedes(instrument, new)
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
    (``carry_onto``), each on its own answers."""
    carried = carry_onto(new, sides)
    if carried is None:
        return None
    return [score(compiled, answers) for answers in carried[1]]
