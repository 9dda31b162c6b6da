"""GET /v1/assessments counts each assessment's answers in the database: a page of 100 used to
turn every answer row into an object (4,500 for OCA) only to count them (bench/scale.py)."""

from __future__ import annotations

from typing import Any

from tests.api.factories import create_assessment, create_org, get, item_keys
from tests.conftest import statements_sent

OCA = item_keys("oca")


def test_a_page_counts_answers_without_loading_them(tenant: Any) -> None:
    org = create_org(tenant)
    made = {}
    for n, rnd in ((45, "baseline"), (10, "midline"), (0, "endline")):  # OCA has 45 items
        answers = [{"item": k, "value": 2} for k in OCA[:n]]
        if n:
            answers[0] = {"item": OCA[0], "value": "na"}  # N/A counts as answered
        if n < len(OCA):
            answers.append({"item": OCA[n], "value": None, "note": "a note only"})  # does not
        made[create_assessment(tenant, org["id"], "oca", rnd, answers=answers)["id"]] = n

    with statements_sent() as seen:  # every engine, the app's included
        page = get(tenant, "/v1/assessments", params={"organization_id": org["id"], "limit": 100})

    assert {x["id"]: x["answered"] for x in page["items"]} == made
    loads_answers = [s for s in seen if "answer.position" in s or "answer.note" in s]
    assert loads_answers == []
