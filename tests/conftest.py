"""Shared fixtures: one migrated database per test run (SQLite by default, PostgreSQL when
OCA_TEST_DATABASE_URL says so), the real app, and a fresh workspace per test.

Tests isolate through tenancy: each test makes its own workspace and keys, so the database is
migrated once and never rebuilt with create_all.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app.catalog import Catalog, load_catalog
from app.config import REPO_ROOT, Settings
from app.db import migrate
from app.db.session import make_engine, make_sessionmaker
from app.main import create_app
from app.services.keys import Principal, authenticate, create_key
from tests import contract

if TYPE_CHECKING:
    from tests.s3 import S3Server

INSTRUMENTS = REPO_ROOT / "instruments"

# every workbook any test reads goes through both readers, and a difference fails that test
# (app.excel.reader.READER_ENV; tests/excel/test_fast_reader.py has the targeted cases)
os.environ.setdefault("OCA_EXCEL_READER", "compare")
DATA = Path(__file__).parent / "data"


@contextmanager
def statements_sent(target: Any = Engine) -> Iterator[list[str]]:
    """The SQL sent meanwhile through ``target``: one engine, or by default every engine of this
    process (the ``Engine`` class), e.g. to show that spawned processes did some work."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        seen.append(sql)

    event.listen(target, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(target, "before_cursor_execute", record)


def _reset_postgres(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def own_postgres_database(suffix: str) -> str:
    """An empty PostgreSQL database of its own for tests that need a second database (created
    when missing, emptied each time): ``<the test database>_<suffix>``, on the server that
    OCA_TEST_DATABASE_URL names, else on the local one."""
    url = make_url(os.environ.get("OCA_TEST_DATABASE_URL") or DEFAULT_POSTGRES)
    if url.get_backend_name() != "postgresql":
        url = make_url(DEFAULT_POSTGRES)
    name = f"{url.database}_{suffix}"
    server = make_engine(url.render_as_string(hide_password=False))
    with server.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        found = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if found.first() is None:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    server.dispose()
    own = url.set(database=name).render_as_string(hide_password=False)
    _reset_postgres(own)
    return own


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("OCA_TEST_DATABASE_URL")
    if url:
        if make_url(url).get_backend_name() == "postgresql":
            _reset_postgres(url)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog(INSTRUMENTS)


@pytest.fixture()
def session(engine: Engine) -> Iterator[Session]:
    with make_sessionmaker(engine)() as s:
        yield s


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        database_url=database_url,
        instruments_dir=INSTRUMENTS,
        data_dir=tmp_path_factory.mktemp("data"),
        # Every test client calls from the address "testclient": the limits are tested with
        # their own apps and addresses (tests/api/test_throttle.py), not hit by accident.
        auth_failures_per_address=1_000_000,
        rate_limit_per_address=0,
        rate_limit_per_key=0,
        # webhooks are delivered by the tests that send them (tests/api/test_webhooks_delivery.py)
        webhook_delivery=False,
        # jobs are run by the apps of the job tests (tests/api/test_jobs.py), which stop their
        # runner when they close: the shared client leaves queued jobs alone
        jobs_enabled=False,
    )


class ContractClient(TestClient):
    """The test client, checking every answer against openapi.json (tests/contract.py)."""

    def request(self, method: str, url: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().request(method, url, *args, **kwargs)
        contract.check(
            method.upper(),
            response.request.url.path,
            response.status_code,
            response.headers.get("content-type", ""),
            response.content,
        )
        return response


@pytest.fixture(scope="session")
def client(settings: Settings) -> Iterator[TestClient]:
    with ContractClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


class Tenant:
    """A fresh workspace with one key per role, and helpers to call the API as each."""

    def __init__(self, session: Session, client: TestClient) -> None:
        self.name = f"ws-{uuid.uuid4().hex[:10]}"
        self.keys = {
            role: create_key(session, workspace=self.name, role=role).secret
            for role in ("admin", "editor", "viewer")
        }
        principal = authenticate(session, self.keys["admin"])
        assert principal is not None
        self.principal: Principal = principal
        self.client = client

    def headers(self, role: str = "editor", **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}", **extra}


@pytest.fixture()
def tenant(session: Session, client: TestClient) -> Tenant:
    return Tenant(session, client)


@pytest.fixture()
def other_tenant(session: Session, client: TestClient) -> Tenant:
    return Tenant(session, client)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A real S3-compatible HTTP server on 127.0.0.1 (moto's server mode), for the whole run."""
    from tests.s3 import S3Server  # moto is loaded only by the runs that use it

    server = S3Server.start()
    yield server
    server.stop()
