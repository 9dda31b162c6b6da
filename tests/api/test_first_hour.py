"""What a new user hits first, through the real app: downloads named in any script, uploads with a
broken member, parameters that must be refused with the valid values listed."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date, timedelta
from typing import Any
from urllib.parse import unquote

import openpyxl
import pytest

from app.api.routing import attachment
from app.catalog import Catalog
from app.excel import CoverField, Prefill, build_template
from app.excel.layout import COVER_SHEET, cover_cell
from app.services.filenames import safe_filename
from tests.api.factories import assert_problem, call, item_keys, ok
from tests.conftest import Tenant

# Five scripts: Latin with letters outside Latin-1, Cyrillic, Han, Arabic, Greek.
NAMES = {
    "latin": "Fundacja Łódź · Œuvre des sœurs",
    "cyrillic": "Фонд «Київ»",
    "han": "公民社会中心",
    "arabic": "جمعية الأمل",
    "greek": "Ένωση Πολιτών",
}


def _filename_star(header: str) -> str:
    m = re.search(r"filename\*=UTF-8''([^;\s]+)", header)
    assert m, header
    return unquote(m.group(1), encoding="utf-8", errors="strict")


def _check_download(resp: Any, *words: str) -> None:
    assert resp.status_code == 200, (resp.request.url, resp.text[:300])
    header = resp.headers["content-disposition"]
    header.encode("ascii")  # the whole header is ASCII: nothing for Latin-1 to choke on
    fallback = re.search(r'filename="([^"]*)"', header)
    assert fallback and fallback.group(1).isascii() and fallback.group(1) != ""
    exact = _filename_star(header)
    assert exact.endswith((".xlsx", ".csv")), exact
    for word in words:
        assert word in exact, (word, exact)


def test_ascii_fallback_spells_letters_plainly() -> None:
    assert safe_filename("oca-Łódź-Œuvre", ext="xlsx", ascii_only=True) == "oca-Lodz-OEuvre.xlsx"
    assert safe_filename("公民社会中心", ext="csv", ascii_only=True) == "download.csv"
    assert safe_filename('a"b\\c', ext="xlsx", ascii_only=True) == "a_b_c.xlsx"
    header = attachment("Фонд.xlsx")["Content-Disposition"]
    assert header == (
        "attachment; filename=\"download.xlsx\"; filename*=UTF-8''%D0%A4%D0%BE%D0%BD%D0%B4.xlsx"
    )


@pytest.mark.parametrize("script", list(NAMES), ids=list(NAMES))
def test_every_download_carries_a_unicode_name(tenant: Tenant, script: str) -> None:
    name = NAMES[script]
    org = ok(call(tenant, "POST", "/v1/organizations", json={"name": name}), 201)["id"]
    cohort = ok(call(tenant, "POST", "/v1/cohorts", json={"name": name}), 201)["id"]
    ok(call(tenant, "PUT", f"/v1/cohorts/{cohort}/members/{org}"), 200)
    aids = []
    for round_, when in (("baseline", date(2024, 1, 10)), (f"{name} 2025", date(2025, 1, 10))):
        body = {
            "organization_id": org,
            "instrument_id": "opi",
            "round": round_,
            "assessed_on": when.isoformat(),
            "answers": [{"item": k, "value": 3} for k in item_keys("opi")],
        }
        aid = ok(call(tenant, "POST", "/v1/assessments", json=body), 201)["id"]
        ok(call(tenant, "POST", f"/v1/assessments/{aid}/submit"))
        aids.append(aid)
    q = f"instrument_id=opi&baseline=baseline&endline={name} 2025"
    words = [w for w in re.split(r"[\W_]+", name) if w]  # the name's words survive in filename*
    for url in [
        f"/v1/assessments/{aids[1]}/export.xlsx?lang=es",
        f"/v1/assessments/{aids[1]}/template.xlsx",
        f"/v1/organizations/{org}/series.xlsx?instrument_id=opi",
        f"/v1/cohorts/{cohort}/comparison.xlsx?{q}",
        f"/v1/cohorts/{cohort}/export.xlsx?instrument_id=opi",
        f"/v1/cohorts/{cohort}/export.csv?instrument_id=opi",
    ]:
        _check_download(call(tenant, "GET", url, role="viewer"), *words)


# --- a zip with a damaged member ------------------------------------------------------------------


def _filled(catalog: Catalog, instrument: str, org: str, lang: str = "en") -> bytes:
    f = catalog.latest(instrument)
    assert f is not None
    answers: dict[str, object] = {k: 3 for k in f.instrument.item_keys}
    pre = Prefill(org, None, "baseline", date(2024, 2, 2), None, answers, {})  # type: ignore[arg-type]
    return build_template(f.instrument, f.content_hash, lang, pre)


def _zip_with_damaged_member(members: dict[str, bytes]) -> bytes:
    """A zip of the members whose last member's compressed bytes are scrambled."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
        broken = z.getinfo(name)
    data = bytearray(buffer.getvalue())
    start = broken.header_offset + 30 + len(broken.filename.encode()) + len(broken.extra)
    for i in range(start + 20, start + 60):  # scramble the deflate stream of that member only
        data[i] ^= 0x5A
    return bytes(data)


def _post(tenant: Tenant, name: str, data: bytes, query: str = "") -> Any:
    files = [("files", (name, data, "application/zip"))]
    return tenant.client.post(f"/v1/imports{query}", files=files, headers=tenant.headers())


def test_damaged_zip_member_is_rejected_alone(tenant: Tenant, catalog: Catalog) -> None:
    good = _filled(catalog, "opi", "Org from the zip")
    upload = _zip_with_damaged_member(
        {"good.xlsx": good, "broken.xlsx": _filled(catalog, "opi", "Org never read")}
    )
    r = _post(tenant, "batch.zip", upload, "?create_organizations=true")
    assert r.status_code == 200, r.text
    results = {x["file"]: x for x in r.json()["results"]}
    assert results["batch.zip/good.xlsx"]["status"] == "created"
    broken = results["batch.zip/broken.xlsx"]
    assert broken["status"] == "rejected"
    assert [e["code"] for e in broken["errors"]] == ["corrupt_workbook"]
    assert "broken.xlsx" in broken["errors"][0]["detail"] and broken["errors"][0]["detail_es"]

    # only damaged members: the usual 422 problem, naming the member, and nothing written
    other = ok(call(tenant, "GET", "/v1/organizations"))["items"]
    r = _post(tenant, "only.zip", _zip_with_damaged_member({"again.xlsx": good}))
    body = assert_problem(r, 422, "workbook-rejected")
    assert [e["code"] for e in body["errors"]] == ["corrupt_workbook"]
    assert ok(call(tenant, "GET", "/v1/organizations"))["items"] == other


# --- parameters that must be refused, with the valid values listed --------------------------------


def test_unknown_instrument_on_series_lists_the_instruments(
    tenant: Tenant, catalog: Catalog
) -> None:
    org = ok(call(tenant, "POST", "/v1/organizations", json={"name": "Series org"}), 201)["id"]
    ids = sorted({f.instrument.id for f in catalog})
    for url in (
        f"/v1/organizations/{org}/series?instrument_id=ocaa",
        f"/v1/organizations/{org}/series.xlsx?instrument_id=ocaa",
    ):
        body = assert_problem(call(tenant, "GET", url, role="viewer"), 422, "validation-error")
        assert body["valid"] == ids
        assert all(i in body["detail"] for i in ids)
        assert body["errors"][0]["pointer"] == "/query/instrument_id"
    assert ok(call(tenant, "GET", f"/v1/organizations/{org}/series?instrument_id=oca"))


def test_unknown_audit_action_lists_the_actions(tenant: Tenant) -> None:
    ok(call(tenant, "POST", "/v1/organizations", json={"name": "Audited"}), 201)
    body = assert_problem(call(tenant, "GET", "/v1/audit?action=bogus", role="admin"), 422)
    assert "organization.create" in body["valid"] and "assessment.submit" in body["valid"]
    assert "organization.create" in body["detail"]
    page = ok(call(tenant, "GET", "/v1/audit?action=organization.create", role="admin"))
    assert [e["action"] for e in page["items"]] == ["organization.create"]


def test_every_recorded_action_can_be_filtered(tenant: Tenant, engine: Any) -> None:
    from sqlalchemy import select

    from app.db.models import AuditEvent
    from app.services.common import AUDIT_ACTIONS

    with engine.connect() as c:  # whatever the other tests recorded so far
        recorded = set(c.scalars(select(AuditEvent.action).distinct()))
    assert recorded <= set(AUDIT_ACTIONS)


def _assessment_body(org: str, when: date) -> dict[str, Any]:
    return {
        "organization_id": org,
        "instrument_id": "opi",
        "round": "baseline",
        "assessed_on": when.isoformat(),
        "answers": [{"item": k, "value": 3} for k in item_keys("opi")],
    }


def test_assessed_on_in_the_future_is_refused(tenant: Tenant) -> None:
    org = ok(call(tenant, "POST", "/v1/organizations", json={"name": "Future org"}), 201)["id"]
    later = date.today() + timedelta(days=3)
    body = assert_problem(
        call(tenant, "POST", "/v1/assessments", json=_assessment_body(org, later)), 422
    )
    assert body["errors"][0]["pointer"] == "/assessed_on" and body["errors"][0]["detail_es"]
    assert ok(call(tenant, "GET", "/v1/assessments"))["items"] == []

    created = call(tenant, "POST", "/v1/assessments", json=_assessment_body(org, date.today()))
    aid = ok(created, 201)["id"]
    etag = created.headers["etag"]
    patch = call(
        tenant,
        "PATCH",
        f"/v1/assessments/{aid}",
        json={"assessed_on": later.isoformat()},
        headers={"If-Match": etag},
    )
    assert assert_problem(patch, 422)["errors"][0]["pointer"] == "/assessed_on"
    assert ok(call(tenant, "GET", f"/v1/assessments/{aid}"))["assessed_on"] == str(date.today())


# --- a dry run lists every problem at once and hands out no id that never exists -----------------


def _workbook(
    catalog: Catalog, org: str, *, value: object = 3, when: date = date(2024, 2, 2)
) -> bytes:
    f = catalog.latest("opi")
    assert f is not None
    answers = dict.fromkeys(f.instrument.item_keys, value)
    pre = Prefill(org, None, "baseline", when, None, answers, {})  # type: ignore[arg-type]
    return build_template(f.instrument, f.content_hash, "es", pre)


def _break_first_answer(data: bytes) -> tuple[bytes, str, str]:
    wb = openpyxl.load_workbook(io.BytesIO(data))
    ws = wb.worksheets[2]
    column = next(c.column for c in ws[1] if c.value in ("Answer", "Respuesta"))
    ws.cell(row=2, column=column).value = 9
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue(), ws.title, ws.cell(row=2, column=column).coordinate


def test_dry_run_lists_cell_organization_and_date_problems_together(
    tenant: Tenant, catalog: Catalog
) -> None:
    later = date.today() + timedelta(days=30)
    broken, sheet, cell = _break_first_answer(_workbook(catalog, "Nobody yet", when=later))
    r = _post(tenant, "taller.xlsx", broken, "?dry_run=true")
    body = assert_problem(r, 422, "workbook-rejected")
    found = {(e["code"], e["sheet"], e["cell"]) for e in body["errors"]}
    assert ("not_on_scale", sheet, cell) in found
    cover = (COVER_SHEET["es"], cover_cell(CoverField.organization_name))
    assert ("unknown_organization", *cover) in found
    future = next(e for e in body["errors"] if e["code"] == "future_date")
    assert future["sheet"] == COVER_SHEET["es"] and later.isoformat() in future["detail_es"]
    assert ok(call(tenant, "GET", "/v1/organizations"))["items"] == []


def test_dry_run_gives_no_id_that_never_exists(tenant: Tenant, catalog: Catalog) -> None:
    r = _post(
        tenant, "ok.xlsx", _workbook(catalog, "New org"), "?dry_run=true&create_organizations=true"
    )
    (result,) = ok(r)["results"]
    assert result["status"] == "created" and result["dry_run"] is True
    assert result["assessment_id"] is None and result["organization_id"] is None
    assert result["organization_created"] is True and result["scored"] is True
    assert ok(call(tenant, "GET", "/v1/assessments"))["items"] == []

    # a real import, then a dry run of a changed workbook: that assessment exists, so its id stays
    (first,) = ok(
        _post(tenant, "ok.xlsx", _workbook(catalog, "New org"), "?create_organizations=true")
    )["results"]
    (again,) = ok(
        _post(tenant, "v2.xlsx", _workbook(catalog, "New org", value=4), "?dry_run=true")
    )["results"]
    assert again["status"] in ("updated", "revised")
    if again["status"] == "updated":
        assert again["assessment_id"] == first["assessment_id"]
    else:
        assert again["assessment_id"] is None
    assert again["organization_id"] == first["organization_id"]


def test_annotated_workbook_keeps_a_unicode_upload_name(tenant: Tenant, catalog: Catalog) -> None:
    broken, _, _ = _break_first_answer(_workbook(catalog, "Org Київ"))
    r = _post(tenant, "Фонд Київ.xlsx", broken, "?annotate=true&create_organizations=true")
    assert r.status_code == 422
    header = r.headers["content-disposition"]
    header.encode("ascii")
    assert _filename_star(header).startswith("Фонд")
