"""``DriverQuery`` gives what SQLAlchemy's own execution gives, on both databases: the API key
lookup every request makes is run straight on the driver (app.db.driver)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Engine, column, select, table
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.db.driver import DriverQuery
from app.db.session import read_engine
from app.services import keys


def _prefix(secret: str) -> str:
    parts = keys._split(secret)
    assert parts is not None
    return parts[0]


@pytest.mark.parametrize("reading", [False, True], ids=["engine", "read engine"])
def test_the_key_lookup_reads_what_sqlalchemy_reads(
    engine: Engine, session: Session, reading: bool
) -> None:
    used = keys.create_key(session, workspace=f"drv-{uuid.uuid4().hex[:8]}", role="editor")
    keys.touch_key(session, keys.authenticate(session, used.secret))  # a last use: a datetime
    revoked = keys.create_key(session, workspace=used.workspace, role="viewer")
    keys.revoke_key(session, _prefix(revoked.secret))
    lookup = keys._KEY_BY_PREFIX
    with (read_engine(engine) if reading else engine).connect() as conn:
        for secret in (used.secret, revoked.secret):
            params = {"prefix": _prefix(secret)}
            through = conn.execute(lookup.statement, params).first()
            assert through is not None
            straight = lookup.first(conn, params)
            assert straight == tuple(through)
            # the same Python types, not only equal values (a UUID, not its text)
            assert [type(v) for v in straight] == [type(v) for v in through]
        assert lookup.first(conn, {"prefix": "oca_nothing"}) is None
    assert straight[6] is not None  # the revoked key's revoked_at, read as a moment


def test_a_driver_error_is_sqlalchemys(engine: Engine) -> None:
    missing = DriverQuery(select(column("x")).select_from(table("no_such_table")))
    with engine.connect() as conn, pytest.raises(DBAPIError):
        missing.first(conn, {})
