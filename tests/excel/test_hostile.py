from __future__ import annotations

import importlib.util
import zipfile
from io import BytesIO
from pathlib import Path
from types import ModuleType

import pytest

from app.excel import Limits, ProblemCode, WorkbookRejected, annotate, check_upload
from tests.excel.helpers import HOSTILE, LIMITS, MINI, load, rejected, resolve_all


def _corpus() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_corpus", HOSTILE / "make_corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CORPUS = _corpus()
EXPECTED: dict[str, str] = CORPUS.EXPECTED
SAFETY_ONLY = {  # refused by the zip pre-check alone, before any parser runs
    name
    for name, code in EXPECTED.items()
    if code not in {"too_many_rows", "corrupt_workbook", "not_a_template", "empty_workbook"}
    and name != "billion_laughs_padded.xlsx"
}


@pytest.mark.parametrize("name", sorted(EXPECTED), ids=sorted(EXPECTED))
def test_hostile_file_is_refused_with_its_code(name: str) -> None:
    data = (HOSTILE / name).read_bytes()
    assert len(data) < 700 * 1024
    exc = rejected(data, resolve_all(), LIMITS)
    assert [p.code.value for p in exc.problems] == [EXPECTED[name]]
    assert all(p.en and p.es for p in exc.problems)


@pytest.mark.parametrize("name", sorted(SAFETY_ONLY), ids=sorted(SAFETY_ONLY))
def test_zip_precheck_alone_refuses(name: str) -> None:
    with pytest.raises(WorkbookRejected) as caught:
        check_upload((HOSTILE / name).read_bytes(), LIMITS)
    assert caught.value.codes == {ProblemCode(EXPECTED[name])}


@pytest.mark.parametrize("name", sorted(EXPECTED), ids=sorted(EXPECTED))
def test_hostile_file_is_refused_in_process_too(name: str) -> None:
    """Without the subprocess the bounds must hold as well (nothing hangs, same answer)."""
    limits = Limits(max_rows=500, isolate=False)
    exc = rejected((HOSTILE / name).read_bytes(), resolve_all(), limits)
    assert [p.code.value for p in exc.problems] == [EXPECTED[name]]


@pytest.mark.parametrize("name", sorted(SAFETY_ONLY), ids=sorted(SAFETY_ONLY))
def test_annotate_refuses_what_the_precheck_refuses(name: str) -> None:
    with pytest.raises(WorkbookRejected):
        annotate((HOSTILE / name).read_bytes(), [], LIMITS)


def test_oversized_upload() -> None:
    from app.excel import build_template

    f = load(MINI)
    data = build_template(f.instrument, f.content_hash)
    exc = rejected(data, resolve_all(), Limits(max_bytes=len(data) - 1))
    assert exc.codes == {ProblemCode.too_big}


def test_committed_corpus_is_what_the_script_makes(tmp_path: Path) -> None:
    CORPUS.build(tmp_path)
    committed = sorted(p.name for p in HOSTILE.glob("*.xlsx"))
    assert committed == sorted(EXPECTED) == sorted(p.name for p in tmp_path.glob("*.xlsx"))
    for name in committed:
        made, kept = (tmp_path / name).read_bytes(), (HOSTILE / name).read_bytes()
        if not zipfile.is_zipfile(BytesIO(kept)) or name == "truncated.xlsx":
            assert made == kept, name
            continue
        # compare content, not deflate output, which may differ between zlib builds
        with zipfile.ZipFile(BytesIO(made)) as a, zipfile.ZipFile(BytesIO(kept)) as b:
            assert [(i.filename, i.file_size, i.CRC, i.flag_bits) for i in a.infolist()] == [
                (i.filename, i.file_size, i.CRC, i.flag_bits) for i in b.infolist()
            ], name
