"""Run a worker task over untrusted bytes in a child process with memory, CPU and time limits.

With ``Limits.isolate`` the task runs in a small pool of long-lived workers, each
``python -I -B app/excel/_worker.py --serve MEMORY CPU_CAP`` with an empty environment, under
``RLIMIT_AS`` (the memory cap, fixed for the worker's life), ``RLIMIT_CPU``, ``RLIMIT_FSIZE`` and
``RLIMIT_NPROC`` (set by the child on itself after importing openpyxl). A fresh interpreter costs
about 0.1-0.3 s, several times the parse of a workbook, so a worker answers many requests:

* one request at a time per worker, as length-prefixed frames over its stdin and stdout (see
  ``_worker``); a thread takes an idle worker, or starts one while the pool is below its size, or
  waits for one, at most ``wait_seconds`` (then ``SandboxBusy``: the service is saturated, the file
  is not at fault);
* each request has a wall-clock deadline (``Limits.timeout_seconds``; it includes starting the
  worker when there was none) after which the worker is killed;
* RLIMIT_CPU counts a process's whole life, so before each task the worker sets its soft limit to
  the time it has used plus ``Limits.cpu_seconds``; the hard limit is a lifetime cap, and a worker
  whose reported time nears it is retired before it takes another request;
* a worker that timed out, died (a signal, the CPU limit), ran out of memory or broke the protocol
  is killed, reaped and replaced by the next request: only the request that caused it fails, with
  the same ``SandboxFailure`` reasons as a one-shot process had;
* a worker is retired after ``max_requests`` requests, or when its address space passed half the
  memory cap, to bound leaks and fragmentation; and when a request needs another memory cap;
* ``close()`` kills and reaps every worker.

The process's shared pool is owned by what runs the process: the service's lifespan and
`oca worker` open it with ``open_default_pool`` (pool size and requests per worker from
``OCA_PARSER_WORKERS`` and ``OCA_PARSER_MAX_REQUESTS``) and close it when they end; a one-off
command gets the defaults below, closed at exit. ``WorkerPool`` can also be built and passed to
``run_task`` directly.

Why the pool is the project's own and not a library's: docs/operations.md, "The parser pool".
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Final

from app.excel import _worker
from app.excel.safety import DEFAULT_LIMITS, Limits

WORKER: Final = Path(_worker.__file__).resolve()
DEFAULT_POOL_SIZE: Final = 2
DEFAULT_MAX_REQUESTS: Final = 200
LIFETIME_CPU_SECONDS: Final = 600  # a worker's hard RLIMIT_CPU (at least 2x one request's budget)
_CPU_MARGIN: Final = 2  # seconds: the per-request soft limit is rounded up to whole seconds
_MAX_STATS_BYTES: Final = 64 * 1024
_STDERR_TAIL: Final = 8 * 1024
_CHUNK: Final = 1024 * 1024
_REAP_SECONDS: Final = 2.0  # after its output ended, how long a worker may take to exit


class SandboxFailure(Exception):
    """The task did not finish: ``reason`` is 'timeout', 'memory', 'cpu' or 'crashed'."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class TaskError(Exception):
    """The task raised an unexpected exception (a bug, not a hostile file)."""


class SandboxBusy(RuntimeError):
    """No worker became free within the wait bound: the service is saturated; retry later."""


def _decode(message: bytes) -> bytes:
    status, body = message[:1], message[1:]
    if status == _worker.STATUS_OK:
        return body
    if status == _worker.STATUS_MEMORY:
        raise SandboxFailure("memory", "MemoryError")
    raise TaskError(body.decode("utf-8", "replace"))


@dataclass(frozen=True)
class PoolSettings:
    size: int = DEFAULT_POOL_SIZE
    max_requests: int = DEFAULT_MAX_REQUESTS
    wait_seconds: float | None = None  # None: the request's own timeout_seconds

    def __post_init__(self) -> None:
        if self.size < 1 or self.max_requests < 1:
            raise ValueError("a worker pool needs size >= 1 and max_requests >= 1")
        if self.wait_seconds is not None and self.wait_seconds < 0:
            raise ValueError("wait_seconds must be >= 0")


# --- one worker process --------------------------------------------------------------------------


class _Broken(Exception):
    """The exchange with a worker failed; ``timeout`` when its deadline passed."""

    def __init__(self, why: str, *, timeout: bool = False, protocol: bool = False) -> None:
        super().__init__(why)
        self.timeout = timeout
        self.protocol = protocol


class _Worker:
    def __init__(self, memory_bytes: int, cpu_cap: int) -> None:
        command = [
            sys.executable,
            "-I",
            "-B",
            str(WORKER),
            _worker.SERVE,
            str(memory_bytes),
            str(cpu_cap),
        ]
        env = {"PATH": os.environ.get("PATH", ""), "LC_ALL": "C.UTF-8"}
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and script, no shell
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            bufsize=0,
        )
        assert self.proc.stdin and self.proc.stdout and self.proc.stderr
        self._in = self.proc.stdin.fileno()
        self._out = self.proc.stdout.fileno()
        self._err = self.proc.stderr.fileno()
        for fd in (self._in, self._out, self._err):
            os.set_blocking(fd, False)
        self.pid = self.proc.pid
        self.memory_bytes = memory_bytes
        self.cpu_cap = cpu_cap
        self.requests = 0
        self.cpu_used = 0.0  # seconds of processor time the worker reported after its last task
        self.vm = 0  # bytes of address space it reported
        self.peak_rss = 0
        self.stderr = bytearray()
        self._stderr_open = True
        self._killed = ""  # why we killed it, when we did

    def fits(self, limits: Limits) -> bool:
        return (
            self.memory_bytes == limits.memory_bytes
            and self.cpu_used + limits.cpu_seconds + _CPU_MARGIN <= self.cpu_cap
        )

    def worn(self, max_requests: int) -> bool:
        return self.requests >= max_requests or self.vm > self.memory_bytes // 2

    def exchange(self, request: Sequence[bytes], deadline: float, limit: int) -> bytes:
        """Send one request, return the task's message (status byte + bytes); raise _Broken."""
        self.requests += 1
        outgoing = memoryview(b"".join(request))
        received = bytearray()
        with selectors.DefaultSelector() as selector:
            selector.register(self._in, selectors.EVENT_WRITE, "in")
            selector.register(self._out, selectors.EVENT_READ, "out")
            if self._stderr_open:
                selector.register(self._err, selectors.EVENT_READ, "err")
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise _Broken("deadline", timeout=True)
                for key, _ in selector.select(remaining):
                    if key.data == "err":
                        if not self._drain_stderr():
                            selector.unregister(self._err)
                    elif key.data == "in":
                        try:
                            sent = os.write(self._in, outgoing[:_CHUNK])
                        except BlockingIOError:
                            continue
                        except OSError as exc:  # BrokenPipeError: it died reading the request
                            raise _Broken(f"writing the request: {exc}") from None
                        outgoing = outgoing[sent:]
                        if not outgoing:
                            selector.unregister(self._in)
                    else:
                        try:
                            chunk = os.read(self._out, _CHUNK)
                        except BlockingIOError:
                            continue
                        if not chunk:
                            raise _Broken("its output ended")
                        received += chunk
                        message = self._response(received, limit)
                        if message is None:
                            continue
                        if outgoing and message != _worker.STATUS_MEMORY:
                            raise _Broken("answered before reading the request", protocol=True)
                        return message

    def _response(self, buffer: bytearray, limit: int) -> bytes | None:
        """The task's message once both response frames are in; _Broken if they are malformed."""
        header = _worker.FRAME_HEADER
        if len(buffer) < header:
            return None
        size = int.from_bytes(buffer[:header], "big")
        if size > _MAX_STATS_BYTES:
            raise _Broken(f"statistics frame of {size} bytes", protocol=True)
        start = header + size + header
        if len(buffer) < start:
            return None
        body = int.from_bytes(buffer[start - header : start], "big")
        if body > limit or body == 0:
            raise _Broken(f"response frame of {body} bytes", protocol=True)
        if len(buffer) < start + body:
            return None
        if len(buffer) > start + body:
            raise _Broken("bytes after the response", protocol=True)
        try:
            stats = json.loads(bytes(buffer[header : header + size]))
            self.cpu_used = float(stats.get("cpu", self.cpu_used))
            self.vm = int(stats.get("vm", 0))
            self.peak_rss = int(stats.get("rss", 0))
        except (ValueError, TypeError, AttributeError) as exc:
            raise _Broken(f"statistics frame: {exc}", protocol=True) from None
        return bytes(buffer[start:])

    def _drain_stderr(self) -> bool:
        """Keep the tail of what the worker wrote to stderr; False once it is closed."""
        while self._stderr_open:
            try:
                chunk = os.read(self._err, 65536)
            except BlockingIOError:
                return True
            except OSError:
                chunk = b""
            if not chunk:
                self._stderr_open = False
                break
            self.stderr += chunk
            del self.stderr[:-_STDERR_TAIL]
        return False

    def kill(self, why: str) -> None:
        """Kill it now (any thread may); ``stop`` reaps it."""
        if self.proc.returncode is None and not self._killed:
            self._killed = why
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()

    def stop(self, *, grace: float = 0.0) -> int:
        """Kill it unless it exits within ``grace`` s, reap it, close its pipes; its exit code."""
        if grace > 0:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(grace)
        if self.proc.poll() is None:
            self.kill("stopped")
        code = self.proc.wait()
        with contextlib.suppress(OSError):
            self._drain_stderr()
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        return code

    def failure(self, broken: _Broken, timeout_seconds: float) -> Exception:
        """Stop the worker and say what happened to the request, as run_task's exceptions."""
        if broken.timeout:
            self.kill("timeout")
            self.stop()
            return SandboxFailure("timeout", f"{timeout_seconds:g} s")
        if broken.protocol:
            self.kill(f"protocol error: {broken}")
            self.stop()
            return SandboxFailure("crashed", f"protocol error: {broken}")
        code = self.stop(grace=_REAP_SECONDS)  # its output ended: let it finish dying
        tail = " ".join(self.stderr.decode("utf-8", "replace").strip().splitlines()[-1:])[:500]
        if self._killed:
            return SandboxFailure("crashed", f"killed ({self._killed})")
        if code in (-signal.SIGXCPU, -signal.SIGKILL):  # soft, then hard RLIMIT_CPU
            return SandboxFailure("cpu", f"exit code {code}")
        if code == _worker.EXIT_MEMORY or b"MemoryError" in self.stderr:
            return SandboxFailure("memory", tail or "MemoryError")
        if code < 0:  # killed by another signal, e.g. an abort inside a native parser
            return SandboxFailure("crashed", f"signal {-code}")
        # a Python error outside the task (cannot import openpyxl, bad arguments): a deployment bug
        return TaskError(f"worker exited with {code} ({broken}): {tail}")

    def forget(self) -> None:
        """In a forked child: drop our copies of the pipes; the worker belongs to the parent."""
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        self.proc.returncode = 0  # not ours to wait for (and no ResourceWarning about it)


@dataclass(frozen=True)
class WorkerInfo:
    pid: int
    requests: int
    cpu_seconds: float  # processor time used since it started, as of its last answer
    vm_bytes: int  # address space, as of its last answer
    peak_rss_bytes: int  # largest resident set so far, as of its last answer
    busy: bool


# --- the pool ------------------------------------------------------------------------------------


class WorkerPool:
    """Long-lived isolated workers, shared by threads; see the module docstring."""

    def __init__(self, settings: PoolSettings | None = None) -> None:
        self.settings = settings or PoolSettings()
        self._cond = threading.Condition()
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._starting = 0
        self._closed = False
        self.started = 0  # workers started so far
        self.retired = 0  # workers stopped so far

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def configure(self, settings: PoolSettings) -> None:
        """New size, requests per worker and wait; surplus workers retire as they come back."""
        with self._cond:
            self.settings = settings
            surplus = self._idle[: max(0, self._total() - settings.size)]
            del self._idle[: len(surplus)]
            self._cond.notify_all()
        self._retire(surplus)

    def pids(self) -> list[int]:
        """Process ids of the live workers, idle and busy."""
        return sorted(w.pid for w in self.workers())

    def workers(self) -> list[WorkerInfo]:
        """What each live worker reported after its last request, idle ones first."""
        with self._cond:
            return [
                WorkerInfo(w.pid, w.requests, w.cpu_used, w.vm, w.peak_rss, w in self._busy)
                for w in [*self._idle, *self._busy]
            ]

    def warm(self, limits: Limits = DEFAULT_LIMITS) -> None:
        """Start idle workers up to the pool size now, instead of on the first requests."""
        while True:
            with self._cond:
                if self._closed or self._total() >= self.settings.size:
                    return
                self._starting += 1
            worker = self._spawn(limits)
            with self._cond:
                self._starting -= 1
                keep = not self._closed and self._total() < self.settings.size
                if keep:
                    self._idle.append(worker)
                self._cond.notify_all()
            if not keep:
                self._retire([worker])

    def run(self, task: str, data: bytes, arg: str, limits: Limits) -> bytes:
        """Run ``task`` in a worker; see ``run_task``."""
        worker = self._acquire(limits)
        healthy = False
        try:
            header = json.dumps({"task": task, "arg": arg, "cpu": limits.cpu_seconds}).encode()
            request = [
                len(header).to_bytes(_worker.FRAME_HEADER, "big"),
                header,
                len(data).to_bytes(_worker.FRAME_HEADER, "big"),
                data,
            ]
            # a new worker starts its interpreter while we wait: that counts against the deadline
            deadline = time.monotonic() + limits.timeout_seconds
            try:
                message = worker.exchange(request, deadline, limits.memory_bytes)
            except _Broken as broken:
                raise worker.failure(broken, limits.timeout_seconds) from None
            healthy = message != _worker.STATUS_MEMORY
            return _decode(message)
        finally:
            self._release(worker, healthy=healthy)

    def close(self, wait_seconds: float = 5.0) -> None:
        """Stop every worker and reap it. Requests running now fail ('crashed'); later ones raise
        RuntimeError. Waits at most ``wait_seconds`` for their threads to hand the workers back.
        """
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            busy = list(self._busy)
            self._cond.notify_all()
        self._retire(idle)
        for worker in busy:
            worker.kill("the worker pool was closed")
        deadline = time.monotonic() + wait_seconds
        with self._cond:
            while self._busy or self._starting:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)

    # --- internals -------------------------------------------------------------------------------

    def _total(self) -> int:
        return len(self._idle) + len(self._busy) + self._starting

    def _acquire(self, limits: Limits) -> _Worker:
        wait = self.settings.wait_seconds
        deadline = time.monotonic() + (limits.timeout_seconds if wait is None else wait)
        misfits: list[_Worker] = []
        try:
            with self._cond:
                while True:
                    if self._closed:
                        raise RuntimeError("the workbook worker pool is closed")
                    for worker in self._idle[::-1]:  # a copy: dead ones leave the list
                        if worker.proc.poll() is not None:  # died while idle (killed from outside)
                            self._idle.remove(worker)
                            misfits.append(worker)
                        elif worker.fits(limits):
                            self._idle.remove(worker)
                            self._busy.add(worker)
                            return worker
                    if self._idle and self._total() >= self.settings.size:
                        misfits.append(self._idle.pop(0))  # e.g. another memory cap: replace
                    if self._total() < self.settings.size:
                        self._starting += 1
                        break
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise SandboxBusy(f"all {self.settings.size} workbook workers are busy")
                    self._cond.wait(remaining)
        finally:
            self._retire(misfits)
        worker = self._spawn(limits)
        with self._cond:
            self._starting -= 1  # and counted as busy under the same lock: never above size
            self._cond.notify_all()
            if not self._closed:
                self._busy.add(worker)
                return worker
        self._retire([worker])
        raise RuntimeError("the workbook worker pool is closed")

    def _spawn(self, limits: Limits) -> _Worker:
        """Start a worker for a slot counted in ``_starting``, which the caller gives back once
        it has placed the worker; given back here if the worker cannot be started.
        """
        cap = max(LIFETIME_CPU_SECONDS, 2 * (limits.cpu_seconds + _CPU_MARGIN))
        try:
            worker = _Worker(limits.memory_bytes, cap)
        except BaseException:
            with self._cond:
                self._starting -= 1
                self._cond.notify_all()
            raise
        with self._cond:
            self.started += 1
        return worker

    def _release(self, worker: _Worker, *, healthy: bool) -> None:
        with self._cond:
            self._busy.discard(worker)
            keep = (
                healthy
                and not self._closed
                and worker.proc.poll() is None
                and not worker.worn(self.settings.max_requests)
                and self._total() < self.settings.size
            )
            if keep:
                self._idle.append(worker)
            self._cond.notify_all()
        if not keep:
            self._retire([worker])

    def _retire(self, workers: list[_Worker]) -> None:
        for worker in workers:
            worker.stop()
        if workers:
            with self._cond:
                self.retired += len(workers)
                self._cond.notify_all()

    def _forget(self) -> None:
        """After fork, in the child: the workers are the parent's."""
        for worker in [*self._idle, *self._busy]:
            worker.forget()
        self._idle, self._busy, self._closed = [], set(), True


_default: WorkerPool | None = None
_default_lock = threading.Lock()


_configured = PoolSettings()


def open_default_pool(settings: PoolSettings) -> WorkerPool:
    """Make the process's shared pool with these settings (the service's lifespan and `oca worker`
    do, from OCA_PARSER_WORKERS and OCA_PARSER_MAX_REQUESTS, and close it when they end). Workers
    start on demand; a pool already open is reconfigured (its busy workers finish first)."""
    global _default, _configured
    with _default_lock:
        _configured = settings
        if _default is None or _default.closed:
            _default = WorkerPool(settings)
            return _default
        pool = _default
    pool.configure(settings)
    return pool


def default_pool() -> WorkerPool:
    """The process's shared pool; opened with the last settings given to ``open_default_pool``
    (the defaults for a command that gave none) when it is not open."""
    with _default_lock:
        if _default is not None and not _default.closed:
            return _default
    return open_default_pool(_configured)


def close_default_pool() -> None:
    """Stop the shared pool's workers (the owner does at its end; also done at exit); a later
    request opens it again with the same settings."""
    global _default
    with _default_lock:
        pool, _default = _default, None
    if pool is not None:
        pool.close()


def _after_fork_in_child() -> None:
    global _default, _default_lock
    _default_lock = threading.Lock()
    if _default is not None:
        _default._forget()
        _default = None


atexit.register(close_default_pool)
os.register_at_fork(after_in_child=_after_fork_in_child)


def run_task(
    task: str, data: bytes, arg: str, limits: Limits, pool: WorkerPool | None = None
) -> bytes:
    """Run worker task ``task`` on ``data``, isolated when ``limits.isolate``; return its bytes.

    Raises SandboxFailure when the worker runs out of time or memory or dies, TaskError when the
    task itself raised, and SandboxBusy when no worker became free in time. ``pool`` defaults to
    the process's shared pool.
    """
    if task not in _worker.TASKS:
        raise ValueError(f"unknown worker task {task!r}")
    if not limits.isolate:
        return _decode(_worker.run_guarded(task, data, arg))
    return (pool or default_pool()).run(task, data, arg, limits)


__all__ = [
    "WORKER",
    "PoolSettings",
    "SandboxBusy",
    "SandboxFailure",
    "TaskError",
    "WorkerInfo",
    "WorkerPool",
    "close_default_pool",
    "default_pool",
    "open_default_pool",
    "run_task",
]
