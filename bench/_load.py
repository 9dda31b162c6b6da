"""The server process, the load generators (wrk for GETs, a small asyncio client for the POST
flow) and CPU accounting for bench/api.py. Everything targets 127.0.0.1 only."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
CLK = os.sysconf("SC_CLK_TCK")


# --- CPU accounting ------------------------------------------------------------------------------


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by one process."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK


def group_cpu(pgid: int) -> float:
    """CPU seconds used so far by every live process of one process group (a uvicorn supervisor,
    its workers and their parser workers), with what each has reaped from its own children."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            total += sum(int(x) for x in fields[11:15]) / CLK
    return total


def box_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    parts = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = parts[3] + parts[4]
    total = sum(parts[:8])
    return total - idle, total


def self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime + c.ru_utime + c.ru_stime


@dataclass
class CpuWindow:
    """Server, load generator and whole-box CPU over one measurement window."""

    server_pid: int
    group: bool = False  # count the server's whole process group (several workers)
    t0: float = 0.0
    srv0: float = 0.0
    gen0: float = 0.0
    box0: tuple[float, float] = (0.0, 0.0)
    server: float = 0.0  # % of one core
    generator: float = 0.0  # % of one core
    box: float = 0.0  # % of all cores

    def _server(self) -> float:
        return group_cpu(self.server_pid) if self.group else proc_cpu(self.server_pid)

    def __enter__(self) -> CpuWindow:
        self.t0, self.srv0, self.gen0, self.box0 = (
            time.perf_counter(),
            self._server(),
            self_cpu(),
            box_cpu(),
        )
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.perf_counter() - self.t0
        self.server = 100 * (self._server() - self.srv0) / wall
        self.generator = 100 * (self_cpu() - self.gen0) / wall
        busy, total = box_cpu()
        self.box = 100 * (busy - self.box0[0]) / max(1.0, total - self.box0[1])


# --- the server ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def server_options() -> list[str]:
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return ["--loop", loop, "--http", http]


@contextlib.contextmanager
def uvicorn_server(
    database_url: str,
    cwd: Path,
    log_path: Path,
    data_dir: Path,
    extra_env: dict[str, str] | None = None,
    workers: int = 1,
) -> Iterator[tuple[subprocess.Popen[bytes], int, list[str]]]:
    """`uvicorn app.main:create_app --factory`: `workers` workers (1: no supervisor), 127.0.0.1,
    a free port, in a session of its own (its process group is its pid); always stopped."""
    port = free_port()
    args = [
        sys.executable,
        "-m",
        "uvicorn",
        "app.main:create_app",
        "--factory",
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
        *server_options(),
    ]
    env = {
        **os.environ,
        "OCA_DATABASE_URL": database_url,
        "OCA_DATA_DIR": str(data_dir),
        "PYTHONUNBUFFERED": "1",
        # the limiter runs (its cost is measured) but a load generator is never refused
        "OCA_RATE_LIMIT_PER_KEY": "1000000000",
        "OCA_RATE_LIMIT_PER_ADDRESS": "1000000000",
        **(extra_env or {}),
    }
    log = log_path.open("wb")
    proc = subprocess.Popen(
        args, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"uvicorn exited with {proc.returncode}:\n" + log_path.read_text()[-3000:]
                )
            try:
                with urllib.request.urlopen(f"http://{HOST}:{port}/healthz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not answer /healthz within 60 s")
            time.sleep(0.1)
        yield proc, port, args[2:]
    finally:
        stop(proc)
        log.close()


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop our own child by its pid: SIGINT (graceful), then SIGKILL after 10 s."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGINT)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


# --- results -------------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    clients: int
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int = 0
    ops: int | None = None  # for multi-request operations
    server_cpu: float = 0.0
    generator_cpu: float = 0.0
    box_cpu: float = 0.0
    capped: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def server_ms(self) -> float:
        """Server CPU milliseconds per request (per operation when ops is set)."""
        if "server_ms" in self.extra:
            return float(self.extra["server_ms"])
        done = self.ops if self.ops is not None else self.requests
        return self.server_cpu / 100 * self.seconds / done * 1000 if done else 0.0

    @property
    def ops_per_s(self) -> float:
        return (self.ops or 0) / self.seconds if self.seconds else 0.0


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of an already sorted list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), -(-int(q * len(sorted_values)) // 100)))
    return sorted_values[rank - 1]


# --- wrk -----------------------------------------------------------------------------------------

WRK_LUA = r"""
local paths = {PATHS}
local cap = {CAP}
local n = 0
local i = 0
wrk.headers["Authorization"] = "Bearer {KEY}"
wrk.headers["Accept"] = "application/json"
local reqs = {}
for k, p in ipairs(paths) do reqs[k] = wrk.format("GET", p) end
request = function()
  i = i % #reqs + 1
  return reqs[i]
end
response = function(status, headers, body)
  n = n + 1
  if n >= cap then wrk.thread:stop() end
end
done = function(summary, latency, requests)
  io.write(string.format(
    '\nWRKJSON {"requests":%d,"duration_us":%d,"p50":%d,"p99":%d,"max":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout))
end
"""


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def run_wrk(
    name: str,
    port: int,
    paths: Sequence[str],
    key: str,
    *,
    clients: int,
    seconds: float,
    cap: int,
    server_pid: int,
    workdir: Path,
    timeout_s: float = 10.0,
) -> Result:
    """wrk with one thread (it is the lighter load generator), `clients` connections, a time cap
    (-d) and a request cap (the Lua response hook stops the thread at `cap` responses)."""
    script = workdir / f"wrk_{abs(hash((name, clients)))}.lua"
    lua_paths = "{" + ", ".join(json.dumps(p) for p in paths) + "}"
    script.write_text(
        WRK_LUA.replace("{PATHS}", lua_paths).replace("{CAP}", str(cap)).replace("{KEY}", key)
    )
    cmd = [
        "wrk",
        "-t1",
        f"-c{clients}",
        f"-d{max(1, round(seconds))}s",
        f"--timeout={timeout_s:g}s",
        "-s",
        str(script),
        f"http://{HOST}:{port}{paths[0]}",
    ]
    with CpuWindow(server_pid) as cpu:
        out = subprocess.run(
            cmd, capture_output=True, text=True, timeout=seconds + timeout_s + 30, check=False
        )
    m = re.search(r"WRKJSON (\{.*\})", out.stdout)
    if out.returncode != 0 or m is None:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stdout}\n{out.stderr}")
    d = json.loads(m.group(1))
    errors = d["connect"] + d["read"] + d["write"] + d["status"] + d["timeout"]
    return Result(
        name=name,
        clients=clients,
        requests=d["requests"],
        seconds=d["duration_us"] / 1e6,
        p50_ms=d["p50"] / 1000,
        p99_ms=d["p99"] / 1000,
        errors=errors,
        server_cpu=cpu.server,
        generator_cpu=cpu.generator,
        box_cpu=cpu.box,
        capped=d["requests"] >= cap,
        extra={"max_ms": d["max"] / 1000},
    )


# --- a small asyncio HTTP/1.1 keep-alive client --------------------------------------------------

_CL = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)


class Conn:
    """One keep-alive connection; just enough HTTP/1.1 for uvicorn's Content-Length responses."""

    def __init__(self, port: int, key: str) -> None:
        self.port = port
        self.head = (
            f"Host: {HOST}:{port}\r\nAuthorization: Bearer {key}\r\nAccept: application/json\r\n"
        ).encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(HOST, self.port)

    async def request(
        self, method: str, path: str, body: bytes = b"", content_type: str = "application/json"
    ) -> tuple[int, bytes]:
        assert self.reader is not None and self.writer is not None
        self.writer.write(
            f"{method} {path} HTTP/1.1\r\n".encode()
            + self.head
            + (f"Content-Type: {content_type}\r\n".encode() if body else b"")
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        m = _CL.search(head)
        if m is None:
            raise RuntimeError(f"no Content-Length in response: {head[:200]!r}")
        return status, await self.reader.readexactly(int(m.group(1)))

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()


Step = tuple[str, str, bytes]  # method, path, body
# An operation: a coroutine factory that performs its requests through
# `call(label, method, path, body, expected status[, content type])` and returns nothing.
Operation = Callable[[Callable[..., Any], int, int], Any]


async def _drive(
    port: int,
    key: str,
    operation: Operation,
    *,
    clients: int,
    seconds: float,
    cap_ops: int,
    request_timeout: float,
) -> tuple[dict[str, list[float]], int, int, float, list[str]]:
    latencies: dict[str, list[float]] = {}
    errors: list[str] = []
    ops = 0
    started = time.perf_counter()
    deadline = started + seconds

    async def worker(wid: int) -> None:
        nonlocal ops
        conn = Conn(port, key)
        await conn.open()
        seq = 0
        try:

            async def call(
                label: str,
                method: str,
                path: str,
                body: bytes,
                expect: int,
                content_type: str = "application/json",
            ) -> bytes:
                t = time.perf_counter()
                status, data = await asyncio.wait_for(
                    conn.request(method, path, body, content_type), request_timeout
                )
                latencies.setdefault(label, []).append(time.perf_counter() - t)
                if status != expect:
                    raise RuntimeError(f"{label}: HTTP {status}: {data[:300]!r}")
                return data

            while time.perf_counter() < deadline and ops < cap_ops:
                ops += 1  # reserve the slot before awaiting so the cap holds across workers
                try:
                    await operation(call, wid, seq)
                except Exception as exc:  # the connection's state is unknown: end this client
                    errors.append(f"{type(exc).__name__}: {exc}"[:300])
                    return
                seq += 1
        finally:
            await conn.close()

    await asyncio.gather(*(worker(w) for w in range(clients)))
    elapsed = time.perf_counter() - started
    done_ops = ops - len(errors)
    return latencies, done_ops, len(errors), elapsed, errors


def run_async(
    name: str,
    port: int,
    key: str,
    operation: Operation,
    *,
    clients: int,
    seconds: float,
    cap_ops: int,
    server_pid: int,
    request_timeout: float = 30.0,
    group: bool = False,
) -> tuple[Result, dict[str, Result]]:
    """Drive `operation` from `clients` concurrent connections; the op result plus one per label."""
    try:
        import uvloop

        runner: Callable[[Any], Any] = uvloop.run
    except ImportError:  # pragma: no cover
        runner = asyncio.run
    with CpuWindow(server_pid, group=group) as cpu:
        latencies, ops, nerr, elapsed, errors = runner(
            _drive(
                port,
                key,
                operation,
                clients=clients,
                seconds=seconds,
                cap_ops=cap_ops,
                request_timeout=request_timeout,
            )
        )
    if errors:
        print(f"  ! {name}: {nerr} failed operation(s), first: {errors[0]}", file=sys.stderr)
    total_requests = sum(len(v) for v in latencies.values())
    all_lat = sorted(x for v in latencies.values() for x in v)
    op = Result(
        name=name,
        clients=clients,
        requests=total_requests,
        seconds=elapsed,
        p50_ms=percentile(all_lat, 50) * 1000,
        p99_ms=percentile(all_lat, 99) * 1000,
        errors=nerr,
        ops=ops,
        server_cpu=cpu.server,
        generator_cpu=cpu.generator,
        box_cpu=cpu.box,
        capped=ops + nerr >= cap_ops,
    )
    per_label = {}
    for label, values in latencies.items():
        values.sort()
        per_label[label] = Result(
            name=label,
            clients=clients,
            requests=len(values),
            seconds=elapsed,
            p50_ms=percentile(values, 50) * 1000,
            p99_ms=percentile(values, 99) * 1000,
        )
    return op, per_label
