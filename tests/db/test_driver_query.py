"""``DriverQuery`` gives what SQLAlchemy's own execution gives, on both databases: the API key
lookup every request makes is run straight on the driver (app.db.driver)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import JSON, Engine, bindparam, cast, column, func, literal, select, table, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.db.driver import DriverQuery
from app.db.models import AssessmentScore
from app.db.session import make_engine, read_engine
from app.services import analysis, assessment_reads, keys
from tests.api.factories import create_org, scored


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


def test_a_driver_error_is_sqlalchemys_with_its_parameters_hidden(engine: Engine) -> None:
    """The error SQLAlchemy would raise, and like it (the engine's ``hide_parameters``) without
    the parameters, which can be a key's prefix or an assessment's id."""
    missing = DriverQuery(
        select(column("x")).select_from(table("no_such_table")).where(column("x") == bindparam("s"))
    )
    with engine.connect() as conn, pytest.raises(DBAPIError) as straight:
        missing.first(conn, {"s": "hunter2"})
    with engine.connect() as conn, pytest.raises(DBAPIError) as through:
        conn.execute(missing.statement, {"s": "hunter2"})
    assert type(straight.value) is type(through.value)
    assert "hunter2" not in str(straight.value) and straight.value.hide_parameters
    assert not straight.value.connection_invalidated


def test_an_error_met_while_fetching_rows_is_sqlalchemys(engine: Engine) -> None:
    """SQLite finds a malformed JSON text only when it reaches its row (the second, read ahead
    by the driver), after ``execute`` has returned; PostgreSQL at once."""
    texts = table("driver_texts", column("n"), column("t"))
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE driver_texts (n INTEGER, t TEXT)")
        conn.execute(texts.insert(), [{"n": 1, "t": '{"a": 1}'}, {"n": 2, "t": "{not json"}])
    try:
        query = DriverQuery(select(func.json_extract(texts.c.t, "$.a")))  # rowid order
        if engine.dialect.name == "postgresql":
            query = DriverQuery(select(cast(texts.c.t, JSON)).order_by(texts.c.n))
        for read in (query.first, query.all):
            with engine.connect() as conn, pytest.raises(DBAPIError):
                read(conn, {})
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE driver_texts")


def test_the_hot_reads_read_what_sqlalchemy_reads(engine: Engine, tenant: Any) -> None:
    """The reads of a stored score and of a series, straight on the driver: a UUID parameter
    converted as SQLAlchemy converts it (the text SQLite stores), an IN list of the statement's
    own values, several rows, JSON, moments and booleans read as SQLAlchemy reads them."""
    org = create_org(tenant)
    first = scored(tenant, org["id"], "oca", round="baseline", assessed_on="2024-01-10")
    scored(tenant, org["id"], "oca", round="endline", assessed_on="2025-01-10")
    series = {
        "org_id": uuid.UUID(org["id"]),
        "workspace_id": tenant.principal.workspace_id,
        "instrument_id": "oca",
    }
    score = {"assessment_id": uuid.UUID(first["id"])}
    with read_engine(engine).connect() as conn:
        through = [tuple(row) for row in conn.execute(analysis._SERIES.statement, series)]
        straight = analysis._SERIES.all(conn, series)
        assert len(straight) == 2 and straight == through
        assert [type(v) for v in straight[0]] == [type(v) for v in through[0]]
        assert isinstance(straight[0][-1], dict)  # the stored payload, decoded
        row = assessment_reads._SCORE_OF.first(conn, score)
        assert row == tuple(conn.execute(assessment_reads._SCORE_OF.statement, score).one())
        assert row is not None and row[-1] is False  # verified: a bool, as SQLAlchemy reads it
        # a number: PostgreSQL's conversion needs the type the driver reports
        overall = DriverQuery(
            select(AssessmentScore.overall).where(
                AssessmentScore.assessment_id == bindparam("assessment_id")
            )
        )
        assert overall.all(conn, score) == [tuple(conn.execute(overall.statement, score).one())]
        missing = {**series, "org_id": uuid.uuid4()}
        assert analysis._SERIES.all(conn, missing) == []


def test_an_expanding_in_list_is_refused(engine: Engine) -> None:
    """SQLAlchemy writes an expanding IN list out at each execution; sent as compiled it would
    be wrong SQL, so the query says so at once."""
    query = DriverQuery(select(column("x")).where(column("x").in_(["a", "b"])))
    with engine.connect() as conn, pytest.raises(ValueError, match="literal"):
        query.all(conn, {})


def test_a_lost_connection_is_invalidated_as_sqlalchemy_does(
    database_url: str, engine: Engine
) -> None:
    """A PostgreSQL connection ended by the server: the error says the connection was
    invalidated, and the pool's next connection is a new one that works."""
    lost = make_engine(database_url, pool_size=1, max_overflow=0)
    if lost.dialect.name != "postgresql":
        lost.dispose()
        pytest.skip("a server that ends a connection: PostgreSQL")
    query = DriverQuery(select(literal(1).label("one")))
    try:
        with lost.connect() as conn:
            backend = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            with engine.begin() as other:
                other.execute(text("SELECT pg_terminate_backend(:p)"), {"p": backend})
            with pytest.raises(DBAPIError) as ended:
                query.first(conn, {})
            assert ended.value.connection_invalidated
            assert conn.invalidated
        with lost.connect() as conn:
            assert query.first(conn, {}) == (1,)
    finally:
        lost.dispose()
