"""Cached reads: the rendered JSON of scores, series and comparisons, kept in memory while the
data they come from has not changed (``app.db.changes``), with an ETag so clients can
revalidate for free.

Two doors lead to an entry:

* ``cached_json``, called by the route once FastAPI has authenticated and validated the request:
  keyed by workspace and the validated parameters; a miss computes the answer in one thread-pool
  call with a session of its own.
* ``ServeCachedReads``, an ASGI middleware in front of the router: a GET whose key is in the
  authentication cache and whose exact path and query string were answered before, under the
  same clock reading and for the same workspace, is answered from memory without routing,
  dependency solving or a thread-pool hop. Anything else goes on to the router unchanged.

Entries are keyed by workspace first, so one tenant's answer is never another's; errors (404,
409, 422) are never cached, so they are always checked afresh.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from functools import partial
from typing import NamedTuple

from anyio import to_thread
from fastapi import Request, Response
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp, Receive, Scope, Send

from app.db.changes import ChangeClock
from app.services.keys import Principal

log = logging.getLogger(__name__)

# Private: the answer depends on the key's workspace. no-cache: revalidate with If-None-Match.
CACHE_CONTROL = "private, no-cache"
ENTRY_OVERHEAD = 256  # bytes counted per entry besides its body and key: the map, the tuples
MAX_RAW_QUERY = 512  # longer query strings are answered through the router only
# The last segment of every path the middleware may answer (anything else is not even looked up).
CACHED_ENDINGS = ("/scores", "/series", "/comparison")


class Entry(NamedTuple):
    body: bytes
    etag: str


def make_entry(body: str | bytes) -> Entry:
    data = body.encode() if isinstance(body, str) else body
    return Entry(data, f'"{hashlib.blake2b(data, digest_size=12).hexdigest()}"')


class ReadCache:
    """A least-recently-used map bounded in bytes, holding the entries of one clock reading."""

    def __init__(self, clock: ChangeClock, max_bytes: int) -> None:
        self.clock = clock
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, tuple[Entry, int]] = OrderedDict()
        self._size = 0
        self._reading: int | None = None
        self._lock = threading.Lock()
        self._flights: dict[tuple[Hashable, int], asyncio.Future[Entry]] = {}

    def now(self) -> int | None:
        """The clock's reading, or ``None`` when nothing may be cached."""
        if self.max_bytes <= 0:
            return None
        try:
            return self.clock.now()
        except Exception:  # no reading: answer without the cache rather than fail
            log.exception("change clock failed")
            return None

    def get(self, key: Hashable, reading: int) -> Entry | None:
        with self._lock:
            if reading != self._reading:
                self._entries.clear()
                self._size = 0
                self._reading = reading
                return None
            found = self._entries.get(key)
            if found is None:
                return None
            self._entries.move_to_end(key)
            return found[0]

    def put(self, key: Hashable, reading: int, entry: Entry, key_bytes: int = 0) -> None:
        """Keep ``entry``; ``key_bytes``: what the key itself holds (paths, query strings)."""
        size = len(entry.body) + key_bytes + ENTRY_OVERHEAD
        with self._lock:
            # Computed under an older reading (something changed meanwhile) or too big: not kept.
            if reading != self._reading or size > self.max_bytes // 4:
                return
            old = self._entries.pop(key, None)
            if old is not None:
                self._size -= old[1]
            self._entries[key] = (entry, size)
            self._size += size
            while self._size > self.max_bytes:
                _, (_, evicted_size) = self._entries.popitem(last=False)
                self._size -= evicted_size

    def __len__(self) -> int:
        return len(self._entries)

    async def single_flight(
        self, key: Hashable, reading: int, run: Callable[[], Awaitable[Entry]]
    ) -> Entry:
        """Compute ``key`` once for every request that misses it at the same time.

        Right after a change, all the clients polling a dashboard miss together; without this,
        16 of them computed the same comparison 16 times. The computation runs as a task of its
        own, so a caller that goes away does not cancel it for the others. (Event loop only.)"""
        flight = (key, reading)
        task = self._flights.get(flight)
        if task is None:
            task = asyncio.ensure_future(run())
            self._flights[flight] = task
            task.add_done_callback(partial(self._landed, flight))
        return await asyncio.shield(task)

    def _landed(self, flight: tuple[Hashable, int], task: asyncio.Future[Entry]) -> None:
        self._flights.pop(flight, None)
        if not task.cancelled():
            task.exception()  # retrieved: its callers re-raise it; nobody left is not an error


def _compute(factory: sessionmaker[Session], compute: Callable[[Session], str]) -> Entry:
    with factory() as session:
        return make_entry(compute(session))


async def cached_json(
    request: Request,
    principal: Principal,
    key: tuple[Hashable, ...],
    compute: Callable[[Session], str],
) -> Response:
    """Answer from the cache, or run ``compute`` (in the thread pool, with its own session)."""
    cache: ReadCache = request.app.state.read_cache
    reading = cache.now()
    scoped = (principal.workspace_id, *key)
    entry = cache.get(scoped, reading) if reading is not None else None
    if entry is None:
        run = partial(
            to_thread.run_sync,
            _compute,
            request.app.state.sessionmaker,
            compute,
            limiter=request.app.state.read_threads,
        )
        if reading is None:
            entry = await run()
        else:
            entry = await cache.single_flight(scoped, reading, run)
            cache.put(scoped, reading, entry)
    query: bytes = request.scope.get("query_string", b"")
    if reading is not None and len(query) <= MAX_RAW_QUERY:
        # The same answer for the same spelling of this request: the middleware's door. (Unknown
        # query parameters are ignored by the router, so each spelling costs its key's bytes.)
        path: str = request.scope["path"]
        cache.put(_raw_key(principal, request.scope), reading, entry, len(path) + len(query))
    return _respond(entry, request.headers.get("if-none-match"))


def _respond(entry: Entry, if_none_match: str | None) -> Response:
    """The answer of either door: 200 with the body, or 304 when the client has it."""
    headers = {"ETag": entry.etag, "Cache-Control": CACHE_CONTROL}
    if _matches(if_none_match, entry.etag):
        return Response(status_code=304, headers=headers)
    return Response(entry.body, media_type="application/json", headers=headers)


def _raw_key(principal: Principal, scope: Scope) -> tuple[Hashable, ...]:
    return ("raw", principal.workspace_id, scope["path"], scope.get("query_string", b""))


class ServeCachedReads:
    """Answer a repeated GET from the read cache before routing (see the module's docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            try:
                entry = _cached_for(scope)
            except Exception:  # a shortcut, never a failure: the router answers instead
                log.exception("read cache lookup failed")
                entry = None
            if entry is not None:
                await _respond(entry, _header(scope, b"if-none-match"))(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _cached_for(scope: Scope) -> Entry | None:
    path: str = scope["path"]
    if not path.endswith(CACHED_ENDINGS):
        return None
    state = getattr(scope.get("app"), "state", None)
    cache: ReadCache | None = getattr(state, "read_cache", None)
    if state is None or cache is None:
        return None
    authorization = _header(scope, b"authorization")
    if authorization is None:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    principal = state.auth_cache.get(token)  # only a key checked within its time to live
    reading = cache.now() if principal is not None else None
    if principal is None or reading is None:
        return None
    return cache.get(_raw_key(principal, scope), reading)


def _header(scope: Scope, name: bytes) -> str | None:
    value = next((v for k, v in scope["headers"] if k == name), None)
    return value.decode("latin-1") if value is not None else None


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    # Weak comparison (RFC 9110 §13.1.2): W/"x" matches "x".
    return any(tag.strip().removeprefix("W/") == etag for tag in if_none_match.split(","))
