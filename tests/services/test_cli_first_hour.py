"""The `oca` command as a new user meets it: help pages, languages, which database, lists."""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from app.catalog import Catalog
from app.cli import app as cli_app
from app.excel import Prefill, build_template


@pytest.fixture()
def env(tmp_path: Path) -> dict[str, str]:
    return {"OCA_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "40"}


def run(env: dict[str, str], *args: str) -> Any:
    result = CliRunner().invoke(cli_app, list(args), env=env)
    assert "Traceback" not in result.output, result.output
    return result


def _commands(group: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    found = [(path, group)]
    for name, sub in getattr(group, "commands", {}).items():
        found += _commands(sub, (*path, name))
    return found


COMMANDS = _commands(typer.main.get_command(cli_app))


@pytest.mark.parametrize(
    "path", [p for p, _ in COMMANDS], ids=[" ".join(p) or "oca" for p, _ in COMMANDS]
)
def test_every_help_page_reads_like_prose(path: tuple[str, ...]) -> None:
    result = run({"COLUMNS": "100"}, *path, "--help")
    assert result.exit_code == 0, result.output
    text = result.output
    for marker in ("<bool>", "<str>", "<int>", "<path>", "list[", "{", "}", "…"):
        assert marker not in text, (marker, text)
    command = dict(COMMANDS)[path]
    for param in command.params:
        assert (getattr(param, "help", None) or "").strip(), (path, param.name)
        if param.param_type_name == "argument":
            assert (param.metavar or "").isupper(), (path, param.name)


@pytest.mark.parametrize(
    "args",
    [
        ("import", "x.xlsx", "--workspace", "w", "--lang", "fr"),
        ("export", "template", "opi", "--lang", "de"),
    ],
    ids=["import", "template"],
)
def test_unknown_language_is_refused_with_the_valid_values(
    env: dict[str, str], args: tuple[str, ...]
) -> None:
    result = run(env, *args)
    assert result.exit_code == 2
    assert "is not one of 'en', 'es'" in result.output


def _workbook(catalog: Catalog, folder: Path, org: str, lang: str) -> Path:
    f = catalog.latest("opi")
    assert f is not None
    answers: dict[str, object] = dict.fromkeys(f.instrument.item_keys, 3)
    pre = Prefill(org, None, "baseline", date(2024, 3, 3), None, answers, {})  # type: ignore[arg-type]
    path = folder / f"{org}.xlsx"
    path.write_bytes(build_template(f.instrument, f.content_hash, lang, pre))
    return path


def test_import_reports_in_spanish(env: dict[str, str], tmp_path: Path, catalog: Catalog) -> None:
    env = {**env, "COLUMNS": "300"}  # a wide terminal: each problem on one line
    assert run(env, "db", "upgrade").exit_code == 0
    path = _workbook(catalog, tmp_path, "Nadie", "en")
    result = run(env, "import", str(path), "--workspace", "w", "--lang", "es")
    assert result.exit_code == 1
    assert "no existe la organización 'Nadie'" in result.output
    assert "no organization" not in result.output
    assert "1 rechazada" in result.output
    english = run(env, "import", str(path), "--workspace", "w")
    assert "no organization 'Nadie'" in english.output and "1 rejected" in english.output

    listed = run(env, "import", str(path), "--workspace", "w", "--lang", "es", "--json")
    (row,) = json.loads(listed.stdout)
    assert row["status"] == "rejected"
    assert row["errors"][0]["detail"].startswith("no existe la organización")


@pytest.mark.parametrize(
    "args",
    [
        ("keys", "list"),
        ("keys", "revoke", "abc"),
        ("rescore",),
        ("export", "assessment", "0190a0c4-0000-7000-8000-000000000000", "--workspace", "w"),
        ("import", "{workbook}", "--workspace", "w", "--dry-run"),
    ],
    ids=["keys-list", "keys-revoke", "rescore", "export", "import-dry-run"],
)
def test_reading_commands_never_create_a_database(
    env: dict[str, str], tmp_path: Path, catalog: Catalog, args: tuple[str, ...]
) -> None:
    workbook = str(_workbook(catalog, tmp_path, "Org", "en"))
    result = run(env, *(workbook if a == "{workbook}" else a for a in args))
    assert result.exit_code == 1
    assert f"no database at {tmp_path / 'data' / 'oca.db'}" in result.output
    assert "oca db upgrade" in result.output
    assert not (tmp_path / "data").exists()

    # an existing file without the tables is not silently filled either
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "oca.db").write_bytes(b"")
    result = run(env, *(workbook if a == "{workbook}" else a for a in args))
    assert result.exit_code == 1 and "has no OCA tables" in result.output
    with sqlite3.connect(tmp_path / "data" / "oca.db") as db:
        assert db.execute("select count(*) from sqlite_master").fetchone() == (0,)


def test_every_database_command_says_which_database(env: dict[str, str], tmp_path: Path) -> None:
    where = tmp_path / "data" / "oca.db"
    created = run(env, "db", "upgrade")
    assert created.exit_code == 0
    assert f"database: sqlite:///{where} (new: created now)" in created.output
    listed = run(env, "keys", "list")
    assert listed.exit_code == 0 and f"database: sqlite:///{where}" in listed.output
    assert "(new" not in listed.output


def test_lists_never_cut_ids_and_offer_json(env: dict[str, str], catalog: Catalog) -> None:
    table = run(env, "instruments", "list")  # COLUMNS=40, as in a narrow terminal or a pipe
    assert table.exit_code == 0
    assert "…" not in table.output
    for f in catalog:
        assert f.instrument.id in table.output and f.instrument.version in table.output
    rows = json.loads(run(env, "instruments", "list", "--json").stdout)
    assert {(r["id"], r["version"]) for r in rows} == {
        (f.instrument.id, f.instrument.version) for f in catalog
    }
    assert all(len(r["hash"]) == 64 for r in rows)

    assert run(env, "keys", "create", "--workspace", "a-long-workspace-name-here").exit_code == 0
    keys = run(env, "keys", "list")
    assert "a-long-workspace-name-here" in keys.output and "…" not in keys.output
    (key,) = json.loads(run(env, "keys", "list", "--json").stdout)
    assert key["workspace"] == "a-long-workspace-name-here" and key["revoked"] is None
