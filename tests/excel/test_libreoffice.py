"""Templates must work in LibreOffice: they convert to PDF, and a filled workbook that LibreOffice
saved again (shared strings, its own styles, 'hidden' instead of 'veryHidden') still imports.

CI installs it with ``apt-get install -y --no-install-recommends libreoffice-calc-nogui``; these
tests fail, never skip, when it is missing.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from app.excel import build_template
from tests.excel.helpers import (
    INSTRUMENT_IDS,
    INSTRUMENT_PATHS,
    checks_agree,
    fill,
    load,
    resolve_all,
    varied_answers,
)


def _convert(source: Path, target_format: str, outdir: Path, profile: Path) -> Path:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    assert soffice, "LibreOffice is not installed: apt-get install libreoffice-calc-nogui"
    done = subprocess.run(
        [
            soffice,
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--convert-to",
            target_format,
            "--outdir",
            str(outdir),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Error" not in done.stdout + done.stderr, done.stdout + done.stderr
    return outdir / f"{source.stem}.{target_format.split(':')[0]}"


@pytest.mark.slow
@pytest.mark.parametrize("path", INSTRUMENT_PATHS, ids=INSTRUMENT_IDS)
def test_template_converts_to_pdf(path: Path, tmp_path: Path) -> None:
    f = load(path)
    source = tmp_path / f"{f.instrument.id}.xlsx"
    source.write_bytes(build_template(f.instrument, f.content_hash, "es"))
    pdf = _convert(source, "pdf", tmp_path / "out", tmp_path / "profile")
    assert pdf.exists()
    assert pdf.stat().st_size > 1000
    assert pdf.read_bytes().startswith(b"%PDF")


@pytest.mark.slow
@pytest.mark.parametrize("path", INSTRUMENT_PATHS, ids=INSTRUMENT_IDS)
def test_workbook_saved_again_by_libreoffice_imports(path: Path, tmp_path: Path) -> None:
    f = load(path)
    typed, expected = varied_answers(f.instrument, "es")
    notes = {key: f"nota {key}" for key in list(f.instrument.items)[:3]}
    source = tmp_path / "filled.xlsx"
    source.write_bytes(
        fill(
            build_template(f.instrument, f.content_hash, "es"),
            f.instrument,
            "es",
            typed,
            notes=notes,
        )
    )
    resaved = _convert(
        source, "xlsx:Calc MS Excel 2007 XML", tmp_path / "out", tmp_path / "profile"
    )
    assert resaved.read_bytes() != source.read_bytes()

    result = checks_agree(resaved.read_bytes(), resolve_all())

    assert result.answers.values == expected
    assert result.answers.notes == notes
