"""Keyed routes: the key checked and the route's work done in one hop to a pool of threads, instead
of a hop for the key and another for the route, with a dependency to solve for each of the
principal, the catalog and the session.

Two kinds use it, on pools of their own:
- the hot JSON reads (scores, series, comparisons, benchmarks), on a few threads, sent with a
  strong ETag of their bytes. Nothing is kept between requests: every answer is computed from
  the database as it is now, so any worker answers the same and a write is seen by the very
  next read on every worker. The ETag lets a client revalidate (``If-None-Match`` gives 304 and
  no body); ``no-cache`` tells caches on the way to ask every time;
- the assessments' writes (create, change, submit, finalize, reopen, revise), the writes of a
  partner application's steady load.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, HTTPException, Request, Response
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy.orm import Session, sessionmaker

from app.api.deps import (
    BEARER,
    add_key_count,
    admitted,
    bearer_of,
    catalog_of,
    count_address,
    count_key,
    library,
    principal_of,
    refusal,
    settled,
)
from app.api.threads import run_on
from app.catalog import Catalog
from app.services.keys import Principal, find_key, needs_touch

# Private: the answer depends on the key's workspace. no-cache: revalidate with If-None-Match.
CACHE_CONTROL = "private, no-cache"


def etag_of(body: bytes) -> str:
    """A strong validator of the bytes: SHA-256, cut to 96 bits. Not BLAKE2b: on CPUs with SHA
    instructions (most servers since 2017) SHA-256 is 2.5x faster, 40 ms against 100 ms for the
    48 MB of a national cohort comparison (docs/benchmarks.md)."""
    return f'"{hashlib.sha256(body).hexdigest()[:24]}"'


T = TypeVar("T")
Work = Callable[[Session, Principal, Catalog], T]


@dataclass(frozen=True, slots=True)
class Keyed:
    """A request whose key is checked in the route's own hop: one thread hand-off instead of two
    (the key's, then the route's), and no dependency to solve for the principal, the catalog
    and the session. The routes of ``keyed_router`` take one (``KeyedDep``) and answer ``await
    keyed.json(compute)`` (a read) or ``await keyed.write(work)``; the key is checked with
    ``require_key``'s rules (the same lookup, limits, key touch, 401, 403 and 429) before the
    work runs. A wrong key's failure is counted on the key threads (a write: the read and write
    threads never wait on the database's writer for it)."""

    request: Request
    token: str

    async def json(self, compute: Work[str | bytes]) -> Response:
        """Check the key, find the caller's catalog and run ``compute`` with a session of its
        own, all on one of the read threads (CPU-bound work: a few threads, not one per
        request); answer 200 with the body or 304 if the client has it."""
        request = self.request
        answer = await run_on(request.app.state.pools.reads, self._answer, compute)
        if answer is None:
            raise await self._refused()
        body, etag = answer
        headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
        if _matches(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=headers)
        return Response(body, media_type="application/json", headers=headers)

    async def write(self, work: Work[Response]) -> Response:
        """Check the key (403 for a read-only one), find the caller's catalog and run ``work``
        with the request's session, all on one of the write threads; ``work``'s answer."""
        request = self.request
        state = request.app.state
        answer = await run_on(state.pools.writes, self._checked, work, state.sessionmaker)
        if answer is None:
            raise await self._refused()
        return answer

    def _answer(self, compute: Work[str | bytes]) -> tuple[bytes, str] | None:
        """The body and its ETag, or None for a wrong key; hashed here, off the event loop
        (hashlib lets go of Python's lock for large inputs, so the loop serves other requests
        meanwhile)."""
        out = self._read(compute)
        if out is None:
            return None
        body = out if isinstance(out, bytes) else out.encode()
        return body, etag_of(body)

    def _read(self, compute: Work[T]) -> T | None:
        """``_checked`` for a read, on one pooled connection where it can be: the key is looked
        up on the connection the read's session then uses, when nothing else needs one meanwhile
        (the key's last use is not due to be written, the workspace has no instruments of its
        own, whose catalog is read, and the key's rate count is kept here until the connection
        is given back); else the connection is given back first and ``_checked``'s way taken. A
        checkout and a return fewer on most reads (8 % of a read of scores' CPU,
        docs/benchmarks.md), and still never two connections held by one thread."""
        request = self.request
        state = request.app.state
        count_address(request)
        with state.read_engine.connect() as conn:
            found = find_key(conn, self.token)
            if found is None:
                return None
            principal, last_used = found
            touch = needs_touch(last_used)  # decided once: the clock moves on meanwhile
            alone = not touch and not principal.owns_instruments
            if alone:
                count_key(request, principal, add=False)
                admitted(request, principal)
                with state.reader(bind=conn) as session:
                    out = compute(session, principal, library(request))
        if alone:
            add_key_count(request, principal)
            return out
        return self._run(compute, settled(request, principal, touch=touch), state.reader)

    def _checked(self, work: Work[T], sessions: sessionmaker[Session]) -> T | None:
        """``work``'s result once the key is checked, on a session of ``sessions`` (the reads':
        on the engine for requests that only read); None for a wrong key.

        The key's lookup, its last use, its rate count and the catalog each take a pooled
        connection and give it back before the session takes one: a thread never holds two.
        (Looking the key up on the session's connection, kept while the others took theirs, let
        as many threads as connections each hold one and wait for a second until the pool's
        timeout: found in review.)"""
        principal = principal_of(self.request, self.token)
        if principal is None:
            return None
        return self._run(work, principal, sessions)

    def _run(self, work: Work[T], principal: Principal, sessions: sessionmaker[Session]) -> T:
        """``work`` for the key's ``principal``, found and counted: 403 for a write with a
        read-only key, else run with the caller's catalog on a session of ``sessions``."""
        admitted(self.request, principal)
        catalog = catalog_of(self.request, principal)
        with sessions() as session:
            return work(session, principal, catalog)

    async def _refused(self) -> HTTPException:
        """A wrong key's answer: its failure counted on the key threads."""
        return await run_on(self.request.app.state.pools.keys, refusal, self.request)


async def keyed_request(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
) -> Keyed:
    """The bearer key of a keyed route, to be checked in the route's hop (401 when none is
    sent)."""
    return Keyed(request, bearer_of(credentials))


KeyedDep = Annotated[Keyed, Depends(keyed_request)]


def _matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 §13.1.2: weak comparison, any of a list, or '*'."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    return any(
        tag.strip().removeprefix("W/") == etag for tag in if_none_match.split(",") if tag.strip()
    )
