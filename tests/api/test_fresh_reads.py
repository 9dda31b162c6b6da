"""Reads are computed from the database as it is: a change made anywhere shows at once, answers
are never shared across workspaces, and an ETag lets a client revalidate for free."""

from __future__ import annotations

import uuid

from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from app.db.models import Organization
from tests.api.factories import add_member, assert_problem, create_cohort, create_org, get, scored
from tests.conftest import Tenant


def test_a_change_by_another_process_shows_at_once(tenant: Tenant, engine: Engine) -> None:
    """A commit through another engine, as the CLI or another worker would make it."""
    org = create_org(tenant, name="Before")
    cohort = create_cohort(tenant)
    add_member(tenant, cohort["id"], org["id"])
    scored(tenant, org["id"], round="baseline", value=2)
    scored(tenant, org["id"], round="endline", value=3, assessed_on="2025-01-10")
    url = f"/v1/cohorts/{cohort['id']}/comparison?instrument_id=oca"
    assert get(tenant, url)["organizations"][0]["name"] == "Before"
    with Session(engine) as other, other.begin():
        other.execute(
            update(Organization).where(Organization.id == uuid.UUID(org["id"])).values(name="After")
        )
    assert get(tenant, url)["organizations"][0]["name"] == "After"


def test_etag_revalidation(tenant: Tenant) -> None:
    org = create_org(tenant)
    a = scored(tenant, org["id"], value=2)
    url = f"/v1/assessments/{a['id']}/scores"
    h = tenant.headers("viewer")
    first = tenant.client.get(url, headers=h)
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "private, no-cache"
    again = tenant.client.get(url, headers={**h, "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    assert (
        tenant.client.get(url, headers={**h, "If-None-Match": f'"x", W/{etag}'}).status_code == 304
    )
    assert tenant.client.get(url, headers={**h, "If-None-Match": "*"}).status_code == 304
    stale = tenant.client.get(url, headers={**h, "If-None-Match": '"not-it"'})
    assert stale.status_code == 200 and stale.json() == first.json()


def test_the_etag_follows_the_data(tenant: Tenant) -> None:
    org = create_org(tenant)
    scored(tenant, org["id"], round="baseline", value=2)
    url = f"/v1/organizations/{org['id']}/series?instrument_id=oca"
    before = tenant.client.get(url, headers=tenant.headers("viewer"))
    scored(tenant, org["id"], round="endline", value=4, assessed_on="2025-01-10")
    after = tenant.client.get(
        url, headers=tenant.headers("viewer", **{"If-None-Match": before.headers["etag"]})
    )
    assert after.status_code == 200
    assert [p["round"] for p in after.json()["points"]] == ["baseline", "endline"]


def test_never_shared_across_workspaces(tenant: Tenant, other_tenant: Tenant) -> None:
    org = create_org(tenant)
    a = scored(tenant, org["id"], value=2)
    for url in (
        f"/v1/assessments/{a['id']}/scores",
        f"/v1/organizations/{org['id']}/series?instrument_id=oca",
    ):
        get(tenant, url)
        assert_problem(tenant.client.get(url, headers=other_tenant.headers("admin")), 404)
