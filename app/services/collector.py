"""Pausing Python's cyclic garbage collector while a read builds a large answer."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class _Pause:
    lock = threading.Lock()
    holders = 0
    was_enabled = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while the block runs; reference counting still frees what
    the block drops, and cycles wait for the next collection after it.

    A national cohort comparison makes millions of objects that all live until its answer is
    sent, and every full collection on the way walked them all again: a third of its CPU time
    (bench/scale.py). Blocks in several threads share one pause; the collector runs again when
    the last one ends (if it was running before the first)."""
    with _Pause.lock:
        if _Pause.holders == 0:
            _Pause.was_enabled = gc.isenabled()
            gc.disable()
        _Pause.holders += 1
    try:
        yield
    finally:
        with _Pause.lock:
            _Pause.holders -= 1
            if _Pause.holders == 0 and _Pause.was_enabled:
                gc.enable()
