"""The XLSForm export: pyxform (the reference converter) turns every shipped instrument version
into an ODK XForm without errors or warnings, and the XForm asks what an import needs."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import openpyxl
import pytest
from pyxform.xls2xform import convert

from app.catalog import Catalog, InstrumentFile, load_catalog
from app.config import Settings
from app.excel.xlsform import (
    FIELD_DATE,
    FIELD_HASH,
    FIELD_INSTRUMENT,
    FIELD_ORG_NAME,
    FIELD_ROUND,
    FIELD_VERSION,
    build_xlsform,
    field_name,
)

NS = {
    "h": "http://www.w3.org/1999/xhtml",
    "x": "http://www.w3.org/2002/xforms",
}
X = NS["x"]
VERSIONS = [
    f"{f.instrument.id}@{f.instrument.version}" for f in load_catalog(Settings().instruments_dir)
]


def _file(catalog: Catalog, label: str) -> InstrumentFile:
    instrument_id, version = label.split("@")
    f = catalog.get(instrument_id, version)
    assert f is not None
    return f


def _xform(f: InstrumentFile) -> tuple[bytes, ET.Element]:
    data = build_xlsform(f.instrument, f.content_hash)
    warnings: list[str] = []
    result = convert(data, warnings=warnings, file_type=".xlsx")
    assert warnings == []
    return data, ET.fromstring(result.xform)


def test_every_shipped_version_is_covered(catalog: Catalog) -> None:
    assert len(VERSIONS) == len(list(catalog)) >= 10
    assert "oca@2015.2-core" in VERSIONS  # derived variants too


@pytest.mark.parametrize("label", VERSIONS)
def test_pyxform_converts_every_version_without_warnings(catalog: Catalog, label: str) -> None:
    f = _file(catalog, label)
    ins = f.instrument
    data, root = _xform(f)

    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["survey", "choices", "settings"]
    header = [c.value for c in book["survey"][1]]
    assert {"type", "name", "label::English (en)", "label::Español (es)"} <= set(header)

    binds = {b.get("nodeset"): b for b in root.iter(f"{{{X}}}bind")}
    hidden = {
        FIELD_INSTRUMENT: ins.id,
        FIELD_VERSION: ins.version,
        FIELD_HASH: f.content_hash,
    }
    for name, value in hidden.items():
        assert binds[f"/data/{name}"].get("calculate") == f"'{value}'"
    for name in (FIELD_ORG_NAME, FIELD_ROUND, FIELD_DATE):
        assert binds[f"/data/about/{name}"].get("required") == "true()"
    assert binds[f"/data/about/{FIELD_DATE}"].get("type") == "date"

    # One select_one per item, nested in its dimension and area groups, offering N/A exactly
    # when the instrument allows it for that item.
    selects = {s.get("ref"): s for s in root.iter(f"{{{X}}}select1")}
    assert len(selects) == len(ins.item_keys)
    instances = {
        i.get("id"): [n.text for n in i.iter(f"{{{X}}}name")]
        for i in root.iter(f"{{{X}}}instance")
        if i.get("id")
    }
    for d in ins.dimensions:
        for a in d.areas:
            for item in a.items:
                ref = f"/data/{field_name(d.key)}/{field_name(a.key)}/{field_name(item.key)}"
                select = selects[ref]
                itemset = select.find("x:itemset", NS)
                assert itemset is not None
                list_id = itemset.get("nodeset", "").split("'")[1]
                names = instances[list_id]
                assert ("na" in names) == ins.allows_na(item), item.key
                assert len(names) == len(ins.scales[item.scale].values) + ins.allows_na(item)
                assert f"{ref}_note" in binds
                if item.levels:
                    assert select.find("x:hint", NS) is not None

    languages = {t.get("lang") for t in root.iter(f"{{{X}}}translation")}
    assert languages == {"English (en)", "Español (es)"}


def test_level_statements_and_evidence_reach_the_form_in_both_languages(
    catalog: Catalog,
) -> None:
    f = catalog.get("oca", "2015.2")
    assert f is not None
    _, root = _xform(f)
    texts = {
        (t.get("lang"), tx.get("id")): "".join(v.text or "" for v in tx.findall("x:value", NS))
        for t in root.iter(f"{{{X}}}translation")
        for tx in t.findall("x:text", NS)
    }
    d = f.instrument.dimensions[0]
    a = d.areas[0]
    item = a.items[0]
    assert item.levels and item.evidence
    ref = f"/data/{field_name(d.key)}/{field_name(a.key)}/{field_name(item.key)}"
    for lang, code in (("English (en)", "en"), ("Español (es)", "es")):
        assert texts[(lang, f"{ref}:label")] == item.text.get(code)
        hint = texts[(lang, f"{ref}:hint")]
        for level, statement in item.levels.items():
            assert f"{level}: {statement.get(code)}" in hint
        assert texts[(lang, f"{ref}_note:hint")] == item.evidence.get(code)


def test_keys_become_xml_names() -> None:
    assert field_name("finance.budget-1") == "finance.budget-1"
    assert field_name("2fa") == "k_2fa"
