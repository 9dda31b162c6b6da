"""Peer benchmarks (issue 12): shown only with five peers or more, never naming one, within the
workspace, the same round and a comparable instrument version.

Expected numbers are computed here, independently, from each organization's score JSON
(``GET /v1/assessments/{id}/scores``): the percentile is the share of peers strictly below plus
half the share of ties, and the quartiles are the inclusive ones."""

from __future__ import annotations

import statistics
import uuid
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from tests.api.factories import (
    assert_problem,
    call,
    create_org,
    dimension_items,
    get,
    item_keys,
    scored,
)

Tenant = Any


def values(seed: int) -> Any:
    """A different but valid answer pattern per organization (scale 1–4)."""
    return lambda key, index: 1 + (index * (seed + 1) + seed) % 4


def _peers(tenant: Tenant, n: int, round: str = "baseline", **kw: Any) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        org = create_org(tenant, name=f"Peer {uuid.uuid4().hex[:6]} number {i}")
        out.append(
            {"org": org, "assessment": scored(tenant, org["id"], "oca", round, values(i), **kw)}
        )
    return out


def _numbers(score: dict[str, Any]) -> dict[str, float | None]:
    out: dict[str, float | None] = {"overall": score["overall"]["score"]}
    out |= {f"dimensions.{d['key']}": d["score"] for d in score["dimensions"]}
    out |= {f"lens.{k}": v["score"] for k, v in score["lens"].items()}
    return out


def _expected(own: float, peers: list[float]) -> dict[str, float]:
    below = len([p for p in peers if p < own])
    ties = len([p for p in peers if p == own])
    q1, median, q3 = statistics.quantiles(peers, n=4, method="inclusive")
    return {
        "percentile": 100 * (below + ties / 2) / len(peers),
        "median": median,
        "q1": q1,
        "q3": q3,
    }


def shown(value: float) -> float:
    """Rounded as the API rounds at its edge: half-even to 2 places."""
    return float(Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN))


def _benchmark(tenant: Tenant, assessment_id: str) -> dict[str, Any]:
    body: dict[str, Any] = get(tenant, f"/v1/assessments/{assessment_id}/benchmark")
    return body


def _standings(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {"overall": body["overall"]}
    out |= {f"dimensions.{s['key']}": s for s in body["dimensions"]}
    out |= {f"lens.{s['key']}": s for s in body["lens"]}
    return out


def test_four_peers_show_nothing_and_say_why(tenant: Tenant) -> None:
    peers = _peers(tenant, 4)
    org = create_org(tenant, name="Subject")
    mine = scored(tenant, org["id"], "oca", "baseline", 3)
    body = _benchmark(tenant, mine["id"])
    assert body["state"] == "too_few_peers"
    assert body["reason"]["code"] == "too_few_peers"
    assert "5" in body["reason"]["en"] and "5" in body["reason"]["es"]
    assert body["overall"] is None and body["dimensions"] == [] and body["lens"] == []
    text = str(body)
    assert "4" not in text.replace(mine["id"], "").replace(org["id"], ""), "no count below five"
    for p in peers:
        assert p["org"]["id"] not in text and p["assessment"]["id"] not in text


def test_five_peers_percentiles_are_right_and_nobody_is_named(tenant: Tenant) -> None:
    peers = _peers(tenant, 6)
    org = create_org(tenant, name="Subject")
    mine = scored(tenant, org["id"], "oca", "baseline", values(2))
    # not peers: another round, another instrument, a draft, and its own other assessment
    scored(tenant, create_org(tenant)["id"], "oca", "endline", 1)
    scored(tenant, create_org(tenant)["id"], "cla", "baseline", 1)
    draft = create_org(tenant)
    ok_draft = call(
        tenant,
        "POST",
        "/v1/assessments",
        json={
            "organization_id": draft["id"],
            "instrument_id": "oca",
            "round": "baseline",
            "assessed_on": "2024-01-10",
            "answers": [],
        },
    )
    assert ok_draft.status_code == 201
    scored(tenant, org["id"], "oca", "endline", 4)

    body = _benchmark(tenant, mine["id"])
    assert body["state"] == "shown" and body["reason"] is None
    assert body["rescored_across_versions"] is False
    own = _numbers(get(tenant, f"/v1/assessments/{mine['id']}/scores"))
    theirs = [
        _numbers(get(tenant, f"/v1/assessments/{p['assessment']['id']}/scores")) for p in peers
    ]
    standings = _standings(body)
    assert set(standings) == set(own)
    checked = 0
    for key, s in standings.items():
        peer_values = [t[key] for t in theirs if t[key] is not None]
        assert s["n"] == len(peer_values) == 6, key
        assert s["value"] == own[key]
        if own[key] is None:
            assert s["percentile"] is None
            continue
        want = _expected(own[key], peer_values)
        assert abs(s["percentile"] - shown(want["percentile"])) < 1e-9, key
        for q in ("median", "q1", "q3"):
            assert abs(s[q] - shown(want[q])) < 1e-9, (key, q)
        checked += 1
    assert checked >= 8
    # the percentiles are not all the same: the test can tell a wrong rank
    assert len({s["percentile"] for s in standings.values()}) > 1

    text = str(body)
    for p in peers:
        assert p["org"]["id"] not in text and p["assessment"]["id"] not in text
        assert p["org"]["name"] not in text
    for word in ("min", "max", "organizations", 'peers":'):
        assert word not in body


def test_another_workspace_is_not_a_peer_and_cannot_read(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    _peers(other_tenant, 6)
    org = create_org(tenant)
    mine = scored(tenant, org["id"], "oca", "baseline", 3)
    assert _benchmark(tenant, mine["id"])["state"] == "too_few_peers"
    resp = call(other_tenant, "GET", f"/v1/assessments/{mine['id']}/benchmark", "viewer")
    assert_problem(resp, 404)


def test_a_version_it_supersedes_is_compared_through_the_crosswalk(tenant: Tenant) -> None:
    _peers(tenant, 3)
    _peers(tenant, 2, instrument_version="2015.1")
    org = create_org(tenant)
    mine = scored(tenant, org["id"], "oca", "baseline", values(1))
    body = _benchmark(tenant, mine["id"])
    assert body["state"] == "shown"
    assert body["rescored_across_versions"] is True
    assert body["overall"]["n"] == 5


def test_a_number_fewer_than_five_peers_have_is_hidden(tenant: Tenant) -> None:
    # five peers; two of them leave the first dimension unanswered (no score there)
    first = "gls"
    skip = set(dimension_items("oca")[first])
    keep = [k for k in item_keys("oca") if k not in skip]
    for i in range(5):
        org = create_org(tenant)
        kw: dict[str, Any] = {}
        if i < 2:
            kw["answers"] = [{"item": k, "value": 1 + i} for k in keep]
        scored(tenant, org["id"], "oca", "baseline", values(i), **kw)
    mine = scored(tenant, create_org(tenant)["id"], "oca", "baseline", 2)
    body = _benchmark(tenant, mine["id"])
    assert body["state"] == "shown"
    dim = next(s for s in body["dimensions"] if s["key"] == first)
    assert dim["shown"] is False and dim["n"] is None and dim["percentile"] is None
    assert dim["median"] is None and dim["reason"]["en"]
    assert body["overall"]["n"] == 5


def test_a_draft_has_no_benchmark_and_says_why(tenant: Tenant) -> None:
    _peers(tenant, 5)
    org = create_org(tenant)
    draft = call(
        tenant,
        "POST",
        "/v1/assessments",
        json={
            "organization_id": org["id"],
            "instrument_id": "oca",
            "round": "baseline",
            "assessed_on": "2024-01-10",
            "answers": [],
        },
    ).json()
    body = _benchmark(tenant, draft["id"])
    assert body["state"] == "not_scored" and body["reason"]["code"] == "not_scored"
    assert body["overall"] is None


def test_another_instrument_or_round_is_not_a_peer(tenant: Tenant) -> None:
    for i in range(5):
        scored(tenant, create_org(tenant)["id"], "oca", "endline", values(i))
        scored(tenant, create_org(tenant)["id"], "cla", "baseline", 2)
    mine = scored(tenant, create_org(tenant)["id"], "oca", "baseline", 3)
    assert _benchmark(tenant, mine["id"])["state"] == "too_few_peers"
