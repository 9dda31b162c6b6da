"""Small readings every export sheet shares: labels of codes, scores read from the score JSON,
titles by key, the value axes of charts, and the outcome rule in words."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from app.domain.cohort import CohortComparison, KeyStats
from app.domain.instrument import Instrument, Method
from app.domain.score_object import LensRead, NodeRead, OverallRead
from app.excel._export_write import (
    SHARE_FORMAT,
    Bilingual,
    ValueAxis,
    number_text,
    round2,
    text_of,
)
from app.excel.exports.inputs import CohortInfo, CohortRow
from app.excel.exports.words import IMPROVED, IMPROVED_VERB, RISK_BAND, STATUS, TEXT, UNIT, Labels
from app.excel.layout import Language, round_name

UNROUNDED_FORMAT: Final = "0.0000"  # the unrounded change, shown to 4 places

# a node of a score object with a score, its coverage and counts: a row of the Scores sheet
ScoredNode = OverallRead | NodeRead | LensRead


def headers_of(spec: Mapping[Any, Labels], columns: Iterable[Any], lang: Language) -> list[str]:
    return [spec[c][lang] for c in columns]


def status_text(status: str, lang: Language) -> str:
    labels = STATUS.get(status)
    return labels[lang] if labels else status


def band_text(band: str | None, lang: Language) -> str | None:
    if band is None:
        return None
    labels = RISK_BAND.get(band)
    return labels[lang] if labels else band


def dimension_titles_of(instrument: Instrument, lang: Language) -> dict[str, str]:
    return {d.key: d.title.get(lang) for d in instrument.dimensions}


def area_titles_of(instrument: Instrument, lang: Language) -> dict[str, str]:
    return {a.key: a.title.get(lang) for d in instrument.dimensions for a in d.areas}


def reason_text(reason: Bilingual | None, lang: Language) -> str | None:
    return text_of(reason, lang) or None if reason else None


def answer_number(value: object) -> float | None:
    """An answer's number; None for NA, absent or anything else."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def as_date(text: Any) -> date | str | None:
    if isinstance(text, date) or text is None:
        return text
    try:
        return date.fromisoformat(str(text))
    except ValueError:
        return str(text)


def scale_range(instrument: Instrument) -> tuple[float, float]:
    return (
        min(s.min for s in instrument.scales.values()),
        max(s.max for s in instrument.scales.values()),
    )


def score_axis(instrument: Instrument) -> ValueAxis:
    """The value axis of a chart of raw scores: 0 to the top of the scale in whole levels
    (risk: 0-100 % by 20), labels with one decimal."""
    method = instrument.scoring.method
    if method is Method.risk:
        return PERCENT_AXIS
    if method is Method.sum:
        return ValueAxis(low=0.0, number_format="0", label_format="0.0")
    low, top = scale_range(instrument)
    span = top - min(0.0, low)
    return ValueAxis(
        low=min(0.0, low),
        high=top,
        major=1.0 if span <= 10 else None,
        number_format="0",
        label_format="0.0",
    )


PERCENT_AXIS: Final = ValueAxis(
    low=0.0, high=100.0, major=20.0, number_format="0", label_format="0.0"
)
LENS_AXIS: Final = ValueAxis(low=0.0, high=100.0, major=20.0, number_format="0", label_format="0")
SHARE_AXIS: Final = ValueAxis(
    low=0.0, high=1.0, major=0.2, number_format=SHARE_FORMAT, label_format=SHARE_FORMAT
)


def is_risk(instrument: Instrument) -> bool:
    return instrument.scoring.method is Method.risk


def instrument_name(instrument: Instrument, lang: Language) -> str:
    return instrument.title.get(lang)


def unscored_name(name: str, node: ScoredNode | None, lang: Language) -> str:
    """A category name that says why it has no bar: N/A, or no score (too few answers)."""
    if node is not None and round2(node.score) is not None:
        return name
    if node is not None and node.reason is not None and node.reason.code == "all_not_applicable":
        return name + TEXT["na_suffix"][lang]
    return name + TEXT["no_score_suffix"][lang]


def outcome_label(
    instrument: Instrument, lang: Language, *, verb: bool = False, threshold: float | None = None
) -> str:
    """The improvement rule in words, with its threshold and unit: "Outcome, ± 1 level (1–4
    scale)", "Outcome, risk ± 1 point (0–100 %)"; ``verb``: "improved ≥ 1 level ...".
    ``threshold``: the one the comparison used, when not the instrument's own."""
    if threshold is None:
        threshold = instrument.scoring.improvement_threshold
    n = number_text(threshold)
    if is_risk(instrument):
        kind, unit_kind = "risk", "points"
    else:
        kinds = {s.kind for s in instrument.scales.values()}
        unit_kind = kinds.pop() if len(kinds) == 1 else "points"
        kind = "plain" if instrument.scoring.method is Method.sum else "scale"
    singular, plural = UNIT[unit_kind][lang]
    unit = singular if threshold <= 1 else plural
    low, high = scale_range(instrument)
    words = (IMPROVED_VERB if verb else IMPROVED)[kind][lang]
    return words.format(n=n, unit=unit, low=number_text(low), high=number_text(high))


@dataclass(frozen=True)
class CohortView:
    """A cohort comparison as both of its sheets read it: the keys compared (overall, then each
    dimension) with their titles, each key's statistics, the improvement threshold it used."""

    instrument: Instrument
    info: CohortInfo
    comparison: CohortComparison
    rows: Sequence[CohortRow]
    lang: Language
    keys: list[str]
    key_titles: dict[str, str]
    stats: dict[str, KeyStats]
    heading: str

    @classmethod
    def of(
        cls,
        instrument: Instrument,
        info: CohortInfo,
        comparison: CohortComparison,
        rows: Sequence[CohortRow],
        lang: Language,
    ) -> CohortView:
        heading = (
            f"{info.cohort_name} — {instrument.title.get(lang)}: "
            f"{round_name(info.baseline_round, lang)} → {round_name(info.endline_round, lang)}"
        )
        return cls(
            instrument=instrument,
            info=info,
            comparison=comparison,
            rows=rows,
            lang=lang,
            keys=["overall", *(d.key for d in instrument.dimensions)],
            key_titles={"overall": TEXT["overall"][lang], **dimension_titles_of(instrument, lang)},
            stats={k.key: k for k in comparison.keys},
            heading=heading,
        )

    def outcome_label(self, *, verb: bool = False) -> str:
        threshold = self.comparison.threshold
        return outcome_label(self.instrument, self.lang, verb=verb, threshold=threshold)
