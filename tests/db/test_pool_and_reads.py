"""The pool checks a connection only after it sat idle (PostgreSQL), and the read engine's
sessions leave no transaction open on the server."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, event, text

from app.db import session as db_session
from app.db.session import make_engine, make_sessionmaker, read_engine


def _postgres_only(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("a PostgreSQL pool behaviour")


def test_a_connection_killed_while_idle_is_replaced(
    engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _postgres_only(engine)
    pool_engine = make_engine(database_url, pool_size=1, max_overflow=0)
    try:
        with pool_engine.connect() as conn:
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        with engine.connect() as other:  # the server drops it (a restart, an idle timeout)
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            other.commit()
        monkeypatch.setattr(db_session, "IDLE_PING_S", 0.0)  # it has been idle long enough
        with pool_engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT 1").scalar() == 1
            assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar() != pid
    finally:
        pool_engine.dispose()


def test_a_connection_in_steady_use_is_not_pinged(engine: Engine, database_url: str) -> None:
    _postgres_only(engine)
    pool_engine = make_engine(database_url, pool_size=1, max_overflow=0)
    statements: list[str] = []
    try:
        with pool_engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")

        @event.listens_for(pool_engine, "before_cursor_execute")
        def _seen(_c: object, _cur: object, statement: str, *_: object) -> None:
            statements.append(statement)

        with pool_engine.connect() as conn:
            conn.exec_driver_sql("SELECT 2")
        assert statements == ["SELECT 2"]  # no ping in front of it
    finally:
        pool_engine.dispose()


def test_reads_on_postgresql_leave_no_transaction_open(engine: Engine) -> None:
    _postgres_only(engine)
    with make_sessionmaker(read_engine(engine))() as session:
        conn = session.connection()
        conn.exec_driver_sql("SELECT 1")
        dbapi = conn.connection.driver_connection
        assert dbapi is not None
        assert dbapi.info.transaction_status.name == "IDLE"  # autocommit: no BEGIN was sent


def test_sqlite_reads_keep_one_snapshot(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite")
    with make_sessionmaker(read_engine(engine))() as session:
        session.execute(text("SELECT 1"))
        assert session.connection().connection.driver_connection.in_transaction  # type: ignore[union-attr]
