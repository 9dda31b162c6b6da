"""SQLite writers of one process take turns; PostgreSQL writers do not wait for each other."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import Engine, text

from app.db import session as db_session
from app.db.errors import Busy
from app.db.session import make_sessionmaker, write_transaction


def test_writers_take_turns_on_sqlite_only(engine: Engine) -> None:
    factory = make_sessionmaker(engine)
    inside = threading.Event()
    release = threading.Event()
    second_began = []

    def first() -> None:
        with factory() as s, write_transaction(s):
            s.execute(text("SELECT 1"))
            inside.set()
            release.wait(5)

    def second() -> None:
        with factory() as s, write_transaction(s):
            second_began.append(time.monotonic())

    t1 = threading.Thread(target=first)
    t1.start()
    assert inside.wait(5)
    t2 = threading.Thread(target=second)
    t2.start()
    t2.join(0.3)
    released_at = time.monotonic()
    release.set()
    t1.join(5)
    t2.join(5)
    assert len(second_began) == 1
    if engine.dialect.name == "sqlite":
        assert second_began[0] >= released_at  # waited for the first to finish
    else:
        assert second_began[0] < released_at  # PostgreSQL locks rows, not the database


def test_a_write_that_waits_too_long_is_busy(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_session, "BUSY_TIMEOUT_S", 0.1)
    factory = make_sessionmaker(engine)
    inside = threading.Event()
    release = threading.Event()

    def holder() -> None:
        with factory() as s, write_transaction(s):
            inside.set()
            release.wait(5)

    t = threading.Thread(target=holder)
    t.start()
    try:
        assert inside.wait(5)
        with factory() as s:
            if engine.dialect.name == "sqlite":
                with pytest.raises(Busy), write_transaction(s):
                    pass
            else:
                with write_transaction(s):
                    pass  # no turn to wait for
    finally:
        release.set()
        t.join(5)
