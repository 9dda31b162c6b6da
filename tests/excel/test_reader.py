from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from datetime import date
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest

from app.excel import (
    CoverField,
    Limits,
    Prefill,
    ProblemCode,
    build_template,
    read_filled_workbook,
    sandbox,
    workbook_layout,
)
from app.excel.layout import META_ROWS, META_SHEET, ItemColumn, MetaKey, cover_cell
from app.excel.problems import WorkbookRejected
from app.excel.reader import Expected
from tests.excel.helpers import (
    COVER,
    INSTRUMENT_IDS,
    INSTRUMENT_PATHS,
    LANGS,
    LIMITS,
    MINI,
    RICH,
    checks_agree,
    edit,
    fill,
    load,
    open_workbook,
    outcome,
    rejected,
    resolve_all,
    resolver,
    save,
    varied_answers,
)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("path", INSTRUMENT_PATHS, ids=INSTRUMENT_IDS)
def test_fill_then_read_round_trip(path: Path, lang: str) -> None:
    f = load(path)
    instrument = f.instrument
    typed, expected = varied_answers(instrument, lang)
    notes = {key: f"evidence for {key}" for key in list(instrument.items)[::2]}
    data = fill(
        build_template(instrument, f.content_hash, lang), instrument, lang, typed, notes=notes
    )

    result = checks_agree(data, resolve_all())

    assert result.answers.values == expected
    assert result.answers.notes == notes
    assert result.meta.instrument_id == instrument.id
    assert result.meta.instrument_version == instrument.version
    assert result.meta.content_hash == f.content_hash
    assert result.meta.language == lang
    assert result.instrument is instrument
    assert result.cover.organization_name == COVER[CoverField.organization_name]
    assert result.cover.organization_external_id == "ORG-001"
    assert result.cover.round == "baseline"
    assert result.cover.assessed_on == date(2025, 3, 31)
    assert result.cover.assessor == "A. Consultant"
    layout = workbook_layout(instrument, lang)
    positions = layout.item_positions()
    assert [i.item for i in result.items] == list(instrument.items)
    for item in result.items:
        sheet, row = positions[item.item]
        assert item.sheet == sheet.name
        assert item.answer_cell == sheet.ref(ItemColumn.answer, row.row)
        assert item.note_cell == sheet.ref(ItemColumn.notes, row.row)
        assert item.value == expected.get(item.item)
        assert item.note == notes.get(item.item)
        if item.item in typed:
            assert item.raw == typed[item.item]
        else:
            assert item.raw is None
    assert len(result.sha256) == 64


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("path", INSTRUMENT_PATHS, ids=INSTRUMENT_IDS)
def test_exported_assessment_reimports_unchanged(path: Path, lang: str) -> None:
    f = load(path)
    instrument = f.instrument
    _, answers = varied_answers(instrument, lang)
    prefill = Prefill(
        organization_name="=Org +1",
        organization_external_id="00123",
        round="midline",
        assessed_on=date(2025, 6, 30),
        assessor="-A. Person",
        answers=answers,
        notes={key: f"=note {key}" for key in answers},
    )
    data = build_template(instrument, f.content_hash, lang, prefill)

    result = checks_agree(data, resolve_all())

    assert result.answers.values == dict(prefill.answers)
    assert result.answers.notes == dict(prefill.notes)
    assert (result.cover.organization_name, result.cover.organization_external_id) == (
        "=Org +1",
        "00123",
    )
    assert (result.cover.round, result.cover.assessed_on, result.cover.assessor) == (
        "midline",
        date(2025, 6, 30),
        "-A. Person",
    )


def test_isolated_and_in_process_reading_agree() -> None:
    f = load(RICH)
    typed, _ = varied_answers(f.instrument, "es")
    data = fill(build_template(f.instrument, f.content_hash, "es"), f.instrument, "es", typed)
    isolated = read_filled_workbook(data, resolve_all(), LIMITS)
    in_process = read_filled_workbook(data, resolve_all(), Limits(isolate=False))
    assert isolated == in_process


def test_the_worker_checks_a_workbook_only_against_the_version_it_was_told() -> None:
    """Told which version to expect, the parser worker checks the workbook itself (asking once
    for a definition it was not sent); told another version, or one the resolver no longer
    answers with that hash, the result is still the one checked here."""
    rich, mini = load(RICH), load(MINI)
    typed, _ = varied_answers(rich.instrument, "es")
    data = fill(
        build_template(rich.instrument, rich.content_hash, "es"), rich.instrument, "es", typed
    )
    bad = _rich({next(iter(rich.instrument.items)): "=1+1"})
    here = read_filled_workbook(data, resolve_all(), LIMITS)
    refused = rejected(bad, resolve_all())
    previous = sandbox.default_pool().settings
    pool = sandbox.open_default_pool(sandbox.PoolSettings(size=1))
    try:
        pool.close()  # a fresh worker, which knows no instrument yet
        pool = sandbox.default_pool()

        def requests() -> int:
            return sum(w.requests for w in pool.workers())

        expect = Expected(rich.instrument, rich.content_hash)
        for times, want in ((2, "need, then checked"), (1, "checked"), (1, "rejected")):
            before = requests()
            source = bad if want == "rejected" else data
            try:
                read: object = outcome(read_filled_workbook(source, resolve_all(), LIMITS, expect))
            except WorkbookRejected as exc:
                read = outcome(exc)
            assert read == outcome(refused if want == "rejected" else here), want
            assert requests() - before == times, want
        # another version: the cells come back at once; a hash the resolver does not answer
        # (a definition changed since): asked for, checked against, refused, read again
        for other, times in (
            (Expected(mini.instrument, mini.content_hash), 1),
            (Expected(rich.instrument, "0" * 64), 3),
        ):
            before = requests()
            read = outcome(read_filled_workbook(data, resolve_all(), LIMITS, other))
            assert read == outcome(here)
            assert requests() - before == times
    finally:
        sandbox.open_default_pool(previous)


def test_cover_accepts_text_dates_and_numeric_ids() -> None:
    f = load(MINI)
    cover = {
        CoverField.organization_external_id: 4521,
        CoverField.round: "endline",
        CoverField.assessed_on: "2025-01-15",
    }
    data = fill(
        build_template(f.instrument, f.content_hash),
        f.instrument,
        "en",
        {"gov.vision.1": "Mature"},
        cover=cover,
    )
    result = checks_agree(data, resolve_all())
    assert result.cover.organization_external_id == "4521"
    assert result.cover.organization_name is None
    assert result.cover.assessed_on == date(2025, 1, 15)


# --- rejections built from real templates ------------------------------------------------------


def _mini(answers: dict[str, object] | None = None, lang: str = "en", **kwargs: Any) -> bytes:
    f = load(MINI)
    return fill(
        build_template(f.instrument, f.content_hash, lang),
        f.instrument,
        lang,
        answers if answers is not None else {"gov.vision.1": "Emerging"},
        **kwargs,
    )


def _rich(answers: dict[str, object], lang: str = "en", **kwargs: Any) -> bytes:
    f = load(RICH)
    return fill(
        build_template(f.instrument, f.content_hash, lang), f.instrument, lang, answers, **kwargs
    )


def _set_meta(key: MetaKey, value: object) -> Callable[[Any], None]:
    def change(wb: Any) -> None:
        wb[META_SHEET].cell(row=META_ROWS[key], column=2).value = value

    return change


def _problems(data: bytes, resolve: Any = None, limits: Limits = LIMITS) -> list[tuple[Any, ...]]:
    exc = rejected(data, resolve or resolve_all(), limits)
    return [(p.code, p.sheet, p.cell, p.item) for p in exc.problems]


GOV = "Governance"
FIN = "Finance"


def test_formula_in_answer_note_and_cover_cells() -> None:
    data = _mini(
        {"gov.vision.1": "=1+1", "gov.vision.2": "Mature", "fin.budget.1": "=SUM(A1:A3)"},
        notes={"gov.board.1": '=HYPERLINK("x")'},
        cover={**COVER, CoverField.assessor: "=A1"},
    )
    assert _problems(data) == [
        (ProblemCode.formula, "Cover", "B8", None),
        (ProblemCode.formula, GOV, "C2", "gov.vision.1"),
        (ProblemCode.formula, GOV, "D4", "gov.board.1"),
        (ProblemCode.formula, FIN, "C2", "fin.budget.1"),
    ]


def test_values_off_the_scale_are_all_reported_with_their_cells() -> None:
    data = _mini(
        {
            "gov.vision.1": "Excellent",
            "gov.vision.2": 7,
            "gov.board.1": True,
            "fin.budget.1": "#N/A",
        }
    )
    exc = rejected(data, resolve_all())
    assert [(p.code, p.sheet, p.cell, p.item) for p in exc.problems] == [
        (ProblemCode.not_on_scale, GOV, "C2", "gov.vision.1"),
        (ProblemCode.not_on_scale, GOV, "C3", "gov.vision.2"),
        (ProblemCode.not_on_scale, GOV, "C4", "gov.board.1"),
        (ProblemCode.not_on_scale, FIN, "C2", "fin.budget.1"),
    ]
    first = exc.problems[0]
    assert "'Excellent'" in first.en and "Nascent" in first.en
    assert "'Excellent'" in first.es and "Incipiente" in first.es
    assert exc.language == "en"


def test_na_where_the_scale_does_not_allow_it() -> None:
    data = _rich({"gov.board.1": "Solid", "gov.board.2": "N/A", "cover.audit.1": "no aplica"})
    codes = _problems(data)
    assert [c[0] for c in codes] == [ProblemCode.na_not_allowed] * 2
    assert [c[3] for c in codes] == ["gov.board.2", "cover.audit.1"]


def test_unfilled_template_is_an_empty_workbook() -> None:
    f = load(MINI)
    data = build_template(f.instrument, f.content_hash)
    codes = {c[0] for c in _problems(data)}
    assert ProblemCode.empty_workbook in codes
    assert ProblemCode.missing_cover_value in codes


def test_only_notes_is_still_empty() -> None:
    data = _mini({}, notes={"gov.vision.1": "we talked"})
    assert _problems(data) == [(ProblemCode.empty_workbook, None, None, None)]


def test_missing_and_invalid_cover_values() -> None:
    data = _mini(cover={CoverField.assessed_on: "31/02/2025", CoverField.assessor: "x" * 201})
    assert _problems(data) == [
        (ProblemCode.missing_cover_value, "Cover", "B4", None),
        (ProblemCode.missing_cover_value, "Cover", "B6", None),
        (ProblemCode.invalid_date, "Cover", "B7", None),
        (ProblemCode.text_too_long, "Cover", "B8", None),
    ]


def test_template_of_an_unknown_instrument_or_version() -> None:
    data = _rich({"gov.board.1": "Solid"})
    assert _problems(data, resolver(MINI)) == [
        (ProblemCode.unknown_instrument, META_SHEET, None, None)
    ]
    other_version = edit(_mini(), _set_meta(MetaKey.instrument_version, "0.9"))
    exc = rejected(other_version, resolve_all())
    assert exc.codes == {ProblemCode.unknown_instrument}
    assert "0.9" in exc.problems[0].en


def test_content_hash_differs_from_the_published_definition() -> None:
    tampered = edit(_mini(), _set_meta(MetaKey.content_hash, "0" * 64))
    assert rejected(tampered, resolve_all()).codes == {ProblemCode.metadata_tampered}

    f = load(MINI)

    def changed_file(instrument_id: str, version: str) -> Any:
        return (f.instrument, "f" * 64)  # the file changed under the same version

    assert rejected(_mini(), changed_file).codes == {ProblemCode.metadata_tampered}


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (_set_meta(MetaKey.language, "fr"), ProblemCode.metadata_tampered),
        (_set_meta(MetaKey.instrument_id, None), ProblemCode.metadata_tampered),
        (_set_meta(MetaKey.cover_sheet, "Front"), ProblemCode.metadata_tampered),
        (_set_meta(MetaKey.format_version, 2), ProblemCode.unsupported_format),
        (
            lambda wb: wb[META_SHEET].cell(row=3, column=6, value="gov.board.1"),
            ProblemCode.metadata_tampered,
        ),
        (lambda wb: wb[META_SHEET].delete_rows(4), ProblemCode.metadata_tampered),
        (lambda wb: wb.remove(wb[META_SHEET]), ProblemCode.not_a_template),
    ],
    ids=[
        "language",
        "instrument-id",
        "cover-sheet",
        "format-version",
        "item-table-edited",
        "item-table-row-deleted",
        "meta-sheet-deleted",
    ],
)
def test_edited_metadata(change: Callable[[Any], None], code: ProblemCode) -> None:
    assert rejected(edit(_mini(), change), resolve_all()).codes == {code}


def test_deleted_item_row() -> None:
    data = edit(_mini(), lambda wb: wb[GOV].delete_rows(3))  # gov.vision.2
    assert _problems(data) == [
        (ProblemCode.item_missing, GOV, "A3", "gov.vision.2"),
        (ProblemCode.item_moved, GOV, "A3", "gov.board.1"),
    ]


def test_moved_item_rows() -> None:
    def swap(wb: Any) -> None:
        ws = wb[GOV]
        for column in "ABCDE":
            ws[f"{column}2"].value, ws[f"{column}4"].value = (
                ws[f"{column}4"].value,
                ws[f"{column}2"].value,
            )

    assert _problems(edit(_mini(), swap)) == [
        (ProblemCode.item_moved, GOV, "A2", "gov.board.1"),
        (ProblemCode.item_moved, GOV, "A4", "gov.vision.1"),
    ]


def test_item_moved_to_another_sheet_is_read_from_there() -> None:
    def move(wb: Any) -> None:
        wb[FIN]["A5"] = "gov.board.1"
        wb[FIN]["C5"] = "Nonsense"
        wb[GOV]["A4"] = None

    assert _problems(edit(_mini(), move)) == [
        (ProblemCode.item_moved, FIN, "A5", "gov.board.1"),
        (ProblemCode.not_on_scale, FIN, "C5", "gov.board.1"),
    ]


def test_duplicated_and_unknown_item_rows() -> None:
    def change(wb: Any) -> None:
        ws = wb[GOV]
        ws["A6"], ws["C6"] = "gov.vision.1", "Mature"
        ws["A7"] = "gov.vision.99"
        ws["A8"] = 12

    assert _problems(edit(_mini(), change)) == [
        (ProblemCode.item_duplicated, GOV, "A6", "gov.vision.1"),
        (ProblemCode.unknown_item, GOV, "A7", None),
        (ProblemCode.unknown_item, GOV, "A8", None),
    ]


def test_deleted_sheet_and_inserted_column() -> None:
    def change(wb: Any) -> None:
        wb.remove(wb[FIN])
        wb[GOV].insert_cols(3)

    # the shifted sheet's cells are not read as answers: no flood of off-scale values
    assert _problems(edit(_mini(), change)) == [
        (ProblemCode.header_changed, GOV, "C1", None),
        (ProblemCode.header_changed, GOV, "D1", None),
        (ProblemCode.sheet_missing, FIN, None, None),
    ]


def test_every_problem_of_a_workbook_is_reported_in_sheet_order() -> None:
    data = _rich(
        {"gov.board.1": "Perfect", "gov.board.2": "N/A", "gov2.ethics.1": "=2", "cover.audit.2": 9},
        cover={CoverField.round: "baseline"},
    )
    f = load(RICH)
    layout = workbook_layout(f.instrument, "en")
    exc = rejected(data, resolve_all())
    codes = [(p.code, p.sheet) for p in exc.problems]
    assert codes == [
        (ProblemCode.missing_cover_value, "Cover"),
        (ProblemCode.missing_cover_value, "Cover"),
        (ProblemCode.not_on_scale, layout.sheets[0].name),
        (ProblemCode.na_not_allowed, layout.sheets[0].name),
        (ProblemCode.formula, layout.sheets[1].name),
        (ProblemCode.not_on_scale, layout.sheets[2].name),
    ]
    for p in exc.problems:
        assert p.en and p.es and p.en != p.es


def test_stray_rows_beyond_the_cap_are_refused_quickly() -> None:
    def stray(wb: Any) -> None:
        ws = wb[GOV]
        for row in range(10, 30_010):
            ws.cell(row=row, column=2, value="x")

    data = edit(_mini(), stray)
    assert _problems(data, limits=Limits()) == [(ProblemCode.too_many_rows, GOV, "A2001", None)]


def _rewrite_member(data: bytes, name: str, change: Callable[[str], str]) -> bytes:
    out = BytesIO()
    with zipfile.ZipFile(BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            content = src.read(info)
            if info.filename == name:
                content = change(content.decode("utf-8")).encode("utf-8")
            dst.writestr(info, content, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def _sheet_part(data: bytes, title: str) -> str:
    wb = open_workbook(data)
    return f"xl/worksheets/sheet{wb.sheetnames.index(title) + 1}.xml"


def test_coordinate_bomb_inside_a_template_without_dimension() -> None:
    data = _mini()

    def bomb(xml: str) -> str:
        xml = re.sub(r"<dimension [^>]*/>", "", xml)
        return xml.replace(
            "</sheetData>",
            '<row r="1048576"><c r="XFD1048576" t="n"><v>1</v></c></row></sheetData>',
        )

    hostile = _rewrite_member(data, _sheet_part(data, GOV), bomb)
    assert _problems(hostile) == [(ProblemCode.too_many_rows, GOV, "A501", None)]


def test_columns_beyond_the_cap_are_refused() -> None:
    data = edit(_mini(), lambda wb: wb[GOV].cell(row=2, column=40, value="far away"))
    assert _problems(data) == [(ProblemCode.too_many_columns, GOV, "AE1", None)]


def test_too_many_sheets() -> None:
    data = _mini()
    exc = rejected(data, resolve_all(), Limits(max_sheets=3))
    assert exc.codes == {ProblemCode.too_many_sheets}


def test_workbook_without_metadata() -> None:
    from openpyxl import Workbook

    foreign = Workbook()
    foreign.active["C3"] = "some report"
    assert _problems(save(foreign)) == [(ProblemCode.not_a_template, None, None, None)]
    assert _problems(save(Workbook())) == [(ProblemCode.empty_workbook, None, None, None)]


def test_time_limit() -> None:
    exc = rejected(_mini(), resolve_all(), Limits(timeout_seconds=0.001))
    assert exc.codes == {ProblemCode.too_complex}
    assert "time" in exc.problems[0].en


def test_memory_limit() -> None:
    """A workbook within every cap but too big to read in the memory given. (It was the bare
    template until the worker loaded the fast reader at start: compiling it leaves a little free
    heap under the cap, enough to read a small file; this one needs megabytes, on both readers.)"""
    data = _mini()
    text = "x" * 400
    rows = "".join(
        f'<row r="{r}">'
        + "".join(f'<c r="{c}{r}" t="inlineStr"><is><t>{text}</t></is></c>' for c in "FGHIJ")
        + "</row>"
        for r in range(10, 1_500)
    )
    big = _rewrite_member(
        data,
        _sheet_part(data, GOV),
        lambda xml: re.sub(r"<dimension [^>]*/>", "", xml).replace(
            "</sheetData>", rows + "</sheetData>"
        ),
    )
    limits = Limits(max_rows=2_000)
    assert read_filled_workbook(big, resolve_all(), limits)  # it reads without the memory cap
    exc = rejected(big, resolve_all(), Limits(max_rows=2_000, memory_bytes=20 * 1024 * 1024))
    assert exc.codes == {ProblemCode.too_complex}
    assert "memory" in exc.problems[0].en


def test_processor_time_limit() -> None:
    """A sheet of many small rows, allowed by the caps, is stopped by RLIMIT_CPU."""
    data = _mini()
    rows = "".join(f'<row r="{r}"><c r="B{r}"><v>{r}</v></c></row>' for r in range(10, 400_010))
    hostile = _rewrite_member(
        data,
        _sheet_part(data, GOV),
        lambda xml: re.sub(r"<dimension [^>]*/>", "", xml).replace(
            "</sheetData>", rows + "</sheetData>"
        ),
    )
    limits = Limits(max_rows=1_000_000, max_inflated_bytes=200 * 1024 * 1024, cpu_seconds=1)
    exc = rejected(hostile, resolve_all(), limits)
    assert exc.codes == {ProblemCode.too_complex}
    assert "processor" in exc.problems[0].en


def test_cover_cell_refs_are_where_the_template_puts_them() -> None:
    assert cover_cell(CoverField.organization_name) == "B4"
    assert cover_cell(CoverField.assessed_on) == "B7"


def test_long_and_date_values_are_shown_short_in_messages() -> None:
    data = _mini({"gov.vision.1": "x" * 5000, "gov.vision.2": date(2025, 1, 2)})
    exc = rejected(data, resolve_all())
    assert [p.code for p in exc.problems] == [ProblemCode.not_on_scale] * 2
    assert len(exc.problems[0].en) < 300 and "xxx..." in exc.problems[0].en
    assert "2025-01-02" in exc.problems[1].en
