"""The triggers behind the read cache (migration 0004) are where they must be, and only there."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from app.db.changes import WATCHED_TABLES as WATCHED
from app.db.changes import make_change_clock
from app.services.keys import authenticate, create_key

UNWATCHED = ("api_key", "audit_event", "idempotency_record", "instrument_version")


def triggers(engine: Engine, table: str) -> set[str]:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.execute(
                text("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t"),
                {"t": table},
            )
        else:
            rows = conn.execute(
                text(
                    "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal "
                    "AND tgrelid = CAST(:t AS regclass)"
                ),
                {"t": table},
            )
        return {r[0] for r in rows}


@pytest.mark.parametrize("table", WATCHED)
def test_every_table_cached_reads_come_from_is_watched(engine: Engine, table: str) -> None:
    expected = (
        {f"count_{e}_{table}" for e in ("insert", "update", "delete")}
        if engine.dialect.name == "sqlite"
        else {"oca_notify_change"}
    )
    assert triggers(engine, table) == expected


@pytest.mark.parametrize("table", UNWATCHED)
def test_keys_and_logs_do_not_empty_the_cache(engine: Engine, table: str) -> None:
    assert triggers(engine, table) == set()


def test_a_keys_last_use_leaves_the_clock_alone(engine: Engine, session: Session) -> None:
    clock = make_change_clock(engine)
    try:
        key = create_key(session, workspace="clock-ws", role="viewer")  # may add a workspace
        time.sleep(0.2)  # PostgreSQL: let that notification arrive first
        before = clock.now()
        assert authenticate(session, key.secret) is not None  # records the first use
        session.commit()
        time.sleep(0.2)  # time for a notification to arrive, if one were sent
        assert clock.now() == before
    finally:
        clock.close()
