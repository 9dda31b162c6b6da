"""JSON reads (scores, series, comparisons): computed on a small pool of threads, sent with a
strong ETag of their bytes.

Nothing is kept between requests: every answer is computed from the database as it is now, so
any worker answers the same and a write is seen by the very next read on every worker. The
ETag lets a client revalidate (``If-None-Match`` gives 304 and no body); ``no-cache`` tells
caches on the way to ask every time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from fastapi import Request, Response
from sqlalchemy.orm import Session, sessionmaker

from app.api.threads import run_on

# Private: the answer depends on the key's workspace. no-cache: revalidate with If-None-Match.
CACHE_CONTROL = "private, no-cache"


def etag_of(body: bytes) -> str:
    """A strong validator of the bytes: SHA-256, cut to 96 bits. Not BLAKE2b: on CPUs with SHA
    instructions (most servers since 2017) SHA-256 is 2.5x faster, 40 ms against 100 ms for the
    48 MB of a national cohort comparison (docs/benchmarks.md)."""
    return f'"{hashlib.sha256(body).hexdigest()[:24]}"'


def _compute(
    factory: sessionmaker[Session], compute: Callable[[Session], str | bytes]
) -> tuple[bytes, str]:
    """The body and its ETag; hashed here, off the event loop (hashlib lets go of Python's lock
    for large inputs, so the loop serves other requests meanwhile)."""
    with factory() as session:
        out = compute(session)
    body = out if isinstance(out, bytes) else out.encode()
    return body, etag_of(body)


async def json_read(request: Request, compute: Callable[[Session], str | bytes]) -> Response:
    """Run ``compute`` with a session of its own on the read threads (CPU-bound work: a few
    threads, not one per request), and answer 200 with the body or 304 if the client has it."""
    body, etag = await run_on(
        request.app.state.pools.reads, _compute, request.app.state.reader, compute
    )
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def _matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 §13.1.2: weak comparison, any of a list, or '*'."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    return any(
        tag.strip().removeprefix("W/") == etag for tag in if_none_match.split(",") if tag.strip()
    )
