"""The pages serve a workspace's own published versions to its members, and to nobody else."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from tests.api.factories import call, ok
from tests.conftest import Tenant
from tests.web.conftest import People


def test_members_see_their_own_version_and_others_do_not(
    signed_in: People, session: Session, other_tenant: Tenant
) -> None:
    tenant = signed_in.tenant
    label = f"2015.2-local.{uuid.uuid4().hex[:8]}"
    derive = "/v1/instruments/oca/versions/2015.2/derive"
    ok(call(tenant, "POST", derive, json={"version": label}), 201)
    ok(call(tenant, "POST", f"/v1/instruments/oca/versions/{label}/publish", "admin"))

    own = signed_in("viewer")
    assert f'href="/instruments/oca/{label}"' in own.get("/instruments").text
    assert own.get(f"/instruments/oca/{label}").status_code == 200
    assert own.get(f"/instruments/oca/{label}/template.xlsx").status_code == 200

    stranger = People(session, signed_in.client, other_tenant)("viewer")
    assert f'href="/instruments/oca/{label}"' not in stranger.get("/instruments").text
    assert stranger.get(f"/instruments/oca/{label}").status_code == 404
