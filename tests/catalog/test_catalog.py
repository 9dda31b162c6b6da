from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from app.catalog import CatalogError, load_catalog, load_file, loader
from app.cli import app as cli_app
from app.cli.instruments import schema_text
from tests.conftest import DATA, INSTRUMENTS

MINI = DATA / "instruments" / "mini" / "1.0.yaml"

EXPECTED = {
    # (id, version): (dimensions, areas per dimension, items)
    ("oca", "2015.1"): (7, [5, 8, 6, 8, 5, 5, 8], 45),
    ("oca", "2015.2"): (7, [5, 8, 6, 8, 5, 5, 8], 45),
    ("oca", "2015.2-core"): (7, [2, 2, 4, 4, 3, 4, 8], 27),
    ("opi", "2015.1"): (4, [2, 2, 2, 2], 8),
    ("opi", "2015.2"): (4, [2, 2, 2, 2], 8),
    ("csa-sustainability", "2020.1"): (4, [4, 4, 5, 5], 18),
    ("csa-sustainability", "2020.2"): (4, [4, 4, 5, 5], 26),
    ("cla", "2017.1"): (6, [2, 5, 1, 3, 3, 2], 16),
    ("cla", "2017.2"): (6, [2, 4, 2, 3, 3, 2], 16),
}


def test_every_shipped_instrument_is_valid_and_bilingual() -> None:
    catalog = load_catalog(INSTRUMENTS)
    assert set(catalog.ids()) == {"oca", "opi", "nupas", "csa-sustainability", "cla"}
    for f in catalog:
        assert f.instrument.languages == ("en", "es")


@pytest.mark.parametrize(("instrument_id", "version"), sorted(EXPECTED))
def test_shipped_structure(instrument_id: str, version: str) -> None:
    f = load_catalog(INSTRUMENTS).get(instrument_id, version)
    assert f is not None
    dims, areas, items = EXPECTED[(instrument_id, version)]
    assert len(f.instrument.dimensions) == dims
    assert [len(d.areas) for d in f.instrument.dimensions] == areas
    assert len(f.instrument.item_keys) == items


def test_nupas_has_six_sections_risk_and_conditions() -> None:
    f = load_catalog(INSTRUMENTS).latest("nupas")
    assert f is not None
    i = f.instrument
    assert [d.key for d in i.dimensions] == [
        "legal",
        "financial",
        "procurement",
        "hr",
        "performance",
        "sustainability",
    ]
    assert i.scoring.risk is not None
    assert {c.key for c in i.scoring.risk.conditions} == {
        "reimbursement",
        "withhold-next-phase",
        "detailed-financial-reports",
        "additional-monitoring",
        "technical-assistance",
        "prior-approvals",
    }
    assert any(item.key_question for item in i.items.values())


def test_oca_lens_feeds_all_four() -> None:
    f = load_catalog(INSTRUMENTS).latest("oca")
    assert f is not None
    lenses = {f.instrument.lens_of(d, a).value for d in f.instrument.dimensions for a in d.areas}
    assert lenses == {"management", "financing", "processes", "culture"}


def test_schema_json_is_current() -> None:
    committed = (INSTRUMENTS / "schema.json").read_text(encoding="utf-8")
    assert committed == schema_text(), "run: oca instruments schema --write"
    assert json.loads(committed)["title"] == "Instrument"


def _write(tmp_path: Path, text: str, name: str = "1.0") -> Path:
    folder = tmp_path / "mini"
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


BROKEN = [
    (
        "missing_spanish",
        ("title: {en: Mini instrument, es: Instrumento mínimo}", "title: {en: Mini instrument}"),
        "title.es",
    ),
    (
        "unknown_scale",
        (
            "            scale: four\n            text: {en: Budget",
            "            scale: five\n            text: {en: Budget",
        ),
        "unknown scale 'five'",
    ),
    ("duplicate_key", ("key: fin.budget.1", "key: gov.board.1"), "used 2 times"),
    ("bad_lens", ("lens: financing", "lens: money"), "lens"),
    (
        "negative_weight",
        ("    lens: financing\n", "    lens: financing\n    weight: -1\n"),
        "weight",
    ),
    ("yaml_syntax", ("title: {en: Mini", "title: [en: Mini"), "invalid YAML"),
    (
        "duplicated_yaml_key",
        ("source: test fixture", "source: test fixture\nsource: again"),
        "duplicated key",
    ),
    (
        "supersedes_unknown_item",
        (
            "source: test fixture",
            "source: test fixture\nsupersedes:\n  version: '0.9'\n  items: {old.one: no.such.item}",
        ),
        "unknown item",
    ),
]


@pytest.mark.parametrize(
    ("change", "expected"), [(c, e) for _, c, e in BROKEN], ids=[b[0] for b in BROKEN]
)
def test_malformed_file_gets_one_clear_message(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    original = MINI.read_text(encoding="utf-8")
    assert change[0] in original
    path = _write(tmp_path, original.replace(change[0], change[1], 1))
    with pytest.raises(CatalogError) as info:
        load_file(path)
    message = str(info.value)
    assert str(path) in message
    assert expected in message


def test_file_name_must_match_version(tmp_path: Path) -> None:
    path = _write(tmp_path, MINI.read_text(encoding="utf-8"), name="2.0")
    with pytest.raises(CatalogError, match="must match"):
        load_file(path)


def test_the_library_may_not_use_the_workspaces_word(tmp_path: Path) -> None:
    """'local' marks a workspace's own versions (app.catalog.owned): never a library file's."""
    text = MINI.read_text(encoding="utf-8").replace('version: "1.0"', "version: 1.0-local", 1)
    path = _write(tmp_path, text, name="1.0-local")
    with pytest.raises(CatalogError, match="'local' is reserved for workspace versions"):
        load_file(path)


def test_cli_validate_reports_without_traceback(tmp_path: Path) -> None:
    path = _write(tmp_path, MINI.read_text(encoding="utf-8").replace("lens: financing", "lens: x"))
    result = CliRunner().invoke(cli_app, ["instruments", "validate", str(path)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "lens" in result.output


def test_cli_validate_all_ok() -> None:
    result = CliRunner().invoke(cli_app, ["instruments", "validate"])
    assert result.exit_code == 0, result.output
    assert f"{len(load_catalog(INSTRUMENTS).files)} instrument version(s) valid" in result.output


def test_instruments_are_read_with_libyaml_and_read_the_same() -> None:
    """Every server, worker and `oca` command reads the library as it starts: with libyaml's
    parser (ten times the pure-Python one's speed), which reads each shipped file to the very
    same data and still refuses a duplicated key with its line."""
    if not yaml.__with_libyaml__:
        pytest.skip("this PyYAML was built without libyaml")
    assert issubclass(loader._UniqueKeyLoader, yaml.CSafeLoader)

    class PurePython(yaml.SafeLoader):
        pass

    for path in sorted(INSTRUMENTS.glob("*/*.yaml")):
        raw = path.read_bytes()
        assert loader.read_data(raw, path) == yaml.load(raw, Loader=PurePython)
    with pytest.raises(CatalogError, match="line 2, column 1: invalid YAML: duplicated key 'a'"):
        loader.read_data(b"a: 1\na: 2\n", "twice.yaml")
