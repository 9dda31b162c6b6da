"""Guessing keys from one address is refused for a while, on every worker alike: failures are
counted in the database, and a valid key is never refused for its address's failures."""

from __future__ import annotations

import time
import uuid

from fastapi import FastAPI

from app.config import Settings
from app.main import create_app
from tests.conftest import ContractClient, Tenant


def _app(settings: Settings) -> FastAPI:
    return create_app(settings.model_copy(update={"auth_failures_per_address": 3}))


def _same_minute() -> None:
    """Start well inside a minute, so the counted minute does not turn over mid-test."""
    into = time.time() % 60
    if into > 50:
        time.sleep(60.5 - into)


def _address() -> tuple[str, int]:
    return (f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}", 5)


def test_wrong_keys_from_one_address_get_429_on_every_worker(
    settings: Settings, tenant: Tenant
) -> None:
    address = _address()
    wrong = {"Authorization": "Bearer oca_000000000000_not-a-real-secret"}
    with (
        ContractClient(_app(settings), client=address) as one,
        ContractClient(_app(settings), client=address) as two,
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
    with ContractClient(_app(settings), client=_address()) as elsewhere:
        assert elsewhere.get("/v1/cohorts", headers=wrong).status_code == 401


def test_a_key_over_its_rate_limit_gets_429_on_every_worker(
    settings: Settings, tenant: Tenant
) -> None:
    limited = settings.model_copy(update={"rate_limit_per_key": 4, "rate_limit_per_address": 0})
    headers = tenant.headers("viewer")
    _same_minute()
    with (
        ContractClient(create_app(limited), client=_address()) as one,
        ContractClient(create_app(limited), client=_address()) as two,
    ):
        statuses = [
            (one if i % 2 else two).get("/v1/cohorts", headers=headers).status_code
            for i in range(6)
        ]
        # counted together across the two apps: the fifth request in the minute is refused
        assert statuses == [200] * 4 + [429] * 2, statuses
        refused = two.get("/v1/cohorts", headers=headers)
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 61
        assert "requests in a minute" in refused.json()["detail"]
        # another key of the same workspace has its own count
        assert one.get("/v1/cohorts", headers=tenant.headers("editor")).status_code == 200


def test_an_address_over_its_rate_limit_gets_429(settings: Settings, tenant: Tenant) -> None:
    limited = settings.model_copy(update={"rate_limit_per_key": 0, "rate_limit_per_address": 3})
    address = _address()
    _same_minute()
    with ContractClient(create_app(limited), client=address) as one:
        statuses = [
            one.get("/v1/cohorts", headers=tenant.headers(role)).status_code
            for role in ("viewer", "editor", "admin", "viewer")
        ]
    assert statuses[:3] == [200, 200, 200] and statuses[3] == 429, statuses
