"""Instrument pages: the catalog, one version with its levels, evidence and rules in plain words,
and its template in either language (the same workbook as the API's template route)."""

from __future__ import annotations

import io

import openpyxl
from fastapi.testclient import TestClient
from markupsafe import escape

from app.catalog import Catalog
from tests.web.conftest import People


def test_the_catalog_lists_every_instrument_and_version(
    signed_in: People, catalog: Catalog
) -> None:
    browser = signed_in("viewer")
    page = browser.get("/instruments", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    for f in catalog:
        ins = f.instrument
        assert f'href="/instruments/{ins.id}/{ins.version}"' in page.text
    assert "Spanish, English" in page.text or "English, Spanish" in page.text


def test_a_version_shows_levels_evidence_and_rules(signed_in: People, catalog: Catalog) -> None:
    browser = signed_in("viewer")
    f = catalog.get("oca", "2015.2")
    assert f is not None
    ins = f.instrument
    item = ins.dimensions[0].areas[0].items[0]
    for lang in ("es", "en"):
        page = browser.get("/instruments/oca/2015.2", headers={"Accept-Language": lang})
        assert page.status_code == 200
        html = page.text
        assert ins.dimensions[0].title.get(lang) in html
        assert str(escape(item.text.get(lang))) in html
        assert item.levels is not None and item.evidence is not None
        for statement in item.levels.values():
            assert str(escape(statement.get(lang))) in html
        assert str(escape(item.evidence.get(lang))) in html
        assert html.count('class="item"') == len(ins.item_keys)
    en = browser.get("/instruments/oca/2015.2", headers={"Accept-Language": "en"}).text
    assert "at least 75% of its applicable items are answered" in en
    assert "a change of at least 1 in the score counts as an improvement" in en
    assert "at most 1 band(s) above the band of the weakest dimension" in en
    assert "up to 1.75, Nascent capacity" in en


def test_risk_rules_are_said_in_plain_words(signed_in: People) -> None:
    browser = signed_in("viewer")
    es = browser.get("/instruments/nupas/2020.1", headers={"Accept-Language": "es"}).text
    assert "de 0 % a menos de 30 %, bajo" in es
    assert "de 90 % en adelante, extremo" in es
    assert "lleva su sección al menos a riesgo alto" in es
    assert "Pregunta clave" in es


def test_templates_download_in_both_languages_like_the_api(
    signed_in: People, client: TestClient
) -> None:
    browser = signed_in("viewer")
    headers = signed_in.tenant.headers("viewer")
    for lang in ("es", "en"):
        page = browser.get(f"/instruments/oca/2015.2/template.xlsx?lang={lang}")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("application/vnd.openxmlformats")
        assert f"oca-2015.2-{lang}.xlsx" in page.headers["content-disposition"]
        api = client.get(
            f"/v1/instruments/oca/versions/2015.2/template.xlsx?lang={lang}", headers=headers
        )
        book = openpyxl.load_workbook(io.BytesIO(page.content))
        same = openpyxl.load_workbook(io.BytesIO(api.content))
        assert book.sheetnames == same.sheetnames
        first = book[book.sheetnames[0]]
        assert [c.value for c in first["A"]] == [c.value for c in same[same.sheetnames[0]]["A"]]
    es = openpyxl.load_workbook(
        io.BytesIO(browser.get("/instruments/oca/2015.2/template.xlsx?lang=es").content)
    )
    en = openpyxl.load_workbook(
        io.BytesIO(browser.get("/instruments/oca/2015.2/template.xlsx?lang=en").content)
    )
    assert es.sheetnames != en.sheetnames or [c.value for c in es.worksheets[0]["A"]] != [
        c.value for c in en.worksheets[0]["A"]
    ]


def test_unknown_instrument_or_version_is_a_404_page(signed_in: People) -> None:
    browser = signed_in("viewer")
    for path in (
        "/instruments/nope/1",
        "/instruments/oca/9999.9",
        "/instruments/oca/9.9/template.xlsx",
    ):
        answer = browser.get(path, headers={"Accept-Language": "en"})
        assert answer.status_code == 404, path
        assert "Page not found" in answer.text
    anonymous = signed_in.browser().get("/instruments")
    assert anonymous.status_code == 303
