"""A workspace's own versions in real Chromium: adapt the OCA, look at the draft, upload a bad
workbook, try the scoring and publish; every page passes axe-core in Spanish and English."""

from __future__ import annotations

import io
import uuid

import openpyxl
from playwright.sync_api import Page, expect

from app.catalog import load_catalog
from app.config import REPO_ROOT
from app.excel.authoring import build_authoring
from tests.browser.conftest import Server, Team, assert_accessible, sign_in


def _heavy_workbook(label: str) -> bytes:
    """The draft's workbook with a question weight that is not a number."""
    ins = load_catalog(REPO_ROOT / "instruments").get("oca", "2015.2")
    assert ins is not None
    book = openpyxl.load_workbook(io.BytesIO(build_authoring(ins.instrument)))
    survey = book["survey"]
    header = [c.value for c in survey[1]]
    survey.cell(4, header.index("weight") + 1, "heavy")
    book["settings"].cell(2, 3, label)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_a_draft_from_adapting_to_publishing(page: Page, team: Team, server: Server) -> None:
    label = f"2015.2-local.{uuid.uuid4().hex[:6]}"
    sign_in(page, team.emails["admin"])
    page.goto("/instruments")
    expect(page.get_by_role("heading", name="Versiones de su espacio de trabajo")).to_be_visible()
    assert_accessible(page)

    page.get_by_role("link", name="Adaptar oca 2015.2", exact=True).click()
    page.get_by_label("Etiqueta de la versión nueva").fill(label)
    assert_accessible(page)
    page.get_by_role("button", name="Crear el borrador").click()
    page.wait_for_url(f"**/instruments/oca/{label}/draft")
    expect(page.get_by_text("Preguntas quitadas: 0")).to_be_visible()
    assert_accessible(page)

    page.get_by_label("Libro de edición (.xlsx)").set_input_files(
        {
            "name": "draft.xlsx",
            "mimeType": "application/octet-stream",
            "buffer": _heavy_workbook(label),
        }
    )
    page.get_by_role("button", name="Reemplazar", exact=True).click()
    expect(page.get_by_role("table", name="Problemas encontrados")).to_be_visible()
    assert_accessible(page)

    page.goto(f"/instruments/oca/{label}/draft/trial?lang=en")
    page.get_by_label("gls.vision.1", exact=False).select_option("3")
    page.get_by_role("button", name="Compute the score").click()
    expect(page.get_by_role("heading", name="Result")).to_be_visible()
    assert_accessible(page)

    page.goto(f"/instruments/oca/{label}/draft/publish")
    expect(page.get_by_text("instrument.published", exact=False)).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Publish").click()
    page.wait_for_url(f"**/instruments/oca/{label}")
    page.goto("/instruments?lang=es")
    expect(page.get_by_text("Publicada", exact=True)).to_be_visible()
