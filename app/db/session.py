"""Engines and transactions. SQLite gets WAL, foreign keys, a busy timeout and BEGIN IMMEDIATE
for write transactions (a deferred read-then-write transaction fails at once with "database is
locked" under concurrency; see reliability.md §A6)."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

import orjson
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DisconnectionError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from app.db.errors import Busy
from app.domain.errors import Conflict, PreconditionFailed

WRITE = "oca_write"
_writer_locks: WeakKeyDictionary[Engine, threading.Lock] = WeakKeyDictionary()  # SQLite engines
BUSY_TIMEOUT_S = 10.0  # SQLite: how long a write waits for its turn before 503


def json_text(value: Any) -> str:
    """A JSON column's value as the text sent to the database: orjson, not the standard library
    (a stored score's payload took 0.43 ms to write with ``json.dumps``, 0.07 ms with this; every
    submit and a rescoring of 50,000 write one). Keys that are not strings (level numbers) are
    written as strings, as ``json.dumps`` did; NaN and infinities, which JSON has no word for,
    become null (PostgreSQL refused ``json.dumps``' ``NaN``). Unlike ``json.dumps`` it refuses
    integers beyond 64 bits and named tuples, and accepts dates, times and UUIDs: no writer
    sends any of these (scores, pairs and answers are plain numbers, texts, lists and dicts;
    audit, webhook and job data are made JSON-ready before)."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def make_engine(url: str, **kwargs: Any) -> Engine:
    parsed = make_url(url)
    # Sync routes run in a thread pool (40 threads by default): keep enough connections that
    # concurrent requests do not queue for one.
    kwargs.setdefault("pool_size", 20)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("json_deserializer", orjson.loads)  # stored scores: several times faster
    kwargs.setdefault("json_serializer", json_text)
    kwargs.setdefault("hide_parameters", True)  # a logged database error never shows answers
    if parsed.get_backend_name() != "sqlite":
        engine = create_engine(url, **kwargs)
        _ping_when_idle(engine)
        return engine
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
    _writer_locks[engine] = threading.Lock()  # see _writer_turn

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(WRITE, False)
        # Straight to the driver: through exec_driver_sql this statement cost a read as much as
        # its query (cursor, events, result object) for a statement that returns nothing.
        conn.connection.driver_connection.execute(  # type: ignore[union-attr]
            "BEGIN IMMEDIATE" if immediate else "BEGIN"
        )

    return engine


IDLE_PING_S = 10.0  # PostgreSQL: a connection unused this long is checked before it is lent


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled connection before lending it only when it sat unused for a while.

    A server restart or an idle timeout breaks connections that wait in the pool; checking every
    one on every checkout (``pool_pre_ping``) cost each request a round trip. A connection in
    steady use is known to work; one idle for ``IDLE_PING_S`` is pinged and, if dead, replaced
    (the pool retries the checkout with a new one)."""

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is None or time.monotonic() - since < IDLE_PING_S:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except Exception:
            alive = False
        if not alive:
            raise DisconnectionError("the pooled connection is gone; replaced")


_IDLE_SINCE = "oca_idle_since"


def read_engine(engine: Engine) -> Engine:
    """The engine for requests that only read: on PostgreSQL in autocommit, which spares each read
    the BEGIN and ROLLBACK round trips (at READ COMMITTED every statement takes its own snapshot
    either way); SQLite keeps its transaction, which costs no round trip and gives the statements
    of one read one snapshot. Nothing written through it."""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    return engine


def refresh_statistics(engine: Engine) -> None:
    """SQLite: refresh the query planner's statistics (PostgreSQL's autovacuum does this itself).

    Without them SQLite drives the cohort comparison from the workspace index and reads every
    assessment of the workspace; a full ANALYZE took 12 ms on 100k rows."""
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)


@contextmanager
def _writer_turn(session: Session) -> Iterator[None]:
    """SQLite: this process's writers wait here, woken one at a time as the lock is released,
    instead of polling the file lock. SQLite's busy handler sleeps longer after each failed try
    (up to 100 ms), so under contention an unlucky writer kept losing to newcomers: 16
    concurrent writers saw a p99 of 1.5 s, now 0.3 s, at the price of a queue for all
    (docs/benchmarks.md). Writers of other processes still meet the busy timeout. Nested write
    transactions do not exist here; a second one in the same thread would wait for the first, so
    it fails after the timeout instead."""
    bind = session.get_bind()
    lock = _writer_locks.get(bind) if isinstance(bind, Engine) else None
    if lock is None:  # PostgreSQL locks rows, not the database
        yield
        return
    if not lock.acquire(timeout=BUSY_TIMEOUT_S):
        raise Busy(f"the write waited over {BUSY_TIMEOUT_S:g} s for its turn; retry shortly")
    try:
        yield
    finally:
        lock.release()


@contextmanager
def write_transaction(session: Session) -> Iterator[Session]:
    """One write transaction: BEGIN IMMEDIATE on SQLite; commit on success, roll back on error.

    A concurrent writer that won a race shows up as a constraint violation (PostgreSQL) or a
    stale row version: both are the client's conflict, not a server error.
    """
    if session.in_transaction():
        # A read happened earlier in this request; end it so the write lock is taken up front.
        session.rollback()
    try:
        with _writer_turn(session), session.begin():
            session.connection(execution_options={WRITE: True})
            yield session
    except IntegrityError:
        raise Conflict(
            "a concurrent request changed the same data first; read it again and retry"
        ) from None
    except StaleDataError:
        raise PreconditionFailed(
            "the resource changed while this request was being processed; read it again"
        ) from None


def serialize_on(session: Session, *parts: object) -> None:
    """Inside a write transaction: make concurrent transactions that name the same ``parts``
    take turns until this one ends, so a check-then-insert cannot race.

    PostgreSQL: a transaction-level advisory lock on a 64-bit digest of the parts. SQLite: nothing
    to do, its writers already take turns (BEGIN IMMEDIATE)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    name = "\x1f".join(str(p) for p in parts).encode()
    lock = int.from_bytes(hashlib.blake2b(name, digest_size=8).digest(), "big", signed=True)
    session.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": lock})
