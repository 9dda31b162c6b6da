"""Run a parser over untrusted bytes in a child process with memory, CPU and wall-clock limits.

A task is a module-level function ``(data: bytes, arg: str) -> bytes``. With ``Limits.isolate``
it runs in a process forked from a forkserver that has already imported this package (about
10 ms per call here, against about 120 ms for a fresh ``spawn``), under ``RLIMIT_AS`` and
``RLIMIT_CPU``; the parent waits at most ``timeout_seconds`` and kills it after that. Plain
``fork`` is avoided because the service's worker threads may hold locks at fork time.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, Final

from app.excel.safety import Limits

Task = Callable[[bytes, str], bytes]

_OK: Final = b"o"
_MEMORY: Final = b"m"
_ERROR: Final = b"x"
_PRELOAD: Final = ["app.excel"]


class SandboxFailure(Exception):
    """The task did not finish: ``reason`` is 'timeout', 'memory', 'cpu' or 'crashed'."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class TaskError(Exception):
    """The task raised an unexpected exception (a bug, not a hostile file)."""


def _set_limits(memory_bytes: int, cpu_seconds: int) -> None:
    try:
        import resource
    except ImportError:  # pragma: no cover - not on POSIX
        return
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))


def _guarded(task: Task, data: bytes, arg: str) -> bytes:
    try:
        return _OK + task(data, arg)
    except MemoryError:
        return _MEMORY
    except Exception as exc:
        return _ERROR + f"{type(exc).__name__}: {exc}"[:1000].encode("utf-8", "replace")


def _child(
    conn: Connection, task: Task, data: bytes, arg: str, memory_bytes: int, cpu_seconds: int
) -> None:
    try:
        _set_limits(memory_bytes, cpu_seconds)
        result = _guarded(task, data, arg)
        conn.send_bytes(result)
    finally:
        conn.close()


_contexts: dict[str, Any] = {}


def _context() -> Any:
    ctx = _contexts.get("ctx")
    if ctx is None:
        methods = multiprocessing.get_all_start_methods()
        method = "forkserver" if "forkserver" in methods else "spawn"
        ctx = multiprocessing.get_context(method)
        if method == "forkserver":
            ctx.set_forkserver_preload(_PRELOAD)
        _contexts["ctx"] = ctx
    return ctx


def _decode(message: bytes) -> bytes:
    status, body = message[:1], message[1:]
    if status == _OK:
        return body
    if status == _MEMORY:
        raise SandboxFailure("memory", "MemoryError")
    raise TaskError(body.decode("utf-8", "replace"))


def run_task(task: Task, data: bytes, arg: str, limits: Limits, max_result_bytes: int) -> bytes:
    """Run ``task(data, arg)``, isolated when ``limits.isolate``; return its bytes.

    Raises SandboxFailure when the child runs out of time or memory or dies, and TaskError when
    the task itself raised.
    """
    if not limits.isolate:
        return _decode(_guarded(task, data, arg))
    ctx = _context()
    receiver, sender = ctx.Pipe(duplex=False)
    process = ctx.Process(
        target=_child,
        args=(sender, task, data, arg, limits.memory_bytes, limits.cpu_seconds),
        daemon=True,
    )
    try:
        process.start()
        sender.close()
        if not receiver.poll(limits.timeout_seconds):
            process.kill()
            raise SandboxFailure("timeout", f"{limits.timeout_seconds:g} s")
        try:
            message = receiver.recv_bytes(max_result_bytes + 1)
        except (EOFError, OSError):
            process.join(5)
            code = process.exitcode
            reason = "cpu" if code in (-24, -9) else "crashed"  # SIGXCPU / SIGKILL at hard limit
            raise SandboxFailure(reason, f"exit code {code}") from None
        return _decode(message)
    finally:
        receiver.close()
        if not sender.closed:
            sender.close()
        if process.is_alive():
            process.kill()
        if process.pid is not None:
            process.join()
            process.close()
