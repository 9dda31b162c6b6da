"""Workbooks imported through the one assessment use case (``assessments.import_answers``).

Scored once: the score that decides whether it is submitted is the score stored, counted by the
engine's own metric (``oca_scoring_seconds``: one observation a scoring). Each change to the round
is audited as an import, and a round on another version of the instrument rejects the workbook."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from app.catalog import Catalog
from app.domain.scoring import AnswerValue
from app.excel import Prefill, build_template
from app.services.metrics import SCORING
from tests.api.factories import audit_events
from tests.conftest import Tenant

INSTRUMENT = "oca"  # below a minimum coverage it gives no overall score


def scorings() -> float:
    """How many times the engine scored an assessment in this process so far."""
    for metric in SCORING.collect():
        for sample in metric.samples:
            if sample.name == "oca_scoring_seconds_count":
                return sample.value
    raise AssertionError("the scoring histogram has no count")


def workbook(
    catalog: Catalog, org: str, answers: dict[str, AnswerValue], version: str | None = None
) -> bytes:
    f = catalog.latest(INSTRUMENT) if version is None else catalog.get(INSTRUMENT, version)
    assert f is not None
    pre = Prefill(org, None, "baseline", date(2024, 2, 2), None, answers, {})
    return build_template(f.instrument, f.content_hash, "en", pre)


def every_item(
    catalog: Catalog, value: float, version: str | None = None
) -> dict[str, AnswerValue]:
    f = catalog.latest(INSTRUMENT) if version is None else catalog.get(INSTRUMENT, version)
    assert f is not None
    return {k: value for k in f.instrument.item_keys}


def upload(tenant: Tenant, name: str, data: bytes, *, dry_run: bool = False) -> dict[str, Any]:
    query = "?create_organizations=true" + ("&dry_run=true" if dry_run else "")
    r = tenant.client.post(
        f"/v1/imports{query}",
        files=[("files", (name, data, "application/octet-stream"))],
        headers=tenant.headers(),
    )
    assert r.status_code == 200, r.text
    (result,) = r.json()["results"]
    return dict(result)


def counted(tenant: Tenant, name: str, data: bytes, *, dry_run: bool = False) -> tuple[Any, float]:
    before = scorings()
    result = upload(tenant, name, data, dry_run=dry_run)
    return result, scorings() - before


@pytest.mark.parametrize("dry_run", [False, True], ids=["import", "dry-run"])
def test_a_complete_workbook_is_scored_once(
    tenant: Tenant, catalog: Catalog, dry_run: bool
) -> None:
    result, n = counted(
        tenant, "a.xlsx", workbook(catalog, "Once", every_item(catalog, 3.0)), dry_run=dry_run
    )
    assert (result["status"], result["scored"]) == ("created", True)
    assert n == 1


def test_an_incomplete_workbook_is_scored_once_and_stays_a_draft(
    tenant: Tenant, catalog: Catalog
) -> None:
    f = catalog.latest(INSTRUMENT)
    assert f is not None
    first = f.instrument.dimensions[0].areas[0].items[0].key
    result, n = counted(tenant, "part.xlsx", workbook(catalog, "Partly", {first: 2.0}))
    assert (result["status"], result["scored"], result["overall"]) == ("created", False, None)
    assert result["reason"] is not None
    assert n == 1


def test_a_changed_workbook_over_a_submitted_round_is_scored_once(
    tenant: Tenant, catalog: Catalog
) -> None:
    upload(tenant, "v1.xlsx", workbook(catalog, "Again", every_item(catalog, 2.0)))
    result, n = counted(tenant, "v2.xlsx", workbook(catalog, "Again", every_item(catalog, 3.0)))
    assert (result["status"], result["scored"]) == ("updated", True)
    assert n == 1


def test_a_workbook_over_a_final_round_is_a_revision_scored_once(
    tenant: Tenant, catalog: Catalog
) -> None:
    first = upload(tenant, "v1.xlsx", workbook(catalog, "Final", every_item(catalog, 2.0)))
    r = tenant.client.post(
        f"/v1/assessments/{first['assessment_id']}/finalize", headers=tenant.headers()
    )
    assert r.status_code == 200, r.text
    result, n = counted(tenant, "v2.xlsx", workbook(catalog, "Final", every_item(catalog, 3.0)))
    assert (result["status"], result["scored"]) == ("revised", True)
    assert n == 1


def test_each_change_to_the_round_is_audited_as_an_import(tenant: Tenant, catalog: Catalog) -> None:
    made = upload(tenant, "v1.xlsx", workbook(catalog, "Audited", every_item(catalog, 2.0)))
    upload(tenant, "v2.xlsx", workbook(catalog, "Audited", every_item(catalog, 3.0)))
    r = tenant.client.post(
        f"/v1/assessments/{made['assessment_id']}/finalize", headers=tenant.headers()
    )
    assert r.status_code == 200, r.text
    revised = upload(tenant, "v3.xlsx", workbook(catalog, "Audited", every_item(catalog, 4.0)))
    imports = [
        (e["action"], e["object_id"])
        for e in reversed(audit_events(tenant))
        if e["action"].startswith("assessment.")
    ]
    assert imports == [
        ("assessment.import.create", made["assessment_id"]),
        ("assessment.submit", made["assessment_id"]),
        ("assessment.reopen", made["assessment_id"]),
        ("assessment.import.update", made["assessment_id"]),
        ("assessment.submit", made["assessment_id"]),
        ("assessment.finalize", made["assessment_id"]),
        ("assessment.import.revise", revised["assessment_id"]),
        ("assessment.submit", revised["assessment_id"]),
    ]


def test_a_workbook_of_another_version_than_its_round_is_rejected_and_writes_nothing(
    tenant: Tenant, catalog: Catalog
) -> None:
    latest = catalog.latest(INSTRUMENT)
    older = catalog.get(INSTRUMENT, "2015.1")
    assert latest is not None and older is not None
    assert older.instrument.version != latest.instrument.version
    made = upload(tenant, "new.xlsx", workbook(catalog, "Versions", every_item(catalog, 2.0)))
    old = workbook(catalog, "Versions", every_item(catalog, 2.0, "2015.1"), "2015.1")
    before = audit_events(tenant)
    r = tenant.client.post(
        "/v1/imports",
        files=[("files", ("old.xlsx", old, "application/octet-stream"))],
        headers=tenant.headers(),
    )
    assert r.status_code == 422, r.text
    (error,) = r.json()["errors"]
    assert error["code"] == "version_mismatch"
    assert f"{INSTRUMENT} {latest.instrument.version}" in error["detail"]
    assert f"{INSTRUMENT} {latest.instrument.version}" in error["detail_es"]
    assert "2015.1" in error["detail"] and "2015.1" in error["detail_es"]
    assert audit_events(tenant) == before
    listed = tenant.client.get("/v1/assessments", headers=tenant.headers()).json()["items"]
    assert [a["id"] for a in listed] == [made["assessment_id"]]
