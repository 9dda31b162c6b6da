"""The whole journey of issue 10, in a real browser and in both languages: a consultant who has
never seen a terminal signs in, uploads a baseline, uploads an endline with a mistake and sees the
cell named, fixes it, imports it; a program officer opens the organization, its comparison report
and the report's PDF. Every page on the way passes axe-core."""

from __future__ import annotations

import io
import re
import subprocess
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from playwright.sync_api import Page

from app.catalog import load_catalog
from app.excel import Prefill, build_template
from tests.browser.conftest import Team, assert_accessible, sign_in
from tests.conftest import INSTRUMENTS

WORDS = {
    "es": {"report": "Informe comparativo", "page": "Página"},
    "en": {"report": "Comparison report", "page": "Page"},
}


def _workbook(org: str, round_: str, day: date, value: int, lang: str) -> bytes:
    f = load_catalog(INSTRUMENTS).latest("oca")
    assert f is not None
    answers = {key: (value + i) % 4 + 1 for i, key in enumerate(f.instrument.item_keys)}
    pre = Prefill(org, None, round_, day, "Consultora", answers, {})
    return build_template(f.instrument, f.content_hash, lang, pre)


def _typo(data: bytes) -> tuple[bytes, str, str]:
    """The first answer of the first dimension sheet typed as 7 on a 1–4 scale."""
    wb = openpyxl.load_workbook(io.BytesIO(data))
    ws = wb.worksheets[2]
    head = [c.value for c in ws[1]]
    column = next(i for i, h in enumerate(head, start=1) if h in ("Answer", "Respuesta"))
    cell = ws.cell(row=2, column=column)
    cell.value = 7
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue(), ws.title, cell.coordinate


def _upload(page: Page, path: Path) -> None:
    page.goto("/uploads")
    assert_accessible(page)
    page.locator("#files").set_input_files(str(path))
    page.locator("#create_organizations").check()
    page.locator("form.upload-form button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/uploads/[A-Za-z0-9_-]{22}$"))


def _confirm(page: Page) -> None:
    page.locator("form.confirm-form button[type=submit]").click()
    page.wait_for_load_state()
    page.wait_for_url(re.compile(r".*/uploads/[A-Za-z0-9_-]{22}/?.*"))
    page.wait_for_function("() => !document.querySelector('form.confirm-form[aria-busy=true]')")


@pytest.mark.parametrize("lang", ["es", "en"])
def test_upload_fix_import_and_read_the_report(
    page: Page, team: Team, lang: str, tmp_path: Path
) -> None:
    org = f"Colectivo Raíz {lang.upper()}"
    sign_in(page, team.emails["editor"], lang=lang)

    baseline = tmp_path / "baseline.xlsx"
    baseline.write_bytes(_workbook(org, "baseline", date(2024, 3, 1), 0, lang))
    _upload(page, baseline)
    _confirm(page)

    # the endline with a typo: the preview names the sheet and the cell, and nothing is imported
    good = _workbook(org, "endline", date(2025, 3, 1), 2, lang)
    bad, sheet, cell = _typo(good)
    endline = tmp_path / "endline.xlsx"
    endline.write_bytes(bad)
    _upload(page, endline)
    text = page.locator("main").inner_text()
    assert sheet in text and cell in text, text[:1500]
    assert_accessible(page)
    # nothing to import: no workbook to tick, no button to press
    assert page.locator("form.confirm-form input[name=pick]").count() == 0
    assert page.locator("form.confirm-form button[type=submit]").count() == 0

    endline.write_bytes(good)  # fixed
    _upload(page, endline)
    _confirm(page)

    # the program officer's view: the organization, its report, the PDF
    page.goto("/organizations")
    page.get_by_role("link", name=org).first.click()
    page.wait_for_url(re.compile(r".*/organizations/[0-9a-f-]{36}$"))
    assert_accessible(page)
    body = page.locator("main").inner_text()
    assert "baseline" in body and "endline" in body
    page.get_by_role("link", name=re.compile(WORDS[lang]["report"])).first.click()
    page.wait_for_url(re.compile(r".*/report\?.*"))
    assert_accessible(page)
    report = page.locator("main").inner_text()
    assert org in report and "baseline" in report and "endline" in report

    with page.expect_download() as caught:
        page.locator(f"a[href*='report.pdf'][hreflang={lang}]").click()
    pdf = tmp_path / "report.pdf"
    caught.value.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF-")
    words = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert org in words and "baseline" in words and "endline" in words
    assert WORDS[lang]["page"] in words  # page numbers in the report's language
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    pages = int(re.search(r"Pages:\s+(\d+)", info.stdout).group(1))  # type: ignore[union-attr]
    assert pages >= 2
    assert page.locator("html").get_attribute("lang") == lang  # the pages kept their language

    # the endline's explained score, and a new draft entered in the browser
    page.goto("/organizations")
    page.get_by_role("link", name=org).first.click()
    page.wait_for_url(re.compile(r".*/organizations/[0-9a-f-]{36}$"))
    page.locator("main a[href^='/assessments/']", has_text="endline").first.click()
    page.wait_for_url(re.compile(r".*/assessments/[0-9a-f-]{36}$"))
    assert_accessible(page)
    page.go_back()
    page.locator("a[href$='/assessments/new']").click()
    page.wait_for_url(re.compile(r".*/assessments/new$"))
    assert_accessible(page)
