"""The new instrument versions through the real app: the OCA without NUPAS items end to end,
and templates that say who is rated (CSA) and each subcomponent's desired stage (CLA)."""

from __future__ import annotations

import io
from typing import Any

import openpyxl

from app.catalog import Catalog
from app.excel import CoverField, build_template
from tests.api.factories import create_org, get, ok, scored
from tests.conftest import Tenant
from tests.excel.helpers import COVER, fill, label


def _core(catalog: Catalog) -> Any:
    f = catalog.get("oca", "2015.2-core")
    assert f is not None
    return f.instrument


def test_oca_without_nupas_items_template_import_score_compare(
    tenant: Tenant, catalog: Catalog
) -> None:
    core = _core(catalog)
    org = create_org(tenant, name="Fundación Ejemplo")
    # baseline on the full 2015.2 (45 sub-areas), all at level 2
    scored(tenant, org["id"], "oca", "baseline", 2, instrument_version="2015.2")

    # endline: the consultant downloads the core template, fills it in Spanish and uploads it
    r = tenant.client.get(
        "/v1/instruments/oca/versions/2015.2-core/template.xlsx",
        params={"lang": "es"},
        headers=tenant.headers("viewer"),
    )
    assert r.status_code == 200, r.text
    answers = {k: label(core, k, 3.0, "es") for k in core.item_keys}
    cover = {**COVER, CoverField.round: "endline", CoverField.organization_external_id: None}
    data = fill(r.content, core, "es", answers, cover=cover)
    r = tenant.client.post(
        "/v1/imports",
        files=[("files", ("final.xlsx", data, "application/octet-stream"))],
        headers=tenant.headers(),
    )
    assert r.status_code == 200, r.text
    result = r.json()["results"][0]
    assert (result["status"], result["scored"]) == ("created", True), result

    listed = get(tenant, "/v1/assessments", params={"round": "endline"})["items"]
    assert [a["instrument_version"] for a in listed] == ["2015.2-core"]
    s = get(tenant, f"/v1/assessments/{listed[0]['id']}/scores")
    assert s["instrument"] == {"id": "oca", "version": "2015.2-core"}
    assert (s["overall"]["answered"], s["overall"]["missing"]) == (27, 0)
    assert s["overall"]["score"] == 3.0

    # the comparison runs on the 27 sub-areas both rounds have: no drop for the skipped ones
    c = get(
        tenant,
        f"/v1/organizations/{org['id']}/comparison",
        params={"instrument_id": "oca", "baseline": "baseline", "endline": "endline"},
    )
    assert c["baseline"]["instrument_version"] == "2015.2"
    assert c["endline"]["instrument_version"] == "2015.2-core"
    assert len(c["items"]) == 27
    assert {d["delta"] for d in c["dimensions"]} == {1.0}


def test_the_definition_says_what_a_variant_dropped(tenant: Tenant) -> None:
    body = get(tenant, "/v1/instruments/oca/versions/2015.2-core")
    derived = body["definition"]["derived_from"]
    assert (derived["version"], derived["variant"], derived["dropped_tags"]) == (
        "2015.2",
        "core",
        ["nupas"],
    )
    assert len(derived["dropped_items"]) == 18
    listing = ok(tenant.client.get("/v1/instruments", headers=tenant.headers("viewer")))
    oca = next(x for x in listing["items"] if x["id"] == "oca")
    assert "2015.2-core" in str(oca)


def _strings(data: bytes) -> list[str]:
    wb = openpyxl.load_workbook(io.BytesIO(data))
    return [
        str(c.value)
        for ws in wb.worksheets
        for row in ws.iter_rows()
        for c in row
        if isinstance(c.value, str)
    ]


def test_csa_template_says_the_learning_community_is_rated(catalog: Catalog) -> None:
    f = catalog.get("csa-sustainability", "2020.2")
    assert f is not None
    for lang, start in (
        ("en", "Who is rated: The learning community"),
        ("es", "Qué se evalúa: La comunidad de aprendizaje"),
    ):
        wb = openpyxl.load_workbook(io.BytesIO(build_template(f.instrument, f.content_hash, lang)))
        cover, instructions = wb.worksheets[0], wb.worksheets[1]
        for ws in (cover, instructions):
            texts = [str(c.value) for row in ws.iter_rows() for c in row if c.value]
            assert [t for t in texts if t.startswith(start)], (lang, ws.title)


def test_cla_template_shows_each_desired_stage(catalog: Catalog) -> None:
    f = catalog.get("cla", "2017.2")
    assert f is not None
    es = _strings(build_template(f.instrument, f.content_hash, "es"))
    assert "Pausa y reflexión (etapa deseada: 4 — Avanzado)" in es
    en = _strings(build_template(f.instrument, f.content_hash, "en"))
    assert sum("(desired stage: 4 — Advanced)" in t for t in en) == 16


def test_a_cohort_compares_organizations_that_skipped_the_nupas_items(
    tenant: Tenant, catalog: Catalog
) -> None:
    """One organization rated on the full OCA at baseline and on the core version at endline,
    another on the full OCA both times: both are compared, the first on its 27 shared items."""
    from tests.api.factories import add_member, create_cohort

    cohort = create_cohort(tenant)
    skipped, full = create_org(tenant, name="Skipped NUPAS"), create_org(tenant, name="Full")
    for org in (skipped, full):
        add_member(tenant, cohort["id"], org["id"])
        scored(tenant, org["id"], "oca", "baseline", 2, instrument_version="2015.2")
    scored(
        tenant,
        skipped["id"],
        "oca",
        "endline",
        3,
        instrument_version="2015.2-core",
        assessed_on="2025-03-01",
        answers=[{"item": k, "value": 3} for k in sorted(_core(catalog).item_keys)],
    )
    scored(tenant, full["id"], "oca", "endline", 3, assessed_on="2025-03-01")
    c = get(tenant, f"/v1/cohorts/{cohort['id']}/comparison", params={"instrument_id": "oca"})
    assert c["not_comparable"] == []
    assert sorted(c["organizations_with_both"]) == sorted([skipped["id"], full["id"]])
    rows = {o["id"]: o for o in c["organizations"]}
    assert rows[skipped["id"]]["endline"]["instrument_version"] == "2015.2-core"
    # no drop for the skipped items: level 2 -> 3 everywhere both were rated
    overall = next(k for k in c["keys"] if k["key"] == "overall")
    assert overall["mean_delta"] == 1.0
    assert overall["paired_baseline"]["mean"] == 2.0 and overall["paired_endline"]["mean"] == 3.0
