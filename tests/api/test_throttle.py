"""Guessing keys from one address is refused for a while, on every worker alike: failures are
counted in the database, and a valid key is never refused for its address's failures."""

from __future__ import annotations

import uuid

from app.config import Settings
from app.main import create_app
from tests.conftest import ContractClient, Tenant


def _app(settings: Settings) -> object:
    return create_app(settings.model_copy(update={"auth_failures_per_address": 3}))


def _address() -> tuple[str, int]:
    return (f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}", 5)


def test_wrong_keys_from_one_address_get_429_on_every_worker(
    settings: Settings, tenant: Tenant
) -> None:
    address = _address()
    wrong = {"Authorization": "Bearer oca_000000000000_not-a-real-secret"}
    with (
        ContractClient(_app(settings), client=address) as one,  # type: ignore[arg-type]
        ContractClient(_app(settings), client=address) as two,  # type: ignore[arg-type]
    ):
        statuses = [one.get("/v1/cohorts", headers=wrong).status_code for _ in range(2)]
        statuses.append(two.get("/v1/cohorts", headers=wrong).status_code)
        assert statuses == [401, 401, 429]  # the third failure, on the other worker
        refused = one.get("/v1/cohorts", headers=wrong)
        assert refused.status_code == 429
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert 800 < int(refused.headers["Retry-After"]) <= 15 * 60 + 1
        assert refused.json()["status"] == 429
        # a valid key from the same address still works: a guess cannot have found it
        ok = two.get("/v1/cohorts", headers=tenant.headers("viewer"))
        assert ok.status_code == 200
    with ContractClient(_app(settings), client=_address()) as elsewhere:  # type: ignore[arg-type]
        assert elsewhere.get("/v1/cohorts", headers=wrong).status_code == 401
