"""Through the API: N/A on a key question is a 422 that says why, the score object carries what
drives the risk and the weakest areas, and scores of an older engine are recomputed at start."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from app.config import Settings
from app.db.models import AssessmentScore
from app.main import create_app
from app.services.scores import ENGINE_VERSION
from tests.api.factories import (
    call,
    create_assessment,
    create_org,
    dimension_items,
    error_codes,
    get,
    item_keys,
    scored,
)


def _nupas_values(**changes: str) -> dict[str, str]:
    values = {k: "yes" for k in item_keys("nupas")}
    values.update(changes)
    return values


def test_na_on_a_key_question_is_a_422_that_says_why(tenant: Any) -> None:
    org = create_org(tenant)
    body = {
        "organization_id": org["id"],
        "instrument_id": "nupas",
        "instrument_version": "2020.1",
        "round": "baseline",
        "assessed_on": "2024-01-10",
        "answers": [
            {"item": "financial.bank.1", "value": "N/A"},
            {"item": "financial.bank.3", "value": "na"},  # not a key question: fine
        ],
    }
    r = call(tenant, "POST", "/v1/assessments", json=body)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert error_codes(problem) == [("financial.bank.1", "na_key_question")]
    [error] = problem["errors"]
    assert "key question" in error["detail"] and "pregunta clave" in error["detail_es"]
    listed = call(tenant, "GET", f"/v1/assessments?organization_id={org['id']}").json()
    assert listed["items"] == []  # nothing written


def test_na_on_a_key_question_the_file_allows_is_accepted(tenant: Any) -> None:
    org = create_org(tenant)
    a = create_assessment(
        tenant,
        org["id"],
        "nupas",
        answers=[{"item": "financial.audit.1", "value": "na", "note": "founded in 2024"}],
    )
    assert a["answers"] == [{"item": "financial.audit.1", "value": "na", "note": "founded in 2024"}]


def test_score_object_shows_driver_weakest_areas_and_notice(tenant: Any) -> None:
    org = create_org(tenant)
    values = _nupas_values(**{k: "no" for k in dimension_items("nupas")["legal"]})
    s = get(
        tenant, f"/v1/assessments/{scored(tenant, org['id'], 'nupas', value=values)['id']}/scores"
    )
    assert s["engine_version"] == ENGINE_VERSION
    r = s["risk"]
    assert (r["overall"], r["driven_by"], r["complete"]) == ("extreme", ["legal"], True)
    assert r["percent"] == 15.53  # 16 of 103 points: the pooled share beside an extreme band
    assert "'Legal structure'" in r["explanation"]["en"]
    assert {c["key"] for c in r["conditions"]} == {
        "technical-assistance",
        "prior-approvals",
        "withhold-next-phase",
        "additional-monitoring",
    }
    assert all(c["notice_complete"] and c["time_allowed"]["es"] for c in r["conditions"])
    assert [w["key"] for w in s["weakest"]] == ["legal.status", "legal.structure", "legal.board"]
    assert s["any_at_lowest_level"] is True
    assert s["lowest_level"] == ["legal.status", "legal.structure", "legal.board"]


def test_scores_of_an_older_engine_are_recomputed_at_start(
    tenant: Any, session: Session, settings: Settings
) -> None:
    org = create_org(tenant)
    a = scored(tenant, org["id"], "opi", value=3)
    old = {"overall": 3.0, "dimensions": {}, "lens": {}, "risk": None}  # engine 1 had no version
    session.execute(
        update(AssessmentScore)
        .where(AssessmentScore.assessment_id == uuid.UUID(a["id"]))
        .values(
            summary=old,
            payload={"engine_version": 1},
            rendered='{"engine_version": 1}',
            engine_version=None,  # as every row stored before the version was recorded
        )
    )
    session.commit()
    with TestClient(create_app(settings), raise_server_exceptions=False) as fresh:
        r = fresh.get(f"/v1/assessments/{a['id']}/scores", headers=tenant.headers("viewer"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["engine_version"] == ENGINE_VERSION
    assert body["overall"]["score"] == 3.0 and body["weakest"]
    row = session.get(AssessmentScore, uuid.UUID(a["id"]))
    assert row is not None
    session.refresh(row)
    assert row.summary["engine_version"] == ENGINE_VERSION
