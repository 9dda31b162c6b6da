"""A plain reference scorer, written to be read, not to be fast.

It shares no code with the engine (the scoring, score_model and risk modules): it reads the
instrument model and applies the rules as docs/scoring.md states them, returning plain values.
The property test beside it checks that the engine agrees on thousands of generated assessments.

Answers: item key -> a scale value, or the string "na"; an absent key is a missing answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.domain.instrument import Area, Dimension, Instrument, Item, Method

NA = "na"
RISK_BANDS = ["low", "medium", "high", "extreme"]


@dataclass
class Node:
    """What the reference says about one area, dimension, lens or the overall."""

    key: str
    assessed: bool = True
    answered: int = 0
    na: int = 0
    missing: int = 0
    value: float | None = None  # computed from the answers, whether shown or not
    normalized: float | None = None
    shown: bool = False
    band: str | None = None  # risk only
    failed: list[str] = field(default_factory=list)
    failing_areas: list[str] = field(default_factory=list)
    points: float = 0.0
    max_points: float = 0.0

    @property
    def coverage(self) -> float | None:
        applicable = self.answered + self.missing
        return self.answered / applicable if applicable else None

    @property
    def score(self) -> float | None:
        return self.value if self.shown else None

    @property
    def partial(self) -> float | None:
        return self.value if not self.shown else None


def weighted_mean(pairs: list[tuple[float, float]]) -> float:
    return sum(w * v for w, v in pairs) / sum(w for w, _ in pairs)


def covered(node: Node, min_coverage: float) -> bool:
    coverage = node.coverage
    return node.value is not None and coverage is not None and coverage >= min_coverage


def count(items: tuple[Item, ...], answers: dict[str, Any]) -> tuple[list[Item], int, int]:
    """The answered items, and how many are N/A and missing."""
    answered = [i for i in items if i.key in answers and answers[i.key] != NA]
    na = sum(1 for i in items if answers.get(i.key) == NA)
    missing = sum(1 for i in items if i.key not in answers)
    return answered, na, missing


def not_assessed(instrument: Instrument, area: Area, answers: dict[str, Any]) -> bool:
    """Under allow_partial, an area with no answer at all (not even N/A) is not assessed."""
    return instrument.scoring.allow_partial and not any(i.key in answers for i in area.items)


def reference_score(instrument: Instrument, answers: dict[str, Any]) -> dict[str, Any]:
    if instrument.scoring.method is Method.risk:
        return risk_score(instrument, answers)
    return level_score(instrument, answers)


# --- levels (mean, weighted_mean, sum) -----------------------------------------------------------
def level_area(instrument: Instrument, area: Area, answers: dict[str, Any]) -> Node:
    node = Node(area.key)
    if not_assessed(instrument, area, answers):
        node.assessed = False
        node.missing = len(area.items)
        return node
    answered, node.na, node.missing = count(area.items, answers)
    node.answered = len(answered)
    if answered:
        values = [(i.weight, float(answers[i.key])) for i in answered]
        if instrument.scoring.method is Method.sum:
            node.value = sum(w * v for w, v in values)
        else:
            node.value = weighted_mean(values)
        scale = {i.key: instrument.scales[i.scale] for i in answered}
        node.normalized = 100.0 * weighted_mean(
            [
                (
                    i.weight,
                    (float(answers[i.key]) - scale[i.key].min)
                    / ((scale[i.key].max - scale[i.key].min) or 1.0),
                )
                for i in answered
            ]
        )
    node.shown = covered(node, instrument.scoring.min_coverage)
    return node


def parent(key: str, children: list[tuple[float, Node]], summing: bool, mc: float) -> Node:
    """A dimension from its areas, or the overall from its dimensions."""
    node = Node(key)
    assessed = [(w, c) for w, c in children if c.assessed]
    if not assessed:
        node.assessed = False
        return node
    node.answered = sum(c.answered for _, c in assessed)
    node.na = sum(c.na for _, c in assessed)
    node.missing = sum(c.missing for _, c in assessed)
    valued = [(w, c) for w, c in assessed if c.value is not None]
    if valued:
        if summing:
            node.value = sum(w * c.value for w, c in valued)  # type: ignore[operator]
        else:
            node.value = weighted_mean([(w, c.value) for w, c in valued])  # type: ignore[misc]
        node.normalized = weighted_mean([(w, c.normalized) for w, c in valued])  # type: ignore[misc]
    node.shown = covered(node, mc)
    return node


def band_of(instrument: Instrument, value: float) -> int | None:
    for index, band in enumerate(instrument.scoring.bands):
        if value <= band.max:
            return index
    return None


def level_score(instrument: Instrument, answers: dict[str, Any]) -> dict[str, Any]:
    mc = instrument.scoring.min_coverage
    summing = instrument.scoring.method is Method.sum
    areas: dict[str, Node] = {}
    dims: list[tuple[Dimension, Node]] = []
    for d in instrument.dimensions:
        children = []
        for a in d.areas:
            areas[a.key] = level_area(instrument, a, answers)
            children.append((a.weight, areas[a.key]))
        dims.append((d, parent(d.key, children, summing, mc)))
    overall = parent("overall", [(d.weight, node) for d, node in dims], summing, mc)
    band = band_of(instrument, overall.value) if overall.shown else None  # type: ignore[arg-type]
    cap = None
    if instrument.scoring.cap_by_weakest is not None and overall.shown:
        # every dimension that feeds the overall, shown or below coverage
        feeding = [node.value for _, node in dims if node.value is not None]
        lowest = min(feeding) if feeding else None
        weakest_band = band_of(instrument, lowest) if lowest is not None else None
        applied = False
        if weakest_band is not None:
            allowed = weakest_band + instrument.scoring.cap_by_weakest
            if band is None or band > allowed:
                band, applied = allowed, True
        cap = applied
    return {
        "areas": areas,
        "dimensions": {d.key: node for d, node in dims},
        "overall": overall,
        "band": band,
        "cap_applied": cap,
        "lens": lens_profile(instrument, areas),
        **weakest(instrument, areas),
    }


def lens_profile(instrument: Instrument, areas: dict[str, Node]) -> dict[str, Node]:
    out: dict[str, Node] = {}
    for lens in ("management", "financing", "processes", "culture"):
        mapped = [
            (a.weight, areas[a.key])
            for d in instrument.dimensions
            for a in d.areas
            if instrument.lens_of(d, a).value == lens and areas[a.key].assessed
        ]
        node = Node(lens)
        node.answered = sum(n.answered for _, n in mapped)
        node.na = sum(n.na for _, n in mapped)
        node.missing = sum(n.missing for _, n in mapped)
        valued = [(w, n.normalized) for w, n in mapped if n.normalized is not None]
        if valued:
            node.value = weighted_mean(valued)  # type: ignore[arg-type]
        node.shown = covered(node, instrument.scoring.min_coverage)
        out[lens] = node
    return out


def weakest(instrument: Instrument, areas: dict[str, Node]) -> dict[str, Any]:
    order = [a.key for d in instrument.dimensions for a in d.areas]
    shown = [areas[k] for k in order if areas[k].shown]
    ranked = sorted(shown, key=lambda n: n.normalized)  # type: ignore[arg-type, return-value]
    return {
        "weakest": [(n.key, n.normalized) for n in ranked[:3]],
        "lowest_level": [n.key for n in shown if n.normalized == 0.0],
    }


# --- risk ----------------------------------------------------------------------------------------
def band_by_percent(instrument: Instrument, percent: float) -> str:
    rules = instrument.scoring.risk
    assert rules is not None
    for threshold in rules.thresholds:
        if percent < threshold.below:
            return threshold.band.value
    return rules.thresholds[-1].band.value


def rank(band: str) -> int:
    return RISK_BANDS.index(band)


def risk_band(instrument: Instrument, node: Node) -> str | None:
    """By the percentage when shown; at least the floor when a key question failed."""
    rules = instrument.scoring.risk
    assert rules is not None
    floor = rules.key_question_floor.value
    band = band_by_percent(instrument, node.value) if node.shown else None  # type: ignore[arg-type]
    if node.failed and (band is None or rank(band) < rank(floor)):
        return floor
    return band


def set_by_key_question(instrument: Instrument, node: Node) -> bool:
    """Whether a failed key question, not the percentage, gave this node its band."""
    if not node.failed:
        return False
    if not node.shown:
        return True
    return rank(band_by_percent(instrument, node.value)) < rank(node.band)  # type: ignore[arg-type]


def risk_node(instrument: Instrument, key: str, items: list[Item], answers: dict[str, Any]) -> Node:
    node = Node(key)
    answered, node.na, node.missing = count(tuple(items), answers)
    node.answered = len(answered)
    for item in answered:
        assert item.risk is not None
        risky = instrument.scales[item.scale].by_code(item.risk.when)
        assert risky is not None
        node.max_points += item.risk.points
        if float(answers[item.key]) == risky.value:
            node.points += item.risk.points
            if item.key_question:
                node.failed.append(item.key)
    if answered:
        node.value = 100.0 * node.points / node.max_points
        node.normalized = 100.0 - node.value
    node.shown = covered(node, instrument.scoring.min_coverage)
    node.band = risk_band(instrument, node)
    return node


def risk_score(instrument: Instrument, answers: dict[str, Any]) -> dict[str, Any]:
    rules = instrument.scoring.risk
    assert rules is not None
    areas: dict[str, Node] = {}
    sections: dict[str, Node] = {}
    conditions: dict[str, list[str]] = {}
    for d in instrument.dimensions:
        assessed = [a for a in d.areas if not not_assessed(instrument, a, answers)]
        for a in d.areas:
            if a in assessed:
                areas[a.key] = risk_node(instrument, a.key, list(a.items), answers)
            else:
                areas[a.key] = Node(a.key, assessed=False, missing=len(a.items))
        if not assessed:
            sections[d.key] = Node(d.key, assessed=False)
            continue
        items = [i for a in assessed for i in a.items]
        section = risk_node(instrument, d.key, items, answers)
        if rules.failing_area_band is not None:
            section.failing_areas = [
                a.key
                for a in assessed
                if areas[a.key].band is not None
                and rank(areas[a.key].band) >= rank(rules.failing_area_band.value)  # type: ignore[arg-type]
            ]
        sections[d.key] = section
        if section.band is not None and d.conditions is not None:
            wanted: list[str] = []
            if section.failing_areas and rank(section.band) >= rank("medium"):
                wanted += d.conditions.medium
            if rank(section.band) >= rank("high"):
                wanted += d.conditions.high
            if section.band == "extreme":
                wanted += d.conditions.extreme
            for key in dict.fromkeys(wanted):
                conditions.setdefault(key, []).append(d.key)
    banded = {k: n for k, n in sections.items() if n.band is not None}
    unfinished = [k for k, n in sections.items() if not n.shown]
    overall_band: str | None = None
    driven_by: list[str] = []
    if banded:
        if rules.overall == "mean_section":
            shown = {k: n.value for k, n in banded.items() if n.shown}
            overall_band = (
                band_by_percent(instrument, sum(shown.values()) / len(shown))  # type: ignore[arg-type]
                if shown
                else None
            )
            driven_by = list(shown)
            by_key = [k for k, n in banded.items() if set_by_key_question(instrument, n)]
            floor = rules.key_question_floor.value
            if by_key and (overall_band is None or rank(overall_band) < rank(floor)):
                overall_band, driven_by = floor, by_key
        else:
            overall_band = max((n.band for n in banded.values()), key=rank)  # type: ignore[arg-type]
            driven_by = [k for k, n in banded.items() if n.band == overall_band]
        if unfinished and overall_band == "low":
            overall_band = None
    everything = [n for k, n in sections.items() if n.assessed]
    overall = Node("overall")
    overall.answered = sum(n.answered for n in everything)
    overall.missing = sum(n.missing for n in everything)
    overall.na = sum(n.na for n in everything)
    points = sum(n.points for n in everything)
    max_points = sum(n.max_points for n in everything)
    if overall.answered:
        overall.value = 100.0 * points / max_points
    overall.shown = covered(overall, instrument.scoring.min_coverage)
    order = [c.key for c in rules.conditions]
    return {
        "areas": areas,
        "dimensions": sections,
        "overall": overall,
        "risk": overall_band,
        "driven_by": driven_by,
        "complete": not unfinished,
        "not_assessed": unfinished,
        "conditions": {k: conditions[k] for k in order if k in conditions},
        "lens": lens_profile(instrument, areas),
        **weakest(instrument, areas),
    }
