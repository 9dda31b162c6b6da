"""Work the event loop must not wait on (database round trips, CPU-bound reads) runs on one of
three thread pools of the app: a few threads for the hot reads and some for the assessments'
writes (their key checked and their work done in one hop, ``app.api.keyed.Keyed``), a few for
the other routes' key lookups.

Handed over with ``loop.run_in_executor`` and the request's context (its request id for the log
lines): a hop costs about 10 µs of CPU here, against 45 µs through anyio's ``to_thread`` (its
backend lookup, capacity limiter and cancel scope, measured in docs/benchmarks.md), and every
authenticated request makes at least one.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

KEY_THREADS = 8  # key lookups: an indexed query each, mostly waiting on the database


@dataclass(frozen=True)
class Pools:
    reads: ThreadPoolExecutor  # the keyed reads: scores, series, comparisons, benchmarks
    writes: ThreadPoolExecutor  # the keyed writes: the assessments'
    keys: ThreadPoolExecutor

    @classmethod
    def start(cls, read_threads: int, write_threads: int) -> Pools:
        return cls(
            ThreadPoolExecutor(read_threads, thread_name_prefix="oca-read"),
            ThreadPoolExecutor(write_threads, thread_name_prefix="oca-write"),
            ThreadPoolExecutor(KEY_THREADS, thread_name_prefix="oca-key"),
        )

    def stop(self) -> None:
        for pool in (self.reads, self.writes, self.keys):
            pool.shutdown(wait=True)


async def run_on(
    pool: ThreadPoolExecutor, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs
) -> T:
    """``fn(*args, **kwargs)`` on ``pool``, in a copy of the caller's context."""
    context = contextvars.copy_context()
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(pool, lambda: context.run(fn, *args, **kwargs))
