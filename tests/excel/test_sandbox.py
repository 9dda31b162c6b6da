"""The isolated worker pool: reuse, replacement after failures, limits per request, threads, close.

Workloads are sized by work, never by the clock: an "endless" sheet (5 million bare rows, about
20 s of processor time, flat memory) is stopped by whichever limit the test sets, and a "moderate"
sheet (20,000 rows, about 0.1 s) always fits in a 1 s budget. Waits are bounded.
"""

from __future__ import annotations

import json
import os
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from functools import cache
from io import BytesIO
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from app.config import Settings
from app.excel import Limits, build_template
from app.excel import sandbox as sandbox_module
from app.excel.sandbox import (
    PoolSettings,
    SandboxBusy,
    SandboxFailure,
    TaskError,
    WorkerPool,
    close_default_pool,
    default_pool,
    open_default_pool,
    run_task,
)
from app.main import create_app
from tests.excel.helpers import MINI, load

MiB = 1024 * 1024
PARAMS = {
    "max_rows": 10,
    "max_columns": 10,
    "max_sheets": 10,
    "max_text": 10**6,
    "meta_sheet": "_meta",
    "cover_row": 6,
    "value_column": 2,
    "table_column": 4,
    "table_header_row": 1,
}
# reads every row of the sheet "Data" of the books below (it is taken as the metadata sheet)
DATA_PARAMS = {
    **PARAMS,
    "max_rows": 10**8,
    "max_columns": 30,
    "max_text": 10**9,
    "meta_sheet": "Data",
}
LIMITS = Limits(timeout_seconds=60)


@cache
def template() -> bytes:
    f = load(MINI)
    return build_template(f.instrument, f.content_hash)


def book(rows_xml: str) -> bytes:
    """A one-sheet workbook ("Data") whose sheetData is ``rows_xml``."""
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.title = "Data"
    source = BytesIO()
    wb.save(source)
    out = BytesIO()
    with zipfile.ZipFile(source) as a, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as b:
        for info in a.infolist():
            data = a.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = (
                    '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns='
                    '"http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
                    f"{rows_xml}</sheetData></worksheet>"
                ).encode()
            b.writestr(info.filename, data)
    return out.getvalue()


@cache
def endless() -> bytes:
    return book("<row/>" * 5_000_000)


@cache
def moderate() -> bytes:
    return book("<row/>" * 20_000)


@cache
def big_text() -> bytes:
    return book(
        '<row r="1"><c r="A1" t="inlineStr"><is><t>' + "x" * (20 * MiB) + "</t></is></c></row>"
    )


def extract(pool: WorkerPool, limits: Limits = LIMITS) -> dict[str, object]:
    out = run_task("extract", template(), json.dumps(PARAMS), limits, pool)
    result: dict[str, object] = json.loads(out)
    assert result["sheetnames"] == ["Cover", "Instructions", "Governance", "Finance", "_meta"]
    return result


def read_data(pool: WorkerPool, data: bytes, limits: Limits = LIMITS) -> bytes:
    return run_task("extract", data, json.dumps(DATA_PARAMS), limits, pool)


def gone(pid: int) -> bool:
    """Reaped: not our child any more (no zombie either) and, barring reuse, no such process."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return not Path(f"/proc/{pid}").exists() or _ppid(pid) != os.getpid()
    return False


def _ppid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def zombie_children() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == os.getpid() and state == "Z":
            found.append(int(entry.name))
    return found


def wait_until(condition: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


@pytest.fixture
def pool() -> Iterator[WorkerPool]:
    with WorkerPool(PoolSettings(size=1, max_requests=1000)) as p:
        yield p
    assert not p.pids()


# --- what the task answers -----------------------------------------------------------------------


@pytest.mark.parametrize("isolate", [True, False], ids=["isolated", "in-process"])
def test_a_task_that_raises_is_a_bug_not_a_rejection(isolate: bool, pool: WorkerPool) -> None:
    with pytest.raises(TaskError, match="JSONDecodeError"):
        run_task("extract", template(), "not json", Limits(isolate=isolate), pool)
    if isolate:  # the worker itself is fine and stays
        (pid,) = pool.pids()
        extract(pool)
        assert pool.pids() == [pid]
    else:
        assert pool.started == 0


def test_unknown_task() -> None:
    with pytest.raises(ValueError, match="unknown worker task"):
        run_task("evaluate", b"", "{}", Limits())


def test_in_process_when_not_isolated(pool: WorkerPool) -> None:
    extract(pool, Limits(isolate=False))
    assert pool.started == 0 and not pool.pids()


def test_annotate_runs_in_a_worker_too(pool: WorkerPool) -> None:
    from app.excel.annotate import annotate

    marked = annotate(template(), [], Limits())
    assert marked.startswith(b"PK")


# --- the worker process --------------------------------------------------------------------------


def test_worker_gets_no_environment_and_its_limits(
    monkeypatch: pytest.MonkeyPatch, pool: WorkerPool
) -> None:
    """The child must not inherit secrets such as database URLs; it caps itself."""
    monkeypatch.setenv("OCA_DATABASE_URL", "postgresql://user:secret@db/oca")
    extract(pool, Limits(memory_bytes=700 * MiB))
    (pid,) = pool.pids()
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    names = {item.split(b"=", 1)[0].decode() for item in environ if item}
    assert names <= {"PATH", "LC_ALL"}
    limits = Path(f"/proc/{pid}/limits").read_text().splitlines()

    def limit(name: str) -> list[str]:
        (line,) = [x for x in limits if x.startswith(name)]
        return line[len(name) :].split()[:2]

    assert limit("Max address space") == [str(700 * MiB)] * 2
    assert limit("Max file size") == [str(700 * MiB)] * 2
    assert limit("Max processes") == ["0", "0"]
    assert limit("Max core file size") == ["0", "0"]
    soft, hard = limit("Max cpu time")
    assert int(soft) <= 2 + 10 < int(hard)  # this request's budget, under the lifetime cap


def test_a_worker_answers_many_requests(pool: WorkerPool) -> None:
    extract(pool)
    (pid,) = pool.pids()
    for _ in range(10):
        extract(pool)
        assert read_data(pool, moderate())
    assert pool.pids() == [pid]
    assert pool.started == 1
    (info,) = pool.workers()
    assert info.requests == 21 and not info.busy and info.cpu_seconds > 0 and info.vm_bytes > 0


def test_worker_is_recycled_after_max_requests() -> None:
    with WorkerPool(PoolSettings(size=1, max_requests=3)) as pool:
        pids = []
        for _ in range(7):
            extract(pool)
            pids.extend(pool.pids())
        assert pool.started == 3 and pool.retired == 2
        assert len(pids) == 5  # after the 3rd and 6th request there was no idle worker
        first = pids[0]
        assert gone(first)


def test_a_request_needing_another_memory_cap_gets_its_own_worker(pool: WorkerPool) -> None:
    extract(pool)
    (first,) = pool.pids()
    extract(pool, Limits(memory_bytes=500 * MiB))
    (second,) = pool.pids()
    assert second != first and gone(first)


# --- failures cost one request -------------------------------------------------------------------


def test_timeout_replaces_the_worker(pool: WorkerPool) -> None:
    extract(pool)
    (pid,) = pool.pids()
    with pytest.raises(SandboxFailure) as caught:
        read_data(pool, endless(), Limits(timeout_seconds=0.5, cpu_seconds=600))
    assert caught.value.reason == "timeout"
    assert gone(pid) and not pool.pids()
    extract(pool)
    assert pool.pids() != [pid]


def test_processor_time_per_request_even_after_many_requests(pool: WorkerPool) -> None:
    """RLIMIT_CPU counts a process's whole life; each request still gets its own budget."""
    limits = Limits(timeout_seconds=120, cpu_seconds=1)
    read_data(pool, moderate(), limits)
    (pid,) = pool.pids()
    for _ in range(400):  # until the worker has used well over one budget in total
        (info,) = pool.workers()
        if info.cpu_seconds > 2.5 * limits.cpu_seconds:
            break
        read_data(pool, moderate(), limits)
    else:
        pytest.fail("the moderate sheet never added up to 2.5 s")
    assert pool.pids() == [pid]
    with pytest.raises(SandboxFailure) as caught:
        read_data(pool, endless(), limits)  # about 20 s of work: stopped after 1-2 s
    assert caught.value.reason == "cpu"
    assert gone(pid)
    extract(pool, limits)
    assert pool.pids() != [pid]


def test_memory_blow_up_replaces_the_worker(pool: WorkerPool) -> None:
    limits = Limits(timeout_seconds=60, memory_bytes=96 * MiB)
    extract(pool, limits)
    (pid,) = pool.pids()
    with pytest.raises(SandboxFailure) as caught:  # a 20 MB cell: fine in-process, not in 96 MB
        read_data(pool, big_text(), limits)
    assert caught.value.reason == "memory"
    assert gone(pid)
    extract(pool, limits)
    assert pool.pids() != [pid]


def test_a_request_too_big_to_read_is_a_memory_failure(pool: WorkerPool) -> None:
    limits = Limits(timeout_seconds=60, memory_bytes=96 * MiB)
    extract(pool, limits)
    (pid,) = pool.pids()
    with pytest.raises(SandboxFailure) as caught:
        read_data(pool, b"PK" + bytes(80 * MiB), limits)  # the worker cannot hold it
    assert caught.value.reason == "memory"
    assert gone(pid)
    extract(pool, limits)
    (pid,) = pool.pids()
    with pytest.raises(SandboxFailure) as caught:
        read_data(pool, b"PK" + bytes(100 * MiB), limits)  # more than the whole cap
    assert caught.value.reason == "memory"
    assert gone(pid)
    extract(pool, limits)


def test_a_worker_killed_during_a_request(pool: WorkerPool) -> None:
    extract(pool)
    (pid,) = pool.pids()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            read_data(pool, endless())
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    wait_until(lambda: pool.workers()[0].busy)
    os.kill(pid, 6)  # SIGABRT, as a native parser that aborts
    thread.join(30)
    assert not thread.is_alive()
    (exc,) = failure
    assert isinstance(exc, SandboxFailure) and exc.reason == "crashed" and "signal 6" in str(exc)
    assert gone(pid)
    extract(pool)


def test_a_worker_that_died_while_idle_is_replaced_quietly(pool: WorkerPool) -> None:
    extract(pool)
    (pid,) = pool.pids()
    os.kill(pid, 9)
    wait_until(lambda: _ppid(pid) is None or "Z" in Path(f"/proc/{pid}/stat").read_text())
    extract(pool)
    assert pool.pids() != [pid] and gone(pid)


def test_a_worker_that_cannot_start(monkeypatch: pytest.MonkeyPatch, pool: WorkerPool) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("no more processes")

    with monkeypatch.context() as patch:
        patch.setattr(sandbox_module._Worker, "__init__", refuse)
        with pytest.raises(OSError, match="no more processes"):
            extract(pool)
    extract(pool)  # its slot was given back
    assert len(pool.pids()) == 1


def test_a_broken_deployment_is_a_bug_not_a_rejection(
    monkeypatch: pytest.MonkeyPatch, pool: WorkerPool, tmp_path: Path
) -> None:
    monkeypatch.setattr(sandbox_module, "WORKER", tmp_path / "missing.py")
    with pytest.raises(TaskError, match="worker exited with 2"):
        extract(pool)
    assert not pool.pids()


# --- threads -------------------------------------------------------------------------------------


def test_concurrent_requests_all_succeed() -> None:
    results: list[object] = []
    with WorkerPool(PoolSettings(size=2, max_requests=5)) as pool:

        def run() -> None:
            try:
                for _ in range(4):
                    results.append(extract(pool)["sheetnames"])
            except BaseException as exc:
                results.append(exc)

        most = 0
        done = threading.Event()

        def sample() -> None:
            nonlocal most
            while not done.is_set():
                most = max(most, len(pool.workers()))
                time.sleep(0.001)

        sampler = threading.Thread(target=sample)
        threads = [threading.Thread(target=run) for _ in range(6)]
        sampler.start()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        done.set()
        sampler.join(10)
        assert not any(thread.is_alive() for thread in [*threads, sampler])
        assert len(results) == 24 and all(isinstance(r, list) for r in results)
        assert 1 <= most <= 2 and len(pool.pids()) <= 2
        assert pool.started - pool.retired == len(pool.pids())
        assert pool.started >= 24 // 5  # every worker was recycled after 5 requests


def test_waiting_for_a_worker_is_bounded() -> None:
    with WorkerPool(PoolSettings(size=1, wait_seconds=0.2)) as pool:
        failure: list[BaseException] = []

        def hold() -> None:
            try:
                read_data(pool, endless(), Limits(timeout_seconds=60, cpu_seconds=600))
            except BaseException as exc:
                failure.append(exc)

        thread = threading.Thread(target=hold)
        thread.start()
        wait_until(lambda: any(w.busy for w in pool.workers()))
        with pytest.raises(SandboxBusy):
            extract(pool)
        pool.close()  # kills the busy worker: its request fails, nothing is left behind
        thread.join(30)
        assert not thread.is_alive()
        (exc,) = failure
        assert isinstance(exc, SandboxFailure) and exc.reason == "crashed"
        assert not pool.pids()
        with pytest.raises(RuntimeError, match="closed"):
            extract(pool)


# --- shutting down -------------------------------------------------------------------------------


def test_close_leaves_no_child_processes() -> None:
    pool = WorkerPool(PoolSettings(size=2))
    pool.warm(LIMITS)
    assert len(pool.pids()) == 2
    extract(pool)
    pids = pool.pids()
    pool.close()
    assert not pool.pids()
    assert all(gone(pid) for pid in pids)
    assert not zombie_children()


def test_default_pool_is_shared_and_closes() -> None:
    extract(default_pool(), Limits())
    first = default_pool()
    assert default_pool() is first and first.pids()
    pids = first.pids()
    close_default_pool()
    assert first.closed and all(gone(pid) for pid in pids)
    assert run_task("extract", template(), json.dumps(PARAMS), Limits())  # a new pool
    assert default_pool() is not first
    assert default_pool().settings == PoolSettings()


def test_the_service_opens_its_parser_pool_from_settings_and_closes_it(
    settings: Settings,
) -> None:
    own = settings.model_copy(update={"parser_workers": 3, "parser_max_requests": 7})
    try:
        with TestClient(create_app(own)):
            pool = default_pool()
            assert pool.settings == PoolSettings(size=3, max_requests=7)
            extract(pool)
            pids = pool.pids()
            assert pids
        # the lifespan's end stopped its workers: nothing outlives the app
        assert pool.closed and all(gone(pid) for pid in pids)
        assert not zombie_children()
    finally:
        open_default_pool(PoolSettings())  # as the other tests expect it
    with pytest.raises(ValueError):
        PoolSettings(size=0)
    with pytest.raises(ValidationError):
        Settings(parser_workers=0)
