from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from app.domain.scoring import NA
from app.excel import FORMAT_VERSION, CoverField, Prefill, build_template, workbook_layout
from app.excel.layout import (
    ITEM_HEADERS,
    META_ROWS,
    META_SHEET,
    META_TABLE_FIRST_COLUMN,
    NA_LABEL,
    ItemColumn,
    MetaKey,
    cover_cell,
    sheet_names,
)
from tests.excel.helpers import (
    INSTRUMENT_IDS,
    INSTRUMENT_PATHS,
    LANGS,
    RICH,
    label,
    load,
    open_workbook,
    sheet_xml,
)

PAYLOADS = [
    "=1+2",
    '=HYPERLINK("http://example.invalid","x")',
    "+1+2",
    "-1+2",
    "@SUM(1,2)",
    "\t=1+2",
    "=cmd|' /C calc'!A0",
]


def _list_values(wb: object, formula: str) -> list[str]:
    """The entries of a list validation, inline ("a,b") or as a range on the _meta sheet."""
    if formula.startswith('"'):
        return formula.strip('"').split(",")
    match = re.fullmatch(r"'?([^'!]+)'?!\$([A-Z]+)\$(\d+):\$([A-Z]+)\$(\d+)", formula)
    assert match, formula
    sheet, col, first, _, last = match.groups()
    ws = wb[sheet]  # type: ignore[index]
    return [ws[f"{col}{row}"].value for row in range(int(first), int(last) + 1)]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("path", INSTRUMENT_PATHS, ids=INSTRUMENT_IDS)
def test_sheets_protection_and_hidden_metadata(path: Path, lang: str) -> None:
    f = load(path)
    layout = workbook_layout(f.instrument, lang)
    wb = open_workbook(build_template(f.instrument, f.content_hash, lang))

    assert wb.sheetnames == [*layout.sheet_order, META_SHEET]
    assert len(layout.sheets) == len(f.instrument.dimensions)
    names = [s.name for s in layout.sheets]
    assert len({n.casefold() for n in wb.sheetnames}) == len(wb.sheetnames)
    for name in names:
        assert 1 <= len(name) <= 31
        assert not re.search(r"[\[\]:*?/\\]", name)
    assert wb[META_SHEET].sheet_state == "veryHidden"
    assert all(wb[n].sheet_state == "visible" for n in layout.sheet_order)
    assert all(ws.protection.sheet for ws in wb.worksheets)
    assert wb.security.lockStructure
    assert wb.active.title == layout.cover_sheet


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("path", INSTRUMENT_PATHS, ids=INSTRUMENT_IDS)
def test_dimension_sheets_rows_dropdowns_and_unlocked_cells(path: Path, lang: str) -> None:
    f = load(path)
    instrument = f.instrument
    layout = workbook_layout(instrument, lang)
    wb = open_workbook(build_template(instrument, f.content_hash, lang))

    has_guidance = any(i.guidance for i in instrument.items.values())
    has_evidence = any(i.evidence for i in instrument.items.values())
    seen: list[str] = []
    for sheet in layout.sheets:
        ws = wb[sheet.name]
        # the answer and notes come right after key and item; key and item stay in view
        assert ws.freeze_panes == "C2"
        assert sheet.columns[ItemColumn.answer] == 3
        assert sheet.columns[ItemColumn.notes] == 4
        assert (ItemColumn.guidance in sheet.columns) is has_guidance
        assert (ItemColumn.evidence in sheet.columns) is has_evidence
        assert sheet.columns[ItemColumn.area] == sheet.width
        for column in sheet.columns:
            assert ws[sheet.ref(column, 1)].value == ITEM_HEADERS[column][lang]
        validations = {
            str(ref): dv for dv in ws.data_validations.dataValidation for ref in dv.sqref.ranges
        }
        unlocked = {c.coordinate for row in ws.iter_rows() for c in row if not c.protection.locked}
        expected_unlocked = set()
        for position in sheet.items:
            item = instrument.items[position.key]
            scale = instrument.scales[item.scale]
            answer = sheet.ref(ItemColumn.answer, position.row)
            note = sheet.ref(ItemColumn.notes, position.row)
            expected_unlocked |= {answer, note}
            assert ws[sheet.ref(ItemColumn.key, position.row)].value == item.key
            # the item cell holds the statement only (guidance and evidence have their columns)
            statement = item.text.get(lang)
            if item.key_question:
                assert ws[sheet.ref(ItemColumn.item, position.row)].value.endswith(statement)
            else:
                assert ws[sheet.ref(ItemColumn.item, position.row)].value == statement
            if item.guidance is not None:
                guidance = ws[sheet.ref(ItemColumn.guidance, position.row)].value
                assert guidance == item.guidance.get(lang)
            if item.evidence is not None:
                evidence = ws[sheet.ref(ItemColumn.evidence, position.row)].value
                assert evidence == item.evidence.get(lang)
            assert ws[answer].value is None
            dv = validations[answer]
            assert dv.type == "list"
            assert dv.showErrorMessage
            expected = [v.label.get(lang) for v in scale.values]
            if instrument.allows_na(item):  # a key question offers N/A only with a reason
                expected.append(NA_LABEL[lang])
            assert _list_values(wb, dv.formula1) == expected
            assert ws[answer].alignment.wrap_text
            if item.levels:
                for offset, value in enumerate(sorted(v.value for v in scale.values)):
                    cell = ws.cell(row=position.row, column=sheet.first_level_column + offset)
                    assert cell.value == item.levels[int(value)].get(lang)
            # a row is as tall as its longest text needs, never more than Excel allows
            assert 15 <= ws.row_dimensions[position.row].height <= 409
            seen.append(item.key)
        assert unlocked == expected_unlocked
        for column in (ItemColumn.item, ItemColumn.notes):
            assert ws.column_dimensions[sheet.ref(column, 1)[0]].width >= 30
        # the answer cell starts within a laptop screen: key + item at most ~80 characters wide
        frozen = sum(ws.column_dimensions[c].width for c in "AB")
        assert frozen <= 80
        assert ws.column_dimensions["C"].width >= 14
    assert seen == list(instrument.items)


def test_rows_are_sized_for_a_screen() -> None:
    """OCA items (long statements, four levels, guiding questions, evidence) fit in 60-120 pt."""
    f = load(INSTRUMENT_PATHS[[p.parent.name for p in INSTRUMENT_PATHS].index("oca")])
    for lang in LANGS:
        layout = workbook_layout(f.instrument, lang)
        wb = open_workbook(build_template(f.instrument, f.content_hash, lang))
        heights = sorted(
            wb[s.name].row_dimensions[r.row].height for s in layout.sheets for r in s.items
        )
        median = heights[len(heights) // 2]
        assert 60 <= median <= 120, heights
        assert heights[-1] <= 160, heights


def test_level_headers_do_not_repeat_the_number() -> None:
    """OPI's labels ("Level 1 - Basic") carry their number; OCA's ("Nascent") do not."""
    paths = {p.parent.name: p for p in INSTRUMENT_PATHS}
    for name, lang, expected in (
        ("opi", "es", "Nivel 1 - Básico"),
        ("opi", "en", "Level 1 - Basic"),
        ("oca", "es", "1 — Incipiente"),
    ):
        f = load(paths[name])
        sheet = workbook_layout(f.instrument, lang).sheets[0]
        ws = open_workbook(build_template(f.instrument, f.content_hash, lang))[sheet.name]
        assert ws.cell(row=1, column=sheet.first_level_column).value == expected


@pytest.mark.parametrize("lang", LANGS)
def test_cover_inputs_are_the_only_unlocked_cells(lang: str) -> None:
    f = load(RICH)
    layout = workbook_layout(f.instrument, lang)
    wb = open_workbook(build_template(f.instrument, f.content_hash, lang))
    ws = wb[layout.cover_sheet]
    unlocked = {c.coordinate for row in ws.iter_rows() for c in row if not c.protection.locked}
    assert unlocked == {cover_cell(field) for field in CoverField}
    for name in (layout.instructions_sheet, META_SHEET):
        sheet = wb[name]
        assert all(c.protection.locked for row in sheet.iter_rows() for c in row)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("path", INSTRUMENT_PATHS, ids=INSTRUMENT_IDS)
def test_meta_sheet_identifies_instrument_and_layout(path: Path, lang: str) -> None:
    f = load(path)
    layout = workbook_layout(f.instrument, lang)
    ws = open_workbook(build_template(f.instrument, f.content_hash, lang))[META_SHEET]

    def meta(key: MetaKey) -> object:
        assert ws.cell(row=META_ROWS[key], column=1).value == key.value
        return ws.cell(row=META_ROWS[key], column=2).value

    assert meta(MetaKey.format_version) == FORMAT_VERSION
    assert meta(MetaKey.instrument_id) == f.instrument.id
    assert meta(MetaKey.instrument_version) == f.instrument.version
    assert meta(MetaKey.content_hash) == f.content_hash
    assert meta(MetaKey.language) == lang
    assert meta(MetaKey.cover_sheet) == layout.cover_sheet
    table = [
        tuple(ws.cell(row=r, column=META_TABLE_FIRST_COLUMN + c).value for c in range(3))
        for r in range(2, 2 + len(f.instrument.items))
    ]
    assert table == [(s.name, i.row, i.key) for s in layout.sheets for i in s.items]
    assert ws.cell(row=2 + len(f.instrument.items), column=META_TABLE_FIRST_COLUMN).value is None


def test_instructions_are_in_the_template_language() -> None:
    f = load(RICH)
    for lang, expected, foreign in (
        ("en", "N/A (not applicable)", "No aplica"),
        ("es", "«No aplica»", "not applicable"),
    ):
        layout = workbook_layout(f.instrument, lang)
        wb = open_workbook(build_template(f.instrument, f.content_hash, lang))
        ws = wb[layout.instructions_sheet]
        text = "\n".join(str(c.value) for row in ws.iter_rows() for c in row if c.value)
        assert expected in text
        assert foreign not in text
        for scale in f.instrument.scales.values():
            for value in scale.values:
                assert value.label.get(lang) in text


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("path", INSTRUMENT_PATHS, ids=INSTRUMENT_IDS)
def test_instructions_and_cover_speak_words_not_internal_keys(path: Path, lang: str) -> None:
    f = load(path)
    instrument = f.instrument
    layout = workbook_layout(instrument, lang)
    wb = open_workbook(build_template(instrument, f.content_hash, lang))
    text = "\n".join(
        str(c.value)
        for name in (layout.instructions_sheet, layout.cover_sheet)
        for row in wb[name].iter_rows()
        for c in row
        if c.value
    )
    for key in instrument.scales:  # scales are described by what they are, not their key
        assert re.search(rf"\b{re.escape(key)}\b", text) is None, key
    assert f"({instrument.id})" not in text
    assert "(s)" not in text
    levels = any(i.levels for i in instrument.items.values())
    assert ({"en": "level statements", "es": "descripciones de sus niveles"}[lang] in text) is (
        levels
    )
    kinds = {s.kind for s in instrument.scales.values()}
    if "yesno" in kinds:
        assert {"en": "Yes / No answers", "es": "Respuestas Sí / No"}[lang] in text
    if "levels" in kinds:
        assert {"en": "Scale of 4 levels (1 to 4)", "es": "Escala de 4 niveles (1 a 4)"}[
            lang
        ] in text


def test_sheet_names_are_cut_unique_and_avoid_reserved_names() -> None:
    f = load(RICH)
    assert [s.name for s in workbook_layout(f.instrument, "en").sheets] == [
        "Governance board legal",  # cut between words, not "... legal structur"
        "Governance board legal (2)",
        "Cover (2)",
    ]
    assert [s.name for s in workbook_layout(f.instrument, "es").sheets][2] == "Portada (2)"


def test_sheet_names_are_cut_between_words() -> None:
    assert sheet_names(
        [
            "Gestión financiera y sistemas de control interno",
            "Gestión financiera y sistemas de control externo",
            "Sistemas de administración y adquisiciones",
            "Supercalifragilisticexpialidocious-and-even-longer",
        ]
    ) == [
        "Gestión financiera y sistemas",  # no dangling "de"
        "Gestión financiera (2)",  # unique, still cut between words
        "Sistemas de administración",  # no dangling "y"
        "Supercalifragilisticexpialidoci",  # one long word: cut where it must be
    ]
    for path in INSTRUMENT_PATHS:
        instrument = load(path).instrument
        for lang in LANGS:
            for sheet, dimension in zip(
                workbook_layout(instrument, lang).sheets, instrument.dimensions, strict=True
            ):
                title = " ".join(dimension.title.get(lang).split())
                if len(title) <= 31 or not title.replace(" ", "").isalpha():
                    continue
                assert len(sheet.name) <= 31
                assert (title + " ").startswith(sheet.name + " "), (sheet.name, title)


def test_labels_with_commas_use_a_list_range_on_the_meta_sheet() -> None:
    f = load(RICH)
    wb = open_workbook(build_template(f.instrument, f.content_hash, "en"))
    sheet = workbook_layout(f.instrument, "en").sheets[0]
    formulas = {dv.formula1 for dv in wb[sheet.name].data_validations.dataValidation}
    assert '"Yes,No"' in formulas
    ranged = [x for x in formulas if x.startswith(f"'{META_SHEET}'!")]
    assert len(ranged) == 1
    assert _list_values(wb, ranged[0]) == [
        "Basic, informal",
        "Developing",
        "Solid",
        "Leading, documented",
        "N/A",
    ]


@pytest.mark.parametrize("lang", LANGS)
def test_prefill_writes_labels_in_the_template_language(lang: str) -> None:
    f = load(RICH)
    instrument = f.instrument
    prefill = Prefill(
        organization_name="Fundación Ejemplo",
        organization_external_id="ORG-9",
        round="endline",
        assessed_on=date(2024, 11, 5),
        assessor="R. Reviewer",
        answers={"gov.board.1": 3.0, "gov.board.2": 0.0, "gov.legal.1": NA},
        notes={"gov.board.1": "Minutes 2024", "cover.audit.2": "Pending"},
    )
    layout = workbook_layout(instrument, lang)
    wb = open_workbook(build_template(instrument, f.content_hash, lang, prefill))
    positions = layout.item_positions()
    for key, value in prefill.answers.items():
        sheet, row = positions[key]
        assert wb[sheet.name][sheet.ref(ItemColumn.answer, row.row)].value == label(
            instrument, key, value, lang
        )
    for key, note in prefill.notes.items():
        sheet, row = positions[key]
        assert wb[sheet.name][sheet.ref(ItemColumn.notes, row.row)].value == note
    cover = wb[layout.cover_sheet]
    assert cover[cover_cell(CoverField.organization_name)].value == "Fundación Ejemplo"
    assert cover[cover_cell(CoverField.round)].value == {"en": "endline", "es": "línea final"}[lang]
    assert cover[cover_cell(CoverField.assessed_on)].value.date() == date(2024, 11, 5)


@pytest.mark.parametrize(
    ("prefill", "message"),
    [
        (Prefill(answers={"nope": 1.0}), "not an item"),
        (Prefill(answers={"gov.board.1": 7.0}), "not a value"),
        (Prefill(answers={"gov.board.2": NA}), "cannot be not applicable"),
        (Prefill(notes={"nope": "x"}), "not an item"),
    ],
    ids=["unknown-item", "off-scale", "na-not-allowed", "note-unknown-item"],
)
def test_prefill_that_does_not_fit_is_refused(prefill: Prefill, message: str) -> None:
    f = load(RICH)
    with pytest.raises(ValueError, match=message):
        build_template(f.instrument, f.content_hash, "en", prefill)


def test_unknown_language_is_refused() -> None:
    f = load(RICH)
    with pytest.raises(ValueError, match="language"):
        build_template(f.instrument, f.content_hash, "fr")


@pytest.mark.parametrize("payload", PAYLOADS, ids=[f"payload{i}" for i in range(len(PAYLOADS))])
def test_formula_injection_in_user_text_is_stored_as_text(payload: str) -> None:
    f = load(RICH)
    instrument = f.instrument
    keys = list(instrument.items)
    prefill = Prefill(
        organization_name=payload,
        organization_external_id=payload,
        round=payload,
        assessor=payload,
        notes=dict.fromkeys(keys, payload),
    )
    data = build_template(instrument, f.content_hash, "en", prefill)
    for name, xml in sheet_xml(data).items():
        assert "<f>" not in xml and "<f " not in xml, name
    layout = workbook_layout(instrument, "en")
    wb = open_workbook(data)
    cover = wb[layout.cover_sheet]
    for field in (CoverField.organization_name, CoverField.round, CoverField.assessor):
        cell = cover[cover_cell(field)]
        assert cell.data_type == "s"
        assert cell.value == payload
    sheet, row = layout.item_positions()[keys[0]]
    assert wb[sheet.name][sheet.ref(ItemColumn.notes, row.row)].value == payload


def test_instrument_texts_that_look_like_formulas_stay_text() -> None:
    f = load(RICH)  # its title, an item text and level statements start with = - + @
    data = build_template(f.instrument, f.content_hash, "es")
    for name, xml in sheet_xml(data).items():
        assert "<f>" not in xml and "<f " not in xml, name
    assert "=SUMA(1;2) el consejo se reúne" in "".join(sheet_xml(data).values())
