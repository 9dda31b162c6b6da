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
