"""Peers across workspaces (issue 12): a workspace that opts in to sharing its anonymized scores
compares with the organizations of every other workspace that shares too; one that does not
share sees no one else's and lends no one its own; stopping takes the scores out at once; peers
of another workspace are never named, and nothing says which workspaces share.

Every test uses a round label of its own: sharing workspaces of other tests never count."""

from __future__ import annotations

import uuid
from typing import Any

from tests.api.factories import assert_problem, audit_events, call, create_org, get, ok, scored
from tests.api.test_benchmarks import _expected, _numbers, shown, values
from tests.conftest import Tenant


def _round() -> str:
    return f"round {uuid.uuid4().hex[:8]}"


def _peers(tenant: Tenant, n: int, round: str, seed: int = 0) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        org = create_org(tenant, name=f"Peer {uuid.uuid4().hex[:6]} {i}")
        out.append(
            {"org": org, "assessment": scored(tenant, org["id"], "oca", round, values(seed + i))}
        )
    return out


def _share(tenant: Tenant, on: bool) -> dict[str, Any]:
    body: dict[str, Any] = ok(
        call(tenant, "PATCH", "/v1/workspace", "admin", json={"shares_scores": on})
    )
    return body


def _benchmark(tenant: Tenant, assessment_id: str, peers: str) -> dict[str, Any]:
    body: dict[str, Any] = get(tenant, f"/v1/assessments/{assessment_id}/benchmark?peers={peers}")
    return body


def _subject(tenant: Tenant, round: str) -> dict[str, Any]:
    org = create_org(tenant, name="Subject")
    return scored(tenant, org["id"], "oca", round, values(7))


def test_sharing_workspaces_see_each_others_organizations_unnamed(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    round = _round()
    mine = _peers(tenant, 3, round)
    theirs = _peers(other_tenant, 3, round, seed=3)
    subject = _subject(tenant, round)
    _share(tenant, True)
    _share(other_tenant, True)

    alone = _benchmark(tenant, subject["id"], "workspace")
    assert alone["state"] == "too_few_peers" and alone["peers"] == "workspace"

    body = _benchmark(tenant, subject["id"], "shared")
    assert body["state"] == "shown" and body["peers"] == "shared"
    assert body["overall"]["n"] == 6
    own = _numbers(get(tenant, f"/v1/assessments/{subject['id']}/scores"))["overall"]
    scores = [
        _numbers(get(t, f"/v1/assessments/{p['assessment']['id']}/scores"))["overall"]
        for t, group in ((tenant, mine), (other_tenant, theirs))
        for p in group
    ]
    assert own is not None and all(s is not None for s in scores)
    expected = _expected(own, [s for s in scores if s is not None])
    for key in ("percentile", "median", "q1", "q3"):
        assert body["overall"][key] == shown(expected[key]), key
    text = str(body)
    for p in theirs:  # the other workspace's organizations are never named or identified
        assert p["org"]["id"] not in text and p["org"]["name"] not in text
        assert p["assessment"]["id"] not in text
    assert other_tenant.name not in text

    # the other workspace sees this one's organizations the same way
    peer = theirs[0]["assessment"]["id"]
    assert _benchmark(other_tenant, peer, "shared")["overall"]["n"] == 6


def test_a_workspace_that_does_not_share_sees_no_one_and_lends_no_one(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    round = _round()
    _peers(tenant, 3, round)
    theirs = _peers(other_tenant, 4, round)
    subject = _subject(tenant, round)
    _share(other_tenant, True)  # this workspace does not share

    body = _benchmark(tenant, subject["id"], "shared")
    assert body["state"] == "not_sharing"
    assert body["reason"]["code"] == "not_sharing" and body["reason"]["es"]
    assert body["overall"] is None and body["dimensions"] == [] and body["lens"] == []

    # the sharing workspace: its own 3 others only, never this one's 4 organizations
    other = _benchmark(other_tenant, theirs[0]["assessment"]["id"], "shared")
    assert other["state"] == "too_few_peers"


def test_stopping_takes_the_scores_out_at_once(tenant: Tenant, other_tenant: Tenant) -> None:
    round = _round()
    _peers(tenant, 2, round)
    _peers(other_tenant, 3, round)
    subject = _subject(tenant, round)
    _share(tenant, True)
    _share(other_tenant, True)
    assert _benchmark(tenant, subject["id"], "shared")["overall"]["n"] == 5
    assert _share(other_tenant, False)["shares_scores"] is False
    assert _benchmark(tenant, subject["id"], "shared")["state"] == "too_few_peers"


def test_the_setting_is_the_admins_and_is_audited(tenant: Tenant) -> None:
    body = get(tenant, "/v1/workspace")
    assert body["name"] == tenant.name and body["shares_scores"] is False
    for role in ("editor", "viewer"):
        assert_problem(
            call(tenant, "PATCH", "/v1/workspace", role, json={"shares_scores": True}), 403
        )
    assert get(tenant, "/v1/workspace")["shares_scores"] is False
    for bad in ({"shares_scores": "maybe"}, {}, {"shares_scores": True, "name": "x"}):
        assert_problem(call(tenant, "PATCH", "/v1/workspace", "admin", json=bad), 422)
    assert get(tenant, "/v1/workspace")["shares_scores"] is False
    assert _share(tenant, True)["shares_scores"] is True
    _share(tenant, True)  # no change: no second event
    events = audit_events(tenant, action="workspace.sharing")
    assert len(events) == 1 and events[0]["changes"] == {"shares": True}


def test_an_unknown_peer_scope_is_refused(tenant: Tenant) -> None:
    round = _round()
    subject = _subject(tenant, round)
    url = f"/v1/assessments/{subject['id']}/benchmark?peers=everyone"
    assert_problem(call(tenant, "GET", url, "viewer"), 422)
