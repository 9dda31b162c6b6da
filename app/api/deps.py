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
from app.services.owned_instruments import workspace_catalog
from app.services.rater_links import link_holds
from app.services.rates import RateLimiter
from app.services.throttle import Blocklist, failed_api_key, limits_of

BEARER = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer oca_…`")

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


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": 'Bearer realm="oca"'})


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def principal_of(request: Request, token: str) -> Principal | None:
    """The key's principal, counted against its rate limit and its address's
    (``app.services.rates``); None for a wrong key, whose failure ``refusal`` counts."""
    count_address(request)
    with request.app.state.read_engine.connect() as conn:
        found = find_key(conn, token)
    if found is None:
        return None
    principal, last_used = found
    return settled(request, principal, touch=needs_touch(last_used))


def count_address(request: Request) -> None:
    """The request counted against its address's rate limit (429 over it). Never while holding
    a pooled connection: the count, now and then, is added to the database on one of its own."""
    settings: Settings = request.app.state.settings
    limiter: RateLimiter = request.app.state.rate_limiter
    limiter.hit(f"addr:{_address(request)}", settings.rate_limit_per_address)


def settled(request: Request, principal: Principal, *, touch: bool) -> Principal:
    """The key found: its last use written when ``touch`` (due), its rate limit counted (429
    over it). Each may take a pooled connection of its own: never called while holding one."""
    if touch:
        with request.app.state.sessionmaker() as session:
            touch_key(session, principal)
    count_key(request, principal)
    return principal


def count_key(request: Request, principal: Principal, *, add: bool = True) -> None:
    """The request counted against its key's rate limit (429 over it). ``add=False`` while the
    caller holds a pooled connection: the count is kept here until ``add_key_count``."""
    settings: Settings = request.app.state.settings
    limiter: RateLimiter = request.app.state.rate_limiter
    limiter.hit(_key_bucket(principal), settings.rate_limit_per_key, add=add)


def add_key_count(request: Request, principal: Principal) -> None:
    """What ``count_key`` kept here, added to the database when due (a connection of its own)."""
    settings: Settings = request.app.state.settings
    limiter: RateLimiter = request.app.state.rate_limiter
    limiter.add_due(_key_bucket(principal), settings.rate_limit_per_key)


def _key_bucket(principal: Principal) -> str:
    return f"key:{principal.key_id}"


def refusal(request: Request) -> HTTPException:
    """The answer to a wrong key: its failure counted against the address (a write), 429 raised
    once the address has failed too often (``app.services.throttle``), else the 401 to raise.
    Blocking: run on the key threads, never on the read threads (a flood of wrong keys waiting
    on the database's writer must not hold the hot reads up)."""
    with request.app.state.sessionmaker() as session:
        _count_failure(request, session, _address(request))
    return _unauthorized("the API key is unknown or revoked")


def _count_failure(request: Request, session: Session, address: str) -> None:
    """A wrong key or link from ``address``: counted; 429 once it has failed too often."""
    settings: Settings = request.app.state.settings
    blocklist: Blocklist = request.app.state.blocklist
    refused = blocklist.refusal(address)
    if refused is None:
        refused = failed_api_key(session, address, limits_of(settings))
        if refused is not None:
            blocklist.block(address, refused)
    if refused is not None:
        raise refused


def bearer_of(credentials: HTTPAuthorizationCredentials | None) -> str:
    """The key sent as ``Authorization: Bearer <key>``; 401 when there is none."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized("send an API key as 'Authorization: Bearer <key>'")
    return credentials.credentials


def authenticated(request: Request, token: str) -> Principal:
    """The key's principal, looked up on every request (a revoked key stops at once on every
    worker): 401 for a key unknown or revoked, 403 for a write with a read-only key. Blocking:
    run on the key threads."""
    principal = principal_of(request, token)
    if principal is None:
        raise refusal(request)
    return admitted(request, principal)


def admitted(request: Request, principal: Principal) -> Principal:
    """``principal``, found for this request: 403 for a write with a read-only key."""
    if request.method not in READ_METHODS and not principal.can_write:
        raise HTTPException(403, "this key is read-only (role viewer); writes need editor or admin")
    request.state.principal = principal
    return principal


async def require_key(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
) -> Principal:
    """Authenticate the key; reads need viewer, writes editor (declared once per /v1 router)."""
    token = bearer_of(credentials)
    return await run_on(request.app.state.pools.keys, authenticated, request, token)


async def require_admin(principal: Annotated[Principal, Depends(require_key)]) -> Principal:
    if not principal.is_admin:
        raise HTTPException(403, "this route needs a key with role admin")
    return principal


def _rater_link(request: Request, token: str) -> bool:
    settings: Settings = request.app.state.settings
    limiter: RateLimiter = request.app.state.rate_limiter
    address = _address(request)
    limiter.hit(f"addr:{address}", settings.rate_limit_per_address)
    with request.app.state.sessionmaker() as session:
        if link_holds(session, token):
            return True
        _count_failure(request, session, address)
        return False


async def rater_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
) -> str:
    """A rater's own link as the bearer (``app.services.rater_links``), checked and counted like
    a key: 401 when it does not work (unknown, revoked, expired, or the assessment is closed)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized("send the rater's link token as 'Authorization: Bearer <token>'")
    if not await run_on(
        request.app.state.pools.keys, _rater_link, request, credentials.credentials
    ):
        raise _unauthorized(
            "this rating link does not work (any more): revoked or replaced, expired, or the "
            "assessment is no longer open for ratings"
        )
    return credentials.credentials


PrincipalDep = Annotated[Principal, Depends(require_key)]
RaterTokenDep = Annotated[str, Depends(rater_token)]
AdminDep = Annotated[Principal, Depends(require_admin)]


def library(request: Request) -> Catalog:
    catalog: Catalog = request.app.state.catalog
    return catalog


def _owned_catalog(request: Request, workspace_id: object, drafts: bool) -> Catalog:
    """The library with a workspace's own versions, read on a session of its own: the catalog
    takes no part in the route's transaction, and a route that needs no session of its own (the
    hot reads) is spared the request session's setup and teardown."""
    with request.app.state.reader() as session:
        return workspace_catalog(session, library(request), workspace_id, drafts=drafts)


def catalog_of(request: Request, principal: Principal) -> Catalog:
    """The library plus the caller's workspace's published versions: the library as loaded, with
    no query, for a workspace that has none (most); else one indexed query. Blocking only then."""
    if not principal.owns_instruments:
        return library(request)
    return _owned_catalog(request, principal.workspace_id, False)


async def get_catalog(request: Request, principal: PrincipalDep) -> Catalog:
    """``catalog_of``, on a key thread only when it queries."""
    if not principal.owns_instruments:
        return library(request)
    return await run_on(request.app.state.pools.keys, catalog_of, request, principal)


async def get_draft_catalog(request: Request, principal: PrincipalDep) -> Catalog:
    """``get_catalog`` with the workspace's drafts too: for previews, never for assessments."""
    if not principal.owns_instruments:
        return library(request)
    return await run_on(
        request.app.state.pools.keys, _owned_catalog, request, principal.workspace_id, True
    )


async def get_library(request: Request) -> Catalog:
    return library(request)


CatalogDep = Annotated[Catalog, Depends(get_catalog)]
DraftCatalogDep = Annotated[Catalog, Depends(get_draft_catalog)]
LibraryDep = Annotated[Catalog, Depends(get_library)]
