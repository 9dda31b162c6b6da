"""`oca serve` and `oca db`: the service, and the migrations and copies of its database."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.engine import make_url

from app.api.observe import configure_logging
from app.cli.common import (
    command,
    database_url,
    err,
    fail,
    friendly_errors,
    instrument_catalog,
    new_group,
    out,
    read_settings,
    session_scope,
)
from app.db import migrate

db_app = new_group("Database migrations.")


def serve(
    host: Annotated[
        str, typer.Option(metavar="ADDRESS", help="Address to listen on")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(metavar="PORT", help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(metavar="N", help="Worker processes")] = 1,
    migrate_first: Annotated[
        bool,
        typer.Option(
            "--migrate/--no-migrate", help="Bring the database schema up to date before serving"
        ),
    ] = True,
) -> None:
    """Migrate the database, check instrument files, then serve the API with uvicorn."""
    import uvicorn

    from app.services.round_pairs import refresh_pairs_in_processes
    from app.services.stale_scores import refresh_in_processes, stale_score_ids

    settings = read_settings()
    problems = settings.problems()
    if problems:
        raise fail("cannot start:\n  " + "\n  ".join(problems))
    with friendly_errors():
        catalog = instrument_catalog(settings)
        with session_scope(
            settings, create=True, migrate_first=migrate_first, catalog=catalog
        ) as session:
            stale = bool(stale_score_ids(session))
        # once, before the workers start (each would otherwise find the same work), on every
        # core: nothing is served yet (workspaces' own versions too)
        recomputed = 0
        if stale:
            recomputed = refresh_in_processes(
                settings.effective_database_url, settings.instruments_dir, os.cpu_count() or 1
            )
        # the rounds' pairs a cohort comparison reads: those of the scores just made, and all
        # of them when a new version of an instrument came with this release
        paired = refresh_pairs_in_processes(
            settings.effective_database_url, settings.instruments_dir, os.cpu_count() or 1
        )
    if recomputed:
        err.print(f"recomputed {recomputed} stored score(s) made by an older engine")
    if paired:
        err.print(f"compared {paired} pair(s) of rounds on their common items")
    out.print(f"OCA Engine on http://{host}:{port}  (docs: http://{host}:{port}/docs)")
    if workers > 1:
        from app.services.metrics import share_metrics_between_workers

        share_metrics_between_workers(settings.data_dir / "metrics")
    # The parent process of several workers logs too (started, stopping, a worker died): through
    # the same handler as the workers, so OCA_LOG_FORMAT=json holds for its lines as well.
    configure_logging(settings.log_format, settings.log_level)
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        log_config=None,
    )


Revision = Annotated[
    str, typer.Argument(metavar="REVISION", help="A migration id, 'head' (newest) or 'base'")
]


@command(db_app, "upgrade")
def db_upgrade(revision: Revision = "head") -> None:
    """Create the database if needed and apply migrations up to REVISION (default: head)."""
    settings = read_settings()
    problems = settings.problems()
    if problems:
        raise fail("cannot migrate:\n  " + "\n  ".join(problems))
    with friendly_errors():
        migrate.upgrade(database_url(settings, create=True), revision)
    out.print(f"database at {revision}")


@command(db_app, "downgrade")
def db_downgrade(revision: Revision) -> None:
    """Revert migrations down to REVISION ('base' empties the database)."""
    settings = read_settings()
    with friendly_errors():
        migrate.downgrade(database_url(settings, create=False), revision)
    out.print(f"database at {revision}")


@command(db_app, "backup")
def db_backup(
    to: Annotated[
        Path, typer.Option("--to", metavar="FILE", help="The copy to write (must not exist)")
    ],
) -> None:
    """SQLite: write a consistent copy of the database while it serves (VACUUM INTO)."""
    settings = read_settings()
    url = make_url(database_url(settings, create=False))
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        raise fail("this database is not a SQLite file: back up PostgreSQL with pg_dump")
    if to.exists():
        raise fail(f"{to} exists already; choose another file or remove it first")
    # VACUUM INTO reads one snapshot (a read transaction in WAL mode: writers go on) and writes a
    # compact, self-contained file; copying the .db file instead could miss the -wal file.
    source = sqlite3.connect(f"file:{url.database}?mode=ro", uri=True, isolation_level=None)
    try:
        source.execute("PRAGMA busy_timeout=10000")
        source.execute("VACUUM INTO ?", (str(to),))
        check = sqlite3.connect(f"file:{to}?mode=ro", uri=True)
        try:
            verdict = check.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            check.close()
    except sqlite3.Error as exc:
        raise fail(f"backup failed: {exc}") from None
    finally:
        source.close()
    if verdict != "ok":
        raise fail(f"the copy {to} fails its integrity check: {verdict}")
    out.print(f"wrote {to} ({to.stat().st_size:,} bytes; integrity check ok)")
