"""Turning what people type (a number, a code, a label in either language, "N/A") into answers.

Used by every entry point (API, Excel import, CLI) so that one rule decides what an answer means.
"""

from __future__ import annotations

import math
import unicodedata
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from app.domain.instrument import Instrument, Scale
from app.domain.scoring import NA, AnswerValue

NA_WORDS: Final = frozenset(
    {"na", "n/a", "n.a.", "n.a", "not applicable", "no aplica", "n/d", "nd", "no aplicable"}
)


def _fold(text: str) -> str:
    """Case-, accent- and space-insensitive form of a label."""
    decomposed = unicodedata.normalize("NFKD", text.strip().casefold())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


@dataclass(frozen=True)
class AnswerProblem:
    """One offending answer: which item, what was given, what is wrong (en/es), a stable code."""

    item: str
    code: str
    en: str
    es: str
    given: object = None
    index: int | None = None


@dataclass(frozen=True)
class RawAnswer:
    item: str
    value: object  # a number, a code, a label, "na" or None (blank = missing)
    note: str | None = None


@dataclass(frozen=True)
class ParsedAnswers:
    values: dict[str, AnswerValue]
    notes: dict[str, str]


@dataclass(frozen=True)
class StoredAnswer:
    """One answered item as a row stores it (an assessment's answer or a rater's rating)."""

    item_key: str
    position: int
    value: float | None
    is_na: bool
    note: str | None


def stored_answers(item_order: Sequence[str], parsed: ParsedAnswers) -> list[StoredAnswer]:
    """The parsed answers (values and notes) as rows, in the instrument's item order."""
    order = {k: i for i, k in enumerate(item_order)}
    keys = sorted(set(parsed.values) | set(parsed.notes), key=order.__getitem__)
    rows = []
    for key in keys:
        value = parsed.values.get(key)
        number = None if value is None or value is NA else float(value)  # type: ignore[arg-type]
        rows.append(StoredAnswer(key, order[key], number, value is NA, parsed.notes.get(key)))
    return rows


class AnswersInvalid(Exception):
    """Answers that cannot be accepted; ``problems`` lists every offending item."""

    def __init__(self, problems: list[AnswerProblem]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} invalid answer(s)")


def _lookup_table(scale: Scale) -> dict[str, float]:
    table: dict[str, float] = {}
    for v in scale.values:
        table[_fold(v.label.en)] = v.value
        table[_fold(v.label.es)] = v.value
        if v.code:
            table[_fold(v.code)] = v.value
        table[_fold(_number_text(v.value))] = v.value
    if scale.kind == "yesno":
        for word, code in (("si", "yes"), ("sí", "yes"), ("y", "yes"), ("n", "no")):
            found = scale.by_code(code)
            if found is not None:
                table.setdefault(_fold(word), found.value)
    return table


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def interpret(scale: Scale, value: object) -> AnswerValue | None:
    """Map one given value onto the scale: a scale value, NA, or None when it is not allowed.

    Raises ValueError with a bilingual-ready message key when the value means nothing on the scale.
    """
    if isinstance(value, bool):
        raise ValueError("not_on_scale")
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:  # an int too large for a float
            raise ValueError("not_on_scale") from None
        if not math.isfinite(number) or scale.by_value(number) is None:
            raise ValueError("not_on_scale")
        return number
    if isinstance(value, str):
        folded = _fold(value)
        if folded in NA_WORDS:
            if not scale.allow_na:
                raise ValueError("na_not_allowed")
            return NA
        found = _lookup_tables(scale).get(folded)
        if found is None:
            raise ValueError("not_on_scale")
        return found
    raise ValueError("not_on_scale")


# Each scale's table, found by the scale's id (a dict lookup, where hashing a frozen model's
# fields would cost every answer) and held only while that very scale lives: the entry keeps a
# weak reference to it, checked on every lookup and dropped when the scale is freed. Keyed by the
# id alone, a freed scale's table was read for a new scale that got the same id (the parser
# worker builds instruments again from their JSON and forgets old ones), and a workbook's labels
# were refused or read as another scale's values.
_TABLES: dict[int, tuple[weakref.ref[Scale], dict[str, float]]] = {}


def _lookup_tables(scale: Scale) -> dict[str, float]:
    key = id(scale)
    entry = _TABLES.get(key)
    if entry is not None and entry[0]() is scale:
        return entry[1]
    table = _lookup_table(scale)

    def forget(ref: weakref.ref[Scale]) -> None:
        if _TABLES.get(key, (None,))[0] is ref:
            del _TABLES[key]

    _TABLES[key] = (weakref.ref(scale, forget), table)
    return table


def _labels(scale: Scale) -> str:
    return ", ".join(f"{_number_text(v.value)} ({v.label.en})" for v in scale.values)


def parse_answers(instrument: Instrument, raw: Iterable[RawAnswer]) -> ParsedAnswers:
    """Validate answers against an instrument version; raise AnswersInvalid listing every problem.

    Blank values (None or "") are missing answers and are simply left out; a note may stand alone.
    """
    values: dict[str, AnswerValue] = {}
    notes: dict[str, str] = {}
    seen: set[str] = set()
    problems: list[AnswerProblem] = []
    items = instrument.items
    for index, answer in enumerate(raw):
        key = answer.item
        item = items.get(key)
        if item is None:
            problems.append(
                AnswerProblem(
                    key,
                    "unknown_item",
                    f"'{key}' is not an item of {instrument.id} {instrument.version}",
                    f"'{key}' no es un ítem de {instrument.id} {instrument.version}",
                    index=index,
                )
            )
            continue
        if key in seen:
            problems.append(
                AnswerProblem(
                    key,
                    "duplicate_item",
                    f"item '{key}' is answered more than once",
                    f"el ítem '{key}' tiene más de una respuesta",
                    index=index,
                )
            )
            continue
        seen.add(key)
        if answer.note is not None and answer.note.strip():
            notes[key] = answer.note.strip()
        given = answer.value
        if given is None or (isinstance(given, str) and not given.strip()):
            continue
        scale = instrument.scales[item.scale]
        try:
            parsed = interpret(scale, given)
        except ValueError as exc:
            if str(exc) == "na_not_allowed":
                problems.append(
                    AnswerProblem(
                        key,
                        "na_not_allowed",
                        f"item '{key}' cannot be marked not applicable",
                        f"el ítem '{key}' no admite «No aplica»",
                        given,
                        index,
                    )
                )
            else:
                problems.append(
                    AnswerProblem(
                        key,
                        "not_on_scale",
                        f"{given!r} is not a value of the scale; allowed: {_labels(scale)}"
                        + (", N/A" if scale.allow_na else ""),
                        f"{given!r} no es un valor de la escala; se admite: "
                        + ", ".join(f"{_number_text(v.value)} ({v.label.es})" for v in scale.values)
                        + (", «No aplica»" if scale.allow_na else ""),
                        given,
                        index,
                    )
                )
            continue
        if parsed is NA and not instrument.allows_na(item):
            problems.append(
                AnswerProblem(
                    key,
                    "na_key_question",
                    f"item '{key}' is a key question and cannot be marked not applicable: a risky "
                    "answer to it decides its section's risk, so answer it (yes or no) or leave it "
                    "blank",
                    f"el ítem '{key}' es una pregunta clave y no admite «No aplica»: una respuesta "
                    "de riesgo en ella decide el riesgo de su sección; respóndala (sí o no) o "
                    "déjela en blanco",
                    given,
                    index,
                )
            )
            continue
        if parsed is not None:
            values[key] = parsed
    if problems:
        raise AnswersInvalid(problems)
    return ParsedAnswers(values, notes)
