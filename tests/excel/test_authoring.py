"""The authoring workbook: exact round trip for every shipped version, pyxform accepts its
XLSForm columns, and a bad workbook is refused with every problem placed on its cell."""

from __future__ import annotations

import io
from dataclasses import replace

import openpyxl
import pytest
from openpyxl.worksheet.worksheet import Worksheet
from pyxform.xls2xform import convert

from app.catalog import Catalog, load_catalog
from app.config import Settings
from app.domain.instrument import Instrument
from app.excel.authoring import build_authoring
from app.excel.authoring_reader import AUTHORING_LIMITS, read_authoring
from app.excel.problems import Problem, ProblemCode, WorkbookRejected

VERSIONS = [
    f"{f.instrument.id}@{f.instrument.version}" for f in load_catalog(Settings().instruments_dir)
]
IN_PROCESS = replace(AUTHORING_LIMITS, isolate=False)


def _instrument(catalog: Catalog, label: str) -> Instrument:
    f = catalog.get(*label.split("@"))
    assert f is not None
    return f.instrument


def test_every_shipped_version_is_covered() -> None:
    assert len(VERSIONS) >= 11
    assert "oca@2015.2-core" in VERSIONS  # derived variants too


@pytest.mark.parametrize("label", VERSIONS)
def test_round_trip_is_exact(catalog: Catalog, label: str) -> None:
    instrument = _instrument(catalog, label)
    back = read_authoring(build_authoring(instrument), IN_PROCESS)
    assert back == instrument
    assert back.model_dump_json() == instrument.model_dump_json()


def test_round_trip_in_the_sandbox(catalog: Catalog) -> None:
    instrument = _instrument(catalog, "nupas@2020.1")  # risk rules, conditions, yes/no codes
    assert read_authoring(build_authoring(instrument)) == instrument


@pytest.mark.parametrize("label", ["oca@2015.2", "nupas@2020.1", "cla@2017.2"])
def test_pyxform_accepts_the_xlsform_columns(catalog: Catalog, label: str) -> None:
    instrument = _instrument(catalog, label)
    warnings: list[str] = []
    result = convert(build_authoring(instrument), warnings=warnings, file_type=".xlsx")
    assert warnings == []
    first_item = next(iter(instrument.items))
    assert f"/{first_item}" in result.xform


def _edit(data: bytes) -> tuple[openpyxl.Workbook, dict[str, Worksheet]]:
    wb = openpyxl.load_workbook(io.BytesIO(data))
    return wb, {ws.title: ws for ws in wb.worksheets}


def _save(wb: openpyxl.Workbook) -> bytes:
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _column(ws: Worksheet, name: str) -> int:
    return next(c.column for c in ws[1] if c.value == name)


def _rejected(data: bytes) -> list[Problem]:
    with pytest.raises(WorkbookRejected) as caught:
        read_authoring(data, IN_PROCESS)
    return list(caught.value.problems)


def test_problems_are_placed_and_listed_at_once(catalog: Catalog) -> None:
    instrument = _instrument(catalog, "opi@2015.2")
    wb, sheets = _edit(build_authoring(instrument))
    survey, choices = sheets["survey"], sheets["choices"]
    first_item_row = 4  # dimension, area, then the first question
    assert str(survey.cell(first_item_row, 1).value).startswith("select_one")
    survey.cell(first_item_row, _column(survey, "level_3::Español (es)")).value = None
    survey.cell(first_item_row, _column(survey, "level_3::English (en)")).value = None
    survey.cell(first_item_row + 1, _column(survey, "weight")).value = "heavy"
    survey.cell(first_item_row + 1, 1).value = "select_one nowhere"
    choices.cell(2, _column(choices, "score")).value = "one"
    last = survey.max_row
    assert survey.cell(last, 1).value == "end_group"
    survey.delete_rows(last)  # the last dimension is never closed
    problems = _rejected(_save(wb))
    found = {(p.code, p.sheet, p.cell) for p in problems}
    level_col = openpyxl.utils.get_column_letter(_column(survey, "level_3::English (en)"))
    weight_col = openpyxl.utils.get_column_letter(_column(survey, "weight"))
    score_col = openpyxl.utils.get_column_letter(_column(choices, "score"))
    assert (ProblemCode.level_missing, "survey", f"{level_col}{first_item_row}") in found
    assert (ProblemCode.not_a_number, "survey", f"{weight_col}{first_item_row + 1}") in found
    assert (ProblemCode.unknown_scale, "survey", f"A{first_item_row + 1}") in found
    assert (ProblemCode.not_a_number, "choices", f"{score_col}2") in found
    assert any(p.code is ProblemCode.group_not_closed and p.sheet == "survey" for p in problems)
    for p in problems:
        assert p.en and p.es and p.en != p.es
    assert [p.sheet for p in problems] == sorted(
        (p.sheet for p in problems), key=["survey", "choices"].index
    )


def test_missing_translation_and_bad_choice(catalog: Catalog) -> None:
    instrument = _instrument(catalog, "nupas@2020.1")
    wb, sheets = _edit(build_authoring(instrument))
    survey, settings = sheets["survey"], sheets["settings"]
    survey.cell(2, _column(survey, "label::Español (es)")).value = None
    survey.cell(3, _column(survey, "lens")).value = "finance"
    settings.cell(2, _column(settings, "method")).value = "median"
    settings.cell(1, 40).value = "colour"
    problems = _rejected(_save(wb))
    codes = {(p.code, p.sheet) for p in problems}
    assert (ProblemCode.missing_translation, "survey") in codes
    assert (ProblemCode.invalid_value, "survey") in codes
    assert (ProblemCode.invalid_value, "settings") in codes
    assert (ProblemCode.unknown_column, "settings") in codes
    assert len(problems) == 4


def test_model_problems_are_placed_on_the_row_of_the_key(catalog: Catalog) -> None:
    instrument = _instrument(catalog, "opi@2015.2")
    wb, sheets = _edit(build_authoring(instrument))
    survey = sheets["survey"]
    # a weight under method 'mean' is refused by the instrument's own checks
    survey.cell(4, _column(survey, "weight")).value = 2
    problems = _rejected(_save(wb))
    assert [(p.code, p.sheet, p.cell) for p in problems] == [
        (ProblemCode.invalid_instrument, "survey", "A4")
    ]
    assert "weighted_mean" in problems[0].en


def test_missing_sheets_are_named() -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "settings"
    ws["A1"] = "form_id"
    problems = _rejected(_save(wb))
    assert {(p.code, p.sheet) for p in problems} == {
        (ProblemCode.sheet_missing, "survey"),
        (ProblemCode.sheet_missing, "choices"),
    }


def test_a_foreign_workbook_is_refused_in_the_sandbox() -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws["A1"] = "hello"
    with pytest.raises(WorkbookRejected) as caught:
        read_authoring(_save(wb))
    assert caught.value.problems[0].code is ProblemCode.sheet_missing
    with pytest.raises(WorkbookRejected) as caught:
        read_authoring(b"not a workbook at all")
    assert caught.value.problems[0].code is ProblemCode.not_a_workbook
