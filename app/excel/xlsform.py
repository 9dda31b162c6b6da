"""An instrument version as a plain XLSForm, for field collection in KoboToolbox or ODK Central.

XLSForm (https://xlsform.org) is the spreadsheet format the ODK ecosystem converts to an XForm
with pyxform. A field team uploads the workbook to their server and collects offline in
KoboCollect or ODK Collect. The form stays plain on purpose: no columns of our own, so the
reference converter accepts it without warnings, and everything an import needs to place a
submission travels inside it — hidden ``calculate`` fields name the instrument id, version and
content hash, and the first group asks for the organization, round and assessment date.

Field names are what the data exports print as column headers (Kobo: ``group/sub/name``; ODK
Central: ``group-sub-name``), so they are stable: the instrument's own keys, made into XML names.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from dataclasses import dataclass

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

from app.domain.instrument import Instrument, Item, Scale, Text

EN = "English (en)"
ES = "Español (es)"
LANGS: tuple[tuple[str, str], ...] = (("en", EN), ("es", ES))
NA_CHOICE = "na"

# Names of the fields that place a submission (the importer reads them back).
FIELD_INSTRUMENT = "oca_instrument"
FIELD_VERSION = "oca_version"
FIELD_HASH = "oca_content_hash"
GROUP_ABOUT = "about"
FIELD_ORG_NAME = "organization_name"
FIELD_ORG_EXTERNAL_ID = "organization_external_id"
FIELD_ROUND = "round"
FIELD_DATE = "assessment_date"
NOTE_SUFFIX = "_note"

SURVEY_COLUMNS: tuple[str, ...] = (
    "type",
    "name",
    *(f"label::{lang}" for _, lang in LANGS),
    *(f"hint::{lang}" for _, lang in LANGS),
    *(f"guidance_hint::{lang}" for _, lang in LANGS),
    "required",
    "calculation",
)
CHOICE_COLUMNS: tuple[str, ...] = ("list_name", "name", *(f"label::{lang}" for _, lang in LANGS))

_NOT_NAME = re.compile(r"[^A-Za-z0-9_.\-]")


def field_name(key: str) -> str:
    """An instrument key as an XML name (XLSForm names must start with a letter or ``_``)."""
    name = _NOT_NAME.sub("_", key)
    return name if name[:1].isalpha() or name[:1] == "_" else f"k_{name}"


def choice_name(value: float, code: str | None) -> str:
    """The choice name of a scale value: its code, else the number as people write it."""
    if code:
        return code
    return str(int(value)) if float(value).is_integer() else str(value)


def na_label() -> Text:
    return Text(en="Not applicable (N/A)", es="No aplica (N/A)")


@dataclass(frozen=True)
class _Row:
    type: str
    name: str
    label: Text | None = None
    hint: Text | None = None
    guidance: Text | None = None
    required: bool = False
    calculation: str | None = None

    def cells(self) -> list[str | None]:
        def texts(t: Text | None) -> list[str | None]:
            return [t.get(code) if t else None for code, _ in LANGS]

        return [
            self.type,
            self.name,
            *texts(self.label),
            *texts(self.hint),
            *texts(self.guidance),
            "yes" if self.required else None,
            self.calculation,
        ]


def _list_name(scale_key: str, with_na: bool) -> str:
    return field_name(scale_key) + ("" if with_na else "_no_na")


def _choices(instrument: Instrument) -> list[list[str | None]]:
    """One list per scale (plus a list without N/A where key questions may not be N/A)."""
    used = {
        (item.scale, instrument.allows_na(item))
        for d in instrument.dimensions
        for a in d.areas
        for item in a.items
    }
    rows: list[list[str | None]] = []
    for scale_key, with_na in sorted(used):
        scale = instrument.scales[scale_key]
        list_name = _list_name(scale_key, with_na)
        for v in scale.values:
            rows.append(
                [list_name, choice_name(v.value, v.code), *_value_labels(scale, v.value, v.label)]
            )
        if with_na:
            rows.append([list_name, NA_CHOICE, *(na_label().get(code) for code, _ in LANGS)])
    return rows


def _value_labels(scale: Scale, value: float, label: Text) -> list[str]:
    """Numbered labels on ordered scales ("2 — Emerging"), plain ones on yes/no."""
    if scale.kind == "yesno":
        return [label.get(code) for code, _ in LANGS]
    number = choice_name(value, None)
    return [f"{number} — {label.get(code)}" for code, _ in LANGS]


def _level_hint(instrument: Instrument, item: Item) -> Text | None:
    """The rubric's level statements, one line per level, so raters see what each score means."""
    if not item.levels:
        return None
    scale = instrument.scales[item.scale]
    lines: dict[str, list[str]] = {code: [] for code, _ in LANGS}
    for v in sorted(scale.values, key=lambda v: v.value):
        statement = item.levels.get(int(v.value))
        if statement is None:
            continue
        for code, _ in LANGS:
            lines[code].append(f"{choice_name(v.value, None)}: {statement.get(code)}")
    return Text(en="\n".join(lines["en"]), es="\n".join(lines["es"]))


def _note_label() -> Text:
    return Text(
        en="Justification and evidence (documents seen, who agreed)",
        es="Justificación y evidencia (documentos vistos, quiénes acordaron)",
    )


def _hidden(name: str, value: str) -> _Row:
    # Literal strings in XPath are quoted; our ids, versions and hashes never contain a quote.
    return _Row("calculate", name, calculation=f"'{value}'")


def _about() -> list[_Row]:
    return [
        _Row("begin_group", GROUP_ABOUT, Text(en="Assessment", es="Evaluación")),
        _Row(
            "text",
            FIELD_ORG_NAME,
            Text(en="Organization name", es="Nombre de la organización"),
            required=True,
        ),
        _Row(
            "text",
            FIELD_ORG_EXTERNAL_ID,
            Text(en="Organization external id", es="Identificador externo de la organización"),
            Text(
                en="The id your program uses for this organization, if any",
                es="El identificador que su programa usa para esta organización, si lo hay",
            ),
        ),
        _Row(
            "text",
            FIELD_ROUND,
            Text(en="Round", es="Ronda"),
            Text(en="For example: baseline, 2026", es="Por ejemplo: línea de base, 2026"),
            required=True,
        ),
        _Row(
            "date",
            FIELD_DATE,
            Text(en="Assessment date", es="Fecha de la evaluación"),
            required=True,
        ),
        _Row("end_group", GROUP_ABOUT),
    ]


def _questions(instrument: Instrument) -> Iterable[_Row]:
    for d in instrument.dimensions:
        yield _Row("begin_group", field_name(d.key), d.title, d.description)
        for a in d.areas:
            yield _Row("begin_group", field_name(a.key), a.title, a.description)
            for item in a.items:
                name = field_name(item.key)
                list_name = _list_name(item.scale, instrument.allows_na(item))
                yield _Row(
                    f"select_one {list_name}",
                    name,
                    item.text,
                    _level_hint(instrument, item),
                    item.guidance,
                )
                yield _Row("text", name + NOTE_SUFFIX, _note_label(), item.evidence)
            yield _Row("end_group", field_name(a.key))
        yield _Row("end_group", field_name(d.key))


def form_id(instrument: Instrument) -> str:
    return field_name(f"{instrument.id}_{instrument.version}")


def xlsform_rows(
    instrument: Instrument, content_hash: str
) -> tuple[list[list[str | None]], list[list[str | None]], list[list[str | None]]]:
    """The survey, choices and settings sheets as rows (header first), for tests and writers."""
    survey = [
        _hidden(FIELD_INSTRUMENT, instrument.id),
        _hidden(FIELD_VERSION, instrument.version),
        _hidden(FIELD_HASH, content_hash),
        *_about(),
        *_questions(instrument),
    ]
    settings: list[list[str | None]] = [
        ["form_title", "form_id", "version", "default_language", "instance_name"],
        [
            instrument.title.en,
            form_id(instrument),
            # ODK tells form revisions apart by this string; the hash changes with the content.
            f"{instrument.version}-{content_hash[:12]}",
            EN,
            f"concat(${{{FIELD_ORG_NAME}}}, ' — ', ${{{FIELD_ROUND}}})",
        ],
    ]
    return (
        [list(SURVEY_COLUMNS), *(r.cells() for r in survey)],
        [list(CHOICE_COLUMNS), *_choices(instrument)],
        settings,
    )


def build_xlsform(instrument: Instrument, content_hash: str) -> bytes:
    """The XLSForm workbook (survey, choices, settings) of one instrument version."""
    wb = Workbook()
    survey, choices, settings = xlsform_rows(instrument, content_hash)
    first = wb.active
    assert isinstance(first, Worksheet)
    first.title = "survey"
    _fill(first, survey)
    _fill(wb.create_sheet("choices"), choices)
    _fill(wb.create_sheet("settings"), settings)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _fill(sheet: Worksheet, rows: list[list[str | None]]) -> None:
    for row in rows:
        sheet.append(row)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    for column in sheet.columns:
        letter = column[0].column_letter
        sheet.column_dimensions[letter].width = 14 if letter in "AB" else 40
