"""An organization whose rounds answered different items is compared on the items answered in
both; a round those items leave as it was (what only the other round answered is N/A here
already) keeps its stored score, which is the score of these very answers; a round they change
is scored again."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.db.models import AssessmentScore, RoundPair
from tests.api.factories import add_member, answers_for, create_cohort, create_org, get, item_keys
from tests.api.factories import scored as scored_assessment

SENTINEL = 9.5  # no OCA score: shows which numbers were read from the stored summaries


def _cohort(tenant: Any) -> tuple[str, dict[str, list[str]]]:
    keys = item_keys("oca")
    c, d = keys[2], keys[3]
    cohort = create_cohort(tenant, name=f"Stored side {uuid.uuid4().hex[:6]}")
    ids: dict[str, list[str]] = {}
    rounds = {
        # item c answered at baseline, N/A at endline: the endline is left as it was
        "Dropped": (
            answers_for("oca", lambda k, _: 4 if k == c else 2),
            answers_for("oca", lambda k, _: "na" if k == c else 2),
        ),
        # item d missing at baseline, answered at endline: N/A on both sides, both changed
        "Gap": (
            answers_for("oca", 2, only=[k for k in keys if k != d]),
            answers_for("oca", lambda k, _: 4 if k == d else 3),
        ),
    }
    for name, (base, end) in rounds.items():
        oid = create_org(tenant, name=name)["id"]
        add_member(tenant, cohort["id"], oid)
        ids[name] = [
            scored_assessment(tenant, oid, "oca", "baseline", answers=base)["id"],
            scored_assessment(tenant, oid, "oca", "endline", answers=end)["id"],
        ]
    return cohort["id"], ids


def _overall(tenant: Any, cohort_id: str) -> dict[str, tuple[float, float]]:
    body = get(tenant, f"/v1/cohorts/{cohort_id}/comparison", params={"instrument_id": "oca"})
    return {
        o["name"]: (o["baseline"]["scores"]["overall"], o["endline"]["scores"]["overall"])
        for o in body["organizations"]
    }


def test_a_round_left_as_it_was_keeps_its_stored_score_and_a_changed_one_is_scored_again(
    tenant: Any, session: Session
) -> None:
    cohort_id, ids = _cohort(tenant)
    before = _overall(tenant, cohort_id)
    assert before == {"Dropped": (2.0, 2.0), "Gap": (2.0, 3.0)}
    rows = session.scalars(
        select(AssessmentScore).where(
            AssessmentScore.assessment_id.in_(uuid.UUID(i) for pair in ids.values() for i in pair)
        )
    ).all()
    assert len(rows) == 4
    for row in rows:
        row.summary = {**row.summary, "overall": SENTINEL}
    # the numbers made at submit for both rounds (round pairs) would be read instead: this is
    # about the read comparing the rounds itself, as it does when they are missing
    session.execute(
        delete(RoundPair).where(RoundPair.first_id.in_([r.assessment_id for r in rows]))
    )
    session.commit()
    assert _overall(tenant, cohort_id) == {"Dropped": (2.0, SENTINEL), "Gap": (2.0, 3.0)}
