"""The authoring workbook's sheets and columns, shared by its writer and its reader.

The layout follows XLSForm (``survey``, ``choices``, ``settings``; ``label::English (en)``
columns; ``select_one`` lists; ``begin_group``/``end_group``) and adds columns and sheets of our
own for what XLSForm has no place for. ``docs/authoring.md`` explains every column.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Final

from app.excel.xlsform import EN, ES

LANG_COLUMNS: Final[tuple[tuple[str, str], ...]] = (("en", EN), ("es", ES))


class Sheet(StrEnum):
    survey = "survey"
    choices = "choices"
    settings = "settings"
    bands = "bands"
    risk_thresholds = "risk_thresholds"
    conditions = "conditions"
    supersedes = "supersedes"
    variants = "variants"


REQUIRED_SHEETS: Final = (Sheet.survey, Sheet.choices, Sheet.settings)
SHEET_ORDER: Final[tuple[str, ...]] = tuple(s.value for s in Sheet)


def texts(name: str) -> tuple[str, str]:
    """The English and Spanish columns of a translated field: ``name::English (en)``, ..."""
    return (f"{name}::{EN}", f"{name}::{ES}")


def plain_texts(name: str) -> tuple[str, str]:
    """``name_en``, ``name_es``: in settings and choices pyxform would read ``x::lang`` itself."""
    return (f"{name}_en", f"{name}_es")


def level_columns(level: int) -> tuple[str, str]:
    return texts(f"level_{level}")


LEVEL_HEADER: Final = re.compile(r"^level_(-?\d+)::(.+)$")

# survey: XLSForm's own columns, then ours
SURVEY_HEAD: Final[tuple[str, ...]] = (
    "type",
    "name",
    *texts("label"),
    *texts("hint"),
    *texts("guidance_hint"),
)
SURVEY_TAIL: Final[tuple[str, ...]] = (
    *texts("evidence"),
    "lens",
    *texts("lens_note"),
    "weight",
    "key_question",
    "risk_points",
    "risk_when",
    *texts("na_reason"),
    "tags",
    "desired_stage",
    "conditions_medium",
    "conditions_high",
    "conditions_extreme",
)

CHOICES_COLUMNS: Final[tuple[str, ...]] = (
    "list_name",
    "name",
    *texts("label"),
    "score",  # pyxform reads a "value" column as another name for "name"
    *plain_texts("description"),
    "kind",
    "allow_na",
)

SETTINGS_COLUMNS: Final[tuple[str, ...]] = (
    "form_title",
    "form_id",
    "version",
    "default_language",
    "form_title_es",  # pyxform would read "title::..." as a translated form title
    *plain_texts("description"),
    *plain_texts("subject"),
    "source",
    "languages",
    "method",
    "min_coverage",
    "improvement_threshold",
    "cap_by_weakest",
    "allow_partial",
    "supersedes",
    "risk_key_question_floor",
    "risk_overall",
    "risk_failing_area_band",
    "derived_from",
    "derived_variant",
    "derived_dropped_tags",
    "derived_dropped_items",
)

LIST_COLUMNS: Final[dict[Sheet, tuple[str, ...]]] = {
    Sheet.bands: ("max", *texts("label")),
    Sheet.risk_thresholds: ("band", "below"),
    Sheet.conditions: (
        "key",
        *texts("title"),
        *texts("action"),
        *texts("time_allowed"),
        *texts("reconsideration"),
    ),
    Sheet.supersedes: ("old_item", "new_item"),
    Sheet.variants: ("key", *texts("title"), *texts("description"), "drop_tags"),
}

BEGIN_GROUP: Final = "begin_group"
END_GROUP: Final = "end_group"
SELECT_ONE: Final = "select_one"
YES: Final = "yes"
NO: Final = "no"
