"""Verification, OPI style (issue 12): a verified value per item beside the answer (the
self-score); the score object shows both scores and the gap, computed by the one engine and
checked here by hand against it; an assessment without verification is sent exactly as stored."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.catalog import Catalog
from app.db.models import AssessmentScore
from app.domain.rounding import half_even
from app.domain.scoring import NA, score
from tests.api.factories import (
    answers_for,
    assert_problem,
    audit_events,
    call,
    create_assessment,
    create_org,
    db_counts,
    error_codes,
    finalize,
    get,
    ok,
    submit,
)
from tests.api.test_ratings import KEYS, A, B, C


def vurl(a: dict[str, Any]) -> str:
    return f"/v1/assessments/{a['id']}/verification"


def verify(tenant: Any, a: dict[str, Any], values: dict[str, Any], role: str = "editor") -> Any:
    answers = [{"item": k, "value": v, "note": f"reviewed {k}"} for k, v in values.items()]
    return call(tenant, "PATCH", vurl(a), role, json={"answers": answers})


def submitted(tenant: Any) -> dict[str, Any]:
    org = create_org(tenant)
    a = create_assessment(tenant, org["id"], answers=answers_for("oca", 3))
    return submit(tenant, a["id"])


def stored_rendered(session: Session, a: dict[str, Any]) -> str:
    session.expire_all()
    row = session.scalar(
        select(AssessmentScore.rendered).where(AssessmentScore.assessment_id == uuid.UUID(a["id"]))
    )
    return str(row)


def _r(value: float | None) -> float | None:
    return None if value is None else half_even(value)


def test_scores_show_self_and_verified_with_the_gap_by_hand(
    tenant: Any, catalog: Catalog, session: Session
) -> None:
    a = submitted(tenant)
    path = f"/v1/assessments/{a['id']}/scores"
    before = tenant.client.get(path, headers=tenant.headers("viewer"))
    assert before.text == stored_rendered(session, a)
    assert "verification" not in before.json()
    assert ok(call(tenant, "GET", vurl(a))) == {
        "assessment_id": a["id"],
        "status": "submitted",
        "items": [],
        "scores": None,
    }

    read = ok(verify(tenant, a, {B: "na", A: 1, C: 3}))
    assert [(x["item"], x["self"], x["verified"]) for x in read["items"]] == [
        (A, 3.0, 1.0),
        (B, 3.0, "na"),
        (C, 3.0, 3.0),
    ]
    assert read["items"][0]["note"] == f"reviewed {A}"
    assert read["items"][0]["verified_by"].startswith("key:")

    # by hand, from the engine: the answers, and the answers with the verified values in place
    f = catalog.get("oca", a["instrument_version"])
    assert f is not None
    answers = {k: 3.0 for k in KEYS}
    own = score(f.compiled, answers)
    checked = score(f.compiled, {**answers, A: 1.0, B: NA, C: 3.0})
    body = get(tenant, path)
    v = body["verification"]
    assert (v["items_verified"], v["items_changed"], v["items_total"]) == (3, 2, len(KEYS))
    assert v["coverage"] == half_even(3 / len(KEYS))
    assert v["overall"] == {
        "key": None,
        "self": _r(own.overall.score),
        "verified": _r(checked.overall.score),
        "gap": _r(own.overall.score - checked.overall.score),  # type: ignore[operator]
    }
    assert v["overall"]["gap"] > 0  # the self-assessment claimed more than the evidence showed
    for d_own, d_checked, shown in zip(
        own.dimensions, checked.dimensions, v["dimensions"], strict=True
    ):
        assert shown["key"] == d_own.key
        assert (shown["self"], shown["verified"]) == (_r(d_own.score), _r(d_checked.score))
        for x_own, x_checked, x in zip(d_own.areas, d_checked.areas, shown["areas"], strict=True):
            gap = (
                None
                if x_own.score is None or x_checked.score is None
                else (x_own.score - x_checked.score)
            )
            assert (x["key"], x["self"], x["verified"], x["gap"]) == (
                x_own.key,
                _r(x_own.score),
                _r(x_checked.score),
                _r(gap),
            )
    assert any(d["gap"] for d in v["dimensions"])
    # everything else is the stored score, which did not change
    rest = {k: val for k, val in body.items() if k != "verification"}
    assert rest == orjson.loads(before.text)
    assert stored_rendered(session, a) == before.text
    assert [e["action"] for e in audit_events(tenant, action="assessment.verify")] == [
        "assessment.verify"
    ]

    # a blank value clears one item; clearing all gives back the stored score byte for byte
    cleared = ok(verify(tenant, a, {A: None}))
    assert [x["item"] for x in cleared["items"]] == [B, C]
    ok(call(tenant, "DELETE", vurl(a)), 204)
    after = tenant.client.get(path, headers=tenant.headers("viewer"))
    assert after.text == before.text


def test_verification_is_checked_like_answers_and_kept_to_its_workspace(
    tenant: Any, other_tenant: Any, engine: Engine
) -> None:
    a = submitted(tenant)
    before = db_counts(engine)
    problem = assert_problem(verify(tenant, a, {A: 9, "nope.1": 2}), 422)
    assert set(error_codes(problem)) == {(A, "not_on_scale"), ("nope.1", "unknown_item")}
    assert_problem(verify(tenant, a, {A: 2}, "viewer"), 403)
    assert_problem(verify(other_tenant, a, {A: 2}), 404)
    assert_problem(call(other_tenant, "GET", vurl(a)), 404)
    assert_problem(call(other_tenant, "DELETE", vurl(a)), 404)
    assert db_counts(engine) == before
    ok(verify(tenant, a, {A: 2}))
    assert get(tenant, vurl(a))["scores"]["items_verified"] == 1  # viewers read it
    finalize(tenant, a["id"])
    assert_problem(verify(tenant, a, {A: 1}), 409)
    assert_problem(call(tenant, "DELETE", vurl(a)), 409)
    # the final score object still shows the verification recorded before
    assert get(tenant, f"/v1/assessments/{a['id']}/scores")["verification"]["items_verified"] == 1


def test_a_draft_can_be_verified_and_shows_both_scores(tenant: Any) -> None:
    org = create_org(tenant)
    a = create_assessment(tenant, org["id"], answers=answers_for("oca", 2))
    read = ok(verify(tenant, a, {A: 4}))
    assert read["status"] == "draft"
    assert read["scores"]["overall"]["gap"] < 0  # verified higher than self-assessed
