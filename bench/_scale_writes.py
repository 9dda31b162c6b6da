"""The writes bench/scale.py measures: rescoring every stored score on a new engine version, and
importing generated workbooks as a job (or directly in this process); plus an optional
pyinstrument profile."""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _portfolio as pf
import psycopg
from sqlalchemy.orm import Session, sessionmaker

from app.catalog import Catalog
from app.services.imports import Upload
from app.services.keys import Principal
from app.services.round_pairs import refresh_pairs, refresh_pairs_in_processes
from app.services.scores import ENGINE_VERSION
from app.services.stale_scores import refresh_in_processes, refresh_stale_scores


@contextlib.contextmanager
def profiled(directory: Path | None, name: str) -> Iterator[None]:
    if directory is None:
        yield
        return
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.001)
    profiler.start()
    try:
        yield
    finally:
        profiler.stop()
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"{name}.txt").write_text(profiler.output_text(unicode=True, show_all=False))
        print(f"  profile: {directory / name}.txt")


def rescore(
    url: str,
    sm: sessionmaker[Session],
    catalog: Catalog,
    profile: Path | None,
    processes: int = 1,
    instruments: Path | None = None,
) -> dict[str, Any]:
    """Every stored score made stale (engine_version one lower), then ``refresh_stale_scores``
    in this process, or with ``processes`` > 1 ``refresh_in_processes`` (what ``oca serve``
    runs, one process per core); the CPU then includes the child processes' (not the database
    connections' of the children: their server processes end before they can be read)."""
    with psycopg.connect(pf.psycopg_dsn(url)) as conn:
        sample = conn.execute(
            "SELECT assessment_id, payload FROM assessment_score ORDER BY random() LIMIT 300"
        ).fetchall()
        t = time.perf_counter()
        n_answers = len(
            conn.execute("SELECT assessment_id, item_key, value, is_na FROM answer").fetchall()
        )
        bare_read = time.perf_counter() - t
        stale = conn.execute(
            "UPDATE assessment_score SET engine_version = %s", (ENGINE_VERSION - 1,)
        ).rowcount
        conn.commit()
    server = _backends_cpu(url)
    with sm() as session, profiled(profile, "rescore"):
        t, cpu = time.perf_counter(), _cpu_with_children()
        if processes > 1:
            assert instruments is not None
            done = refresh_in_processes(url, instruments, processes)
        else:
            done = refresh_stale_scores(session, catalog, library=catalog)
        seconds, cpu = time.perf_counter() - t, _cpu_with_children() - cpu
        load = os.getloadavg()
        after = _backends_cpu(url)
        server_cpu = sum(v - server.get(pid, 0.0) for pid, v in after.items())
    with psycopg.connect(pf.psycopg_dsn(url)) as conn:
        left = conn.execute(
            "SELECT count(*) FROM assessment_score WHERE engine_version IS DISTINCT FROM %s",
            (ENGINE_VERSION,),
        ).fetchone()
        after = dict(
            conn.execute(
                "SELECT assessment_id, payload FROM assessment_score WHERE assessment_id = ANY(%s)",
                ([a for a, _ in sample],),
            ).fetchall()
        )
    assert left == (0,), f"{left} scores still stale"
    assert all(after[a] == p for a, p in sample), "a rescored payload differs from the loaded one"
    print(
        f"  rescoring   {done:,} of {stale:,} stale scores in {processes} process(es) in "
        f"{seconds:.1f} s "
        f"({done / seconds:,.0f}/s; goal < 60 s) {'ok' if seconds < 60 else 'MISSED'}; "
        f"this process's CPU {cpu:.1f} s, its database connections' {server_cpu:.1f} s; "
        f"load average at the end {load[0]:.1f} / {load[1]:.1f}; "
        f"bare: reading all {n_answers:,} answers takes {bare_read:.1f} s"
    )
    # then, as `oca serve` does, the round pairs the rescoring did not make with its scores
    # (none here: every round was rescored), found by one scan of the current rounds
    t = time.perf_counter()
    if processes > 1:
        assert instruments is not None
        paired = refresh_pairs_in_processes(url, instruments, processes)
    else:
        with sm() as session:
            paired = refresh_pairs(session, catalog)
    pair_seconds = time.perf_counter() - t
    total = seconds + pair_seconds
    print(
        f"  then the round pairs left: {paired:,} made in {pair_seconds:.1f} s: "
        f"{total:.1f} s in all (goal < 60 s) {'ok' if total < 60 else 'MISSED'}"
    )
    return {
        "stale": stale,
        "processes": processes,
        "done": done,
        "seconds": seconds,
        "pairs": paired,
        "pair_seconds": pair_seconds,
        "cpu_s": cpu,
        "server_cpu_s": server_cpu,
        "load": load,
        "bare_read_s": bare_read,
    }


def _cpu_with_children() -> float:
    """CPU seconds of this process and of its children that have ended (the spawned scorers)."""
    me, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def _backends_cpu(url: str) -> dict[int, float]:
    """CPU seconds so far of each server process serving this database (Linux, server on this
    machine; the connection asking is left out)."""
    with psycopg.connect(pf.psycopg_dsn(url)) as conn:
        pids = [
            r[0]
            for r in conn.execute(
                "SELECT pid FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ]
    out = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            out[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def machine_busy(since: tuple[float, int, int] | None = None) -> tuple[float, int, int]:
    """(share of all CPUs busy since ``since``, busy and total jiffies now) from /proc/stat: the
    machine is shared, and a wall time means little without how busy it was."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle, total = fields[3] + fields[4], sum(fields)
    if since is None:
        return 0.0, total - idle, total
    _, busy0, total0 = since
    return (total - idle - busy0) / max(1, total - total0), total - idle, total


def import_as_job(
    url: str, sm: sessionmaker[Session], catalog: Catalog, principal: Principal, n: int
) -> dict[str, Any]:
    """n generated workbooks of n new organizations imported as one job, as ``POST /v1/imports``
    with ``Prefer: respond-async`` queues it (``enqueue_import`` stores the bytes), run by a real
    ``JobRunner`` with the parser pool (its default width); its progress polled as a client
    would, every 0.25 s. Timed from the enqueue to the job's end."""
    import excel as bench_excel

    from app.config import Settings
    from app.db.models import Job
    from app.services.job_kinds import enqueue_import
    from app.services.jobs_runner import JobRunner

    f = catalog.get(pf.INSTRUMENT, pf.VERSION)
    assert f is not None
    t = time.perf_counter()
    run = int(time.time())  # new organizations each run, also with --reuse
    files = bench_excel.make_workbooks(f, n, seed=run, prefix=f"bj{run}")
    made = time.perf_counter() - t
    folder = Path(tempfile.mkdtemp(prefix="oca-scale-job-"))
    settings = Settings(database_url=url, data_dir=folder, jobs_poll_seconds=0.05)
    runner = JobRunner(sm, settings, catalog)
    load_before = os.getloadavg()
    busy = machine_busy()
    cpu = time.process_time()
    try:
        with sm() as session:
            t = time.perf_counter()
            job = enqueue_import(
                session, principal, settings, [Upload(name, data) for name, data in files],
                dry_run=False, create_organizations=True,
            )  # fmt: skip
            enqueued = time.perf_counter() - t
        runner.start()
        progress: list[tuple[float, int]] = []
        while True:
            with sm() as session:
                row = session.get(Job, job.id)
                assert row is not None
                status, done, result = row.status, row.progress_done, row.result
            progress.append((time.perf_counter() - t, done))
            if len(progress) % 20 == 0:
                print(f"    {progress[-1][0]:6.1f} s: {done:,} of {n:,}")
            if status in ("succeeded", "failed"):
                break
            time.sleep(0.25)
        seconds = time.perf_counter() - t
    finally:
        runner.stop()
        shutil.rmtree(folder, ignore_errors=True)
    cpu = time.process_time() - cpu
    busy = machine_busy(busy)
    load_after = os.getloadavg()
    assert status == "succeeded", f"the import job {status}: {row.error}"
    statuses: dict[str, int] = {}
    for r in (result or {})["results"]:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    print(
        f"  import job  {n:,} workbooks in {seconds:.1f} s ({n / seconds:.1f}/s; goal 1,000 in "
        f"< 30 s, 33.3/s) {'ok' if n / seconds > 1000 / 30 else 'MISSED'} {statuses}; enqueue "
        f"(storing them) "
        f"{enqueued:.1f} s of it; this process's CPU {cpu:.1f} s; progress polled "
        f"{len(progress)} times; load average {load_before[0]:.1f} before, "
        f"{load_after[0]:.1f} after; the machine's CPUs {busy[0]:.0%} busy meanwhile; "
        f"generating them took {made:.1f} s (not counted)"
    )
    return {
        "workbooks": n,
        "seconds": seconds,
        "enqueue_s": enqueued,
        "cpu_s": cpu,
        "statuses": statuses,
        "load": [load_before, load_after],
        "machine_busy": busy[0],
        "progress": progress,
    }


def import_workbooks_once(
    sm: sessionmaker[Session], catalog: Catalog, principal: Principal, n: int
) -> dict[str, Any]:
    """``import_workbooks`` over n generated workbooks of n new organizations in this process."""
    import excel as bench_excel

    from app.excel import Limits
    from app.services.imports import import_workbooks

    f = catalog.get(pf.INSTRUMENT, pf.VERSION)
    assert f is not None
    t = time.perf_counter()
    run = int(time.time())  # new organizations each run, also with --reuse
    files = bench_excel.make_workbooks(f, n, seed=run, prefix=f"bx{run}")
    made = time.perf_counter() - t
    with sm() as session:
        t = time.perf_counter()
        results = import_workbooks(
            session, principal, catalog, [Upload(name, data) for name, data in files],
            create_organizations=True, limits=Limits(),
        )  # fmt: skip
        seconds = time.perf_counter() - t
    statuses: dict[str, int] = {}
    for r in results:
        statuses[r.status] = statuses.get(r.status, 0) + 1
    print(
        f"  import      {n:,} workbooks in {seconds:.1f} s ({n / seconds:.1f}/s; goal as a job "
        f"< 30 s) {statuses}; generating them took {made:.1f} s (not counted)"
    )
    return {"workbooks": n, "seconds": seconds, "statuses": statuses}
