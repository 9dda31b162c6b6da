"""A published instrument version never changes under the same version number."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from app.catalog import load_catalog
from app.cli import app as cli_app
from app.config import Settings
from app.db.session import make_sessionmaker
from app.main import create_app
from app.services.instruments import InstrumentChanged, sync_catalog
from tests.conftest import DATA


def _copy_mini(tmp_path: Path) -> Path:
    root = tmp_path / "instruments"
    shutil.copytree(DATA / "instruments", root)
    return root


def test_changed_file_is_refused_and_new_version_is_fine(tmp_path: Path, engine: Engine) -> None:
    root = _copy_mini(tmp_path)
    # a unique id so this test's record never meets another run's
    path = root / "mini" / "1.0.yaml"
    ident = f"mini-{tmp_path.name.lower().replace('_', '-')[-12:]}".rstrip("-")
    (root / ident).mkdir()
    moved = root / ident / "1.0.yaml"
    moved.write_text(path.read_text().replace("id: mini", f"id: {ident}"), encoding="utf-8")
    shutil.rmtree(root / "mini")
    with make_sessionmaker(engine)() as session:
        assert sync_catalog(session, load_catalog(root)) == [f"{ident} 1.0"]
        assert sync_catalog(session, load_catalog(root)) == []  # seen before, unchanged

        # a new version file is always fine
        v2 = root / ident / "2.0.yaml"
        v2.write_text(moved.read_text().replace('version: "1.0"', 'version: "2.0"'), "utf-8")
        assert sync_catalog(session, load_catalog(root)) == [f"{ident} 2.0"]

        # changing a published file under the same version is refused, naming file and version
        moved.write_text(moved.read_text().replace("Mini instrument", "Changed"), "utf-8")
        with pytest.raises(InstrumentChanged) as info:
            sync_catalog(session, load_catalog(root))
        assert str(moved) in info.value.detail
        assert f"{ident} 1.0" in info.value.detail


def test_app_and_serve_refuse_to_start_on_a_changed_file(
    tmp_path: Path, database_url: str, engine: Engine
) -> None:
    root = _copy_mini(tmp_path)
    ident = "mini-serve-" + tmp_path.name[-6:].lower().replace("_", "x")
    (root / ident).mkdir()
    src = root / "mini" / "1.0.yaml"
    target = root / ident / "1.0.yaml"
    target.write_text(src.read_text().replace("id: mini", f"id: {ident}"), encoding="utf-8")
    settings = Settings(database_url=database_url, instruments_dir=root, data_dir=tmp_path)
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").status_code == 200
    target.write_text(target.read_text().replace("Mini instrument", "Edited"), encoding="utf-8")
    with pytest.raises(InstrumentChanged), TestClient(create_app(settings)):
        pass
    result = CliRunner().invoke(
        cli_app,
        ["serve", "--port", "1"],
        env={"OCA_DATABASE_URL": database_url, "OCA_INSTRUMENTS_DIR": str(root)},
    )
    assert result.exit_code == 1
    assert "immutable" in result.output and str(target) in result.output
    assert "Traceback" not in result.output
