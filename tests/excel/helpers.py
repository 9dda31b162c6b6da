"""Helpers for the Excel tests: instruments, resolvers, workbooks filled as a person would."""

from __future__ import annotations

import warnings
import zipfile
from collections.abc import Callable, Mapping
from datetime import date
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from app.catalog import InstrumentFile, load_file
from app.domain.instrument import Instrument
from app.domain.scoring import NA, AnswerValue
from app.excel import (
    CoverField,
    FilledWorkbook,
    Limits,
    Resolver,
    WorkbookRejected,
    read_filled_workbook,
)
from app.excel.layout import NA_LABEL, ItemColumn, cover_cell, workbook_layout
from app.excel.reader import Expected

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
HOSTILE = ROOT / "tests" / "data" / "hostile"
MINI = ROOT / "tests" / "data" / "instruments" / "mini" / "1.0.yaml"
RICH = HERE / "instruments" / "rich" / "1.0.yaml"
INSTRUMENT_PATHS = [*sorted((ROOT / "instruments").glob("*/*.yaml")), MINI, RICH]
INSTRUMENT_IDS = [f"{p.parent.name}-{p.stem}" for p in INSTRUMENT_PATHS]
LANGS = ["en", "es"]

# small caps keep every hostile case quick; isolation stays on, as in production
LIMITS = Limits(max_rows=500, timeout_seconds=30)
COVER: dict[CoverField, object] = {
    CoverField.organization_name: "Fundación Ejemplo",
    CoverField.organization_external_id: "ORG-001",
    CoverField.round: "baseline",
    CoverField.assessed_on: date(2025, 3, 31),
    CoverField.assessor: "A. Consultant",
}


@cache
def load(path: Path) -> InstrumentFile:
    return load_file(path)


def resolver(*paths: Path) -> Resolver:
    files = {(f.instrument.id, f.instrument.version): f for f in map(load, paths)}

    def resolve(instrument_id: str, version: str) -> tuple[Instrument, str] | None:
        found = files.get((instrument_id, version))
        return None if found is None else (found.instrument, found.content_hash)

    return resolve


def resolve_all() -> Resolver:
    return resolver(*INSTRUMENT_PATHS)


def open_workbook(data: bytes) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_workbook(BytesIO(data))


def save(wb: Any) -> bytes:
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


def edit(data: bytes, change: Callable[[Any], None]) -> bytes:
    wb = open_workbook(data)
    change(wb)
    return save(wb)


def fill(
    template: bytes,
    instrument: Instrument,
    lang: str,
    answers: Mapping[str, object],
    *,
    notes: Mapping[str, object] | None = None,
    cover: Mapping[CoverField, object] | None = None,
) -> bytes:
    """Type values into the template as a person would (plain assignment: '=...' is a formula)."""
    layout = workbook_layout(instrument, lang)
    positions = layout.item_positions()
    wb = open_workbook(template)
    for key, value in answers.items():
        sheet, row = positions[key]
        wb[sheet.name][sheet.ref(ItemColumn.answer, row.row)] = value
    for key, value in (notes or {}).items():
        sheet, row = positions[key]
        wb[sheet.name][sheet.ref(ItemColumn.notes, row.row)] = value
    for field, value in (COVER if cover is None else cover).items():
        wb[layout.cover_sheet][cover_cell(field)] = value
    return save(wb)


def label(instrument: Instrument, key: str, value: AnswerValue, lang: str) -> str:
    item = instrument.items[key]
    if value is NA:
        return NA_LABEL[lang]
    found = instrument.scales[item.scale].by_value(float(value))  # type: ignore[arg-type]
    assert found is not None
    return found.label.get(lang)


def varied_answers(instrument: Instrument, lang: str) -> tuple[dict[str, object], dict[str, Any]]:
    """What to type per item (labels, numbers, codes, other-language labels, N/A, blanks) and
    the answer each must become (NA, a float, or absent)."""
    typed: dict[str, object] = {}
    expected: dict[str, Any] = {}
    other = "es" if lang == "en" else "en"
    for n, (key, item) in enumerate(instrument.items.items()):
        scale = instrument.scales[item.scale]
        value = scale.values[n % len(scale.values)]
        match n % 5:
            case 0:
                typed[key] = value.label.get(lang)
            case 1:
                typed[key] = int(value.value) if value.value.is_integer() else value.value
            case 2:
                typed[key] = value.code or value.label.get(other)
            case 3 if instrument.allows_na(item):
                typed[key] = NA_LABEL[lang]
                expected[key] = NA
                continue
            case 3:
                typed[key] = f"  {value.label.get(lang).upper()} "
            case _:
                continue  # left blank: a missing answer
        expected[key] = value.value
    return typed, expected


def rejected(data: bytes, resolve: Resolver, limits: Limits = LIMITS) -> WorkbookRejected:
    """The rejection of ``data``; the parser worker, told which version to expect, finds the same
    (checks_agree)."""
    with pytest.raises(WorkbookRejected) as caught:
        checks_agree(data, resolve, limits)
    return caught.value


def checks_agree(data: bytes, resolve: Resolver, limits: Limits = LIMITS) -> FilledWorkbook:
    """``read_filled_workbook`` of ``data``, checked here (nothing expected) and then checked in
    the parser worker (expecting the version the first read resolved, or MINI's when it resolved
    none): the same workbook, or the same rejection, both ways."""
    seen: list[tuple[Instrument, str]] = []

    def recording(instrument_id: str, version: str) -> tuple[Instrument, str] | None:
        found = resolve(instrument_id, version)
        if found is not None:
            seen.append(found)
        return found

    here: FilledWorkbook | WorkbookRejected
    try:
        here = read_filled_workbook(data, recording, limits)
    except WorkbookRejected as exc:
        here = exc
    mini = load(MINI)
    instrument, content_hash = seen[0] if seen else (mini.instrument, mini.content_hash)
    try:
        there = read_filled_workbook(data, resolve, limits, Expected(instrument, content_hash))
    except WorkbookRejected as exc:
        there = exc
    assert outcome(there) == outcome(here), disagreement(here, there)
    if isinstance(here, WorkbookRejected):
        raise here
    return here


def disagreement(
    here: FilledWorkbook | WorkbookRejected, there: FilledWorkbook | WorkbookRejected
) -> str:
    """What differs between the two reads, said shortly (a rejection's problems, or the answers
    that differ), for a failure that happens only now and then (seen once in a full run on
    PostgreSQL, never alone)."""

    def said(read: FilledWorkbook | WorkbookRejected) -> str:
        if isinstance(read, WorkbookRejected):
            return f"rejected: {[(p.code.value, p.sheet, p.cell, p.en) for p in read.problems]}"
        return f"read: {len(read.items)} items, {len(read.answers.values)} answers"

    out = f"in process {said(here)}; in the parser worker {said(there)}"
    if isinstance(here, FilledWorkbook) and isinstance(there, FilledWorkbook):
        differ = [
            (k, v, there.answers.values.get(k))
            for k, v in here.answers.values.items()
            if (v, type(v)) != (there.answers.values.get(k), type(there.answers.values.get(k)))
        ]
        out += f"; answers that differ (here, there): {differ[:5]}"
        if here.cover != there.cover:
            out += f"; covers: {here.cover} / {there.cover}"
    return out


def outcome(read: FilledWorkbook | WorkbookRejected) -> object:
    """Everything a read gave, cell values with their types (1 == 1.0 == True in Python)."""
    if isinstance(read, WorkbookRejected):
        return ("rejected", read.problems, read.language, read.cover)
    items = [(i, type(i.raw), type(i.value)) for i in read.items]
    return (read, items, [(k, type(v)) for k, v in read.answers.values.items()])


def sheet_xml(data: bytes) -> dict[str, str]:
    with zipfile.ZipFile(BytesIO(data)) as archive:
        return {
            name: archive.read(name).decode("utf-8")
            for name in archive.namelist()
            if name.startswith("xl/worksheets/") and name.endswith(".xml")
        }
