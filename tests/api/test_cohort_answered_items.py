"""The cohort comparison decides from stored digests which organizations answered the same items
in both rounds (their stored scores are used) and which did not (scored again on the items
answered in both); scores stored before the digest was recorded compare exactly the same."""

from __future__ import annotations

import importlib.util
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import AssessmentScore
from app.services.scores import ANSWERED
from tests.api.factories import (
    add_member,
    answers_for,
    create_cohort,
    create_org,
    get,
    item_keys,
    scored,
)


def _cohort(tenant: Any) -> tuple[str, dict[str, str], list[str]]:
    """Three organizations: the same items in both rounds; as many items in both rounds but not
    the same ones (A left empty at baseline, B at endline); an item N/A at endline only."""
    keys = item_keys("oca")
    a, b, c = keys[0], keys[1], keys[2]
    cohort = create_cohort(tenant, name=f"Items {uuid.uuid4().hex[:6]}")
    orgs = {name: create_org(tenant, name=name)["id"] for name in ("Same", "Swapped", "Dropped")}
    for oid in orgs.values():
        add_member(tenant, cohort["id"], oid)
    ids = []
    ids.append(scored(tenant, orgs["Same"], "oca", "baseline", 2)["id"])
    ids.append(scored(tenant, orgs["Same"], "oca", "endline", 3)["id"])
    # stored: the baseline counts B at 4, the endline A at 4; on common items both are all 1
    base = answers_for("oca", lambda k, _: 4 if k == b else 1, only=[k for k in keys if k != a])
    end = answers_for("oca", lambda k, _: 4 if k == a else 1, only=[k for k in keys if k != b])
    ids.append(scored(tenant, orgs["Swapped"], "oca", "baseline", answers=base)["id"])
    ids.append(scored(tenant, orgs["Swapped"], "oca", "endline", answers=end)["id"])
    ids.append(
        scored(tenant, orgs["Dropped"], "oca", "baseline", lambda k, _: 4 if k == c else 2)["id"]
    )
    ids.append(
        scored(tenant, orgs["Dropped"], "oca", "endline", lambda k, _: "na" if k == c else 2)["id"]
    )
    return cohort["id"], orgs, ids


def _comparison(tenant: Any, cohort_id: str) -> dict[str, Any]:
    return get(tenant, f"/v1/cohorts/{cohort_id}/comparison", params={"instrument_id": "oca"})


def test_rounds_that_answered_different_items_are_scored_again_on_common_items(
    tenant: Any,
) -> None:
    cohort_id, orgs, _ = _cohort(tenant)
    keys = item_keys("oca")
    stored = {
        name: get(tenant, f"/v1/organizations/{oid}/series", params={"instrument_id": "oca"})
        for name, oid in orgs.items()
    }
    assert [p["overall"] for p in stored["Swapped"]["points"]] != [1.0, 1.0]
    by_name = {o["name"]: o for o in _comparison(tenant, cohort_id)["organizations"]}
    same, swapped, dropped = by_name["Same"], by_name["Swapped"], by_name["Dropped"]
    assert (same["baseline"]["scores"]["overall"], same["endline"]["scores"]["overall"]) == (2, 3)
    assert same["left_out"] == []
    assert swapped["baseline"]["scores"]["overall"] == 1.0
    assert swapped["endline"]["scores"]["overall"] == 1.0
    assert [(x["key"], x["code"]) for x in swapped["left_out"]] == [
        (keys[0], "missing_at_baseline"),
        (keys[1], "missing_at_endline"),
    ]
    assert dropped["baseline"]["scores"]["overall"] == 2.0
    assert [(x["key"], x["code"]) for x in dropped["left_out"]] == [(keys[2], "na_at_endline")]


def _strip_digests(session: Session, ids: list[str]) -> int:
    """Make these stored scores look as they were stored before the digest was recorded."""
    rows = session.scalars(
        select(AssessmentScore).where(AssessmentScore.assessment_id.in_(uuid.UUID(i) for i in ids))
    ).all()
    for row in rows:
        assert ANSWERED in row.summary
        row.summary = {k: v for k, v in row.summary.items() if k != ANSWERED}
    session.commit()
    return len(rows)


def test_scores_stored_without_the_digest_compare_exactly_the_same(
    tenant: Any, session: Session
) -> None:
    cohort_id, _, ids = _cohort(tenant)
    with_digests = _comparison(tenant, cohort_id)
    assert _strip_digests(session, ids[0::2]) == 3  # the baselines: one side of each pair
    assert _comparison(tenant, cohort_id) == with_digests
    assert _strip_digests(session, ids[1::2]) == 3  # and the endlines: none has one now
    assert _comparison(tenant, cohort_id) == with_digests


def _migration() -> Any:
    path = next(Path("migrations/versions").glob("*_record_the_answered_items_of_stored_scores.py"))
    spec = importlib.util.spec_from_file_location("answered_items_migration", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_migration_writes_the_digest_store_score_writes(tenant: Any, session: Session) -> None:
    _, _, ids = _cohort(tenant)
    as_stored = {
        row.assessment_id: row.summary
        for row in session.scalars(
            select(AssessmentScore).where(
                AssessmentScore.assessment_id.in_(uuid.UUID(i) for i in ids)
            )
        )
    }
    assert len({s[ANSWERED] for s in as_stored.values()}) == 4  # all 45; Swapped x2; one N/A
    _strip_digests(session, ids)
    assert _migration().backfill(session.connection()) >= len(ids)
    session.commit()
    session.expire_all()
    for a_id, summary in as_stored.items():
        row = session.get(AssessmentScore, a_id)
        assert row is not None and row.summary == summary
