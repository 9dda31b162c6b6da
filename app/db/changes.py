"""A change clock: a number that moves whenever anyone commits a change to the database.

Cached reads (the rendered scores, series and comparisons of ``app.api.reads``) are kept only
while the clock shows the number they were computed under. On SQLite a change made by any
process is never answered from the cache; on PostgreSQL a change made by this process never is,
and one made by another process (a second worker, the CLI) is seen once its notification
arrives: typically well under a millisecond, but a read that races the notification can still
get the previous answer (a client's keep-alive connection stays on one worker, which avoids it).

* SQLite: the row of ``change_counter`` that triggers bump on every change to the tables cached
  reads come from (migration 0004), read on a connection of its own before every cached answer:
  a few microseconds, and exact for every process that writes the file.
* PostgreSQL: every table that cached reads come from has a statement trigger that calls
  ``pg_notify('oca_changes')`` (migration 0004; a new cached read that reads another table must
  add it there; PostgreSQL folds the notifications of one transaction into one). A thread
  listens and moves the clock; this process's own commits move it at once (``touch``), other
  processes' within the notification's delivery (sub-millisecond on one host). While the
  listening connection is down the clock reads ``None`` and nothing is cached.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from typing import Any, Protocol

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from app.db.session import CHANGES_DATA

CHANNEL = "oca_changes"
HEARTBEAT = "oca_heartbeat"
log = logging.getLogger(__name__)


class ChangeClock(Protocol):
    def now(self) -> int | None:
        """The current reading; ``None``: unknown (do not cache)."""

    def touch(self) -> None:
        """This process committed a change."""

    def close(self) -> None: ...


# The tables cached reads are computed from; migration 0004 puts the triggers on them. A cached
# read that reads another table needs a migration adding it, and a line here.
WATCHED_TABLES = (
    "workspace",
    "organization",
    "cohort",
    "cohort_member",
    "assessment",
    "answer",
    "assessment_score",
)
_COUNT = "SELECT changes FROM change_counter WHERE id = 1"
HEARTBEAT_SECONDS = 5.0


class NoClock:
    """For databases the clock cannot watch (in-memory SQLite): nothing is cached."""

    def now(self) -> int | None:
        return None

    def touch(self) -> None:
        pass

    def close(self) -> None:
        pass


class SqliteClock:
    """Reads the row that the triggers of migration 0004 bump, on a connection of its own."""

    def __init__(self, path: str) -> None:
        # A short timeout: this runs on the event loop, and a busy file just means "do not cache".
        self._conn = sqlite3.connect(
            path, check_same_thread=False, isolation_level=None, timeout=0.05
        )
        self._lock = threading.Lock()
        present = {
            name
            for (name,) in self._conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger'"
            )
        }
        missing = sorted(
            f"count_{e}_{t}"
            for t in WATCHED_TABLES
            for e in ("insert", "update", "delete")
            if f"count_{e}_{t}" not in present
        )
        if missing or self.now() is None:
            self._conn.close()
            if len(missing) == 3 * len(WATCHED_TABLES):
                raise RuntimeError("the database lacks migration 0004: run `oca db upgrade`")
            raise RuntimeError(f"change counting is incomplete (missing: {missing or _COUNT})")

    def now(self) -> int | None:
        try:
            with self._lock:
                row = self._conn.execute(_COUNT).fetchone()
        except sqlite3.Error:
            return None
        return int(row[0]) if row else None

    def touch(self) -> None:
        pass  # the triggers count this process's commits like any other's

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class PostgresClock:
    """LISTEN on a connection of its own, in a daemon thread that reconnects when it drops.

    The thread also notifies itself every few seconds: a connection that went quiet without
    closing (a NAT timeout, a pooler that ignores LISTEN) stops the heartbeat, and the clock
    reads ``None`` until it is back. TCP keepalives bound how long a dead peer goes unnoticed.
    """

    def __init__(self, dsn: str, *, retry_seconds: float = 1.0) -> None:
        self._dsn = dsn
        self._retry = retry_seconds
        self._count = 0
        self._count_lock = threading.Lock()  # += from two threads could lose a step
        self._listening = False
        self._heard = 0.0  # monotonic time of the last heartbeat
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="oca-change-clock", daemon=True)
        self._thread.start()
        # Start caching once listening (or after a short wait: then caching starts later).
        self._ready.wait(timeout=5)

    def now(self) -> int | None:
        if not self._listening or time.monotonic() - self._heard > 3 * HEARTBEAT_SECONDS:
            return None
        return self._count

    def touch(self) -> None:
        with self._count_lock:
            self._count += 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(
                    self._dsn,
                    autocommit=True,
                    keepalives=1,
                    keepalives_idle=10,
                    keepalives_interval=5,
                    keepalives_count=3,
                    application_name="oca-change-clock",
                ) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    conn.execute(f"LISTEN {HEARTBEAT}")
                    if not self._triggers_present(conn):
                        return  # never cache: nothing would tell this process about changes
                    self._listen(conn)
            except psycopg.Error as exc:
                if self._listening:
                    log.warning("change notifications lost (%s); caching paused", exc)
            finally:
                self._listening = False
                self.touch()
                self._ready.set()
            self._stop.wait(self._retry)

    def _triggers_present(self, conn: Any) -> bool:
        rows = conn.execute(
            "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE t.tgname = 'oca_notify_change' AND NOT t.tgisinternal"
        ).fetchall()
        missing = sorted(set(WATCHED_TABLES) - {r[0] for r in rows})
        if missing:
            log.warning("reads are not cached: no change notifications from %s", missing)
        return not missing

    def _listen(self, conn: Any) -> None:
        beat_due = 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= beat_due:
                conn.execute(f"NOTIFY {HEARTBEAT}")
                beat_due = now + HEARTBEAT_SECONDS
            for note in conn.notifies(timeout=0.5):
                if note.channel != HEARTBEAT:
                    self.touch()
                    continue
                if not self._listening or now - self._heard > 3 * HEARTBEAT_SECONDS:
                    # (Re)started or back from silence: notifications may have been missed.
                    self.touch()
                    self._listening = True
                    self._ready.set()
                self._heard = time.monotonic()


def watch_commits(factory: sessionmaker[Session], clock: ChangeClock) -> None:
    """Move the clock when one of ``factory``'s sessions commits a change to data, at once
    (a notification from the database comes a little later)."""

    @event.listens_for(factory, "after_commit")
    def _committed(session: Session) -> None:
        if session.info.pop(CHANGES_DATA, False):
            clock.touch()

    @event.listens_for(factory, "after_rollback")
    def _rolled_back(session: Session) -> None:
        session.info.pop(CHANGES_DATA, None)


def make_change_clock(engine: Engine) -> ChangeClock:
    url = engine.url
    backend = url.get_backend_name()
    if backend == "sqlite":
        if not url.database or url.database == ":memory:" or url.query.get("mode") == "memory":
            return NoClock()
        try:
            return SqliteClock(url.database)
        except Exception as exc:  # the service still runs, only without the read cache
            log.warning("reads are not cached: %s", exc)
            return NoClock()
    if backend == "postgresql":
        return PostgresClock(url.set(drivername="postgresql").render_as_string(hide_password=False))
    return NoClock()
