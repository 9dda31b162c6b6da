"""Run a worker task over untrusted bytes in a child process with memory, CPU and time limits.

With ``Limits.isolate`` the task runs as ``python -I -B app/excel/_worker.py`` under
``RLIMIT_AS``/``RLIMIT_CPU`` (set by the child on itself), with an empty environment and a
wall-clock timeout after which the parent kills it. A fresh interpreter costs about 0.1 s per
workbook here; it was chosen over a multiprocessing forkserver (about 0.01 s) because that
re-imports the caller's ``__main__`` in every child and keeps a server process alive, and over
plain ``fork`` because the service's worker threads may hold locks at fork time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Final

from app.excel import _worker
from app.excel.safety import Limits

WORKER: Final = Path(_worker.__file__).resolve()


class SandboxFailure(Exception):
    """The task did not finish: ``reason`` is 'timeout', 'memory', 'cpu' or 'crashed'."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class TaskError(Exception):
    """The task raised an unexpected exception (a bug, not a hostile file)."""


def _decode(message: bytes) -> bytes:
    status, body = message[:1], message[1:]
    if status == _worker.STATUS_OK:
        return body
    if status == _worker.STATUS_MEMORY:
        raise SandboxFailure("memory", "MemoryError")
    raise TaskError(body.decode("utf-8", "replace"))


def run_task(task: str, data: bytes, arg: str, limits: Limits) -> bytes:
    """Run worker task ``task`` on ``data``, isolated when ``limits.isolate``; return its bytes.

    Raises SandboxFailure when the child runs out of time or memory or dies, and TaskError when
    the task itself raised.
    """
    if task not in _worker.TASKS:
        raise ValueError(f"unknown worker task {task!r}")
    if not limits.isolate:
        return _decode(_worker.run_guarded(task, data, arg))
    encoded = arg.encode("utf-8")
    command = [
        sys.executable,
        "-I",
        "-B",
        str(WORKER),
        task,
        str(limits.memory_bytes),
        str(limits.cpu_seconds),
    ]
    env = {"PATH": os.environ.get("PATH", ""), "LC_ALL": "C.UTF-8"}
    try:
        done = subprocess.run(  # noqa: S603 - our own interpreter and script, no shell
            command,
            input=len(encoded).to_bytes(8, "big") + encoded + data,
            capture_output=True,
            timeout=limits.timeout_seconds,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise SandboxFailure("timeout", f"{limits.timeout_seconds:g} s") from None
    if done.returncode == 0 and done.stdout:
        return _decode(done.stdout)
    code = done.returncode
    tail = " ".join(done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:])[:500]
    if code in (-signal.SIGXCPU, -signal.SIGKILL):  # soft, then hard RLIMIT_CPU
        raise SandboxFailure("cpu", f"exit code {code}")
    if b"MemoryError" in done.stderr:
        raise SandboxFailure("memory", tail)
    if code < 0:  # killed by another signal, e.g. an abort inside a native parser
        raise SandboxFailure("crashed", f"signal {-code}")
    # a Python error outside the task (cannot import openpyxl, bad arguments): a deployment bug
    raise TaskError(f"worker exited with {code}: {tail}")
