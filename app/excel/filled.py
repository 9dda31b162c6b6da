"""What a filled template reads as (typed values), and how one untrusted cell is read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from app.domain.answers import ParsedAnswers, RawAnswer
from app.domain.instrument import Instrument
from app.domain.scoring import AnswerValue
from app.excel.layout import (
    Language,
    number_text,
)
from app.excel.problems import Problem, ProblemCode, problem


@dataclass(frozen=True)
class TemplateMeta:
    instrument_id: str
    instrument_version: str
    content_hash: str
    format_version: int
    language: Language


@dataclass(frozen=True)
class Cover:
    organization_name: str | None
    organization_external_id: str | None
    round: str | None
    assessed_on: date | None
    assessor: str | None


@dataclass(frozen=True)
class FilledItem:
    """One item as found in the workbook. ``raw`` is the answer cell as typed (None if blank)."""

    item: str
    sheet: str
    answer_cell: str
    note_cell: str
    raw: object
    note: str | None
    value: AnswerValue | None


@dataclass(frozen=True)
class FilledWorkbook:
    meta: TemplateMeta
    instrument: Instrument
    cover: Cover
    items: tuple[FilledItem, ...]
    answers: ParsedAnswers
    sha256: str
    source: str = "excel"  # what the assessment records as its origin ("xlsform": a submission)

    def raw_answers(self) -> list[RawAnswer]:
        return [RawAnswer(i.item, i.raw, i.note) for i in self.items]


@dataclass(frozen=True)
class Cell:
    value: object
    kind: str  # "v" value, "f" formula, "e" error

    @property
    def is_formula(self) -> bool:
        return self.kind == "f"


Grid = dict[tuple[int, int], Cell]


def as_text(value: object) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return number_text(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


def as_date(value: object) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        for parse in (date.fromisoformat, lambda t: datetime.fromisoformat(t).date()):
            try:
                return parse(text)
            except ValueError:
                continue
    return None


def formula_problem(sheet: str, cell: str, item: str | None, value: object) -> Problem:
    shown = clip(str(value))
    return problem(ProblemCode.formula, sheet=sheet, cell=cell, item=item, formula=shown)


def clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def shown_value(value: object) -> str:
    """How a cell value appears in a message: quoted when text, clipped when long."""
    return clip(repr(value) if isinstance(value, str) else as_text(value))
