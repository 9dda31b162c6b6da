"""Where everything lives in a template: sheet names, columns, item rows, cover cells, metadata.

One function, ``workbook_layout``, derives the layout from (instrument version, language) so that
the template writer and the reader can never disagree. Changing anything here that moves a cell
means a new ``FORMAT_VERSION``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import Final, Literal

from openpyxl.utils import get_column_letter

from app.domain.instrument import Instrument, Item, Scale

FORMAT_VERSION: Final = 1
Language = Literal["en", "es"]
LANGUAGES: Final[tuple[Language, ...]] = ("en", "es")

META_SHEET: Final = "_meta"
GENERATOR: Final = "oca-engine"
SHEET_NAME_MAX: Final = 31
HEADER_ROW: Final = 1
FIRST_ITEM_ROW: Final = 2
NA_LABEL: Final[dict[str, str]] = {"en": "N/A", "es": "No aplica"}
KEY_QUESTION: Final[dict[str, str]] = {"en": "Key question", "es": "Pregunta clave"}
MAX_COVER_TEXT: Final = 200

# names a dimension sheet may never take (compared case-insensitively)
_RESERVED_SHEETS: Final = (
    "Cover",
    "Portada",
    "Instructions",
    "Instrucciones",
    META_SHEET,
    "Problems",
    "Problemas",
    "History",
)


def _pair(en: str, es: str) -> dict[str, str]:
    return {"en": en, "es": es}


COVER_SHEET: Final = _pair("Cover", "Portada")
INSTRUCTIONS_SHEET: Final = _pair("Instructions", "Instrucciones")
PROBLEMS_SHEET: Final = _pair("Problems", "Problemas")


class CoverField(StrEnum):
    organization_name = "organization_name"
    organization_external_id = "organization_external_id"
    round = "round"
    assessed_on = "assessed_on"
    assessor = "assessor"


COVER_LABEL_COLUMN: Final = 1
COVER_VALUE_COLUMN: Final = 2
COVER_ROWS: Final[dict[CoverField, int]] = {
    CoverField.organization_name: 4,
    CoverField.organization_external_id: 5,
    CoverField.round: 6,
    CoverField.assessed_on: 7,
    CoverField.assessor: 8,
}
COVER_LABELS: Final[dict[CoverField, dict[str, str]]] = {
    CoverField.organization_name: _pair("Organization name", "Nombre de la organización"),
    CoverField.organization_external_id: _pair(
        "Organization ID (optional, from your program)",
        "ID de la organización (opcional, de su programa)",
    ),
    CoverField.round: _pair(
        "Round (baseline, midline, endline, ...)",
        "Ronda (línea de base, medio término, línea final, ...)",
    ),
    CoverField.assessed_on: _pair(
        "Assessment date (YYYY-MM-DD)", "Fecha de la evaluación (AAAA-MM-DD)"
    ),
    CoverField.assessor: _pair("Assessor / facilitator", "Evaluador(a) / facilitador(a)"),
}


# The usual round labels, as people read them. Stored labels stay these keys in every language (so
# a Spanish and an English upload of the same round are one round); a Spanish workbook shows and
# accepts the Spanish names. Any other label a program uses is kept as typed.
ROUND_NAMES: Final[dict[str, dict[str, str]]] = {
    "baseline": _pair("baseline", "línea de base"),
    "midline": _pair("midline", "medio término"),
    "endline": _pair("endline", "línea final"),
}
_ROUND_KEYS: Final[dict[str, str]] = {
    " ".join(name.casefold().split()): key
    for key, names in ROUND_NAMES.items()
    for name in (key, *names.values())
}


def item_text(item: Item, lang: Language) -> str:
    """An item's statement as a template and an export show it, key questions marked; guiding
    questions and evidence have columns of their own."""
    text = item.text.get(lang)
    return f"[{KEY_QUESTION[lang]}] {text}" if item.key_question else text


def round_name(label: str, lang: str) -> str:
    """How a stored round label reads in a language ('baseline' is 'línea de base' in Spanish)."""
    names = ROUND_NAMES.get(label)
    return names.get(lang, label) if names else label


def round_label(text: str) -> str:
    """The stored label of a round name typed in either language; other labels are kept."""
    return _ROUND_KEYS.get(" ".join(text.casefold().split()), text.strip())


def cover_cell(field: CoverField) -> str:
    return f"{get_column_letter(COVER_VALUE_COLUMN)}{COVER_ROWS[field]}"


class ItemColumn(StrEnum):
    """The columns of a dimension sheet, left to right.

    Answer and notes sit right after the item so that they are on screen next to the statement;
    the level columns follow ``notes``; ``guidance`` and ``evidence`` exist only when some item of
    the instrument has such a text; ``area`` comes last.
    """

    key = "key"
    item = "item"
    answer = "answer"
    notes = "notes"
    guidance = "guidance"
    evidence = "evidence"
    area = "area"


ITEM_HEADERS: Final[dict[ItemColumn, dict[str, str]]] = {
    ItemColumn.key: _pair("Key", "Clave"),
    ItemColumn.item: _pair("Item", "Ítem"),
    ItemColumn.answer: _pair("Answer", "Respuesta"),
    ItemColumn.notes: _pair("Notes / evidence", "Notas / evidencia"),
    ItemColumn.guidance: _pair("Guiding questions", "Preguntas orientadoras"),
    ItemColumn.evidence: _pair("Evidence to look for", "Evidencia a revisar"),
    ItemColumn.area: _pair("Area", "Área"),
}
FIRST_LEVEL_COLUMN: Final = 5  # E, right after notes


class MetaKey(StrEnum):
    """Key/value rows at the top of the ``_meta`` sheet (label in column A, value in column B)."""

    format_version = "format_version"
    instrument_id = "instrument_id"
    instrument_version = "instrument_version"
    content_hash = "content_hash"
    language = "language"
    cover_sheet = "cover_sheet"
    generator = "generator"


META_ROWS: Final[dict[MetaKey, int]] = {k: i for i, k in enumerate(MetaKey, start=1)}
# the item table of _meta: one row per item, under a header row
META_TABLE_COLUMNS: Final = ("sheet", "row", "item", "answer_cell", "note_cell")
META_TABLE_FIRST_COLUMN: Final = 4  # D
META_TABLE_HEADER_ROW: Final = 1
# drop-down lists that cannot be written inline are stacked in this column, one block per scale
META_LISTS_FIRST_COLUMN: Final = 10  # J


@dataclass(frozen=True)
class ItemRow:
    key: str
    area_key: str
    row: int


@dataclass(frozen=True)
class SheetLayout:
    """One dimension sheet."""

    dimension_key: str
    name: str
    level_count: int
    items: tuple[ItemRow, ...]
    has_guidance: bool = False
    has_evidence: bool = False

    @cached_property  # read for every cell a workbook check looks at
    def columns(self) -> Mapping[ItemColumn, int]:
        """Where each column of this sheet is (``guidance``/``evidence`` only when present)."""
        columns = {
            ItemColumn.key: 1,
            ItemColumn.item: 2,
            ItemColumn.answer: 3,
            ItemColumn.notes: 4,
        }
        column = FIRST_LEVEL_COLUMN + self.level_count
        for kind, present in (
            (ItemColumn.guidance, self.has_guidance),
            (ItemColumn.evidence, self.has_evidence),
            (ItemColumn.area, True),
        ):
            if present:
                columns[kind] = column
                column += 1
        return columns

    @property
    def first_level_column(self) -> int:
        return FIRST_LEVEL_COLUMN

    @property
    def width(self) -> int:
        return max(self.columns.values())

    @property
    def freeze_cell(self) -> str:
        """The top-left cell of the scrolling pane: header row and key + item stay in view."""
        return self.ref(ItemColumn.answer, FIRST_ITEM_ROW)

    def ref(self, column: ItemColumn, row: int) -> str:
        return f"{get_column_letter(self.columns[column])}{row}"


@dataclass(frozen=True)
class WorkbookLayout:
    language: Language
    cover_sheet: str
    instructions_sheet: str
    sheets: tuple[SheetLayout, ...]

    def item_positions(self) -> dict[str, tuple[SheetLayout, ItemRow]]:
        return {r.key: (s, r) for s in self.sheets for r in s.items}

    @property
    def sheet_order(self) -> tuple[str, ...]:
        return (self.cover_sheet, self.instructions_sheet, *(s.name for s in self.sheets))


_NOT_IN_SHEET_NAMES = re.compile(r"[\[\]:*?/\\\x00-\x1f]")
# words a shortened sheet name should not end on (English and Spanish)
_DANGLING: Final = frozenset(
    {"a", "and", "as", "con", "de", "del", "e", "el", "en", "for", "in", "la", "las", "los"}
    | {"o", "of", "on", "or", "para", "por", "the", "to", "with", "y"}
)


def shorten(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` characters, cut between words (no ellipsis) when a word
    boundary allows it, without a dangling connector or punctuation at the end."""
    if len(text) <= limit:
        return text
    words = text[: limit + 1].split(" ")
    if len(words) > 1:
        words = words[:-1]  # the last one was cut (or is the one that did not fit)
        while len(words) > 1 and words[-1].casefold().strip(",;.-–—&") in _DANGLING | {""}:
            words.pop()
        short = " ".join(words).rstrip(" ,;.-–—&(")
        if short:
            return short
    return text[:limit].rstrip()


def sheet_names(titles: list[str], reserved: tuple[str, ...] = _RESERVED_SHEETS) -> list[str]:
    """Excel-safe, unique (case-insensitively), at most 31 characters, cut between words, in the
    given order."""
    used = {r.casefold() for r in reserved}
    names: list[str] = []
    for title in titles:
        clean = " ".join(_NOT_IN_SHEET_NAMES.sub(" ", title).split()).strip("'").strip()
        base = shorten(clean, SHEET_NAME_MAX) or "Sheet"
        name, n = base, 2
        while name.casefold() in used:
            suffix = f" ({n})"
            name = shorten(clean or "Sheet", SHEET_NAME_MAX - len(suffix)) + suffix
            n += 1
        used.add(name.casefold())
        names.append(name)
    return names


def check_language(lang: str) -> Language:
    if lang == "en":
        return "en"
    if lang == "es":
        return "es"
    raise ValueError(f"language must be one of {list(LANGUAGES)}, not {lang!r}")


def workbook_layout(instrument: Instrument, lang: str) -> WorkbookLayout:
    language = check_language(lang)
    names = sheet_names([d.title.get(language) for d in instrument.dimensions])
    items = instrument.items.values()
    has_guidance = any(i.guidance is not None for i in items)
    has_evidence = any(i.evidence is not None for i in items)
    sheets: list[SheetLayout] = []
    for dimension, name in zip(instrument.dimensions, names, strict=True):
        rows: list[ItemRow] = []
        level_count = 0
        for area in dimension.areas:
            for item in area.items:
                rows.append(ItemRow(item.key, area.key, FIRST_ITEM_ROW + len(rows)))
                if item.levels:
                    level_count = max(level_count, len(instrument.scales[item.scale].values))
        sheets.append(
            SheetLayout(dimension.key, name, level_count, tuple(rows), has_guidance, has_evidence)
        )
    return WorkbookLayout(
        language, COVER_SHEET[language], INSTRUCTIONS_SHEET[language], tuple(sheets)
    )


def ordered_values(scale: Scale) -> list[float]:
    return sorted(v.value for v in scale.values)


def number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
