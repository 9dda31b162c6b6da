"""Only commands that write migrate the database: one that reads, run against a database at an
older migration, says what to run and leaves the database as it was."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from app.cli import app as cli_app
from app.db import migrate
from app.db.session import make_engine
from tests.conftest import own_postgres_database


@pytest.fixture()
def older_database(tmp_path: Path) -> tuple[str, str]:
    """A database of its own (on PostgreSQL when the tests run there) one migration behind, and
    that migration's id."""
    test_url = os.environ.get("OCA_TEST_DATABASE_URL")
    if test_url and make_url(test_url).get_backend_name() == "postgresql":
        url = own_postgres_database("cli")
    else:
        url = f"sqlite:///{tmp_path / 'older.db'}"
    scripts = ScriptDirectory.from_config(migrate.alembic_config(url))
    head = scripts.get_current_head()
    assert head is not None
    older = scripts.get_revision(head).down_revision
    assert isinstance(older, str)
    migrate.upgrade(url, older)
    return url, older


def revision_of(url: str) -> str | None:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return migrate.current_revision(connection)
    finally:
        engine.dispose()


def run(url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli_app, list(args), env={"OCA_DATABASE_URL": url})
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.output


ANY_ID = str(uuid.uuid4())
READS = {
    "keys list": ("keys", "list"),
    "export assessment": ("export", "assessment", ANY_ID, "--workspace", "w"),
    "export series": ("export", "series", ANY_ID, "--workspace", "w", "--instrument", "oca"),
    "export cohort": ("export", "cohort", ANY_ID, "--workspace", "w", "--instrument", "oca"),
    "export cohort raw": (
        "export", "cohort", ANY_ID, "--workspace", "w", "--instrument", "oca", "--raw",
    ),
    "rescore": ("rescore",),
    "import dry run": ("import", "{workbook}", "--workspace", "w", "--dry-run"),
    "workspace export": ("workspace", "export", "w", "--to", "{archive}"),
}  # fmt: skip


@pytest.mark.parametrize("args", READS.values(), ids=READS.keys())
def test_a_reading_command_names_the_migration_and_leaves_the_database(
    older_database: tuple[str, str], tmp_path: Path, args: tuple[str, ...]
) -> None:
    url, older = older_database
    workbook = tmp_path / "filled.xlsx"
    workbook.write_bytes(b"not opened: the database is refused first")
    places = {"workbook": str(workbook), "archive": str(tmp_path / "w.zip")}
    code, output = run(url, *(a.format(**places) for a in args))
    assert code == 1, output
    assert f"the database is at migration {older}" in output
    assert "run `oca db upgrade` first" in output
    assert revision_of(url) == older
    assert not (tmp_path / "w.zip").exists()


def test_a_writing_command_migrates_first(older_database: tuple[str, str]) -> None:
    url, older = older_database
    code, output = run(url, "keys", "create", "--workspace", "w")
    assert code == 0, output
    assert revision_of(url) == migrate.head_revision() != older
