"""Individual ratings of a facilitated assessment (issue 12): validated like answers, the
distribution per item (hand-checked), the disagreement rule, fewer than three raters withheld,
viewers refused, other workspaces' assessments absent, the consensus proposed and applied, and
scores untouched by ratings."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from tests.api.factories import (
    answers_for,
    assert_problem,
    audit_events,
    call,
    create_assessment,
    create_org,
    db_counts,
    error_codes,
    get,
    item_keys,
    ok,
    submit,
)

KEYS = item_keys("oca")
A, B, C, D = KEYS[:4]


def url(a: dict[str, Any], rest: str = "") -> str:
    return f"/v1/assessments/{a['id']}/ratings{rest}"


def put(tenant: Any, a: dict[str, Any], code: str, values: dict[str, Any], **kw: Any) -> Any:
    answers = [{"item": k, "value": v} for k, v in values.items()]
    body = {"answers": answers, **kw}
    return call(tenant, "PUT", url(a, f"/{code}"), json=body)


# Four raters; item A: 1, 2, 2, 4 (wide); B: 2, 3, 3, N/A (close); C: rated by two only;
# D: N/A, N/A, N/A, 3 (most said N/A)
RATINGS = {
    "R01": {A: 1, B: 2, C: 1, D: "na"},
    "R02": {A: 2, B: 3, C: 4, D: "na"},
    "R03": {A: 2, B: "Expanding", D: "N/A"},
    "R04": {A: 4, B: "na", D: 3},
}


def rated(tenant: Any) -> dict[str, Any]:
    """A draft whose own answers cover every item but the four rated ones (so it can submit)."""
    org = create_org(tenant)
    a = create_assessment(tenant, org["id"], answers=answers_for("oca", 3, only=KEYS[4:]))
    for code, values in RATINGS.items():
        ok(put(tenant, a, code, values))
    return a


def test_a_rater_puts_and_reads_their_own_ratings(tenant: Any) -> None:
    org = create_org(tenant)
    a = create_assessment(tenant, org["id"], answers=[])
    body = {
        "name": "Ana (treasurer)",
        "answers": [
            {"item": B, "value": "na", "note": "no such unit"},
            {"item": A, "value": "Emergente"},
        ],
    }
    r = ok(call(tenant, "PUT", url(a, "/r07"), json=body))
    assert (r["code"], r["name"], r["answered"], r["na"]) == ("R07", "Ana (treasurer)", 1, 1)
    # stored in the instrument's order, with the label read as its value
    assert r["ratings"] == [
        {"item": A, "value": 2.0, "note": None},
        {"item": B, "value": "na", "note": "no such unit"},
    ]
    assert ok(call(tenant, "GET", url(a, "/R07"))) == r
    # PUT replaces the rater's ratings (and name) as a whole
    again = ok(put(tenant, a, "R07", {C: 4}))
    assert (again["name"], [x["item"] for x in again["ratings"]]) == (None, [C])
    assert again["created_at"] == r["created_at"]
    assert_problem(call(tenant, "GET", url(a, "/R99")), 404)
    # the assessment's own answers are untouched
    assert ok(call(tenant, "GET", f"/v1/assessments/{a['id']}"))["answers"] == []
    actions = [e["action"] for e in audit_events(tenant, action="rating.put")]
    assert actions == ["rating.put", "rating.put"]
    changes = [e["changes"] for e in audit_events(tenant, action="rating.put")]
    assert all("Ana" not in str(c) for c in changes)  # the audit names the code, never the name


def test_ratings_are_validated_like_answers_and_nothing_is_written(
    tenant: Any, engine: Engine
) -> None:
    org = create_org(tenant)
    a = create_assessment(tenant, org["id"], answers=[])
    before = db_counts(engine)
    body = {
        "answers": [
            {"item": A, "value": 3},
            {"item": B, "value": 7},
            {"item": "nope.1", "value": 2},
            {"item": A, "value": 2},
        ]
    }
    problem = assert_problem(call(tenant, "PUT", url(a, "/R01"), json=body), 422, "invalid-answers")
    assert set(error_codes(problem)) == {
        (B, "not_on_scale"),
        ("nope.1", "unknown_item"),
        (A, "duplicate_item"),
    }
    assert {e["pointer"] for e in problem["errors"]} == {"/answers/1", "/answers/2", "/answers/3"}
    assert_problem(put(tenant, a, "R 01", {A: 2}), 422)  # not a rater code
    assert_problem(put(tenant, a, "-R1", {A: 2}), 422)
    assert db_counts(engine) == before


def test_distribution_per_item_by_hand(tenant: Any) -> None:
    a = rated(tenant)
    s = ok(call(tenant, "GET", url(a)))
    assert [r["code"] for r in s["raters"]] == ["R01", "R02", "R03", "R04"]
    assert s["rule"]["min_raters"] == 3 and s["rule"]["wide_steps"] == 2
    by = {x["item"]: x for x in s["items"]}
    assert len(by) == len(KEYS)
    a_ = by[A]
    assert (a_["rated"], a_["n"], a_["n_na"], a_["min"], a_["max"]) == (4, 4, 0, 1, 4)
    assert (a_["median"], a_["mean"], a_["spread"], a_["spread_steps"]) == (2, 2.25, 3, 3)
    assert (a_["disagreement"], a_["na_split"], a_["withheld"]) == (True, False, False)
    b = by[B]
    assert (b["rated"], b["n"], b["n_na"], b["min"], b["max"], b["median"]) == (4, 3, 1, 2, 3, 3)
    assert (b["mean"], b["spread"], b["disagreement"], b["na_split"]) == (2.67, 1, False, True)
    # rated by two: nothing but the count is shown, and the reason says why
    c = by[C]
    assert (c["rated"], c["withheld"]) == (2, True)
    assert all(c[k] is None for k in ("n", "n_na", "min", "max", "median", "mean", "spread"))
    assert c["disagreement"] is None and "3" in c["reason"] and c["reason_es"]
    d = by[D]
    assert (d["rated"], d["n"], d["n_na"], d["min"], d["max"]) == (4, 1, 3, 3, 3)
    assert by[KEYS[10]]["rated"] == 0 and by[KEYS[10]]["withheld"] is True
    assert s["disagreements"] == 1
    assert s["withheld"] == len(KEYS) - 3
    assert "name" not in str(s["raters"])


def test_viewers_are_refused_and_other_workspaces_see_nothing(
    tenant: Any, other_tenant: Any
) -> None:
    a = rated(tenant)
    for path in (url(a), url(a, "/R01"), url(a, ".xlsx")):
        assert_problem(call(tenant, "GET", path, "viewer"), 403)
        assert_problem(call(other_tenant, "GET", path, "admin"), 404)
        assert call(tenant, "GET", path, "admin").status_code == 200
    consensus = url(a, "/consensus")
    assert_problem(call(tenant, "POST", consensus, "viewer", json={}), 403)
    assert_problem(call(tenant, "PUT", url(a, "/R09"), "viewer", json={"answers": []}), 403)
    assert_problem(call(other_tenant, "POST", consensus, json={}), 404)
    assert_problem(call(other_tenant, "PUT", url(a, "/R09"), json={"answers": []}), 404)
    assert_problem(call(other_tenant, "DELETE", url(a, "/R01")), 404)
    # a viewer still reads the assessment itself: its answers are the consensus
    get(tenant, f"/v1/assessments/{a['id']}")


def test_consensus_is_proposed_then_applied_under_the_etag(tenant: Any) -> None:
    a = rated(tenant)
    path = f"/v1/assessments/{a['id']}"
    note = {"answers": [{"item": A, "value": 4, "note": "policy seen"}]}
    etag = call(tenant, "PATCH", path, json=note, headers={"If-Match": a["etag"]}).headers["ETag"]
    proposal = ok(call(tenant, "POST", url(a, "/consensus"), json={}))
    assert proposal["applied"] is False and proposal["applied_items"] == []
    by = {x["item"]: x for x in proposal["items"]}
    assert (by[A]["proposed"], by[A]["current"], by[A]["changes"]) == (2, 4, True)
    assert (by[B]["proposed"], by[B]["changes"]) == (3, True)
    assert (by[C]["proposed"], by[C]["changes"]) == (None, False) and by[C]["reason"]
    assert by[D]["proposed"] == "na"
    # nothing changed by proposing
    assert ok(call(tenant, "GET", path))["etag"] == etag
    # applying needs the assessment's ETag, like any change to its answers
    assert_problem(call(tenant, "POST", url(a, "/consensus"), json={"apply": True}), 428)
    stale = {"If-Match": a["etag"]}
    assert_problem(
        call(tenant, "POST", url(a, "/consensus"), json={"apply": True}, headers=stale), 412
    )
    body = {"apply": True, "items": [A, D, C]}
    resp = call(tenant, "POST", url(a, "/consensus"), json=body, headers={"If-Match": etag})
    applied = ok(resp)
    assert applied["applied"] is True and applied["applied_items"] == [A, D]
    assert resp.headers["ETag"] == applied["etag"] != etag
    answers = {x["item"]: x for x in ok(call(tenant, "GET", path))["answers"]}
    assert answers[A] == {"item": A, "value": 2.0, "note": "policy seen"}  # the note is kept
    assert answers[D]["value"] == "na" and B not in answers
    # the facilitator then edits with notes through the usual PATCH
    edit = {"answers": [{"item": A, "value": 3, "note": "agreed after discussion"}]}
    ok(call(tenant, "PATCH", path, json=edit, headers={"If-Match": applied["etag"]}))
    assert [e["action"] for e in audit_events(tenant, action="rating.consensus")] == [
        "rating.consensus"
    ]
    assert_problem(call(tenant, "POST", url(a, "/consensus"), json={"items": ["x.1"]}), 422)


def test_ratings_only_on_a_draft_and_kept_after_submit(tenant: Any) -> None:
    a = rated(tenant)
    fresh = ok(call(tenant, "GET", f"/v1/assessments/{a['id']}"))
    body = {"apply": True}
    ok(call(tenant, "POST", url(a, "/consensus"), json=body, headers={"If-Match": fresh["etag"]}))
    submitted = submit(tenant, a["id"])
    assert_problem(put(tenant, a, "R05", {A: 2}), 409)
    assert_problem(call(tenant, "DELETE", url(a, "/R01")), 409)
    conflict = assert_problem(
        call(
            tenant,
            "POST",
            url(a, "/consensus"),
            json=body,
            headers={"If-Match": submitted["etag"]},
        ),
        409,
    )
    assert "draft" in conflict["detail"]
    # the individual ratings stay stored and readable beside the consensus
    assert ok(call(tenant, "GET", url(a, "/R04")))["answered"] == 2
    assert len(ok(call(tenant, "GET", url(a)))["raters"]) == 4
    ok(call(tenant, "POST", url(a, "/consensus"), json={}))  # proposing still reads


def test_scores_come_from_the_consensus_answers_only(tenant: Any) -> None:
    org = create_org(tenant)
    plain = create_assessment(tenant, org["id"], round="one", value=3)
    with_ratings = create_assessment(tenant, org["id"], round="two", value=3)
    for code in ("R01", "R02", "R03", "R04"):
        ok(put(tenant, with_ratings, code, dict.fromkeys(KEYS, 1)))
    scores = []
    for x in (plain, with_ratings):
        submit(tenant, x["id"])
        scores.append(ok(call(tenant, "GET", f"/v1/assessments/{x['id']}/scores")))
    assert scores[0]["overall"] == scores[1]["overall"]
    assert scores[0]["overall"]["score"] == 3
    assert scores[0]["dimensions"] == scores[1]["dimensions"]


def test_a_rater_is_removed(tenant: Any) -> None:
    a = rated(tenant)
    assert call(tenant, "DELETE", url(a, "/r02")).status_code == 204
    assert_problem(call(tenant, "GET", url(a, "/R02")), 404)
    assert_problem(call(tenant, "DELETE", url(a, "/R02")), 404)
    s = ok(call(tenant, "GET", url(a)))
    assert [r["code"] for r in s["raters"]] == ["R01", "R03", "R04"]
    assert {x["item"]: x["rated"] for x in s["items"]}[A] == 3
    assert [e["changes"] for e in audit_events(tenant, action="rating.delete")] == [
        {"rater": "R02"}
    ]
