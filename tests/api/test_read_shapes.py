"""Hot reads are sent as pre-serialized JSON (no response validation at run time), so these
tests hold them to their documented models: each answer validates, and dumping the model gives
back every field the server sent (a field the model does not know would be dropped)."""

from __future__ import annotations

from typing import Any

import pytest

from app.api.schemas.analysis import (
    CohortComparisonRead,
    OrgComparisonRead,
    ScoreRead,
)
from app.catalog import Catalog
from app.domain.score_object import SeriesRead
from tests.conftest import Tenant


def _faithful(model: Any, sent: Any) -> None:
    assert model.model_dump(mode="json", exclude_unset=True) == sent


def _scored(
    tenant: Tenant, catalog: Catalog, instrument: str, org: str, round_: str, v: Any
) -> str:
    f = catalog.latest(instrument)
    assert f is not None
    h = tenant.headers()
    body = {
        "organization_id": org,
        "instrument_id": instrument,
        "round": round_,
        "assessed_on": "2024-01-01" if round_ == "baseline" else "2025-01-01",
        "answers": [{"item": k, "value": v} for k in sorted(f.instrument.item_keys)],
    }
    aid = tenant.client.post("/v1/assessments", json=body, headers=h).json()["id"]
    assert tenant.client.post(f"/v1/assessments/{aid}/submit", headers=h).status_code == 200
    return str(aid)


@pytest.mark.parametrize(
    ("instrument", "low", "high"),
    [("oca", 1, 3), ("nupas", "no", "yes"), ("opi", 2, 4), ("cla", 1, 5)],
)
def test_hot_reads_match_their_models(
    tenant: Tenant, catalog: Catalog, instrument: str, low: Any, high: Any
) -> None:
    h = tenant.headers("viewer")
    c = tenant.client
    org = c.post("/v1/organizations", json={"name": "Shape"}, headers=tenant.headers()).json()["id"]
    cohort = c.post("/v1/cohorts", json={"name": "S"}, headers=tenant.headers()).json()["id"]
    c.put(f"/v1/cohorts/{cohort}/members/{org}", headers=tenant.headers())
    a = _scored(tenant, catalog, instrument, org, "baseline", low)
    _scored(tenant, catalog, instrument, org, "endline", high)

    r = c.get(f"/v1/assessments/{a}/scores", headers=h)
    assert r.headers["content-type"].startswith("application/json")
    score = ScoreRead.model_validate(r.json())
    _faithful(score, r.json())
    assert score.assessment_id == a and score.instrument.id == instrument
    assert (score.risk is not None) == (instrument == "nupas")

    r = c.get(f"/v1/organizations/{org}/series?instrument_id={instrument}", headers=h)
    series = SeriesRead.model_validate(r.json())
    _faithful(series, r.json())
    assert [p.round for p in series.points] == ["baseline", "endline"]

    r = c.get(f"/v1/organizations/{org}/comparison?instrument_id={instrument}", headers=h)
    comparison = OrgComparisonRead.model_validate(r.json())
    _faithful(comparison, r.json())
    assert comparison.overall.direction == "up"

    r = c.get(f"/v1/cohorts/{cohort}/comparison?instrument_id={instrument}", headers=h)
    cohort_cmp = CohortComparisonRead.model_validate(r.json())
    _faithful(cohort_cmp, r.json())
    assert cohort_cmp.organizations_with_both == [org]
    assert cohort_cmp.keys[0].outcomes.improved == [org]
