"""The short-lived cache of checked keys: revocation here is immediate, elsewhere bounded."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.config import Settings
from app.main import create_app
from app.services.keys import PrincipalCache, authenticate, create_key, revoke_key


def test_revoking_through_the_api_applies_at_once(settings: Settings, session: Session) -> None:
    admin = create_key(session, workspace="cache-ws", role="admin")
    victim = create_key(session, workspace="cache-ws", role="viewer")
    cached = settings.model_copy(update={"auth_cache_seconds": 60})
    with TestClient(create_app(cached)) as c:
        h = {"Authorization": f"Bearer {victim.secret}"}
        assert c.get("/v1/cohorts", headers=h).status_code == 200  # now cached
        r = c.delete(f"/v1/keys/{victim.id}", headers={"Authorization": f"Bearer {admin.secret}"})
        assert r.status_code == 200 and r.json()["revoked_at"]
        assert c.get("/v1/cohorts", headers=h).status_code == 401


def test_a_revocation_elsewhere_applies_within_the_ttl(
    settings: Settings, session: Session
) -> None:
    key = create_key(session, workspace="cache-ws2", role="viewer")
    cached = settings.model_copy(update={"auth_cache_seconds": 0.3})
    with TestClient(create_app(cached)) as c:
        h = {"Authorization": f"Bearer {key.secret}"}
        assert c.get("/v1/cohorts", headers=h).status_code == 200
        revoke_key(session, str(key.id))  # as the CLI would, from another process
        time.sleep(0.4)
        assert c.get("/v1/cohorts", headers=h).status_code == 401


def test_cache_keys_on_a_digest_and_can_be_off(session: Session) -> None:
    key = create_key(session, workspace="cache-ws3", role="editor")
    principal = authenticate(session, key.secret)
    assert principal is not None
    cache = PrincipalCache(ttl=60)
    cache.put(key.secret, principal)
    assert cache.get(key.secret) == principal
    assert key.secret not in repr(cache._entries)  # only a digest is held
    assert cache.get(key.secret + "x") is None
    off = PrincipalCache(ttl=0)
    off.put(key.secret, principal)
    assert off.get(key.secret) is None
