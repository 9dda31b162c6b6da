"""Individual ratings on the assessment page: editors see the distribution per item with the
disagreement flags (in Spanish and English), upload the ratings workbook with the form token and
see its problems by sheet and cell; viewers see no section and cannot download the workbook."""

from __future__ import annotations

import io

import openpyxl

from tests.api.test_ratings import A, C, rated
from tests.api.test_ratings_excel import ROW
from tests.web.conftest import People, csrf_of
from tests.web.test_plans_pages import text_of


def test_editor_sees_the_distribution_and_viewer_sees_nothing(signed_in: People) -> None:
    tenant = signed_in.tenant
    a = rated(tenant)
    editor = signed_in("editor")
    es = editor.get(f"/assessments/{a['id']}?lang=es")
    assert es.status_code == 200
    text = text_of(es.text)
    assert "Calificaciones individuales" in text
    assert "4 participante(s): R01, R02, R03, R04." in text
    assert "Ítems con desacuerdo: 1." in text
    row = es.text.split(f'id="rating-{A}"')[1].split("</tr>")[0]
    assert "1–4" in row and "2.25" in row and "desacuerdo" in row
    withheld = es.text.split(f'id="rating-{C}"')[1].split("</tr>")[0]
    assert "Menos de 3 participantes: distribución reservada" in text_of(withheld)
    en = text_of(editor.get(f"/assessments/{a['id']}?lang=en").text)
    assert "Individual ratings" in en and "Items where the group disagrees: 1." in en
    assert "Ana" not in en

    viewer = signed_in("viewer")
    seen = viewer.get(f"/assessments/{a['id']}?lang=en")
    assert seen.status_code == 200
    assert "Individual ratings" not in seen.text and "R01" not in seen.text
    assert viewer.get(f"/assessments/{a['id']}/ratings.xlsx").status_code == 403


def test_editor_uploads_the_workbook_through_the_page(signed_in: People) -> None:
    tenant = signed_in.tenant
    a = rated(tenant)
    editor = signed_in("editor")
    page = editor.get(f"/assessments/{a['id']}?lang=en")
    download = editor.get(f"/assessments/{a['id']}/ratings.xlsx")
    assert download.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(download.content))
    assert wb.sheetnames[1:5] == ["R01", "R02", "R03", "R04"]
    wb["R05"].cell(row=ROW[A], column=3).value = "Brilliant"

    def send() -> object:
        out = io.BytesIO()
        wb.save(out)
        return editor.post(
            f"/assessments/{a['id']}/ratings.xlsx",
            data={"csrf_token": csrf_of(page.text)},
            files={"file": ("r.xlsx", out.getvalue(), "application/octet-stream")},
        )

    refused = send()
    assert refused.status_code == 422  # type: ignore[attr-defined]
    shown = text_of(refused.text)  # type: ignore[attr-defined]
    assert "R05" in shown and f"C{ROW[A]}" in shown and "Brilliant" in shown
    wb["R05"].cell(row=ROW[A], column=3).value = "Mature"
    saved = send()
    assert saved.status_code == 303  # type: ignore[attr-defined]
    after = text_of(editor.get(f"/assessments/{a['id']}?lang=en").text)
    assert "5 rater(s): R01, R02, R03, R04, R05." in after


def test_no_file_or_a_damaged_one_is_refused_in_both_languages(signed_in: People) -> None:
    """The ratings form sent without a file asks for one (it was a 500: the template read a
    sheet the problem did not have); a damaged file is listed as one problem. Nothing changes."""
    tenant = signed_in.tenant
    a = rated(tenant)
    editor = signed_in("editor")
    before = text_of(editor.get(f"/assessments/{a['id']}?lang=en").text)
    for lang, choose, damaged in (
        ("en", "Choose the filled ratings workbook.", "not an Excel workbook"),
        ("es", "Elija el libro de calificaciones lleno.", "no es un libro de Excel"),
    ):
        page = editor.get(f"/assessments/{a['id']}?lang={lang}")
        for files, expected in (
            ({}, choose),
            (
                {"file": ("r.xlsx", b"PK\x03\x04 not a workbook", "application/octet-stream")},
                damaged,
            ),
        ):
            refused = editor.post(
                f"/assessments/{a['id']}/ratings.xlsx",
                data={"csrf_token": csrf_of(page.text)},
                files=files or None,
            )
            assert refused.status_code == 422, refused.text[:300]
            assert expected in text_of(refused.text)
    assert text_of(editor.get(f"/assessments/{a['id']}?lang=en").text) == before
