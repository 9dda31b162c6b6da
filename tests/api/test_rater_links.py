"""A rater's own link (issue 12): issued by the facilitator, shown once and stored hashed; through
it a rater reads and sets their own ratings only (never another rater's, the distribution or the
consensus); refused once revoked, replaced, expired, or when the assessment is no longer a draft;
confined to its own workspace; and what the rater saves is what the facilitator's distribution
counts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from app.db.models import Rater
from app.services.people import digest
from tests.api.factories import (
    answers_for,
    assert_problem,
    audit_events,
    call,
    create_assessment,
    create_org,
    db_counts,
    error_codes,
    ok,
    submit,
)
from tests.api.test_ratings import RATINGS, A, B, C, D, rated, url


def issue(tenant: Any, a: dict[str, Any], code: str, **body: Any) -> dict[str, Any]:
    return ok(call(tenant, "POST", url(a, f"/{code}/link"), json=body or None), 201)


def as_rater(tenant: Any, token: str, method: str = "GET", **kw: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"}
    return tenant.client.request(method, "/v1/rater/ratings", headers=headers, **kw)


def own(values: dict[str, Any], finished: bool = False) -> dict[str, Any]:
    answers = [{"item": k, "value": v} for k, v in values.items()]
    return {"answers": answers, "finished": finished}


def test_a_rater_sees_and_sets_only_their_own_ratings(tenant: Any, session: Session) -> None:
    a = rated(tenant)  # R01..R04 rated A, B, C, D
    link = issue(tenant, a, "r01")
    assert link["code"] == "R01" and link["path"] == f"/rate/{link['token']}"
    assert link["token"].startswith("ocr_")
    # only the hash is stored
    stored = session.scalar(
        select(Rater.link_hash).where(
            Rater.assessment_id == uuid.UUID(a["id"]), Rater.code == "R01"
        )
    )
    assert stored == digest(link["token"]) and link["token"] not in str(stored)

    resp = as_rater(tenant, link["token"])
    mine = ok(resp)
    assert mine["code"] == "R01" and mine["instrument_id"] == "oca"
    assert {r["item"]: r["value"] for r in mine["ratings"]} == {A: 1, B: 2, C: 1, D: "na"}
    # nothing of the other raters, the distribution or the consensus
    for other in ("R02", "R03", "R04", "disagreement", "median", "consensus", a["id"]):
        assert other not in resp.text
    assert set(mine) == {
        "code",
        "organization",
        "instrument_id",
        "instrument_version",
        "answered",
        "na",
        "finished",
        "expires_at",
        "ratings",
    }

    # a new rater through a link: what they save is what the facilitator's distribution counts
    fresh = issue(tenant, a, "R05", days=3)
    assert ok(as_rater(tenant, fresh["token"]))["ratings"] == []
    saved = ok(as_rater(tenant, fresh["token"], "PUT", json=own({A: 4, C: "Mature"}, True)))
    assert saved["finished"] is True and saved["answered"] == 2
    summary = ok(call(tenant, "GET", url(a)))
    raters = {r["code"]: r for r in summary["raters"]}
    assert (raters["R05"]["link"], raters["R05"]["finished"]) == ("active", True)
    assert (raters["R02"]["link"], raters["R02"]["finished"]) == ("none", False)
    by = {x["item"]: x for x in summary["items"]}
    assert (by[A]["rated"], by[A]["max"], by[A]["mean"]) == (5, 4, 2.6)  # 1, 2, 2, 4, 4
    assert (by[C]["rated"], by[C]["withheld"], by[C]["n"]) == (3, False, 3)  # now shown
    # the facilitator reads it as any rater's ratings; the audit names the rater by code
    assert ok(call(tenant, "GET", url(a, "/R05")))["ratings"][0] == {
        "item": A,
        "value": 4.0,
        "note": None,
    }
    by_rater = [e for e in audit_events(tenant, action="rating.put") if e["actor"] == "rater:R05"]
    assert [e["changes"]["source"] for e in by_rater] == ["link"]
    issued = {e["changes"]["rater"] for e in audit_events(tenant, action="rating.link")}
    assert issued == {"R01", "R05"}
    # saving again without finishing says the rater is not done
    again = ok(as_rater(tenant, fresh["token"], "PUT", json=own({A: 3})))
    assert again["finished"] is False and again["answered"] == 1


def test_invalid_ratings_through_a_link_are_listed_and_nothing_is_written(
    tenant: Any, engine: Engine
) -> None:
    org = create_org(tenant)
    a = create_assessment(tenant, org["id"], answers=[])
    link = issue(tenant, a, "R01")
    before = db_counts(engine)
    body = own({A: 3, B: 7, "nope.1": 2})
    problem = assert_problem(as_rater(tenant, link["token"], "PUT", json=body), 422)
    assert set(error_codes(problem)) == {(B, "not_on_scale"), ("nope.1", "unknown_item")}
    assert db_counts(engine) == before


def test_revoked_replaced_expired_or_closed_links_are_refused(
    tenant: Any, session: Session
) -> None:
    org = create_org(tenant)
    a = create_assessment(tenant, org["id"], answers=answers_for("oca", 3))
    first = issue(tenant, a, "R01")
    second = issue(tenant, a, "R01")  # replaces the first
    assert_problem(as_rater(tenant, first["token"]), 401, "unauthorized")
    ok(as_rater(tenant, second["token"]))
    ok(call(tenant, "DELETE", url(a, "/R01/link")), 204)
    refused = as_rater(tenant, second["token"], "PUT", json=own({A: 2}))
    assert "does not work" in assert_problem(refused, 401)["detail"]
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    summary = ok(call(tenant, "GET", url(a)))
    assert summary["raters"] == [
        {
            "code": "R01",
            "answered": 0,
            "na": 0,
            "link": "revoked",
            "link_expires_at": summary["raters"][0]["link_expires_at"],
            "finished": False,
        }
    ]

    expiring = issue(tenant, a, "R02")
    ok(as_rater(tenant, expiring["token"]))
    past = datetime.now(UTC) - timedelta(minutes=1)
    session.execute(
        update(Rater)
        .where(Rater.link_hash == digest(expiring["token"]))
        .values(link_expires_at=past)
    )
    session.commit()
    assert_problem(as_rater(tenant, expiring["token"]), 401)
    by = {r["code"]: r["link"] for r in ok(call(tenant, "GET", url(a)))["raters"]}
    assert by == {"R01": "revoked", "R02": "expired"}

    closing = issue(tenant, a, "R03")
    ok(as_rater(tenant, closing["token"], "PUT", json=own({A: 2})))
    submit(tenant, a["id"])
    assert_problem(as_rater(tenant, closing["token"]), 401)
    assert_problem(as_rater(tenant, closing["token"], "PUT", json=own({A: 3})), 401)
    assert_problem(call(tenant, "POST", url(a, "/R04/link")), 409)  # only on a draft

    # no token, an unknown one, an API key: refused; a link is no API key either
    assert_problem(tenant.client.get("/v1/rater/ratings"), 401)
    assert_problem(as_rater(tenant, "ocr_" + "x" * 43), 401)
    assert_problem(as_rater(tenant, tenant.keys["admin"]), 401)
    headers = {"Authorization": f"Bearer {closing['token']}"}
    assert_problem(tenant.client.get(f"/v1/assessments/{a['id']}", headers=headers), 401)


def test_links_are_for_the_facilitator_of_the_workspace_only(
    tenant: Any, other_tenant: Any
) -> None:
    a = rated(tenant)
    assert_problem(call(tenant, "POST", url(a, "/R09/link"), "viewer"), 403)
    assert_problem(call(other_tenant, "POST", url(a, "/R09/link"), "admin"), 404)
    assert_problem(call(other_tenant, "DELETE", url(a, "/R01/link"), "admin"), 404)
    assert_problem(call(tenant, "DELETE", url(a, "/R99/link")), 404)
    assert_problem(call(tenant, "POST", url(a, "/R09/link"), json={"days": 0}), 422)
    # a link of the other workspace's assessment reaches that rater only
    org = create_org(other_tenant)
    theirs = create_assessment(other_tenant, org["id"], answers=[])
    link = issue(other_tenant, theirs, "R01")
    mine = ok(as_rater(tenant, link["token"]))
    assert mine["ratings"] == [] and mine["organization"] == org["name"]
    ok(as_rater(tenant, link["token"], "PUT", json=own({A: 4})))
    # tenant's own R01 is untouched
    r01 = ok(call(tenant, "GET", url(a, "/R01")))
    assert {r["item"]: r["value"] for r in r01["ratings"]} == dict(RATINGS["R01"])
    assert len(ok(call(other_tenant, "GET", url(theirs)))["raters"]) == 1


def test_a_raters_link_opens_an_assessment_on_the_workspaces_own_version(tenant: Any) -> None:
    """A rater has no key: the link itself finds the assessment's workspace's own instrument
    versions, through the API and on the page."""
    from tests.api.test_own_instruments import (
        _answers,
        _assess,
        _definition,
        _derive,
        _label,
        _publish,
    )

    version = _label()
    _derive(tenant, version)
    _publish(tenant, version)
    definition = _definition(tenant, version)
    org = create_org(tenant)
    a = ok(
        _assess(tenant, org["id"], version, "baseline", _answers(definition, 3)[1:], "2024-03-01"),
        201,
    )
    link = issue(tenant, a, "R09")
    first = _answers(definition, 2)[0]
    saved = ok(as_rater(tenant, link["token"], "PUT", json=own({first["item"]: 2}, finished=True)))
    assert saved["instrument_version"] == version and saved["finished"] is True
    assert [r["item"] for r in saved["ratings"] if r["value"] is not None] == [first["item"]]
    page = tenant.client.get(f"/rate/{link['token']}?lang=en")
    assert page.status_code == 200 and first["item"] in page.text
