"""JSON reads (scores, series, comparisons, benchmarks): the key checked and the answer computed
in one hop to a small pool of threads, sent with a strong ETag of their bytes.

Nothing is kept between requests: every answer is computed from the database as it is now, so
any worker answers the same and a write is seen by the very next read on every worker. The
ETag lets a client revalidate (``If-None-Match`` gives 304 and no body); ``no-cache`` tells
caches on the way to ask every time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy.orm import Session, sessionmaker

from app.api.deps import BEARER, admitted, bearer_of, catalog_of, principal_of, refusal
from app.api.threads import run_on
from app.catalog import Catalog
from app.services.keys import Principal

# Private: the answer depends on the key's workspace. no-cache: revalidate with If-None-Match.
CACHE_CONTROL = "private, no-cache"


def etag_of(body: bytes) -> str:
    """A strong validator of the bytes: SHA-256, cut to 96 bits. Not BLAKE2b: on CPUs with SHA
    instructions (most servers since 2017) SHA-256 is 2.5x faster, 40 ms against 100 ms for the
    48 MB of a national cohort comparison (docs/benchmarks.md)."""
    return f'"{hashlib.sha256(body).hexdigest()[:24]}"'


Compute = Callable[[Session, Principal, Catalog], str | bytes]


@dataclass(frozen=True, slots=True)
class KeyedRead:
    """A hot read whose key is checked in the read's own hop: one thread hand-off per request
    instead of two (the key's, then the read's), and no dependency to solve for the principal
    and the catalog. The routes of ``keyed_router`` take one (``KeyedReadDep``) and answer
    ``await keyed.json(compute)``; the key is checked with ``require_key``'s rules (the same
    lookup, limits, 401, 403 and 429), before ``compute`` runs. A wrong key's failure is counted
    on the key threads (a write: the read threads never wait on the database's writer for it)."""

    request: Request
    token: str

    async def json(self, compute: Compute) -> Response:
        """Check the key, find the caller's catalog and run ``compute`` with a session of its
        own, all on one of the read threads (CPU-bound work: a few threads, not one per
        request); answer 200 with the body or 304 if the client has it."""
        request = self.request
        answer = await run_on(request.app.state.pools.reads, self._answer, compute)
        if answer is None:  # a wrong key: its failure counted on the key threads
            raise await run_on(request.app.state.pools.keys, refusal, request)
        body, etag = answer
        headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
        if _matches(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=headers)
        return Response(body, media_type="application/json", headers=headers)

    def _answer(self, compute: Compute) -> tuple[bytes, str] | None:
        """The body and its ETag, or None for a wrong key; hashed here, off the event loop
        (hashlib lets go of Python's lock for large inputs, so the loop serves other requests
        meanwhile)."""
        principal = principal_of(self.request, self.token)
        if principal is None:
            return None
        admitted(self.request, principal)
        catalog = catalog_of(self.request, principal)
        factory: sessionmaker[Session] = self.request.app.state.reader
        with factory() as session:
            out = compute(session, principal, catalog)
        body = out if isinstance(out, bytes) else out.encode()
        return body, etag_of(body)


async def keyed_read(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
) -> KeyedRead:
    """The bearer key of a hot read, to be checked in the read's hop (401 when none is sent)."""
    return KeyedRead(request, bearer_of(credentials))


KeyedReadDep = Annotated[KeyedRead, Depends(keyed_read)]


def _matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 §13.1.2: weak comparison, any of a list, or '*'."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    return any(
        tag.strip().removeprefix("W/") == etag for tag in if_none_match.split(",") if tag.strip()
    )
