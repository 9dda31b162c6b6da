"""Regressions found in review: accents in names, reopened revisions, edited imports."""

from __future__ import annotations

from datetime import date

from fastapi.testclient import TestClient

from app.catalog import Catalog
from app.excel import Prefill, build_template
from tests.conftest import Tenant


def _upload(tenant: Tenant, data: bytes, create: bool = False) -> dict:  # type: ignore[type-arg]
    r = tenant.client.post(
        f"/v1/imports?create_organizations={'true' if create else 'false'}",
        files=[("files", ("w.xlsx", data, "application/octet-stream"))],
        headers=tenant.headers(),
    )
    body: dict = r.json()  # type: ignore[type-arg]
    return body["results"][0]


def _workbook(catalog: Catalog, org: str, value: float) -> bytes:
    f = catalog.latest("csa-sustainability")
    assert f is not None
    pre = Prefill(
        org,
        None,
        "baseline",
        date(2024, 4, 4),
        None,
        dict.fromkeys(f.instrument.item_keys, value),
        {},
    )
    return build_template(f.instrument, f.content_hash, "es", pre)


def test_accented_capitals_match_the_existing_organization(
    tenant: Tenant, client: TestClient, catalog: Catalog
) -> None:
    org = client.post(
        "/v1/organizations", json={"name": "Fundación ÑANDÚ"}, headers=tenant.headers()
    ).json()
    result = _upload(tenant, _workbook(catalog, "fundación  ñandú", 2.0), create=True)
    assert result["status"] == "created", result
    assert result["organization_id"] == org["id"] and not result["organization_created"]


def test_reopening_a_revision_gives_the_round_back_to_the_revision_it_replaced(
    tenant: Tenant, client: TestClient, catalog: Catalog
) -> None:
    first = _upload(tenant, _workbook(catalog, "Org R", 2.0), create=True)
    h = tenant.headers()
    assert (
        client.post(f"/v1/assessments/{first['assessment_id']}/finalize", headers=h).status_code
        == 200
    )
    second = _upload(tenant, _workbook(catalog, "Org R", 3.0))
    assert second["status"] == "revised"
    series = f"/v1/organizations/{first['organization_id']}/series?instrument_id=csa-sustainability"
    assert [p["revision"] for p in client.get(series, headers=h).json()["points"]] == [2]
    r = client.post(f"/v1/assessments/{second['assessment_id']}/reopen", headers=h)
    assert r.status_code == 200
    points = client.get(series, headers=h).json()["points"]
    assert [(p["revision"], p["overall"]["score"]) for p in points] == [(1, 2.0)]
    # a revision keeps its round
    etag = r.json()["etag"]
    r = client.patch(
        f"/v1/assessments/{second['assessment_id']}",
        json={"round": "endline"},
        headers={**h, "If-Match": etag},
    )
    assert r.status_code == 409


def test_the_same_file_applies_again_after_the_answers_were_edited(
    tenant: Tenant, client: TestClient, catalog: Catalog
) -> None:
    data = _workbook(catalog, "Org E", 2.0)
    first = _upload(tenant, data, create=True)
    aid = first["assessment_id"]
    h = tenant.headers()
    etag = client.post(f"/v1/assessments/{aid}/reopen", headers=h).json()["etag"]
    item = client.get(f"/v1/assessments/{aid}", headers=h).json()["answers"][0]["item"]
    r = client.patch(
        f"/v1/assessments/{aid}",
        json={"answers": [{"item": item, "value": 4}]},
        headers={**h, "If-Match": etag},
    )
    assert r.status_code == 200
    again = _upload(tenant, data)
    assert again["status"] == "updated"
    answers = client.get(f"/v1/assessments/{aid}", headers=h).json()["answers"]
    assert {a["value"] for a in answers} == {2.0}
