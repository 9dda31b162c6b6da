"""Exports through the real app: the workbooks hold the stored numbers, and CSV is safe."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date

import openpyxl
import pytest
from fastapi.testclient import TestClient

from app.catalog import Catalog
from tests.conftest import Tenant


def _org(tenant: Tenant, name: str) -> str:
    r = tenant.client.post("/v1/organizations", json={"name": name}, headers=tenant.headers())
    assert r.status_code == 201
    return str(r.json()["id"])


def _assess(
    tenant: Tenant, org: str, instrument: str, round_: str, answers: dict[str, object], when: date
) -> str:
    body = {
        "organization_id": org,
        "instrument_id": instrument,
        "round": round_,
        "assessed_on": when.isoformat(),
        "answers": [
            {"item": k, "value": v, "note": "=cmd|' /C calc'!A0"} for k, v in answers.items()
        ],
    }
    h = tenant.headers()
    r = tenant.client.post("/v1/assessments", json=body, headers=h)
    assert r.status_code == 201, r.text
    aid = str(r.json()["id"])
    assert tenant.client.post(f"/v1/assessments/{aid}/submit", headers=h).status_code == 200
    return aid


def _no_formulas(data: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                assert b"<f>" not in z.read(name) and b"<f " not in z.read(name), name


def test_assessment_export_has_scores_risk_and_charts(
    tenant: Tenant, client: TestClient, catalog: Catalog
) -> None:
    f = catalog.latest("nupas")
    assert f is not None
    answers: dict[str, object] = {k: "yes" for k in f.instrument.item_keys}
    key_q = next(i.key for i in f.instrument.items.values() if i.key_question)
    answers[key_q] = "no"
    org = _org(tenant, '=HYPERLINK("http://x","y")')
    aid = _assess(tenant, org, "nupas", "baseline", answers, date(2024, 1, 1))
    r = client.get(f"/v1/assessments/{aid}/export.xlsx?lang=es", headers=tenant.headers("viewer"))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    _no_formulas(r.content)
    wb = openpyxl.load_workbook(io.BytesIO(r.content))
    assert len(wb.sheetnames) >= 4
    charts = sum(len(ws._charts) for ws in wb.worksheets)
    assert charts >= 2
    texts = {str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value}
    assert '=HYPERLINK("http://x","y")' in texts  # stored as text, shown as typed
    scores = client.get(f"/v1/assessments/{aid}/scores", headers=tenant.headers()).json()
    assert scores["risk"]["overall"] == "high"
    assert any("alto" in t.lower() or "high" in t.lower() for t in texts)


def test_series_and_cohort_exports(tenant: Tenant, client: TestClient, catalog: Catalog) -> None:
    f = catalog.latest("csa-sustainability")
    assert f is not None
    h = tenant.headers()
    cohort = client.post("/v1/cohorts", json={"name": "G"}, headers=h).json()["id"]
    orgs = []
    for n, (b, e) in enumerate([(1, 3), (2, 2), (3, 2)]):
        org = _org(tenant, f"Org {n}")
        orgs.append(org)
        client.put(f"/v1/cohorts/{cohort}/members/{org}", headers=h)
        _assess(
            tenant,
            org,
            "csa-sustainability",
            "baseline",
            dict.fromkeys(f.instrument.item_keys, b),
            date(2023, 1, 1),
        )
        _assess(
            tenant,
            org,
            "csa-sustainability",
            "endline",
            dict.fromkeys(f.instrument.item_keys, e),
            date(2024, 1, 1),
        )
    series = client.get(
        f"/v1/organizations/{orgs[0]}/series.xlsx?instrument_id=csa-sustainability", headers=h
    )
    assert series.status_code == 200
    kinds = {
        type(c).__name__
        for ws in openpyxl.load_workbook(io.BytesIO(series.content)).worksheets
        for c in ws._charts
    }
    assert {"LineChart", "RadarChart"} <= kinds

    comp = client.get(
        f"/v1/cohorts/{cohort}/comparison.xlsx?instrument_id=csa-sustainability", headers=h
    )
    assert comp.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(comp.content))
    values = [c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row]
    assert "Org 0" in values and "Org 2" in values
    assert 2.0 in values and -1.0 in values  # Org 0 rose by 2, Org 2 fell by 1

    raw = client.get(
        f"/v1/cohorts/{cohort}/export.xlsx?instrument_id=csa-sustainability", headers=h
    )
    assert raw.status_code == 200
    ws = openpyxl.load_workbook(io.BytesIO(raw.content), read_only=True).worksheets[0]
    rows = list(ws.iter_rows(values_only=True))
    assert len(rows) == 1 + 6 and len(rows[0]) == 9 + len(f.instrument.item_keys)

    text = client.get(
        f"/v1/cohorts/{cohort}/export.csv?instrument_id=csa-sustainability", headers=h
    )
    assert text.status_code == 200 and text.headers["content-type"].startswith("text/csv")
    parsed = list(csv.reader(io.StringIO(text.text.lstrip("\ufeff"))))
    assert parsed[0][:3] == ["assessment_id", "organization_id", "organization_name"]
    assert len(parsed) == 7
    assert sorted(float(row[8]) for row in parsed[1:]) == [1.0, 2.0, 2.0, 2.0, 3.0, 3.0]


def test_exports_of_other_workspaces_are_404(
    tenant: Tenant, other_tenant: Tenant, client: TestClient, catalog: Catalog
) -> None:
    f = catalog.latest("opi")
    assert f is not None
    org = _org(tenant, "Mine")
    aid = _assess(
        tenant, org, "opi", "baseline", dict.fromkeys(f.instrument.item_keys, 2), date(2024, 1, 1)
    )
    for url in (
        f"/v1/assessments/{aid}/export.xlsx",
        f"/v1/assessments/{aid}/template.xlsx",
        f"/v1/organizations/{org}/series.xlsx?instrument_id=opi",
    ):
        r = client.get(url, headers=other_tenant.headers("admin"))
        assert r.status_code == 404, url
        assert r.headers["content-type"] == "application/problem+json"


def test_raw_rows_read_in_batches_are_every_row_with_its_own_answers(
    tenant: Tenant, client: TestClient, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The raw export reads its rows a batch at a time (a server-side cursor on PostgreSQL) and
    each batch's answers while the cursor is open: with batches of 2 over 7 assessments, the CSV
    is the one a single batch gives, each row with its own answers."""
    from app.services import exports

    f = catalog.latest("opi")
    assert f is not None
    keys = list(f.instrument.items)
    h = tenant.headers()
    cohort = client.post("/v1/cohorts", json={"name": "Batches"}, headers=h).json()["id"]
    for n in range(7):
        org = _org(tenant, f"Batch org {n}")
        client.put(f"/v1/cohorts/{cohort}/members/{org}", headers=h)
        # each organization answers its first item with its own level, the rest with 2
        answers: dict[str, object] = dict.fromkeys(keys, 2)
        answers[keys[0]] = 1 + n % 4
        _assess(tenant, org, "opi", "baseline", answers, date(2024, 1, 1 + n))

    url = f"/v1/cohorts/{cohort}/export.csv?instrument_id=opi"
    monkeypatch.setattr(exports, "RAW_BATCH", 10_000)
    whole = client.get(url, headers=h).text
    monkeypatch.setattr(exports, "RAW_BATCH", 2)
    batched = client.get(url, headers=h).text
    assert batched == whole
    rows = list(csv.DictReader(io.StringIO(batched.lstrip("\ufeff"))))
    assert [r["organization_name"] for r in rows] == [f"Batch org {n}" for n in range(7)]
    assert [r[keys[0]] for r in rows] == [str(1 + n % 4) for n in range(7)]
