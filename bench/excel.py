"""Workbook import throughput: bare parsers against the checked, isolated reader and the import.

Usage: .venv/bin/python bench/excel.py [--workbooks 200] [--repeat 3] [--seed 7]

Generates N filled OCA workbooks (``app.excel.build_template(..., prefill=...)``, every item
answered, one organization each), then times, in this one run, over the same bytes:

  (a) bare openpyxl: ``load_workbook(read_only=True)``, every cell of every sheet, in-process
  (b) bare python-calamine, every sheet (not a project dependency: prints "not installed")
  (c) ``read_filled_workbook`` isolated (``Limits()``: the worker pool of ``app.excel.sandbox``)
  (d) ``read_filled_workbook`` in-process (``Limits(isolate=False)``)
  (e) end-to-end import: see ``end_to_end`` below (service, CLI and API paths)

Prints workbooks/s for each, the time per workbook relative to (a) (the goal is at most 2x for
the end-to-end import) and peak RSS of this process, of its reaped children and of the pool's
workers. (a)-(d): the best of --repeat passes over all files, the passes of the four taking turns,
after a short warm-up, and the median time of one workbook over all passes (the machine is shared
and noisy). (e) runs once over a fresh SQLite database, as a real import would.
"""

from __future__ import annotations

import argparse
import platform
import random
import resource
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

from app.catalog import Catalog, InstrumentFile, load_catalog
from app.config import REPO_ROOT
from app.domain.scoring import AnswerValue
from app.excel import Limits, Prefill, build_template, read_filled_workbook

GOAL = 2.0  # end-to-end import time per workbook, at most this many times the bare parse


@dataclass
class Row:
    label: str
    seconds: float | None  # for all workbooks (the best pass); None: not measured
    count: int
    note: str = ""
    median: float | None = None  # seconds per workbook, median over every pass

    @property
    def rate(self) -> float | None:
        return None if self.seconds is None else self.count / self.seconds


# --- workbooks -----------------------------------------------------------------------------------


def make_workbooks(
    f: InstrumentFile, n: int, seed: int, prefix: str = "bx"
) -> list[tuple[str, bytes]]:
    """N filled templates: every item answered with a scale value, one organization each (its
    external id and name start with ``prefix``: another prefix names other organizations)."""
    rnd = random.Random(seed)
    out: list[tuple[str, bytes]] = []
    keys = [i.key for d in f.instrument.dimensions for a in d.areas for i in a.items]
    for i in range(n):
        capacity = rnd.uniform(0.1, 0.9)
        answers: dict[str, AnswerValue] = {}
        for key in keys:
            values = sorted(
                v.value for v in f.instrument.scales[f.instrument.items[key].scale].values
            )
            position = capacity * (len(values) - 1) + rnd.gauss(0, 0.6)
            answers[key] = values[min(len(values) - 1, max(0, round(position)))]
        prefill = Prefill(
            organization_name=f"Bench Excel org {prefix} {i:04d}",
            organization_external_id=f"{prefix}-{i:04d}",
            round="baseline",
            assessed_on=date(2024, 1, 1) + timedelta(days=i % 300),
            assessor="bench",
            answers=answers,
            notes={keys[0]: f"note {i}"},
        )
        lang = "es" if i % 4 == 3 else "en"
        out.append(
            (f"oca-{i:04d}.xlsx", build_template(f.instrument, f.content_hash, lang, prefill))
        )
    return out


# --- measured functions --------------------------------------------------------------------------


def bare_openpyxl(datas: Sequence[bytes]) -> None:
    from openpyxl import load_workbook

    for data in datas:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wb = load_workbook(BytesIO(data), read_only=True, data_only=False)
        try:
            for ws in wb.worksheets:
                for row in ws.iter_rows():
                    for cell in row:
                        _ = cell.value
        finally:
            wb.close()


def bare_calamine(datas: Sequence[bytes]) -> None:
    from python_calamine import CalamineWorkbook

    for data in datas:
        wb = CalamineWorkbook.from_filelike(BytesIO(data))
        try:
            for name in wb.sheet_names:
                for row in wb.get_sheet_by_name(name).to_python(skip_empty_area=False):
                    for _ in row:
                        pass
        finally:
            wb.close()


def reader(limits: Limits, catalog: Catalog) -> Callable[[Sequence[bytes]], None]:
    def resolve(instrument_id: str, version: str) -> Any:
        found = catalog.get(instrument_id, version)
        return None if found is None else (found.instrument, found.content_hash)

    def run(datas: Sequence[bytes]) -> None:
        for data in datas:
            read_filled_workbook(data, resolve, limits)

    return run


def timed(
    phases: Sequence[tuple[str, Callable[[Sequence[bytes]], None]]],
    datas: Sequence[bytes],
    repeat: int,
) -> list[Row]:
    """Per phase: the best of ``repeat`` passes over all of ``datas`` and the median time of one
    workbook. The passes take turns (a, b, c, d, a, b, ...) so that the noise of a shared machine
    falls on every phase alike; each phase first warms up on a few workbooks.
    """
    for _, fn in phases:
        fn(datas[: min(5, len(datas))])
    best = {label: float("inf") for label, _ in phases}
    each: dict[str, list[float]] = {label: [] for label, _ in phases}
    for _ in range(repeat):
        for label, fn in phases:
            total = 0.0
            for data in datas:
                start = time.perf_counter()
                fn((data,))
                took = time.perf_counter() - start
                each[label].append(took)
                total += took
            best[label] = min(best[label], total)
    return [
        Row(label, best[label], len(datas), median=statistics.median(each[label]))
        for label, _ in phases
    ]


# --- (e) end-to-end import -----------------------------------------------------------------------


def end_to_end(catalog: Catalog, files: Sequence[tuple[str, bytes]]) -> list[Row]:
    """(e) The import as users run it, over a fresh SQLite database each.

    * service: ``app.services.imports.import_workbooks`` (what the CLI and the API call), one
      call for all files, in one session: read, resolve, find/create the organization, store,
      score, submit, audit.
    * CLI: ``oca import`` in-process; API: ``POST /v1/imports`` through a TestClient. Each says
      "not available" when its command or route is missing.
    """
    rows: list[Row] = []
    for label, fn in (
        ("(e) import, service", _import_service),
        ("(e) import, CLI", _import_cli),
        ("(e) import, API", _import_api),
    ):
        with tempfile.TemporaryDirectory(prefix="oca-bench-excel-") as tmp:
            try:
                seconds, note = fn(catalog, files, Path(tmp))
            except _NotAvailable as exc:
                rows.append(Row(label, None, len(files), f"not available: {exc}"))
                continue
        rows.append(Row(label, seconds, len(files), note))
    return rows


class _NotAvailable(Exception):
    pass


def _database(tmp: Path, catalog: Catalog) -> tuple[str, Any, Any]:
    """A migrated SQLite database with the catalog synced; (url, engine, session)."""
    from app.db import migrate
    from app.db.session import make_engine, make_sessionmaker
    from app.services.instruments import sync_catalog

    url = f"sqlite:///{tmp / 'oca.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    session = make_sessionmaker(engine)()
    sync_catalog(session, catalog)
    return url, engine, session


def _import_service(
    catalog: Catalog, files: Sequence[tuple[str, bytes]], tmp: Path
) -> tuple[float, str]:
    try:
        from app.services.imports import Upload, import_workbooks
        from app.services.keys import cli_principal
    except ImportError as exc:  # pragma: no cover - while the module is being written
        raise _NotAvailable(str(exc)) from None
    _, engine, session = _database(tmp, catalog)
    try:
        principal = cli_principal(session, "bench-excel")
        uploads = [Upload(name, data) for name, data in files]
        start, cpu = time.perf_counter(), time.process_time()
        results = import_workbooks(
            session, principal, catalog, uploads, create_organizations=True, limits=Limits()
        )
        seconds = time.perf_counter() - start
        cpu = time.process_time() - cpu
    finally:
        session.close()
        engine.dispose()
    statuses: dict[str, int] = {}
    for r in results:
        statuses[r.status] = statuses.get(r.status, 0) + 1
    done = " ".join(f"{k}={v}" for k, v in sorted(statuses.items()))
    return seconds, f"{done}; this process's CPU {cpu / len(files) * 1000:.1f} ms/workbook"


def _import_cli(
    catalog: Catalog, files: Sequence[tuple[str, bytes]], tmp: Path
) -> tuple[float, str]:
    """``oca import <folder> --workspace ... --create-organizations``, in-process (CliRunner).

    The database is migrated and the catalog synced first, untimed, as a running service leaves
    it; the command still checks the migration, and that is timed with it.
    """
    from typer.testing import CliRunner

    from app import cli

    names = {c.name for c in cli.app.registered_commands}
    if "import" not in names:
        raise _NotAvailable("no `oca import` command in app/cli.py yet")
    folder = tmp / "in"
    folder.mkdir()
    for name, data in files:
        (folder / name).write_bytes(data)
    _, engine, session = _database(tmp, catalog)
    session.close()
    engine.dispose()
    env = {"OCA_DATA_DIR": str(tmp), "OCA_DATABASE_URL": None, "COLUMNS": "200"}
    args = ["import", str(folder), "--workspace", "bench-excel", "--create-organizations"]
    start = time.perf_counter()
    done = CliRunner().invoke(cli.app, args, env=env)
    seconds = time.perf_counter() - start
    if done.exit_code != 0:
        tail = " ".join(done.output.strip().splitlines()[-2:])[:300]
        return seconds, f"exit code {done.exit_code}: {tail}"
    return seconds, done.output.strip().splitlines()[-1]


def _import_api(
    catalog: Catalog, files: Sequence[tuple[str, bytes]], tmp: Path
) -> tuple[float, str]:
    """POST /v1/imports?create_organizations=true through a TestClient (ASGI, no network), in
    batches of 20 workbooks, with an editor key. Timed: the requests alone.
    """
    from fastapi.testclient import TestClient

    from app.config import Settings
    from app.main import create_app
    from app.services.keys import create_key

    _, engine, session = _database(tmp, catalog)
    try:
        key = create_key(session, workspace="bench-excel", role="editor", name="bench")
        session.commit()
    finally:
        session.close()
        engine.dispose()
    app = create_app(Settings(data_dir=tmp, database_url=None, docs_enabled=False))
    routes = [p for p in app.openapi().get("paths", {}) if p.endswith("/imports")]
    if not routes:
        raise _NotAvailable("no import route in the API yet")
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    statuses: dict[int, int] = {}
    accepted = 0
    with TestClient(app) as client:
        client.headers["Authorization"] = f"Bearer {key.secret}"
        start = time.perf_counter()
        for first in range(0, len(files), 20):
            batch = files[first : first + 20]
            response = client.post(
                f"{routes[0]}?create_organizations=true",
                files=[("files", (name, data, xlsx)) for name, data in batch],
            )
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            if response.status_code == 200:
                accepted += int(response.json()["accepted"])
        seconds = time.perf_counter() - start
    http = " ".join(f"HTTP {k} x{v}" for k, v in sorted(statuses.items()))
    return seconds, f"accepted={accepted}; {http}"


# --- report --------------------------------------------------------------------------------------


def peak_rss() -> str:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    text = f"peak RSS {own:.0f} MiB, largest reaped child {children:.0f} MiB"
    from app.excel import sandbox

    pool = getattr(sandbox, "_default", None)  # the isolated reader's workers, when pooled
    if pool is not None and not pool.closed:
        workers = pool.workers()
        rss = max((w.peak_rss_bytes for w in workers), default=0) / 1024 / 1024
        served = sum(w.requests for w in workers)
        text += f", pool: {len(workers)} live workers (peak {rss:.0f} MiB, {served} requests)"
        text += f", {pool.started} started"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workbooks", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    catalog = load_catalog(REPO_ROOT / "instruments")
    f = catalog.latest("oca")
    assert f is not None
    print(f"python {platform.python_version()} on {platform.machine()}; OCA {f.instrument.version}")
    start = time.perf_counter()
    files = make_workbooks(f, args.workbooks, args.seed)
    datas = [data for _, data in files]
    size = sum(map(len, datas)) / len(datas)
    print(
        f"{len(files)} workbooks, {len(f.instrument.items)} items each, {size / 1024:.1f} KiB avg,"
        f" generated in {time.perf_counter() - start:.1f} s; {peak_rss()}"
    )

    phases: list[tuple[str, Callable[[Sequence[bytes]], None]]] = [
        ("(a) bare openpyxl read_only", bare_openpyxl)
    ]
    try:
        import python_calamine  # noqa: F401
    except ImportError:
        calamine = False
    else:
        calamine = True
        phases.append(("(b) bare python-calamine", bare_calamine))
    phases.append(("(c) read_filled_workbook, isolated", reader(Limits(), catalog)))
    phases.append(("(d) read_filled_workbook, in-process", reader(Limits(isolate=False), catalog)))
    rows = timed(phases, datas, args.repeat)
    if not calamine:
        rows.insert(1, Row("(b) bare python-calamine", None, len(datas), "not installed"))
    print(f"  measured (a)-(d); {peak_rss()}", flush=True)
    rows.extend(end_to_end(catalog, files))
    print(f"  measured (e); {peak_rss()}")

    base = rows[0].seconds
    base_median = rows[0].median
    assert base is not None and base_median is not None
    print()
    print(
        f"{'':42} {'workbooks/s':>11} {'ms/workbook':>11} {'vs (a)':>7}"
        f" {'median ms':>9} {'vs (a)':>7}"
    )
    for row in rows:
        if row.seconds is None or row.rate is None:
            print(f"{row.label:42} {'-':>11} {'-':>11} {'-':>7} {'-':>9} {'-':>7}  {row.note}")
            continue
        median = "-".rjust(9) + " " + "-".rjust(7)
        if row.median is not None:
            median = f"{1000 * row.median:9.2f} {row.median / base_median:6.2f}x"
        print(
            f"{row.label:42} {row.rate:11.1f} {1000 * row.seconds / row.count:11.2f} "
            f"{row.seconds / base:6.2f}x {median}  {row.note}"
        )
    imports = [r for r in rows if r.label.startswith("(e)") and r.seconds is not None]
    for row in imports:
        assert row.seconds is not None
        verdict = "meets" if row.seconds <= GOAL * base else "MISSES"
        print(f"{row.label}: {verdict} the goal of at most {GOAL:g}x the bare openpyxl parse")
    print(peak_rss())
    sys.stdout.flush()


if __name__ == "__main__":
    main()
