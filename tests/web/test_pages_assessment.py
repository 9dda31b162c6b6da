"""The assessment page: the explained score tree shows the numbers the API sends, N/A and missing
items as such, NUPAS risk with its conditions; downloads are real workbooks; another workspace's
assessment is a 404 page; only a writer sees the edit link, and only on a draft."""

from __future__ import annotations

import io
import re
from html import unescape
from typing import Any

import openpyxl

from app.web.i18n import number
from tests.api.factories import (
    call,
    create_assessment,
    create_org,
    dimension_items,
    get,
    item_keys,
    ok,
    scored,
)
from tests.conftest import Tenant
from tests.web.conftest import People


def part(html: str, element_id: str, end: str = "</tr>") -> str:
    """The markup from the element with ``element_id`` to the first ``end`` after it."""
    start = html.rindex("<", 0, html.index(f'id="{element_id}"'))
    return html[start : html.index(end, start)]


def text_of(markup: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", markup))).strip()


def oca_with_gaps(tenant: Tenant, org_id: str) -> tuple[dict[str, Any], str, str]:
    """A submitted OCA assessment with one item N/A and one left unanswered."""
    keys = item_keys("oca")
    na_key, missing_key = keys[0], keys[5]
    answers = [
        {
            "item": k,
            "value": "na" if k == na_key else 1 + i % 4,
            "note": "see file" if i == 2 else None,
        }
        for i, k in enumerate(keys)
        if k != missing_key
    ]
    a = create_assessment(tenant, org_id, "oca", answers=answers)
    a = ok(call(tenant, "POST", f"/v1/assessments/{a['id']}/submit"))
    return a, na_key, missing_key


def test_the_tree_shows_the_apis_numbers_and_na_and_missing(signed_in: People) -> None:
    tenant = signed_in.tenant
    org = create_org(tenant, name="Fundación Árbol")
    a, na_key, missing_key = oca_with_gaps(tenant, org["id"])
    api = get(tenant, f"/v1/assessments/{a['id']}/scores")
    browser = signed_in("viewer")
    page = browser.get(f"/assessments/{a['id']}?lang=en")
    assert page.status_code == 200, page.text[:400]
    html = page.text
    assert text_of(part(html, "overall-score", "</span>")) == number(api["overall"]["score"], 2)
    for d in api["dimensions"]:
        heading = text_of(part(html, f"dim-{d['key']}-title", "</h3>"))
        assert number(d["score"], 2) in heading, (d["key"], heading)
        for area in d["areas"]:
            head = text_of(part(html, f"area-{area['key']}"))
            shown = "—" if area["score"] is None else number(area["score"], 2)
            assert shown in head, (area["key"], head)
    assert "N/A" in text_of(part(html, f"item-{na_key}"))
    assert "Missing" in text_of(part(html, f"item-{missing_key}"))
    third = item_keys("oca")[2]
    assert "see file" in text_of(part(html, f"item-{third}"))
    # an answered item shows its value with the scale's label
    second = text_of(part(html, f"item-{item_keys('oca')[1]}"))
    assert re.search(r"\b2 — \S", second), second
    assert f'href="/organizations/{org["id"]}"' in html
    assert "Fundación Árbol" in html
    # Spanish
    es = browser.get(f"/assessments/{a['id']}?lang=es").text
    assert "No aplica" in text_of(part(es, f"item-{na_key}"))
    assert "Sin respuesta" in text_of(part(es, f"item-{missing_key}"))


def test_nupas_risk_by_section_with_conditions(signed_in: People) -> None:
    tenant = signed_in.tenant
    org = create_org(tenant)
    values = {k: "yes" for k in item_keys("nupas")}
    for k in dimension_items("nupas")["procurement"]:
        values[k] = "no"
    a = scored(tenant, org["id"], "nupas", value=values)
    risk = get(tenant, f"/v1/assessments/{a['id']}/scores")["risk"]
    assert risk["conditions"]
    html = signed_in("viewer").get(f"/assessments/{a['id']}?lang=en").text
    assert "extreme" in text_of(part(html, "risk-overall", "</span>"))
    for s in risk["sections"]:
        row = text_of(part(html, f"risk-{s['key']}"))
        assert s["band"] in row and number(s["percent"], 2) in row, row
    procurement = text_of(part(html, "risk-procurement"))
    assert "by key question" in procurement or "by percentage" in procurement
    assert "Key questions answered the risky way" in procurement
    for c in risk["conditions"]:
        block = text_of(part(html, f"condition-{c['key']}", "</article>"))
        assert c["reason"]["en"][1:] in block  # shown as a sentence, with a capital
        assert c["action"]["en"] in block and c["time_allowed"]["en"] in block
    es = signed_in("viewer").get(f"/assessments/{a['id']}?lang=es").text
    assert risk["conditions"][0]["reason"]["es"][1:] in text_of(es)
    assert "extremo" in text_of(part(es, "risk-overall", "</span>"))


def test_edit_link_only_for_writers_on_drafts(signed_in: People) -> None:
    tenant = signed_in.tenant
    org = create_org(tenant)
    draft = create_assessment(tenant, org["id"], "oca", round="endline")
    done = scored(tenant, org["id"], "oca")
    edit = f'href="/assessments/{draft["id"]}/edit"'
    viewer, editor = signed_in("viewer"), signed_in("editor")
    as_viewer = viewer.get(f"/assessments/{draft['id']}?lang=en").text
    assert edit not in as_viewer and "Edit answers" not in as_viewer
    assert "no score yet" in as_viewer
    assert edit in editor.get(f"/assessments/{draft['id']}?lang=en").text
    assert "/edit" not in editor.get(f"/assessments/{done['id']}?lang=en").text


def test_downloads_are_real_workbooks_in_the_page_language(signed_in: People) -> None:
    tenant = signed_in.tenant
    org = create_org(tenant, name="Łódź Civic")
    a = scored(tenant, org["id"], "oca")
    browser = signed_in("viewer")
    for path in ("export.xlsx", "template.xlsx"):
        got = browser.get(f"/assessments/{a['id']}/{path}?lang=es")
        assert got.status_code == 200, got.text[:300]
        assert got.headers["content-type"].startswith("application/vnd.openxmlformats")
        assert "attachment" in got.headers["content-disposition"]
        book = openpyxl.load_workbook(io.BytesIO(got.content))
        assert len(book.sheetnames) >= 1
    export = openpyxl.load_workbook(
        io.BytesIO(browser.get(f"/assessments/{a['id']}/export.xlsx?lang=es").content)
    )
    api = call(
        tenant, "GET", f"/v1/assessments/{a['id']}/export.xlsx", "viewer", params={"lang": "es"}
    )
    same = openpyxl.load_workbook(io.BytesIO(api.content))
    assert export.sheetnames == same.sheetnames


def test_another_workspaces_assessment_is_a_404_page(
    signed_in: People, other_tenant: Tenant
) -> None:
    org = create_org(other_tenant)
    a = scored(other_tenant, org["id"], "oca")
    browser = signed_in("admin")
    for path in ("", "/export.xlsx", "/template.xlsx"):
        got = browser.get(f"/assessments/{a['id']}{path}?lang=en")
        assert got.status_code == 404, path
        assert "text/html" in got.headers["content-type"]
        assert "Page not found" in got.text
    assert browser.get(f"/organizations/{org['id']}").status_code == 404


def _pdf_text(content: bytes) -> tuple[str, int]:
    """The text of a PDF and its page count, read by poppler (not by our own renderer)."""
    import subprocess

    text = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=content, capture_output=True, check=True
    ).stdout.decode()
    info = subprocess.run(["pdfinfo", "-"], input=content, capture_output=True, check=True)
    pages = re.search(rb"Pages:\s+(\d+)", info.stdout)
    assert pages
    return re.sub(r"\s+", " ", text), int(pages.group(1))


def test_the_assessment_pdf_carries_the_score_and_risk(signed_in: People) -> None:
    tenant = signed_in.tenant
    org = create_org(tenant, name="Fundación Río Claro")
    values = {k: "yes" for k in item_keys("nupas")}
    for k in dimension_items("nupas")["procurement"]:
        values[k] = "no"
    a = scored(tenant, org["id"], "nupas", value=values)
    risk = get(tenant, f"/v1/assessments/{a['id']}/scores")["risk"]
    viewer = signed_in("viewer")
    page = viewer.get(f"/assessments/{a['id']}?lang=en").text
    assert f'href="/assessments/{a["id"]}/report.pdf"' in page
    for lang, words in (("en", "Page 2 of"), ("es", "Página 2 de")):  # the cover has none
        answer = viewer.get(f"/assessments/{a['id']}/report.pdf?lang={lang}")
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/pdf"
        assert answer.headers["content-disposition"].startswith("attachment;")
        text, pages = _pdf_text(answer.content)
        assert "Fundación Río Claro" in text and words in text and pages >= 2
        condition = risk["conditions"][0]["action"][lang]
        assert re.sub(r"\s+", " ", condition)[:40] in text
    # a draft has no score to print; another workspace's assessment is a 404 page
    draft = create_assessment(tenant, org["id"], "oca", answers=[])
    assert viewer.get(f"/assessments/{draft['id']}/report.pdf").status_code == 422
    stranger = signed_in("admin", workspace=f"other-{a['id'][:8]}")
    assert stranger.get(f"/assessments/{a['id']}/report.pdf").status_code == 404
