"""The fast reader (``_xlsx_fast``) against openpyxl, the reference: the same cells, or it steps
aside. The whole suite also runs every workbook it reads through both (``OCA_EXCEL_READER=compare``
in ``tests/conftest.py``); these are the cases chosen to reach its edges."""

from __future__ import annotations

import json
import math
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from openpyxl.cell.cell import MergedCell

from app.excel import _worker, _xlsx_fast, build_template
from app.excel.layout import (
    META_ROWS,
    META_SHEET,
    META_TABLE_FIRST_COLUMN,
    META_TABLE_HEADER_ROW,
    ItemColumn,
    MetaKey,
    workbook_layout,
)
from tests.excel.helpers import (
    HOSTILE,
    INSTRUMENT_IDS,
    INSTRUMENT_PATHS,
    LANGS,
    LIMITS,
    MINI,
    edit,
    fill,
    load,
    varied_answers,
)

PARAMS: dict[str, Any] = {
    "max_rows": LIMITS.max_rows,
    "max_columns": LIMITS.max_columns,
    "max_sheets": LIMITS.max_sheets,
    "max_text": LIMITS.max_inflated_bytes,
    "meta_sheet": META_SHEET,
    "cover_row": META_ROWS[MetaKey.cover_sheet],
    "value_column": 2,
    "table_column": META_TABLE_FIRST_COLUMN,
    "table_header_row": META_TABLE_HEADER_ROW,
}


def both(data: bytes, **params: Any) -> tuple[str | None, str]:
    """(fast, reference) as the JSON the worker sends; fast is None when it stepped aside."""
    arg = {**PARAMS, **params}
    try:
        fast: str | None = json.dumps(_xlsx_fast.extract(data, arg))
    except _xlsx_fast.Unusual:
        fast = None
    return fast, json.dumps(_worker._reference(data, arg))


def same(data: bytes, **params: Any) -> bool:
    """Whether the fast reader read ``data`` itself (True) or stepped aside (False); fails when it
    read something other than openpyxl did."""
    fast, reference = both(data, **params)
    if fast is not None:
        assert fast == reference
    return fast is not None


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("path", INSTRUMENT_PATHS, ids=INSTRUMENT_IDS)
def test_templates_blank_and_filled_read_alike(path: Any, lang: str) -> None:
    f = load(path)
    template = build_template(f.instrument, f.content_hash, lang)
    typed, _ = varied_answers(f.instrument, lang)
    notes = {key: f"note  {n}\nline" for n, key in enumerate(f.instrument.items)}
    filled = fill(template, f.instrument, lang, typed, notes=notes)
    # the fast reader reads what the service writes and what openpyxl saves, without help
    assert same(template)
    assert same(filled)
    assert same(filled, all_sheets=True)


def test_every_file_of_the_hostile_corpus_gets_the_reference_answer() -> None:
    names = sorted(p.name for p in HOSTILE.glob("*.xlsx"))
    assert len(names) > 20
    read_fast = []
    for name in names:
        data = (HOSTILE / name).read_bytes()
        try:
            fast, reference = both(data)
        except Exception:  # openpyxl does not open it at all: the fast reader must not either
            with pytest.raises(Exception):  # noqa: B017 - any failure steps aside
                _xlsx_fast.extract(data, PARAMS)
            continue
        if fast is not None:
            read_fast.append(name)
            assert fast == reference, name
    # none of them is a template: the fast reader leaves every one to openpyxl
    assert read_fast == []


def _filled_mini(change: Any) -> bytes:
    f = load(MINI)
    template = build_template(f.instrument, f.content_hash, "en")
    filled = fill(template, f.instrument, "en", {})
    return edit(filled, change)


def _answer_cell(key_index: int = 0) -> tuple[str, str]:
    f = load(MINI)
    layout = workbook_layout(f.instrument, "en")
    sheet, row = list(layout.item_positions().values())[key_index]
    return sheet.name, sheet.ref(ItemColumn.answer, row.row)


def test_a_formula_is_left_to_openpyxl() -> None:
    sheet, ref = _answer_cell()

    def formula(wb: Any) -> None:
        wb[sheet][ref] = "=1+1"

    data = _filled_mini(formula)
    fast, reference = both(data)
    assert fast is None
    assert '"f"]' in reference


def test_a_date1904_workbook_is_left_to_openpyxl() -> None:
    def date1904(wb: Any) -> None:
        wb.epoch = datetime(1904, 1, 1)

    assert not same(_filled_mini(date1904))


def test_rows_beyond_the_bound_are_left_to_openpyxl() -> None:
    sheet, _ = _answer_cell()

    def far(wb: Any) -> None:
        wb[sheet].cell(row=LIMITS.max_rows + 1, column=1).value = "x"

    fast, reference = both(_filled_mini(far))
    assert fast is None
    assert "too_many_rows" in reference


_TEXT = st.text(
    st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from(" \n\t_x005F_x000D_"),
    max_size=40,
)
_VALUES = st.one_of(
    st.none(),
    _TEXT,
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.dates(min_value=date(1900, 3, 1), max_value=date(9999, 12, 31)),
    st.datetimes(min_value=datetime(1900, 3, 1), max_value=datetime(9999, 12, 31)),
    st.times(),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=9000)),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(1, 40), st.integers(1, 35), _VALUES), max_size=30))
@example(cells=[(1, 1, None), (1, 1, None), (1, 1, None), (1, 2, None)])  # B1: in a merged title
# a number past 9999-12-31 (serial 2958465) in a cell formatted as a date: the fast reader raised
# OverflowError; it steps aside now, and openpyxl reads the cell as an error (#VALUE!)
@example(cells=[(5, 1, date(2000, 1, 1)), (1, 1, None), (1, 1, None), (5, 1, 2958466.0)])
def test_any_cells_typed_anywhere_read_alike(cells: list[tuple[int, int, object]]) -> None:
    """Values of every kind openpyxl writes (numbers, text with spaces and escapes, dates,
    times, durations, booleans), in any cell of an item sheet, the cover and the metadata."""
    f = load(MINI)
    layout = workbook_layout(f.instrument, "en")
    sheets = [layout.cover_sheet, *(s.name for s in layout.sheets)]

    def put(wb: Any) -> None:
        for n, (row, column, value) in enumerate(cells):
            if isinstance(value, float) and not math.isfinite(value):
                continue
            cell = wb[sheets[n % len(sheets)]].cell(row=row, column=column)
            if isinstance(cell, MergedCell):  # a title's merged range: only its first cell holds
                continue
            cell.value = value
            if isinstance(value, time | timedelta):
                cell.number_format = "[h]:mm:ss" if isinstance(value, timedelta) else "h:mm"

    data = _filled_mini(put)
    same(data)
    same(data, all_sheets=True)
