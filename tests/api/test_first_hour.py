"""What a new user hits first, through the real app: downloads named in any script, uploads with a
broken member, parameters that must be refused with the valid values listed."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date, timedelta
from typing import Any
from urllib.parse import unquote

import pytest

from app.api.routing import ascii_filename, attachment
from app.catalog import Catalog
from app.excel import Prefill, build_template
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
    assert ascii_filename("oca-Łódź-Œuvre.xlsx") == "oca-Lodz-OEuvre.xlsx"
    assert ascii_filename("公民社会中心.csv") == "download.csv"
    assert ascii_filename('a"b\\c.xlsx') == "a_b_c.xlsx"
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
