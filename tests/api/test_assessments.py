"""Assessments: answers in every accepted form, validation that writes nothing, ETags, the
draft -> submitted -> final life cycle, revisions, idempotency and the one-per-round rule."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.api.factories import (
    assert_problem,
    assessment_body,
    audit_events,
    call,
    create_assessment,
    create_org,
    db_fingerprint,
    dimension_items,
    error_codes,
    finalize,
    get,
    item_keys,
    list_all,
    ok,
    scored,
    submit,
)

OCA = item_keys("oca")
OPI = item_keys("opi")
NUPAS = item_keys("nupas")


def _answers(a: dict[str, Any]) -> dict[str, Any]:
    return {x["item"]: x["value"] for x in a["answers"]}


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        (1, 1),
        (4, 4),
        (3.0, 3),
        ("2", 2),
        ("Expanding", 3),
        ("expanding", 3),
        ("  MATURE ", 4),
        ("En expansión", 3),
        ("en expansion", 3),  # accents do not matter
        ("Incipiente", 1),
        ("na", "na"),
        ("N/A", "na"),
        ("No aplica", "na"),
        ("no aplica", "na"),
        ("Not applicable", "na"),
        (None, None),
        ("", None),
    ],
    ids=lambda v: repr(v),
)
def test_oca_answer_forms(tenant: Any, given: Any, stored: Any) -> None:
    org = create_org(tenant)
    key = OCA[0]
    a = create_assessment(
        tenant, org["id"], "oca", answers=[{"item": key, "value": given, "note": "evidence"}]
    )
    got = get(tenant, f"/v1/assessments/{a['id']}")
    assert got["answers"] == [{"item": key, "value": stored, "note": "evidence"}]


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("yes", 1),
        ("no", 0),
        ("Sí", 1),
        ("si", 1),
        ("No", 0),
        ("Y", 1),
        ("n", 0),
        (1, 1),
        (0, 0),
        ("N/A", "na"),
    ],
    ids=lambda v: repr(v),
)
def test_nupas_codes_and_labels(tenant: Any, given: Any, stored: Any) -> None:
    org = create_org(tenant)
    item = NUPAS[1]  # not a key question: those refuse N/A (tests/api/test_risk_never_hides.py)
    a = create_assessment(tenant, org["id"], "nupas", answers=[{"item": item, "value": given}])
    assert _answers(a) == {item: stored}


def test_answers_are_stored_in_instrument_order_with_notes(tenant: Any) -> None:
    org = create_org(tenant)
    answers = [
        {"item": OCA[5], "value": 2},
        {"item": OCA[0], "value": None, "note": "  only a note  "},
        {"item": OCA[2], "value": "na"},
    ]
    a = create_assessment(tenant, org["id"], "oca", answers=answers, assessor="Ana")
    assert a["answers"] == [
        {"item": OCA[0], "value": None, "note": "only a note"},
        {"item": OCA[2], "value": "na", "note": None},
        {"item": OCA[5], "value": 2, "note": None},
    ]
    assert (a["status"], a["revision"], a["replaces_id"], a["assessor"]) == (
        "draft",
        1,
        None,
        "Ana",
    )
    assert (a["instrument_id"], a["instrument_version"]) == ("oca", "2015.2")  # the newest
    listed = list_all(tenant, "/v1/assessments")
    assert [(x["id"], x["answered"], x["is_current"]) for x in listed] == [(a["id"], 2, True)]


def test_validation_lists_every_offending_item_and_writes_nothing(
    tenant: Any, engine: Engine
) -> None:
    org = create_org(tenant)
    body = assessment_body(
        org["id"],
        "oca",
        answers=[
            {"item": "no.such.item", "value": 1},
            {"item": OCA[0], "value": 5},
            {"item": OCA[1], "value": 0},
            {"item": OCA[2], "value": "Excellent"},
            {"item": OCA[3], "value": 2.5},
            {"item": OCA[4], "value": -1},
            {"item": OCA[5], "value": 1},
            {"item": OCA[5], "value": 2},
            {"item": OCA[6], "value": 3},
        ],
    )
    before = db_fingerprint(engine)
    items_before = list_all(tenant, "/v1/assessments")
    problem = assert_problem(
        call(tenant, "POST", "/v1/assessments", json=body), 422, "invalid-answers"
    )
    assert error_codes(problem) == [
        ("no.such.item", "unknown_item"),
        (OCA[0], "not_on_scale"),
        (OCA[1], "not_on_scale"),
        (OCA[2], "not_on_scale"),
        (OCA[3], "not_on_scale"),
        (OCA[4], "not_on_scale"),
        (OCA[5], "duplicate_item"),
    ]
    assert [e["pointer"] for e in problem["errors"]] == [
        "/answers/0",
        "/answers/1",
        "/answers/2",
        "/answers/3",
        "/answers/4",
        "/answers/5",
        "/answers/7",
    ]
    assert all(e["detail"] and e["detail_es"] for e in problem["errors"])
    assert "nothing was written" in problem["detail"]
    assert db_fingerprint(engine) == before
    assert list_all(tenant, "/v1/assessments") == items_before == []


@pytest.mark.parametrize(
    ("instrument_id", "value"),
    [("oca", True), ("nupas", True), ("nupas", False)],
    ids=["oca-true", "nupas-true", "nupas-false"],
)
def test_json_booleans_are_not_answers(
    tenant: Any, engine: Engine, instrument_id: str, value: bool
) -> None:
    """Bug: a JSON true/false became the scale value 1/0 (OCA "Nascent", NUPAS "yes"/"no"),
    although app.domain.answers.interpret refuses booleans: the request model coerced first."""
    org = create_org(tenant)
    key = item_keys(instrument_id)[0]
    before = db_fingerprint(engine)
    body = assessment_body(org["id"], instrument_id, answers=[{"item": key, "value": value}])
    problem = assert_problem(call(tenant, "POST", "/v1/assessments", json=body), 422)
    assert problem["errors"][0]["pointer"].startswith("/answers/0")
    assert db_fingerprint(engine) == before


def test_opi_forbids_na(tenant: Any, engine: Engine) -> None:
    org = create_org(tenant)
    before = db_fingerprint(engine)
    body = assessment_body(
        org["id"],
        "opi",
        answers=[{"item": OPI[0], "value": "N/A"}, {"item": OPI[1], "value": "No aplica"}],
    )
    problem = assert_problem(call(tenant, "POST", "/v1/assessments", json=body), 422)
    assert error_codes(problem) == [(OPI[0], "na_not_allowed"), (OPI[1], "na_not_allowed")]
    assert db_fingerprint(engine) == before


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        ({"instrument_id": "nope"}, "/instrument_id"),
        ({"instrument_version": "1999.9"}, "/instrument_version"),
        ({"organization_id": str(uuid.uuid4())}, "/organization_id"),
        ({"organization_id": "nope"}, "/organization_id"),
        ({"round": ""}, "/round"),
        ({"round": "   "}, "/round"),
        ({"round": "r" * 65}, "/round"),
        ({"assessed_on": "2024-02-30"}, "/assessed_on"),
        ({"assessed_on": "0000-00-00"}, "/assessed_on"),
        ({"assessed_on": None}, "/assessed_on"),
        ({"status": "final"}, "/status"),
        ({"answers": [{"item": OCA[0], "value": 1, "score": 9}]}, "/answers/0/score"),
        ({"answers": [{"value": 1}]}, "/answers/0/item"),
        ({"answers": [{"item": OCA[0], "value": {"v": 1}}]}, "/answers/0/value"),
        ({"answers": [{"item": "x", "value": 1}] * 2001}, "/answers"),
    ],
    ids=[
        "unknown-instrument",
        "unknown-version",
        "unknown-org",
        "org-not-uuid",
        "empty-round",
        "blank-round",
        "long-round",
        "feb-30",
        "zero-date",
        "null-date",
        "mass-assign-status",
        "answer-extra-field",
        "answer-no-item",
        "answer-object",
        "too-many-answers",
    ],
)
def test_create_rejects_and_writes_nothing(
    tenant: Any, engine: Engine, change: dict[str, Any], pointer: str
) -> None:
    org = create_org(tenant)
    before = db_fingerprint(engine)
    body = {**assessment_body(org["id"], "oca"), **change}
    problem = assert_problem(call(tenant, "POST", "/v1/assessments", json=body), 422)
    pointers = [e.get("pointer") for e in problem.get("errors") or []]
    assert any(p and p.startswith(pointer) for p in pointers), problem
    assert db_fingerprint(engine) == before


def test_second_assessment_for_the_same_round_is_409(tenant: Any, engine: Engine) -> None:
    org = create_org(tenant)
    first = create_assessment(tenant, org["id"], "oca", "baseline")
    before = db_fingerprint(engine)
    body = assessment_body(org["id"], "oca", "baseline", assessed_on="2024-05-05")
    problem = assert_problem(call(tenant, "POST", "/v1/assessments", json=body), 409, "conflict")
    assert problem["existing_id"] == first["id"]
    assert db_fingerprint(engine) == before
    # another round, or another instrument for the same round, is fine
    create_assessment(tenant, org["id"], "oca", "endline")
    create_assessment(tenant, org["id"], "opi", "baseline", 2)


def test_patch_needs_a_current_if_match(tenant: Any, engine: Engine) -> None:
    org = create_org(tenant)
    created = call(tenant, "POST", "/v1/assessments", json=assessment_body(org["id"], "oca"))
    a = ok(created, 201)
    url = f"/v1/assessments/{a['id']}"
    etag = created.headers["ETag"]
    assert etag == a["etag"] == f'"{a["id"]}.1"'
    before = db_fingerprint(engine)
    assert_problem(call(tenant, "PATCH", url, json={"assessor": "x"}), 428, "precondition-required")
    assert_problem(
        call(tenant, "PATCH", url, json={"assessor": "x"}, headers={"If-Match": '"other.1"'}),
        412,
        "precondition-failed",
    )
    assert db_fingerprint(engine) == before
    resp = call(
        tenant,
        "PATCH",
        url,
        json={
            "assessor": "Luis",
            "assessed_on": "2024-02-01",
            "round": "baseline-2024",
            "answers": [{"item": OCA[0], "value": 1}, {"item": OCA[1], "value": None}],
        },
        headers={"If-Match": etag},
    )
    after = ok(resp)
    assert resp.headers["ETag"] == after["etag"] == f'"{a["id"]}.2"'
    assert (after["assessor"], after["assessed_on"], after["round"]) == (
        "Luis",
        "2024-02-01",
        "baseline-2024",
    )
    got = _answers(after)
    assert got[OCA[0]] == 1
    assert OCA[1] not in got  # a null value without a note removes the answer
    assert got[OCA[2]] == 3  # others stay
    assert len(got) == len(OCA) - 1
    # the old ETag is now stale
    assert_problem(
        call(tenant, "PATCH", url, json={"assessor": "y"}, headers={"If-Match": etag}), 412
    )
    # an invalid answer in a PATCH changes nothing
    before = db_fingerprint(engine)
    bad = call(
        tenant,
        "PATCH",
        url,
        json={"answers": [{"item": OCA[0], "value": 9}]},
        headers={"If-Match": after["etag"]},
    )
    assert error_codes(assert_problem(bad, 422)) == [(OCA[0], "not_on_scale")]
    assert db_fingerprint(engine) == before


@pytest.mark.parametrize("field", ["assessed_on", "retrospective"])
def test_patch_null_on_a_required_field_is_422(tenant: Any, engine: Engine, field: str) -> None:
    """Bug: PATCH /v1/assessments/{id} {"assessed_on": null} (or "retrospective": null) reached
    the NOT NULL constraint and answered 500."""
    org = create_org(tenant)
    a = create_assessment(tenant, org["id"], "opi", "baseline", 2)
    before = db_fingerprint(engine)
    resp = call(
        tenant,
        "PATCH",
        f"/v1/assessments/{a['id']}",
        json={field: None},
        headers={"If-Match": a["etag"]},
    )
    problem = assert_problem(resp, 422)
    assert f"/{field}" in [e["pointer"] for e in problem["errors"]]
    assert db_fingerprint(engine) == before


def test_patch_round_to_a_taken_round_is_409(tenant: Any) -> None:
    org = create_org(tenant)
    create_assessment(tenant, org["id"], "opi", "baseline", 2)
    b = create_assessment(tenant, org["id"], "opi", "endline", 3)
    resp = call(
        tenant,
        "PATCH",
        f"/v1/assessments/{b['id']}",
        json={"round": "baseline"},
        headers={"If-Match": b["etag"]},
    )
    assert_problem(resp, 409, "conflict")
    assert get(tenant, f"/v1/assessments/{b['id']}")["round"] == "endline"


def test_submit_incomplete_lists_missing_items(tenant: Any, engine: Engine) -> None:
    org = create_org(tenant)
    answered = OPI[:6]  # OPI needs every item (min_coverage 1.0)
    a = create_assessment(
        tenant, org["id"], "opi", answers=[{"item": k, "value": 2} for k in answered]
    )
    before = db_fingerprint(engine)
    problem = assert_problem(call(tenant, "POST", f"/v1/assessments/{a['id']}/submit"), 422)
    assert error_codes(problem) == [(k, "missing") for k in OPI[6:]]
    assert "6 of 8" in problem["detail"]
    assert db_fingerprint(engine) == before
    assert get(tenant, f"/v1/assessments/{a['id']}")["status"] == "draft"
    assert_problem(call(tenant, "GET", f"/v1/assessments/{a['id']}/scores"), 409)


def test_oca_submit_below_coverage_lists_missing(tenant: Any) -> None:
    org = create_org(tenant)
    keep = OCA[:30]  # 30 of 45 = 67% < 75%
    a = create_assessment(tenant, org["id"], "oca", answers=[{"item": k, "value": 3} for k in keep])
    problem = assert_problem(call(tenant, "POST", f"/v1/assessments/{a['id']}/submit"), 422)
    assert [i for i, _ in error_codes(problem)] == OCA[30:]


def test_life_cycle(tenant: Any) -> None:
    org = create_org(tenant)
    a = create_assessment(tenant, org["id"], "opi", "baseline", 3)
    url = f"/v1/assessments/{a['id']}"
    assert_problem(call(tenant, "POST", f"{url}/finalize"), 409, "conflict")  # draft
    s = submit(tenant, a["id"])
    assert s["status"] == "submitted" and s["submitted_at"] is not None
    assert s["etag"] != a["etag"]
    assert get(tenant, f"{url}/scores")["overall"]["score"] == 3.0
    assert_problem(call(tenant, "POST", f"{url}/submit"), 409)  # already submitted
    patch = call(tenant, "PATCH", url, json={"assessor": "x"}, headers={"If-Match": s["etag"]})
    assert "reopen" in assert_problem(patch, 409)["detail"]
    # reopen -> draft, the stored score goes
    r = ok(call(tenant, "POST", f"{url}/reopen"))
    assert (r["status"], r["submitted_at"]) == ("draft", None)
    assert_problem(call(tenant, "GET", f"{url}/scores"), 409)
    submit(tenant, a["id"])
    f = finalize(tenant, a["id"])
    assert f["status"] == "final" and f["finalized_at"] is not None
    for action in ("submit", "finalize", "reopen"):
        assert_problem(call(tenant, "POST", f"{url}/{action}"), 409)
    patch = call(tenant, "PATCH", url, json={"assessor": "x"}, headers={"If-Match": f["etag"]})
    assert "revision" in assert_problem(patch, 409)["detail"]
    assert get(tenant, f"{url}/scores")["overall"]["score"] == 3.0
    # a stale If-Match on an action is refused too
    org2 = create_org(tenant)
    b = create_assessment(tenant, org2["id"], "opi", "baseline", 2)
    stale = call(tenant, "POST", f"/v1/assessments/{b['id']}/submit", headers={"If-Match": '"x.9"'})
    assert_problem(stale, 412)
    good = call(
        tenant, "POST", f"/v1/assessments/{b['id']}/submit", headers={"If-Match": b["etag"]}
    )
    assert ok(good)["status"] == "submitted"


def test_revision_flow(tenant: Any) -> None:
    org = create_org(tenant)
    old = finalize(tenant, scored(tenant, org["id"], "opi", "baseline", 2)["id"])
    resp = call(
        tenant,
        "POST",
        f"/v1/assessments/{old['id']}/revisions",
        json={"assessor": "Reviewer", "answers": [{"item": OPI[0], "value": 4}]},
    )
    new = ok(resp, 201)
    assert resp.headers["Location"] == f"/v1/assessments/{new['id']}"
    assert (new["status"], new["revision"], new["replaces_id"]) == ("draft", 2, old["id"])
    assert (new["round"], new["assessed_on"], new["assessor"]) == (
        "baseline",
        old["assessed_on"],
        "Reviewer",
    )
    assert _answers(new) == {**_answers(old), OPI[0]: 4}
    # the old one stays readable, unchanged, and says what replaced it
    old_now = get(tenant, f"/v1/assessments/{old['id']}")
    assert old_now["status"] == "final"
    assert old_now["replaced_by_id"] == new["id"]
    assert _answers(old_now) == _answers(old)
    # until the new one is submitted, the series shows the old one
    series = get(tenant, f"/v1/organizations/{org['id']}/series", params={"instrument_id": "opi"})
    assert [p["assessment_id"] for p in series["points"]] == [old["id"]]
    # only the latest revision takes a revision; a draft takes none
    assert_problem(call(tenant, "POST", f"/v1/assessments/{old['id']}/revisions", json={}), 409)
    assert_problem(call(tenant, "POST", f"/v1/assessments/{new['id']}/revisions", json={}), 409)
    submit(tenant, new["id"])
    series = get(tenant, f"/v1/organizations/{org['id']}/series", params={"instrument_id": "opi"})
    assert [(p["assessment_id"], p["revision"]) for p in series["points"]] == [(new["id"], 2)]
    assert series["points"][0]["overall"]["score"] == 2.25  # (4+2)/2, 2, 2, 2 -> 9/4
    current = list_all(tenant, "/v1/assessments", current_only="true")
    assert [x["id"] for x in current] == [new["id"]]
    everything = list_all(tenant, "/v1/assessments", organization_id=org["id"])
    assert {x["id"]: x["is_current"] for x in everything} == {old["id"]: False, new["id"]: True}
    # comparison by round label uses the newest revision
    cmp = get(
        tenant,
        f"/v1/organizations/{org['id']}/comparison",
        params={"instrument_id": "opi", "baseline": "baseline", "endline": old["id"]},
    )
    assert cmp["baseline"]["assessment_id"] == new["id"]
    assert cmp["endline"]["assessment_id"] == old["id"]


def test_revision_with_bad_answers_writes_nothing(tenant: Any, engine: Engine) -> None:
    org = create_org(tenant)
    old = finalize(tenant, scored(tenant, org["id"], "opi", "baseline", 2)["id"])
    before = db_fingerprint(engine)
    resp = call(
        tenant,
        "POST",
        f"/v1/assessments/{old['id']}/revisions",
        json={"answers": [{"item": OPI[0], "value": "na"}, {"item": "zzz", "value": 1}]},
    )
    assert error_codes(assert_problem(resp, 422)) == [
        (OPI[0], "na_not_allowed"),
        ("zzz", "unknown_item"),
    ]
    assert db_fingerprint(engine) == before
    assert get(tenant, f"/v1/assessments/{old['id']}")["replaced_by_id"] is None


def test_idempotency_key(tenant: Any, other_tenant: Any, engine: Engine) -> None:
    org = create_org(tenant)
    body = assessment_body(org["id"], "opi", "baseline", 2)
    key = {"Idempotency-Key": f'"{uuid.uuid4()}"'}
    first = call(tenant, "POST", "/v1/assessments", json=body, headers=key)
    a = ok(first, 201)
    assert "Idempotent-Replayed" not in first.headers
    before = db_fingerprint(engine)
    again = call(tenant, "POST", "/v1/assessments", json=body, headers=key)
    b = ok(again, 201)
    assert b["id"] == a["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    assert db_fingerprint(engine) == before
    # the same key with another body is refused
    other = {**body, "round": "endline"}
    problem = assert_problem(call(tenant, "POST", "/v1/assessments", json=other, headers=key), 422)
    assert "Idempotency-Key" in problem["detail"]
    assert db_fingerprint(engine) == before
    # keys are per workspace: another workspace's identical key is a new request
    org2 = create_org(other_tenant)
    c = ok(
        call(
            other_tenant,
            "POST",
            "/v1/assessments",
            json=assessment_body(org2["id"], "opi", "baseline", 2),
            headers=key,
        ),
        201,
    )
    assert c["id"] != a["id"]
    assert len(list_all(tenant, "/v1/assessments")) == 1
    assert [e["action"] for e in audit_events(tenant, object_id=a["id"])] == ["assessment.create"]


@pytest.mark.parametrize(
    ("url", "body"),
    [("/v1/organizations", {"name": "Idem Org"}), ("/v1/cohorts", {"name": "Idem Cohort"})],
    ids=["organizations", "cohorts"],
)
def test_idempotency_key_on_other_creates(
    tenant: Any, engine: Engine, url: str, body: dict[str, Any]
) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = ok(call(tenant, "POST", url, json=body, headers=key), 201)
    before = db_fingerprint(engine)
    again = call(tenant, "POST", url, json=body, headers=key)
    assert ok(again, 201)["id"] == first["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert db_fingerprint(engine) == before
    assert_problem(call(tenant, "POST", url, json={"name": "Else"}, headers=key), 422)
    assert db_fingerprint(engine) == before


@pytest.mark.parametrize(
    "key", ["", '""', "   ", "k" * 201], ids=["empty", "empty-quoted", "blank", "long"]
)
def test_bad_idempotency_keys_are_422(tenant: Any, engine: Engine, key: str) -> None:
    before = db_fingerprint(engine)
    resp = call(
        tenant, "POST", "/v1/organizations", json={"name": "x"}, headers={"Idempotency-Key": key}
    )
    assert_problem(resp, 422)
    assert db_fingerprint(engine) == before


def test_list_filters(tenant: Any) -> None:
    org1, org2 = create_org(tenant), create_org(tenant)
    a = create_assessment(tenant, org1["id"], "opi", "baseline", 2, assessed_on="2023-03-01")
    b = scored(tenant, org1["id"], "opi", "endline", 3, assessed_on="2024-03-01")
    c = create_assessment(tenant, org2["id"], "oca", "baseline", 3, assessed_on="2024-06-01")

    def ids(**params: Any) -> list[str]:
        return [x["id"] for x in list_all(tenant, "/v1/assessments", **params)]

    assert ids() == [a["id"], b["id"], c["id"]]
    assert ids(organization_id=org1["id"]) == [a["id"], b["id"]]
    assert ids(instrument_id="oca") == [c["id"]]
    assert ids(round="baseline") == [a["id"], c["id"]]
    assert ids(status="submitted") == [b["id"]]
    assert ids(assessed_from="2024-01-01") == [b["id"], c["id"]]
    assert ids(assessed_to="2024-03-01") == [a["id"], b["id"]]
    assert ids(assessed_from="2024-04-01", assessed_to="2024-01-01") == []
    assert_problem(call(tenant, "GET", "/v1/assessments", params={"status": "deleted"}), 422)
    assert_problem(
        call(tenant, "GET", "/v1/assessments", params={"assessed_from": "2024-13-01"}), 422
    )
    p1 = get(tenant, "/v1/assessments", params={"limit": 2})
    p2 = get(tenant, "/v1/assessments", params={"limit": 2, "cursor": p1["next_cursor"]})
    assert [x["id"] for x in p1["items"] + p2["items"]] == [a["id"], b["id"], c["id"]]
    assert p2["next_cursor"] is None


def test_every_dimension_of_every_instrument_can_be_answered(tenant: Any) -> None:
    org = create_org(tenant)
    for instrument_id, value in (
        ("oca", 2),
        ("opi", 2),
        ("cla", 3),
        ("csa-sustainability", 4),
        ("nupas", "yes"),
    ):
        a = scored(tenant, org["id"], instrument_id, "baseline", value)
        s = get(tenant, f"/v1/assessments/{a['id']}/scores")
        assert [d["key"] for d in s["dimensions"]] == list(dimension_items(instrument_id))
        assert s["overall"]["missing"] == 0
        assert s["overall"]["answered"] == len(item_keys(instrument_id))


def test_an_idempotency_key_expires_after_a_day(tenant: Any, engine: Engine) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from app.db.models import IdempotencyRecord

    org = create_org(tenant)
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = ok(call(tenant, "POST", "/v1/organizations", json={"name": "One"}, headers=key), 201)
    replay = ok(call(tenant, "POST", "/v1/organizations", json={"name": "One"}, headers=key), 201)
    assert replay["id"] == first["id"]
    with engine.begin() as conn:
        conn.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.key == key["Idempotency-Key"])
            .values(created_at=datetime.now(UTC) - timedelta(hours=25))
        )
    # A day later the key is free again: a new request, even with another body.
    later = ok(call(tenant, "POST", "/v1/organizations", json={"name": "Two"}, headers=key), 201)
    assert later["id"] not in (first["id"], org["id"]) and later["name"] == "Two"
    again = ok(call(tenant, "POST", "/v1/organizations", json={"name": "Two"}, headers=key), 201)
    assert again["id"] == later["id"]  # and it answers retries for the next day


def test_a_record_serializes_as_assessment_read(tenant: Any, session: Any, catalog: Any) -> None:
    # The write routes send the service's record as it stands: its bytes must be what the
    # documented AssessmentRead gives, for a record made of what was just written and for one
    # read back (on SQLite the database hands moments back without their zone).
    from datetime import date

    from app.api.routes.assessments import assessment_json
    from app.api.schemas.records import AssessmentRead
    from app.domain.answers import RawAnswer
    from app.services import assessment_records as records
    from app.services import assessments as svc
    from app.services.assessments import AssessmentData

    def as_read(a: records.AssessmentRecord) -> bytes:
        return AssessmentRead.model_validate(a, from_attributes=True).model_dump_json().encode()

    org = create_org(tenant)
    answers = [
        RawAnswer(k, [1, 2, 4, None][i % 4], f"n{i}" if i % 3 else None) for i, k in enumerate(OCA)
    ]
    data = AssessmentData(
        organization_id=uuid.UUID(org["id"]),
        instrument_id="oca",
        instrument_version=None,
        round="baseline",
        assessed_on=date(2024, 5, 1),
        assessor="Ana",
        performance={"metric": "Local budget (%)", "value": 42.5, "higher_is_better": False},
        answers=answers,
    )
    written, _ = svc.create_assessment(session, tenant.principal, catalog, data)
    assert assessment_json(written) == as_read(written)
    read = records.get_record(session, tenant.principal, written.id)
    assert assessment_json(read) == as_read(read) == assessment_json(written)
    alone = records.read_assessment(session, tenant.principal, written.id)  # evidence: []
    assert assessment_json(alone) == as_read(alone)
    sent = call(tenant, "GET", f"/v1/assessments/{written.id}")
    assert sent.content == as_read(records.read_assessment(session, tenant.principal, written.id))
