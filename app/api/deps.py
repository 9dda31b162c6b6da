"""Request dependencies: the session, the catalog, and the authenticated principal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from app.api.threads import run_on
from app.catalog import Catalog
from app.config import Settings
from app.services.keys import Principal, find_key, needs_touch, touch_key
from app.services.rates import RateLimiter
from app.services.throttle import Blocklist, failed_api_key, limits_of

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer oca_…`")

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


# The trivial dependencies are async so that FastAPI does not send each to the thread pool:
# creating a Session does no I/O (it connects on first use) and closing one only returns the
# connection to the pool.


async def get_session(request: Request) -> AsyncIterator[Session]:
    session: Session = request.app.state.sessionmaker()
    try:
        yield session
    finally:
        session.close()


async def get_catalog(request: Request) -> Catalog:
    catalog: Catalog = request.app.state.catalog
    return catalog


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SessionDep = Annotated[Session, Depends(get_session)]
CatalogDep = Annotated[Catalog, Depends(get_catalog)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": 'Bearer realm="oca"'})


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _authenticate(request: Request, token: str) -> Principal | None:
    """The key's principal, counted against its rate limit and its address's; for a wrong key,
    a failure counted against the address, answered 429 once it has failed too often
    (``app.services.rates``, ``app.services.throttle``)."""
    settings: Settings = request.app.state.settings
    limiter: RateLimiter = request.app.state.rate_limiter
    address = _address(request)
    limiter.hit(f"addr:{address}", settings.rate_limit_per_address)
    with request.app.state.read_engine.connect() as conn:
        found = find_key(conn, token)
    if found is not None:
        principal, last_used = found
        if needs_touch(last_used):
            with request.app.state.sessionmaker() as session:
                touch_key(session, principal)
        limiter.hit(f"key:{principal.key_id}", settings.rate_limit_per_key)
        return principal
    with request.app.state.sessionmaker() as session:
        blocklist: Blocklist = request.app.state.blocklist
        refused = blocklist.refusal(address)
        if refused is None:
            refused = failed_api_key(session, address, limits_of(settings))
            if refused is not None:
                blocklist.block(address, refused)
        if refused is not None:
            raise refused
        return None


async def require_key(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """Authenticate the key; reads need viewer, writes editor (declared once per /v1 router)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized("send an API key as 'Authorization: Bearer <key>'")
    # Looked up on every request: a revoked key stops at once on every worker.
    principal = await run_on(
        request.app.state.pools.keys, _authenticate, request, credentials.credentials
    )
    if principal is None:
        raise _unauthorized("the API key is unknown or revoked")
    if request.method not in READ_METHODS and not principal.can_write:
        raise HTTPException(403, "this key is read-only (role viewer); writes need editor or admin")
    request.state.principal = principal
    return principal


async def require_admin(principal: Annotated[Principal, Depends(require_key)]) -> Principal:
    if not principal.is_admin:
        raise HTTPException(403, "this route needs a key with role admin")
    return principal


PrincipalDep = Annotated[Principal, Depends(require_key)]
AdminDep = Annotated[Principal, Depends(require_admin)]
