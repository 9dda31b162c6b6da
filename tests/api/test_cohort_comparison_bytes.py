"""The cohort comparison as the route sends it: the bytes of ``as_json(cohort_json(...))``
(every number rounded at the edge), made without a rounding walk over every organization's dicts
and without a str of tens of MB in between."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from app.catalog import Catalog
from app.services.cohort_comparison import (
    RoundsAsked,
    cohort_json,
    compare_cohort_rounds,
    comparison_text,
)
from app.services.scores import as_json
from tests.api.factories import add_member, create_cohort, create_org, item_keys, scored


def _cohort(tenant: Any) -> str:
    """Numbers that need rounding (2/3-like means), an item left out, an organization with one
    round only and one with none."""
    keys = item_keys("oca")
    cohort = create_cohort(tenant, name=f"Bytes {uuid.uuid4().hex[:6]}")
    for n, (base, end) in enumerate([(1, 2), (2, 4), (3, None), (None, None)]):
        oid = create_org(tenant, name=f"Org {n}")["id"]
        add_member(tenant, cohort["id"], oid)
        if base is not None:
            scored(tenant, oid, "oca", "baseline", lambda k, i, b=base: b + (i % 3 == 0))
        if end is not None:
            scored(tenant, oid, "oca", "endline", lambda k, i, e=end: "na" if k == keys[4] else e)
    return str(cohort["id"])


def test_the_route_sends_the_rounded_json_of_the_comparison_as_bytes(
    tenant: Any, session: Session, catalog: Catalog
) -> None:
    cohort_id = uuid.UUID(_cohort(tenant))
    args = (session, tenant.principal, catalog, RoundsAsked(cohort_id, "oca"))
    sent = comparison_text(*args)
    session.rollback()
    assert isinstance(sent, bytes)
    assert sent == as_json(cohort_json(compare_cohort_rounds(*args))).encode()
    session.rollback()
    resp = tenant.client.get(
        f"/v1/cohorts/{cohort_id}/comparison",
        params={"instrument_id": "oca"},
        headers=tenant.headers("viewer"),
    )
    assert resp.status_code == 200
    assert resp.content == sent
    body = resp.json()
    scores = [
        v
        for o in body["organizations"]
        for side in (o["baseline"], o["endline"])
        if side
        for v in side["scores"].values()
        if v is not None
    ]
    assert scores and all(round(v, 2) == v for v in scores)
    assert any(round(v) != v for v in scores)  # some were rounded, not whole to begin with
