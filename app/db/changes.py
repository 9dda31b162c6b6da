"""A change clock: a number that moves whenever anyone commits a change to the database.

Cached reads (the rendered scores, series and comparisons of ``app.api.reads``) are kept only
while the clock shows the number they were computed under, so a change made by this process,
another worker or the CLI is never answered from a stale cache.

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
from typing import Protocol

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from app.db.session import CHANGES_DATA

CHANNEL = "oca_changes"
log = logging.getLogger(__name__)


class ChangeClock(Protocol):
    def now(self) -> int | None:
        """The current reading; ``None``: unknown (do not cache)."""

    def touch(self) -> None:
        """This process committed a change."""

    def close(self) -> None: ...


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
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self.now()  # fails here, not on a request, when the database lacks migration 0004

    def now(self) -> int | None:
        with self._lock:
            row = self._conn.execute(_COUNT).fetchone()
        return int(row[0])

    def touch(self) -> None:
        pass  # the triggers count this process's commits like any other's

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class PostgresClock:
    """LISTEN on a connection of its own, in a daemon thread that reconnects when it drops."""

    def __init__(self, dsn: str, *, retry_seconds: float = 1.0) -> None:
        self._dsn = dsn
        self._retry = retry_seconds
        self._count = 0
        self._count_lock = threading.Lock()  # += from two threads could lose a step
        self._listening = False
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="oca-change-clock", daemon=True)
        self._thread.start()
        # Start caching once listening (or after a short wait: then caching starts later).
        self._ready.wait(timeout=5)

    def now(self) -> int | None:
        return self._count if self._listening else None

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
                with psycopg.connect(self._dsn, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    # Whatever was cached before this point may have missed notifications.
                    self.touch()
                    self._listening = True
                    self._ready.set()
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=0.5):
                            self.touch()
            except psycopg.Error as exc:
                if self._listening:
                    log.warning("change notifications lost (%s); caching paused", exc)
            finally:
                self._listening = False
                self.touch()
            self._ready.set()
            self._stop.wait(self._retry)


_COUNT = "SELECT changes FROM change_counter WHERE id = 1"


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
        except sqlite3.Error as exc:
            log.warning("no change counter in %s (%s): reads are not cached", url.database, exc)
            return NoClock()
    if backend == "postgresql":
        return PostgresClock(url.set(drivername="postgresql").render_as_string(hide_password=False))
    return NoClock()
