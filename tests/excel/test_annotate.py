from __future__ import annotations

import pytest

from app.excel import ProblemCode, annotate, build_template, read_filled_workbook
from app.excel.annotate import COMMENT_AUTHOR, ERROR_FILL_COLOR
from app.excel.layout import META_SHEET, PROBLEMS_SHEET, ItemColumn, workbook_layout
from tests.excel.helpers import LIMITS, MINI, RICH, fill, load, open_workbook, rejected, resolve_all


@pytest.mark.parametrize("lang", ["en", "es"])
def test_offending_cells_are_red_and_commented_in_the_workbook_language(lang: str) -> None:
    f = load(RICH)
    instrument = f.instrument
    typed = {
        "gov.board.1": "Perfect",
        "gov.board.2": "N/A",
        "gov2.ethics.1": "=1+1",
        "cover.audit.2": "Solid" if lang == "en" else "Sólido",
    }
    data = fill(
        build_template(instrument, f.content_hash, lang),
        instrument,
        lang,
        typed,
        notes={"cover.audit.2": "kept"},
    )
    problems = rejected(data, resolve_all()).problems
    assert len(problems) == 3

    wb = open_workbook(annotate(data, problems, LIMITS))

    for p in problems:
        assert p.sheet is not None and p.cell is not None
        cell = wb[p.sheet][p.cell]
        assert cell.fill.fgColor.rgb == ERROR_FILL_COLOR
        assert cell.comment is not None
        assert cell.comment.author == COMMENT_AUTHOR
        assert p.message(lang) in cell.comment.text
        assert p.message("es" if lang == "en" else "en") not in cell.comment.text
    layout = workbook_layout(instrument, lang)
    positions = layout.item_positions()
    sheet, row = positions["cover.audit.2"]
    fine = wb[sheet.name][sheet.ref(ItemColumn.answer, row.row)]
    assert fine.comment is None
    assert fine.fill.fgColor.rgb != ERROR_FILL_COLOR
    assert fine.value == typed["cover.audit.2"]
    assert wb[sheet.name][sheet.ref(ItemColumn.notes, row.row)].value == "kept"
    # the problems sheet comes first; the template is otherwise intact
    summary = wb.worksheets[0]
    assert summary.title == PROBLEMS_SHEET[lang]
    assert [c.value for c in summary[2]][:4] == [
        problems[0].sheet,
        problems[0].cell,
        problems[0].item,
        problems[0].code.value,
    ]
    assert summary.max_row == 1 + len(problems)
    assert wb[META_SHEET].sheet_state == "veryHidden"
    assert all(wb[s.name].protection.sheet for s in layout.sheets)
    assert wb[layout.sheets[0].name].data_validations.dataValidation


def test_cover_and_workbook_level_problems() -> None:
    f = load(MINI)
    data = build_template(f.instrument, f.content_hash, "es")  # nothing filled in
    problems = rejected(data, resolve_all()).problems
    codes = [p.code for p in problems]
    assert ProblemCode.empty_workbook in codes
    wb = open_workbook(annotate(data, problems, LIMITS))
    cover = wb["Portada"]
    assert cover["B4"].fill.fgColor.rgb == ERROR_FILL_COLOR
    assert "obligatorio" in cover["B4"].comment.text
    summary = wb["Problemas"]
    messages = [row[4].value for row in summary.iter_rows(min_row=2)]
    assert "El libro no tiene respuestas." in messages


def test_fixed_annotated_workbook_imports() -> None:
    f = load(MINI)
    data = fill(
        build_template(f.instrument, f.content_hash),
        f.instrument,
        "en",
        {"gov.vision.1": "Great", "gov.vision.2": "Mature"},
    )
    problems = rejected(data, resolve_all()).problems
    annotated = annotate(data, problems, LIMITS, lang="es")
    wb = open_workbook(annotated)
    assert "no es un valor de la escala" in wb["Governance"]["C2"].comment.text
    wb["Governance"]["C2"] = "Emerging"
    from tests.excel.helpers import save

    result = read_filled_workbook(save(wb), resolve_all(), LIMITS)
    assert result.answers.values == {"gov.vision.1": 2.0, "gov.vision.2": 4.0}


def test_annotating_twice_keeps_one_problems_sheet() -> None:
    f = load(MINI)
    data = fill(
        build_template(f.instrument, f.content_hash), f.instrument, "en", {"gov.vision.1": "Great"}
    )
    problems = rejected(data, resolve_all()).problems
    twice = annotate(annotate(data, problems, LIMITS), problems, LIMITS)
    wb = open_workbook(twice)
    assert wb.sheetnames.count("Problems") == 1
    assert wb["Governance"]["C2"].comment.text.count("Great") == 1
